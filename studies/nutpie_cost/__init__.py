"""Study: what one gradient costs inside nutpie, and what a user can change (README.md)."""
