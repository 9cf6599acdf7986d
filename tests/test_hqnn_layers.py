"""ParallelPQC and Quanvolution2D against independent Cirq simulations and finite differences."""
import numpy as np
import pytest

from hybridkeras import keras
import tensorflow as tf
from hybridkeras.layers import ParallelPQC, Quanvolution2D
from tests.helpers import assert_gradients_match_finite_differences, reference_parallel_pqc, reference_quanv_patch
from tests.backends import needs_tfq, tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py


@pytest.mark.parametrize("readout, embedding", [("Y", "X"), ("Z", "Y"), ("X", "X")])
def test_parallel_pqc_matches_cirq_simulator(rng, readout, embedding):
    layer = ParallelPQC(3, 4, depth=2, readout=readout, embedding=embedding)
    x = rng.uniform(-np.pi, np.pi, size=(3, 12)).astype(np.float32)
    out = layer(x).numpy()
    weights = layer.circuit_weights.numpy().astype(np.float64)
    for row in range(3):
        expected = reference_parallel_pqc(x[row].astype(np.float64), weights, readout, embedding)
        np.testing.assert_allclose(out[row], expected, atol=1e-5)


def test_parallel_pqc_paper_settings_match_cirq_and_count_weights(rng):
    layer = ParallelPQC(4, 5, depth=3)
    x = rng.normal(size=(2, 20)).astype(np.float32)
    out = layer(x).numpy()
    assert layer.count_params() == 4 * 5 * 3 * 3 == 180
    weights = layer.circuit_weights.numpy().astype(np.float64)
    np.testing.assert_allclose(out[1], reference_parallel_pqc(x[1].astype(np.float64), weights), atol=1e-5)


def test_parallel_pqc_circuits_have_their_own_weights(rng):
    layer = ParallelPQC(2, 3, depth=1, readout="Z")
    layer.build((None, 6))
    w = layer.circuit_weights.numpy()
    w[1] = w[0]
    layer.circuit_weights.assign(w)
    x = np.tile(rng.normal(size=(1, 3)), (1, 2)).astype(np.float32)
    out = layer(x).numpy()[0]
    np.testing.assert_allclose(out[:3], out[3:], atol=1e-6)  # same weights and inputs → same outputs
    w[1, 0, 0, 1] += 1.0
    layer.circuit_weights.assign(w)
    out = layer(x).numpy()[0]
    assert np.abs(out[:3] - out[3:]).max() > 1e-3


def test_parallel_pqc_gradients_match_finite_differences(rng):
    layer = ParallelPQC(2, 3, depth=2)
    x0 = rng.uniform(-1, 1, size=(1, 6)).astype(np.float32)
    layer(x0)
    mix = tf.constant(rng.normal(size=(1, 6)), tf.float32)
    assert_gradients_match_finite_differences(layer, layer.circuit_weights, x0, mix)


def test_parallel_pqc_parameter_shift_agrees_with_adjoint(rng):
    x = tf.constant(rng.uniform(-1, 1, size=(2, 6)), tf.float32)
    grads, weights = [], None
    for name in ("adjoint", "parameter_shift"):
        keras.utils.set_random_seed(3)
        layer = ParallelPQC(2, 3, depth=1, differentiator=name, backend="tfq")
        layer.build(x.shape)
        weights = layer.get_weights() if weights is None else weights
        layer.set_weights(weights)  # the same weights (TFQ's set-up may draw from the seeded stream)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(layer(x) ** 2)
        grads.append(tape.gradient(value, [x, layer.circuit_weights]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(circuits=0), ValueError, "circuits"),
        pytest.param(dict(qubits=13, backend="tfq"), ValueError, "qubits", marks=needs_tfq),
        (dict(qubits=21), ValueError, "qubits"),
        (dict(depth=1.5), TypeError, "depth"),
        (dict(readout="W"), ValueError, "readout"),
        (dict(embedding="probs"), ValueError, "embedding"),
        (dict(differentiator="finite"), ValueError, "differentiator"),
        (dict(repetitions=100, differentiator="adjoint"), ValueError, "adjoint"),
    ],
)
def test_parallel_pqc_argument_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        ParallelPQC(**kwargs)


