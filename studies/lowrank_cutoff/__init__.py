"""Study: nutpie's low-rank mass matrix at several eigenvalue cutoffs (README.md)."""
