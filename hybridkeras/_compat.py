"""Stack set-up: make TensorFlow resolve ``tf.keras`` to tf_keras (Keras 2) before it loads.

TensorFlow Quantum's layers are tf_keras layers; a Keras 3 model cannot hold them. TensorFlow
reads ``TF_USE_LEGACY_KERAS`` when ``tf.keras`` is first touched, so this module sets it before
importing TensorFlow and then checks that the setting took effect.

Exposes ``keras`` (the tf_keras namespace), ``tf``, ``tfq``.
"""
from __future__ import annotations

import importlib.util
import os
import sys

_LEGACY_VALUES = ("1", "true", "yes")


class StackError(ImportError):
    """The installed TensorFlow / tf_keras / TFQ stack cannot run hybridkeras."""


def _set_legacy_keras() -> None:
    value = os.environ.get("TF_USE_LEGACY_KERAS")
    if value is not None and value.lower() not in _LEGACY_VALUES:
        raise StackError(
            "hybridkeras needs tf_keras (Keras 2), but the environment sets "
            f"TF_USE_LEGACY_KERAS={value!r}. Unset it or set TF_USE_LEGACY_KERAS=1 before "
            "starting Python."
        )
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    # TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) drowns notebook output.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


_set_legacy_keras()

import tensorflow as tf  # noqa: E402  (must come after the environment variable)


def _check_keras_resolution() -> None:
    # tf.keras is a lazy loader; if TensorFlow was imported earlier and tf.keras was already
    # resolved to Keras 3, setting the variable now is too late.
    import tf_keras

    resolved = getattr(tf.keras, "__name__", "")
    # Compare classes, not module names: once some library imports ``tensorflow.keras`` by name,
    # tf.keras is the tf_keras namespace under the name 'tensorflow.keras'.
    if getattr(tf.keras, "layers", None) is None or tf.keras.layers.Layer is not tf_keras.layers.Layer:
        raise StackError(
            "TensorFlow was imported with Keras 3 active (tf.keras resolved to "
            f"{resolved!r}), and TensorFlow Quantum layers only work with tf_keras. "
            "Import hybridkeras before TensorFlow, or set TF_USE_LEGACY_KERAS=1 before "
            "starting Python, then restart the kernel."
        )


def _check_versions() -> None:
    problems = []
    if not tf.__version__.startswith("2.18."):
        problems.append(f"tensorflow {tf.__version__} (need 2.18.x)")
    try:
        import tf_keras
    except ImportError:
        problems.append("tf-keras is not installed (need 2.18.x)")
    else:
        if not tf_keras.__version__.startswith("2.18."):
            problems.append(f"tf-keras {tf_keras.__version__} (need 2.18.x)")
    try:
        import cirq
    except ImportError:
        problems.append("cirq-core is not installed (need 1.5.0)")
    else:
        if cirq.__version__ != "1.5.0":
            problems.append(f"cirq-core {cirq.__version__} (need 1.5.0)")
    if problems:
        raise StackError(
            "hybridkeras needs tensorflow 2.18.x, tf-keras 2.18.x, tensorflow-quantum 0.7.6 "
            "and cirq-core 1.5.0; found: " + "; ".join(problems)
            + ". Reinstall with `pip install -e .` in a fresh virtual environment."
        )


_check_versions()
_check_keras_resolution()

import tf_keras as keras  # noqa: E402

class _TFQ:
    """``tensorflow_quantum``, imported when first used.

    Importing TFQ starts TensorFlow's eager context (it loads its op libraries), after which a
    `tf.distribute.MultiWorkerMirroredStrategy` can no longer be created ("collective ops must be
    configured at program startup"); importing it on first use lets a multi-worker run create its
    strategy after ``import hybridkeras``.
    """

    _module = None

    def __getattr__(self, name):
        if _TFQ._module is None:
            try:
                import tensorflow_quantum
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise StackError(
                    f"tensorflow-quantum 0.7.6 could not be imported ({exc}). It needs Python 3.11 "
                    f"(this is {sys.version.split()[0]}) and tensorflow 2.18.x."
                ) from exc
            _TFQ._module = tensorflow_quantum
        return getattr(_TFQ._module, name)


if importlib.util.find_spec("tensorflow_quantum") is None:  # pragma: no cover - depends on the installation
    raise StackError("tensorflow-quantum 0.7.6 is not installed; reinstall with `pip install -e .`")
tfq = _TFQ()

__all__ = ["keras", "tf", "tfq", "StackError"]