def test_parallel_pqc_input_validation():
    with pytest.raises(ValueError, match=r"circuits\*qubits = 4\*5 = 20. Received input shape \(None, 21\)"):
        ParallelPQC(4, 5).build((None, 21))
    with pytest.raises(tf.errors.InvalidArgumentError, match="ParallelPQC received NaN"):
        ParallelPQC(1, 2, depth=1)(np.array([[np.nan, 0.0]], np.float32))


@pytest.mark.parametrize("rotation", ["X", "Y"])
def test_quanvolution_matches_cirq_simulator(rng, rotation):
    layer = Quanvolution2D(2, rotation=rotation)
    images = rng.uniform(0, 1, size=(2, 4, 6, 1)).astype(np.float32)
    out = layer(images).numpy()
    assert out.shape == (2, 2, 3, 4)
    weights = layer.kernel.numpy().astype(np.float64)
    for b in range(2):
        for r in range(2):
            for c in range(3):
                patch = images[b, 2 * r:2 * r + 2, 2 * c:2 * c + 2, 0].reshape(-1)
                np.testing.assert_allclose(out[b, r, c], reference_quanv_patch(patch, weights, rotation), atol=1e-5)


def test_quanvolution_handles_channels_and_larger_kernels(rng):
    layer = Quanvolution2D(3)
    images = rng.uniform(0, 1, size=(1, 3, 3, 2)).astype(np.float32)
    out = layer(images).numpy()
    assert out.shape == (1, 1, 1, 18)
    weights = layer.kernel.numpy().astype(np.float64)
    for channel in range(2):
        expected = reference_quanv_patch(images[0, :, :, channel].reshape(-1), weights)
        np.testing.assert_allclose(out[0, 0, 0, channel * 9:(channel + 1) * 9], expected, atol=1e-5)


def test_quanvolution_gradients_match_finite_differences(rng):
    layer = Quanvolution2D(2)
    x0 = rng.uniform(0.1, 0.9, size=(1, 2, 4, 1)).astype(np.float32)
    layer(x0)
    mix = tf.constant(rng.normal(size=(1, 1, 2, 4)), tf.float32)
    assert_gradients_match_finite_differences(layer, layer.kernel, x0, mix, eps_x=5e-3, atol_x=3e-3)


def test_quanvolution_validation():
    with pytest.raises(ValueError, match="kernel_size"):
        Quanvolution2D(4)
    with pytest.raises(ValueError, match="rotation"):
        Quanvolution2D(2, rotation="Z")
    with pytest.raises(ValueError, match=r"divisible by kernel_size = 2. .*\(None, 15, 14, 1\)"):
        Quanvolution2D(2).build((None, 15, 14, 1))
    with pytest.raises(ValueError, match="height, width, channels"):
        Quanvolution2D(2).build((None, 14, 14))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Quanvolution2D received NaN"):
        Quanvolution2D(2)(np.full((1, 2, 2, 1), np.nan, np.float32))


@pytest.mark.parametrize(
    "layer, shape",
    [(ParallelPQC(2, 3, depth=2, readout="Z"), (2, 6)), (Quanvolution2D(2, rotation="Y"), (2, 4, 4, 1))],
)
def test_config_round_trip_gives_equal_outputs(layer, shape, rng):
    x = rng.uniform(0, 1, size=shape).astype(np.float32)
    expected = layer(x).numpy()
    clone = type(layer).from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), expected)
    assert keras.utils.get_registered_object(f"hybridkeras>{type(layer).__name__}") is type(layer)


@pytest.mark.parametrize("backend", ["tfq", "statevector"])
def test_sampled_parallel_pqc_within_shot_noise(rng, backend):
    keras.utils.set_random_seed(5)
    exact = ParallelPQC(2, 3, depth=1, readout="Z", backend=backend)
    x = rng.uniform(-1, 1, size=(4, 6)).astype(np.float32)
    expected = exact(x).numpy()
    sampled = ParallelPQC(2, 3, depth=1, readout="Z", repetitions=2000, backend=backend,
                          differentiator="parameter_shift" if backend == "tfq" else None)
    sampled(x)
    sampled.set_weights(exact.get_weights())
    values = sampled(x).numpy()
    assert np.abs(values - expected).max() < 3 * 2 / np.sqrt(2000)  # ⟨Z⟩ ∈ [−1, 1]: std ≤ 1/sqrt(N)
    assert np.abs(values - expected).max() > 0  # really sampled
