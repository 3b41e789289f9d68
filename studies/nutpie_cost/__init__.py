"""Study: nutpie_cost."""
