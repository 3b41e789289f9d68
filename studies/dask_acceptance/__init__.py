"""Study: what a sweep on dask promises, measured through the CLI (README.md)."""
