"""Training: named configs, the four paper runners (the autoencoder + feature-map pipeline, the experiment runner,
the distillation table), the `Distiller`, callbacks and convergence metrics, on Keras 3 (TensorFlow, JAX, PyTorch)."""
from hybridkeras.training.callbacks import EpochBackup, EpochRecorder, GradCAMSnapshots, make_callbacks, step_schedule
from hybridkeras.training.configs import CONFIGS, AutoencoderQFMConfig, DistillationConfig, ExperimentConfig, get_config
from hybridkeras.training.distillation import DistillationResult, distill, run_distillation
from hybridkeras.training.distiller import Distiller
from hybridkeras.training.experiments import ExperimentResult, run_experiment, train_one
from hybridkeras.training.metrics import convergence_epoch, convergence_speedup
from hybridkeras.training.noise_robustness import NoiseRobustnessConfig, run_noise_robustness
from hybridkeras.training.pipeline import PipelineResult, compute_features, load_dataset, train_autoencoder_qfm

__all__ = [
    "CONFIGS", "AutoencoderQFMConfig", "DistillationConfig", "DistillationResult", "Distiller", "EpochBackup", "EpochRecorder",
    "ExperimentConfig", "ExperimentResult", "GradCAMSnapshots", "PipelineResult", "compute_features",
    "convergence_epoch", "convergence_speedup", "distill", "get_config", "load_dataset", "make_callbacks",
    "NoiseRobustnessConfig", "run_distillation", "run_experiment", "run_noise_robustness", "step_schedule", "train_autoencoder_qfm", "train_one",
]
