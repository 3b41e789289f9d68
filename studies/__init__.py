"""Studies: one-off investigations beside the package, each in its own folder, on its public API."""
