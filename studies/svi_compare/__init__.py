"""Study: svi_compare."""
