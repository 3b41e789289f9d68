"""Study: ADVI against NumPyro's SVI on the same BNN, and one ADVI step's anatomy (README.md)."""
