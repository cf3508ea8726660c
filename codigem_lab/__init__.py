"""codigem_lab: learn, check and push diffusion-based collaborative filtering (CODIGEM, KSEM 2022).

Each name lives in a small module of its own; ``load_run`` (a finished run folder as a fitted
recommender) is importable from here.
"""

from codigem_lab.saved import load_run

__version__ = "0.1.0"

__all__ = ["load_run"]
