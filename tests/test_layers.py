import numpy as np
import pytest

from hybridkeras import keras
import tensorflow as tf
from hybridkeras.layers import MinMaxScaling, PadFeatures, PCAProjection, QuantumFeatureMap
from tests.helpers import pauli_expectations, reference_feature_map_state
from tests.backends import needs_tfq, tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py


def _reference(x: np.ndarray, qubits: int, readout: str) -> np.ndarray:
    rows = []
    for sample in x:
        values = []
        for group in sample.reshape(-1, qubits):
            state = reference_feature_map_state(group)
            values.append(np.abs(state) ** 2 if readout == "probs" else pauli_expectations(state, readout))
        rows.append(np.concatenate(values))
    return np.array(rows)


@pytest.mark.parametrize("readout", ["Z", "X", "Y", "probs"])
def test_feature_map_matches_cirq_simulator(rng, readout):
    x = rng.uniform(0, 1, size=(3, 10)).astype(np.float32)
    layer = QuantumFeatureMap(5, readout=readout)
    out = layer(x).numpy()
    assert out.shape == (3, 10 if readout != "probs" else 64)
    np.testing.assert_allclose(out, _reference(x.astype(np.float64), 5, readout), atol=1e-5)


def test_feature_map_clips_out_of_range_features(rng):
    x = np.array([[-0.3, 1.7, 0.5, 0.0, 1.0]], np.float32)
    np.testing.assert_allclose(QuantumFeatureMap(5)(x).numpy(), _reference(np.clip(x, 0, 1), 5, "Z"), atol=1e-5)


def test_sampled_feature_map_within_shot_noise(rng):
    shots = 4000
    x = rng.uniform(0, 1, size=(2, 5)).astype(np.float32)
    probs = QuantumFeatureMap(5, readout="probs", repetitions=shots)(x).numpy()
    exact_probs = _reference(x, 5, "probs")
    # std of an estimated probability is <= 0.5/sqrt(shots): 3/sqrt(shots) is a 6-sigma bound per value
    assert np.all(np.abs(probs - exact_probs) <= 3 / np.sqrt(shots))
    np.testing.assert_allclose(probs.reshape(2, -1).sum(axis=1), 1.0, atol=1e-5)  # frequencies of one shot record
    np.testing.assert_allclose(probs * shots, np.round(probs * shots), atol=1e-3)  # counts / shots
    z = QuantumFeatureMap(5, readout="Z", repetitions=shots)(x).numpy()
    exact_z = _reference(x, 5, "Z")
    # std of a sampled <Z> is <= 1/sqrt(shots): the RMS error over 10 values stays below 3/sqrt(shots)
    assert np.sqrt(np.mean((z - exact_z) ** 2)) <= 3 / np.sqrt(shots)
    assert not np.allclose(z, exact_z, atol=1e-7), "sampled values equal exact ones: no sampling happened"


