"""codigem_lab: learn, check and push diffusion-based collaborative filtering (CODIGEM, KSEM 2022).

The names a notebook needs most are importable from here; each lives in a small module of its own.
"""

from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.data import load_interactions, prepare_split, table1_stats
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
from codigem_lab.diffusion.schedule import NoiseSchedule
from codigem_lab.metrics import Evaluator
from codigem_lab.models import build_model
from codigem_lab.saved import load_run
from codigem_lab.train import TrainConfig

__version__ = "0.1.0"

__all__ = [
    "CODIGEM",
    "CODIGEMConfig",
    "CODIGEMRecommender",
    "Evaluator",
    "NoiseSchedule",
    "TrainConfig",
    "build_model",
    "load_interactions",
    "load_run",
    "prepare_split",
    "table1_stats",
]
