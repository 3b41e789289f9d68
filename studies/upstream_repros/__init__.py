"""Study: standalone reproductions of what this suite found in PyTensor, PyMC and numba (README.md)."""