@pytest.mark.parametrize("readout", ["Z", "probs"])
def test_feature_map_input_gradient_matches_finite_differences(rng, readout):
    layer = QuantumFeatureMap(5, readout=readout, differentiator="adjoint")
    x = tf.constant(rng.uniform(0.15, 0.85, size=(1, 5)), tf.float32)
    weights = tf.constant(rng.normal(size=(1, layer.readout_dim)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.reduce_sum(layer(x) * weights)
    grad = tape.gradient(value, x).numpy()[0]
    eps = 1e-2
    numeric = []
    for i in range(5):
        step = np.zeros((1, 5), np.float32)
        step[0, i] = eps
        plus = tf.reduce_sum(layer(x + step) * weights).numpy()
        minus = tf.reduce_sum(layer(x - step) * weights).numpy()
        numeric.append((plus - minus) / (2 * eps))
    np.testing.assert_allclose(grad, numeric, rtol=2e-2, atol=2e-3)
    assert np.abs(grad).max() > 1e-2  # the data really drive the circuit


@pytest.mark.parametrize(
    "layer, x",
    [
        (QuantumFeatureMap(5, readout="probs"), np.random.default_rng(0).uniform(0, 1, (2, 10))),
        (PadFeatures(5), np.ones((2, 64))),
    ],
)
def test_config_round_trip_gives_equal_outputs(layer, x):
    clone = type(layer).from_config(layer.get_config())
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy(), atol=1e-7)


def test_adapted_layers_round_trip_through_config_and_weights(rng):
    data = rng.normal(size=(50, 8))
    for layer in (PCAProjection(3), MinMaxScaling()):
        layer.adapt(data)
        clone = type(layer).from_config(layer.get_config())
        clone.build((None, 8))
        clone.set_weights(layer.get_weights())
        np.testing.assert_allclose(clone(data).numpy(), layer(data).numpy(), atol=1e-6)
        assert clone.is_adapted


def test_custom_layers_are_registered():
    for name in ("QuantumFeatureMap", "PCAProjection", "MinMaxScaling", "PadFeatures"):
        assert keras.utils.get_registered_object(f"hybridkeras>{name}") is not None


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(qubits=0), ValueError, "qubits"),
        (dict(qubits="5"), TypeError, "qubits"),
        (dict(qubits=True), TypeError, "qubits"),
        pytest.param(dict(qubits=13, backend="tfq"), ValueError, "qubits", marks=needs_tfq),
        (dict(qubits=21), ValueError, "qubits"),
        (dict(readout="W"), ValueError, "readout"),
        (dict(repetitions=0), ValueError, "repetitions"),
        (dict(repetitions=1.5), TypeError, "repetitions"),
        (dict(differentiator="finite"), ValueError, "differentiator"),
        (dict(differentiator="adjoint", repetitions=100), ValueError, "differentiator"),
    ],
)
def test_feature_map_argument_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        QuantumFeatureMap(**kwargs)


def test_feature_map_input_validation():
    with pytest.raises(ValueError, match=r"last input dimension \(7\) must be a multiple of qubits = 5"):
        QuantumFeatureMap(5)(np.zeros((2, 7), np.float32))
    with pytest.raises(ValueError, match="shape \\(batch, features\\)"):
        QuantumFeatureMap(5)(np.zeros((2, 5, 1), np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        QuantumFeatureMap(5)(np.array([[0.1, np.nan, 0.2, 0.3, 0.4]], np.float32))


def test_pca_projection_matches_scikit_learn(rng):
    from sklearn.decomposition import PCA

    data = rng.normal(size=(200, 12)) @ rng.normal(size=(12, 12))
    ours = PCAProjection(4).adapt(data)(data).numpy()
    theirs = PCA(4).fit_transform(data)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours, theirs * signs, rtol=1e-3, atol=1e-3)


def test_pca_projection_validation(rng):
    with pytest.raises(ValueError, match="components"):
        PCAProjection(5)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="components"):
        PCAProjection(0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        PCAProjection(2).adapt(np.array([[1.0, np.nan], [0.0, 1.0]]))
    layer = PCAProjection(2).adapt(rng.normal(size=(10, 6)))
    with pytest.raises(ValueError, match="built for 6 features"):
        layer.adapt(rng.normal(size=(10, 7)))


def test_minmax_scaling_maps_training_range_to_unit_interval(rng):
    data = rng.normal(size=(100, 3)) * [1.0, 10.0, 0.0] + [0.0, 5.0, 2.0]
    scale = MinMaxScaling().adapt(data)
    out = scale(data).numpy()
    np.testing.assert_allclose(out[:, :2].min(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out[:, :2].max(axis=0), 1.0, atol=1e-6)
    np.testing.assert_array_equal(out[:, 2], 0.0)  # constant feature
    far = scale(np.array([[1e3, -1e3, 2.0]])).numpy()
    np.testing.assert_array_equal(far, [[1.0, 0.0, 0.0]])


def test_pad_features():
    out = PadFeatures(5)(np.ones((2, 64), np.float32)).numpy()
    assert out.shape == (2, 65) and out[:, 64].tolist() == [0.0, 0.0]
    assert PadFeatures(4)(np.ones((1, 8))).shape == (1, 8)
    with pytest.raises(ValueError, match="multiple"):
        PadFeatures(0)
