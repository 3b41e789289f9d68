"""bnn-bench: NUTS, ADVI and full-rank ADVI on one PyMC Bayesian neural network."""
