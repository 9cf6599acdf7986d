"""Keras 2 set-up: make TensorFlow resolve ``tf.keras`` to tf_keras before it loads.

TensorFlow Quantum's layers are tf_keras layers; a Keras 3 model cannot hold them. TensorFlow
reads ``TF_USE_LEGACY_KERAS`` when ``tf.keras`` is first touched, so this module sets it before
importing TensorFlow and then checks that the setting took effect.

Imported only where hybridkeras runs on Keras 2 (`hybridkeras._stack.KERAS_VERSION`). Exposes ``keras``
(the tf_keras namespace), ``tf``, ``tfq``.
"""
from __future__ import annotations

import importlib.util
import os

from hybridkeras._stack import KERAS_ENV, StackError, TFQ_EXTRA, require_keras2, tfq

_LEGACY_VALUES = ("1", "true", "yes")

require_keras2("`hybridkeras._compat` (the Keras 2 set-up)")


def _set_legacy_keras() -> None:
    value = os.environ.get("TF_USE_LEGACY_KERAS")
    if value is not None and value.lower() not in _LEGACY_VALUES:
        raise StackError(
            "hybridkeras needs tf_keras (Keras 2), but the environment sets "
            f"TF_USE_LEGACY_KERAS={value!r}. Unset it or set TF_USE_LEGACY_KERAS=1 before "
            f"starting Python, or set {KERAS_ENV}=3 to run hybridkeras's Keras 3 layers."
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
            f"starting Python, then restart the kernel; or set {KERAS_ENV}=3 to run hybridkeras on Keras 3."
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
            + f". Reinstall with `{TFQ_EXTRA}` in a fresh Python 3.11 virtual environment, or set {KERAS_ENV}=3 "
            "to run hybridkeras on Keras 3 without TFQ."
        )


_check_versions()
_check_keras_resolution()

import tf_keras as keras  # noqa: E402

if importlib.util.find_spec("tensorflow_quantum") is None:  # pragma: no cover - depends on the installation
    raise StackError(f"tensorflow-quantum 0.7.6 is not installed; install it with `{TFQ_EXTRA}`")

__all__ = ["keras", "tf", "tfq", "StackError"]
