"""hybridkeras: hybrid quantum-classical image classifiers, the Keras way.

A Keras 3 library on TensorFlow, JAX and PyTorch (``KERAS_BACKEND``): `hybridkeras.layers` holds any Cirq circuit
as a layer and the papers' quantum layers (the state-vector engine on every backend, or TensorFlow Quantum's ops
on TensorFlow where TFQ is installed), and everything above them runs on the same Keras: the model builders,
`training` (the runners and the `Distiller`), `tuning`, `viz`, the CLI, and `save_model`/`load_model`.
"""
from hybridkeras._stack import StackError

import keras  # noqa: E402  (after the stack check)

from hybridkeras import circuits, data, engines, layers, models, training, viz  # noqa: E402
from hybridkeras.io import load_model, save_model  # noqa: E402
from hybridkeras.layers._backend import get_backend, set_backend  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "StackError", "circuits", "data", "engines", "get_backend", "keras", "layers", "load_model", "models",
    "save_model", "set_backend", "training", "tuning", "viz", "__version__",
]


def __getattr__(name):
    import importlib

    if name in ("tuning", "cli"):  # keras_tuner is slow to import; load it on first use
        return importlib.import_module(f"hybridkeras.{name}")
    raise AttributeError(f"module 'hybridkeras' has no attribute {name!r}")
