"""Study: performance."""
