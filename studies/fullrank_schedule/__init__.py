"""Study: full-rank ADVI's schedule, cold start against a warm start (README.md)."""
