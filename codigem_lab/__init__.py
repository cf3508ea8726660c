"""codigem_lab: learn, check and push diffusion-based collaborative filtering (CODIGEM, KSEM 2022).

The names a notebook needs are importable from here; each lives in a small module of its own.
"""

__version__ = "0.1.0"
