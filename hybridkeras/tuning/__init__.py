"""Keras Tuner integration: HyperModels per family and a search entry point (keras-tuner 1.3.5, tf_keras)."""
from hybridkeras.tuning.hypermodels import AutoencoderQFMHyperModel
from hybridkeras.tuning.search import TUNERS, make_tuner, tune_autoencoder_qfm

__all__ = ["TUNERS", "AutoencoderQFMHyperModel", "make_tuner", "tune_autoencoder_qfm"]
