"""Study: where the scaling cliff of one gradient comes from, and what removes it (README.md)."""
