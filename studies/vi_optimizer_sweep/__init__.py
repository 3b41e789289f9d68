"""Study: which optimizer and learning rate for ADVI and full-rank ADVI (README.md)."""
