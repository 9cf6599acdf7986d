"""The simulator benchmark's TensorFlow call paths run the same function: the flat call of a step's
AtomicFunction (the default) gives the outputs and gradients of ``ConcreteFunction.__call__``, graph and XLA."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tensorflow as tf
from tests.backends import tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py

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


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("xla", [False, True])
def test_handwritten_reference_matches_the_engine(simulators, n, xla):
    """The hand-written TensorFlow reference computes the benchmark's circuit: outputs and both gradients equal the engine's."""
    x, w, mix = simulators._inputs(8, 1, n, 3, seed=n)
    engine, _, _ = simulators.engine_step(1, n, 3, x, w, mix)
    handwritten, out = simulators.handwritten_step(1, n, 3, x, w, mix, xla=xla)
    expected = engine()
    for a, b in zip(handwritten(), expected):  # outputs, input gradients, weight gradients
        np.testing.assert_allclose(a.numpy(), np.reshape(b.numpy(), a.shape), atol=2e-5)
    assert np.abs(out).max() > 1e-2 and np.abs(expected[2].numpy()).max() > 1e-2  # real values, not zeros


def test_handwritten_reference_rejects_what_it_does_not_write_out(simulators):
    x, w, mix = simulators._inputs(4, 2, 3, 1)
    with pytest.raises(ValueError, match="one circuit of at most 6 qubits.*circuits=2, n=3"):
        simulators.handwritten_step(2, 3, 1, x, w, mix)


def test_paired_ratios_take_the_fastest_peer_and_engine_mode_of_each_round(simulators):
    """Round by round: the peer and the engine mode with the lower median, each round's times divided."""
    times = {"engine": [4.0, 4.0, 3.0], "engine XLA": [1.0, 2.0, 4.0],  # XLA by median, though not in round 3
             "tfq": [9.0, 9.0, 9.0], "pennylane": [2.0, 1.0, 2.0], "tensorcircuit": [3.0]}
    engines = ("engine", "engine XLA")
    ratios = simulators.paired_ratios(times, ["tfq", "pennylane", "tensorcircuit"], engines)
    np.testing.assert_allclose(ratios, [2.0, 0.5, 0.5])
    # a peer timed in one round only is paired with that round
    np.testing.assert_allclose(simulators.paired_ratios(times, ["tensorcircuit"], engines), [3.0])
    assert simulators.paired_ratios(times, ["qiskit"], engines) == []
