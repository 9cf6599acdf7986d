"""Keras Tuner integration: HyperModels per family and search entry points (Keras Tuner ≥ 1.4, Keras 3)."""
from hybridkeras.tuning.distillation import DistillerHyperModel
from hybridkeras.tuning.hqnn import HQNNParallelHyperModel, HQNNQuanvHyperModel
from hybridkeras.tuning.lcqhnn import LCQHNNHyperModel
from hybridkeras.tuning.registry import HYPERMODELS
from hybridkeras.tuning.hypermodels import AutoencoderQFMHyperModel
from hybridkeras.tuning.search import TUNERS, make_tuner, tune_autoencoder_qfm, tune_distillation, tune_experiment

__all__ = [
    "HYPERMODELS", "TUNERS", "AutoencoderQFMHyperModel", "DistillerHyperModel", "HQNNParallelHyperModel", "HQNNQuanvHyperModel", "LCQHNNHyperModel",
    "make_tuner", "tune_autoencoder_qfm", "tune_distillation", "tune_experiment",
]
