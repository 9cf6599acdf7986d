"""What the Keras 3 tests can run here: the Keras 3 backends installed, and whether TFQ (Keras 2) is there.

The full stack (Python 3.11, ``pip install -e ".[tfq,test]"``) has all three backends and TFQ; the
Keras 3 environment of `.ci/run` (Python 3.12, no TFQ) has TensorFlow and JAX.
"""
import importlib.util

import pytest

import hybridkeras

BACKENDS = tuple(name for name in ("tensorflow", "jax", "torch") if importlib.util.find_spec(name) is not None)

needs_tfq = pytest.mark.skipif(hybridkeras.KERAS_VERSION != 2,
                               reason="compares with the tf_keras layers on TFQ (Keras 2, the [tfq] extra)")
