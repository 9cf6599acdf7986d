"""What the layer tests can run here: the Keras backends installed, and whether TFQ's ops can run.

The main environment (Python 3.11, ``pip install -e ".[tfq,test]"``) has all three backends and TFQ; the
second environment of `.ci/run` (Python 3.13, no TFQ) has TensorFlow and JAX.
"""
import importlib.util

import keras
import pytest

BACKENDS = tuple(name for name in ("tensorflow", "jax", "torch") if importlib.util.find_spec(name) is not None)

TFQ_USABLE = keras.config.backend() == "tensorflow" and importlib.util.find_spec("tensorflow_quantum") is not None

needs_tfq = pytest.mark.skipif(not TFQ_USABLE, reason="backend='tfq' runs TensorFlow Quantum's ops: Keras' TensorFlow "
                                                      "backend with TFQ installed (the [tfq] extra, Python 3.11/3.12)")

# Tests written with TensorFlow itself (`tf.GradientTape`, TensorFlow tensors): they run where Keras runs on TensorFlow.
# On JAX and PyTorch the same layers are held to Cirq and to finite differences by test_general_layers.py,
# test_engine_backends.py and test_keras3.py.
TF_ONLY_REASON = "written with TensorFlow's own API (tf.GradientTape, tf tensors); runs where KERAS_BACKEND=tensorflow"
tensorflow_only = pytest.mark.skipif(keras.config.backend() != "tensorflow", reason=TF_ONLY_REASON)
