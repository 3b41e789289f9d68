"""The docs' generated pages: every method, metric, dataset and study, from the code."""

from __future__ import annotations

import dataclasses
import re

from bnn_models.data import DATASETS
from bnn_models.inference import ACCELERATIONS, METHODS, NUTSSettings
from bnn_models.inference.fullrank_advi import FullRankADVISettings
from bnn_models.metrics import METRICS
from bnn_models.report.catalogue import (
    datasets_page,
    methods_page,
    metrics_page,
    setting_docs,
    study_page,
    write_pages,
    write_studies,
)


def test_every_method_and_every_setting_is_on_the_methods_page():
    page = methods_page()
    for method in METHODS.values():
        section = page.split(f"## {method.label} (`{method.name}`)", 1)[1].split("\n## ", 1)[0]
        for field in dataclasses.fields(method.settings):
            assert re.search(rf"^\| `{field.name}` \|", section, re.M), (method.name, field.name)
        for name in method.accelerations:
            assert f"`--set {method.name}.{ACCELERATIONS[name].flag}`" in section


def test_every_setting_of_the_design_methods_is_documented():
    # the text comes from the numpydoc Attributes or the #: comment above the field
    for name in ("nuts", "advi", "fullrank_advi"):
        docs = setting_docs(METHODS[name].settings)
        missing = [
            f.name for f in dataclasses.fields(METHODS[name].settings) if not docs.get(f.name)
        ]
        assert not missing, (name, missing)


def test_setting_docs_by_hand():
    docs = setting_docs(NUTSSettings)
    # "draws, tune : int" documents both; a role is shown as the code it names
    assert docs["draws"] == docs["tune"]
    assert docs["draws"].startswith("Kept draws and tuning (warm-up) steps per chain. The")
    assert docs["n_hidden"] == "Hidden units of `bnn_models.model.build_bnn`."
    assert setting_docs(FullRankADVISettings)["packed_factor"].startswith(
        "Opt-in, never the default"
    )


def test_every_metric_is_on_the_metrics_page_with_its_path_and_track():
    page = metrics_page()
    for m in METRICS.values():
        row = next(line for line in page.splitlines() if f"(`{m.name}`)" in line)
        assert f"`{m.path}`" in row and f"| {m.direction} |" in row
        if m.track:
            assert f"`{m.track.suite}.track_{m.track.name}`" in row


def test_every_dataset_is_on_the_datasets_page():
    page = datasets_page()
    for d in DATASETS.values():
        assert f"| `{d.name}` |" in page


def test_write_pages_writes_each_page(tmp_path):
    paths = write_pages(tmp_path)
    assert sorted(p.name for p in paths) == ["datasets.md", "methods.md", "metrics.md"]
    assert (tmp_path / "methods.md").read_text() == methods_page()


def test_a_study_page_points_its_links_at_the_files_beside_it(tmp_path):
    study = tmp_path / "studies" / "fake"
    study.mkdir(parents=True)
    (study / "README.md").write_text(
        "# A fake study\n\nSee [the table](results/table.md), ![the figure](results/f.png),\n"
        "[the other study](../other/README.md#method), [PyMC](https://www.pymc.io) and "
        "[below](#method).\n"
    )
    text = study_page(study / "README.md")
    assert "[the table](path:../../studies/fake/results/table.md)" in text
    assert "![the figure](../../studies/fake/results/f.png)" in text
    assert "[the other study](other.md#method)" in text
    assert "[PyMC](https://www.pymc.io)" in text and "[below](#method)" in text
    (tmp_path / "studies" / "empty").mkdir()  # no page: not a study
    written = write_studies(tmp_path / "studies", tmp_path / "docs")
    assert [p.name for p in written] == ["index.md", "fake.md"]
    index = (tmp_path / "docs" / "index.md").read_text()
    assert "- [A fake study](fake.md)" in index and "\nfake\n" in index
