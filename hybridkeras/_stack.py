"""Which Keras hybridkeras runs on, decided once per process and importing nothing heavy.

* Keras 2 (tf_keras, with TensorFlow Quantum): the full library — TFQ and the engine, the model
  builders, training, tuning, the CLI. Needs ``pip install "hybridkeras[tfq]"`` (Python 3.11,
  TensorFlow 2.18, as TFQ 0.7.6 pins them).
* Keras 3 (TensorFlow, JAX or PyTorch, chosen by ``KERAS_BACKEND``): the quantum layers on the
  state-vector engine, the engine itself, the circuits, `.keras` saving. Installs on today's
  Python and TensorFlow without TFQ.

``HYBRIDKERAS_KERAS=2`` or ``=3``, set before Python starts, picks one; unset, hybridkeras uses
Keras 2 where TensorFlow Quantum is installed and Keras 3 where it is not. The choice is read
once, at import: `KERAS_VERSION`. (The Keras 3 layers of `hybridkeras.layers.keras3` are there
under either choice.)

Also here: `tf` and `tfq`, the TensorFlow and TensorFlow Quantum modules imported on first use,
so modules that need them only on their TFQ path import nothing at load time.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys

KERAS_ENV = "HYBRIDKERAS_KERAS"
TFQ_EXTRA = 'pip install "hybridkeras[tfq]"'


class StackError(ImportError):
    """The installed stack cannot run what was asked of hybridkeras."""


def _keras_version() -> int:
    value = os.environ.get(KERAS_ENV)
    if value is None or value == "":
        return 2 if importlib.util.find_spec("tensorflow_quantum") is not None else 3
    if value.strip() not in ("2", "3"):
        raise StackError(f"{KERAS_ENV} must be '2' (tf_keras with TensorFlow Quantum) or '3' (Keras 3 on TensorFlow, "
                         f"JAX or PyTorch). Received: {KERAS_ENV}={value!r}")
    return int(value)


KERAS_VERSION = _keras_version()


def require_keras2(what: str) -> None:
    """Raises `StackError` if this process runs Keras 3: ``what`` (a phrase) needs tf_keras and TFQ."""
    if KERAS_VERSION != 2:
        reason = ("TensorFlow Quantum is not installed" if importlib.util.find_spec("tensorflow_quantum") is None
                  else f"{KERAS_ENV}=3 is set")
        raise StackError(f"{what} needs tf_keras with TensorFlow Quantum (Keras 2), but this process runs hybridkeras on "
                         f"Keras 3 ({reason}). Install it with `{TFQ_EXTRA}` on Python 3.11 and start Python with "
                         f"{KERAS_ENV}=2 (or unset), or use the Keras 3 layers of `hybridkeras.layers` on the "
                         f"state-vector engine.")


def active_keras():
    """The Keras module hybridkeras runs on in this process: tf_keras (Keras 2, set up by `hybridkeras._compat`
    before TensorFlow loads) or Keras 3."""
    if KERAS_VERSION == 2:
        from hybridkeras._compat import keras
    else:
        import keras
    return keras


def keras_backend() -> str:
    """The array backend Keras runs on in this process: ``KERAS_BACKEND`` for Keras 3, 'tensorflow' for tf_keras."""
    if KERAS_VERSION == 2:
        return "tensorflow"
    import keras

    return keras.config.backend()


class _LazyModule:
    """A module imported when one of its attributes is first read (after `require_keras2` where ``keras2``)."""

    def __init__(self, name: str, keras2: bool):
        self._name, self._keras2, self._module = name, keras2, None

    def __getattr__(self, attribute):
        if self._module is None:
            if self._keras2:
                require_keras2(f"`{self._name}`")
                importlib.import_module("hybridkeras._compat")  # tf_keras set up before TensorFlow loads
            try:
                self._module = importlib.import_module(self._name)
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise StackError(f"{self._name} could not be imported ({exc}) on Python {sys.version.split()[0]}; "
                                 f"TensorFlow Quantum needs `{TFQ_EXTRA}` on Python 3.11.") from exc
        return getattr(self._module, attribute)


# TensorFlow itself: under Keras 2 `hybridkeras._compat` has already loaded it with tf_keras.
tf = _LazyModule("tensorflow", keras2=False)
# Importing TFQ starts TensorFlow's eager context (it loads its op libraries), after which a
# `tf.distribute.MultiWorkerMirroredStrategy` can no longer be created ("collective ops must be
# configured at program startup"); importing it on first use lets a multi-worker run create its
# strategy after ``import hybridkeras``.
tfq = _LazyModule("tensorflow_quantum", keras2=True)

__all__ = ["KERAS_ENV", "KERAS_VERSION", "StackError", "TFQ_EXTRA", "active_keras", "keras_backend", "require_keras2", "tf",
           "tfq"]
