"""Study: what ``make bench`` costs before and after, and what each opt-in gains (README.md)."""
