"""Training: callbacks, named configs, the autoencoder + feature-map pipeline, the experiment runner.

Where hybridkeras runs on Keras 3 the `Distiller` and the callbacks are here; the rest (pipelines, runners, configs)
names the Keras 2 set-up it needs.
"""
from hybridkeras._stack import KERAS_VERSION, require_keras2

if KERAS_VERSION == 3:
    from hybridkeras.training.callbacks import EpochRecorder, GradCAMSnapshots, make_callbacks, step_schedule
    from hybridkeras.training.distiller import Distiller

    __all__ = ["Distiller", "EpochRecorder", "GradCAMSnapshots", "make_callbacks", "step_schedule"]

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        require_keras2(f"`hybridkeras.training.{name}`")
        raise AttributeError(f"module 'hybridkeras.training' has no attribute {name!r}")
else:
    from hybridkeras.training.callbacks import GradCAMSnapshots, make_callbacks, step_schedule
    from hybridkeras.training.configs import CONFIGS, AutoencoderQFMConfig, DistillationConfig, ExperimentConfig, get_config
    from hybridkeras.training.distillation import DistillationResult, distill, run_distillation
    from hybridkeras.training.distiller import Distiller
    from hybridkeras.training.callbacks import EpochRecorder
    from hybridkeras.training.experiments import ExperimentResult, run_experiment, train_one
    from hybridkeras.training.metrics import convergence_epoch, convergence_speedup
    from hybridkeras.training.pipeline import PipelineResult, compute_features, load_dataset, train_autoencoder_qfm

    __all__ = [
        "CONFIGS", "AutoencoderQFMConfig", "DistillationConfig", "DistillationResult", "Distiller", "EpochRecorder", "GradCAMSnapshots", "ExperimentConfig", "ExperimentResult", "PipelineResult",
        "compute_features", "convergence_epoch", "convergence_speedup", "distill", "get_config", "load_dataset", "make_callbacks",
        "run_distillation", "run_experiment", "step_schedule", "train_autoencoder_qfm", "train_one",
    ]
