"""Study: cliff."""
