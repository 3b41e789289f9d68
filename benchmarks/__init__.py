"""asv benchmark suite of bnn-bench (see ``asv.conf.json`` and the README's 'Benchmarks')."""
