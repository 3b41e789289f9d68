"""asv benchmark suite of bnn-bench (see ``asv.conf.json`` and docs/ci.md)."""
