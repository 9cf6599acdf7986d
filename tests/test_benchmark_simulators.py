"""The simulator benchmark's TensorFlow call paths run the same function: the flat call of a step's
AtomicFunction (the default) gives the outputs and gradients of ``ConcreteFunction.__call__``, graph and XLA."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from hybridkeras._compat import tf

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "simulators.py"


@pytest.fixture(scope="module")
def simulators():
    spec = importlib.util.spec_from_file_location("benchmark_simulators", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("xla", [False, True])
def test_flat_call_gives_the_concrete_calls_outputs_and_gradients(simulators, xla):
    x, w, mix = simulators._inputs(8, 2, 3, 2)
    flat, out_flat, _ = simulators.engine_step(2, 3, 2, x, w, mix, xla=xla, call="flat")
    concrete, out_concrete, _ = simulators.engine_step(2, 3, 2, x, w, mix, xla=xla, call="concrete")
    np.testing.assert_allclose(out_flat, out_concrete, atol=1e-6)
    for a, b in zip(flat(), concrete()):  # outputs, input gradients, weight gradients
        assert a.shape == b.shape
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    assert np.abs(out_flat).max() > 1e-3  # a real step, not zeros


def test_flat_call_sees_the_variables_current_values(simulators):
    v = tf.Variable(2.0)
    concrete = tf.function(lambda x: x * v).get_concrete_function(tf.constant(1.0))
    call = simulators.tf_caller(concrete, tf.constant(3.0))
    assert float(call()[0]) == 6.0
    v.assign(5.0)
    assert float(call()[0]) == 15.0


def test_tf_caller_rejects_an_unknown_call_path(simulators):
    concrete = tf.function(lambda x: x + 1).get_concrete_function(tf.constant(1.0))
    with pytest.raises(ValueError, match="call='fast'.*'flat' or 'concrete'"):
        simulators.tf_caller(concrete, tf.constant(1.0), call="fast")
