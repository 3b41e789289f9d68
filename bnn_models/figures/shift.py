"""Under dataset shift: accuracy when abstaining on the most uncertain test rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

from bnn_models.figures._style import Style, _figure, _style

__all__ = ["accuracy_coverage_figure"]


def accuracy_coverage_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]], styles: Mapping[str, Style]
) -> Figure:
    """Accuracy against the share of test rows kept, one line per method.

    Parameters
    ----------
    curves : mapping of str to (kept shares, accuracies)
        Per method, the accuracy on the kept rows at each share (most certain first).
    styles : mapping of str to Style
    """
    with _style():
        fig = _figure((6.4, 4.2))
        ax = fig.add_subplot()
        for method, (kept, acc) in curves.items():
            st = styles[method]
            ax.plot(
                [100 * k for k in kept],
                [100 * a for a in acc],
                color=st.color,
                marker=st.marker,
                label=st.label,
            )
        ax.invert_xaxis()  # from keeping every row to abstaining on half
        ax.set_xlabel("test rows kept, most certain first (%)")
        ax.set_ylabel("accuracy on the kept rows (%)")
        ax.legend(loc="lower right", fontsize=8, ncols=2 if len(curves) > 6 else 1)
    return fig
