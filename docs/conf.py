"""Sphinx configuration of the bnn-bench documentation (MyST Markdown, pydata theme).

The reference pages that list what the code knows (methods, metrics, datasets) and the
index of the studies are generated here at every build, from the registries and from
``studies/*/README.md``: nothing on them is copied by hand.
"""

from __future__ import annotations

from pathlib import Path

from bnn_models.report.catalogue import write_pages, write_studies

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

project = "bnn-bench"
author = "the bnn-bench developers"
copyright = "2026, the bnn-bench developers"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
# A word of a numpydoc type ("shape (rows, features)") that names two attributes of the
# package is not a broken link: the type stays text.
suppress_warnings = ["ref.python"]

# numpydoc-style docstrings through napoleon; type hints in the description
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "pydata_sphinx_theme"
html_title = "bnn-bench"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []


# Generated before Sphinx looks for its sources (both folders are git-ignored).
write_pages(DOCS / "reference")
write_studies(ROOT / "studies", DOCS / "studies")
