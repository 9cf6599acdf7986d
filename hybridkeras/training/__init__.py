"""Training: callbacks, named configs, the two-stage autoencoder + feature-map pipeline."""
from hybridkeras.training.callbacks import make_callbacks, step_schedule
from hybridkeras.training.configs import CONFIGS, AutoencoderQFMConfig, get_config
from hybridkeras.training.pipeline import PipelineResult, compute_features, load_dataset, train_autoencoder_qfm

__all__ = [
    "CONFIGS", "AutoencoderQFMConfig", "PipelineResult", "compute_features", "get_config", "load_dataset",
    "make_callbacks", "step_schedule", "train_autoencoder_qfm",
]
