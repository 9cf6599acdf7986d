"""hybridkeras: hybrid quantum-classical image classifiers, the Keras way.

It runs on one of two Kerases per process (`hybridkeras._stack`; ``HYBRIDKERAS_KERAS=2|3``):

* Keras 2 — tf_keras with TensorFlow Quantum (``pip install "hybridkeras[tfq]"``, Python 3.11):
  everything. Importing the package then sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow loads,
  so that ``hybridkeras.keras`` (tf_keras) can hold TensorFlow Quantum layers.
* Keras 3 — on TensorFlow, JAX or PyTorch (``KERAS_BACKEND``), TFQ optional, on today's Python:
  ``hybridkeras.keras`` is Keras 3, `hybridkeras.layers` holds the quantum layers (the
  state-vector engine, or TFQ's ops on TensorFlow), and everything above them runs there too: the
  model builders, `training` (the runners and the `Distiller`), `tuning`, `viz`, the CLI, and
  `save_model`/`load_model` writing and reading `.keras` folders.
"""
from hybridkeras._stack import KERAS_VERSION, StackError

__version__ = "0.1.0"

if KERAS_VERSION == 2:
    from hybridkeras import _compat  # noqa: F401  (must run before anything imports TensorFlow)
    from hybridkeras._compat import keras
else:
    import keras
from hybridkeras import circuits, data, engines, layers, models, training, viz  # noqa: E402
from hybridkeras.io import load_model, save_model  # noqa: E402
from hybridkeras.layers._backend import get_backend, set_backend  # noqa: E402

__all__ = [
    "KERAS_VERSION", "StackError", "circuits", "data", "engines", "get_backend", "keras", "layers", "load_model",
    "models", "save_model", "set_backend", "training", "tuning", "viz", "__version__",
]


def __getattr__(name):
    import importlib

    if name in ("tuning", "cli"):  # keras_tuner is slow to import; load it on first use
        return importlib.import_module(f"hybridkeras.{name}")
    raise AttributeError(f"module 'hybridkeras' has no attribute {name!r}")
