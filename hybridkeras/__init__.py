"""hybridkeras: hybrid quantum-classical image classifiers, the Keras way.

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads, so that
``hybridkeras.keras`` (tf_keras) can hold TensorFlow Quantum layers.
"""
from hybridkeras import _compat  # noqa: F401  (must run before anything imports TensorFlow)
from hybridkeras._compat import keras
from hybridkeras import circuits, data, layers, models, training, viz  # noqa: E402
from hybridkeras.io import load_model, save_model  # noqa: E402
from hybridkeras.layers._backend import get_backend, set_backend  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "circuits", "data", "get_backend", "keras", "layers", "load_model", "models", "save_model", "set_backend",
    "training", "tuning", "viz",
    "__version__",
]


def __getattr__(name):
    if name == "tuning":  # keras_tuner is slow to import; load it on first use
        import importlib

        return importlib.import_module("hybridkeras.tuning")
    raise AttributeError(f"module 'hybridkeras' has no attribute {name!r}")
