"""``noise=`` on the layers, on whichever Keras backend runs the suite: the general circuit layers against
`cirq.DensityMatrixSimulator`, every paper layer under complete depolarisation (nothing of the input or the weights
survives), configs and fresh-process reloads that keep the noise, and `load_model(..., noise=)` evaluating a clean
model under noise with its own weights.
"""
import json

import cirq
import keras
import numpy as np
import pytest
import sympy
from keras import ops as K

import hybridkeras as hk
from hybridkeras.circuits.noise import as_noise
from hybridkeras.engines.ops import gradient
from hybridkeras.layers import (PQC, EncodedPQC, Expectation, LCQHNNBlock, ParallelPQC, QuantumFeatureMap,
                                Quanvolution2D, SampledExpectation, State)
from tests.backends import needs_tfq
from tests.helpers import assert_fresh_process_reload_identical

ATOL = 1e-5
REFERENCE = cirq.DensityMatrixSimulator(dtype=np.complex128)
SPEC = {"depolarize": 0.03, "amplitude_damp": 0.05, "readout": [0.02, 0.06]}


def _rho(circuit, resolver, qubits):
    return REFERENCE.simulate(cirq.resolve_parameters(circuit, resolver), qubit_order=qubits).final_density_matrix


def _read_z(rho, qubits, q, p01, p10):
    """⟨Z_q⟩ as a device with assignment error reads it: (1 − p01 − p10)⟨Z⟩ + (p10 − p01)."""
    z = float(np.real(np.trace(cirq.PauliSum.from_pauli_strings([cirq.Z(q)]).matrix(qubits) @ rho)))
    return (1 - p01 - p10) * z + (p10 - p01)


def test_pqc_with_named_noise_equals_cirq_density_matrices():
    qubits = cirq.GridQubit.rect(1, 3)
    a, b, c = sympy.symbols("a b c")
    circuit = cirq.Circuit(cirq.rx(a).on(qubits[0]), cirq.ry(b).on(qubits[1]), cirq.CNOT(qubits[0], qubits[2]),
                           cirq.rz(c).on(qubits[2]), cirq.H(qubits[2]), cirq.CZ(qubits[1], qubits[2]))
    layer = PQC(circuit, [cirq.Z(q) for q in qubits], noise=SPEC)
    out = K.convert_to_numpy(layer(np.zeros((1, 0), np.float32)))[0]
    weights = K.convert_to_numpy(layer.parameters)
    noisy = as_noise(SPEC).apply(circuit)
    rho = _rho(noisy, dict(zip(layer.symbols, weights)), qubits)
    expected = [_read_z(rho, qubits, q, 0.02, 0.06) for q in qubits]
    np.testing.assert_allclose(out, expected, atol=ATOL)
    clean = PQC(circuit, [cirq.Z(q) for q in qubits])
    clean.set_weights(layer.get_weights())
    assert np.abs(K.convert_to_numpy(clean(np.zeros((1, 0), np.float32)))[0] - out).max() > 1e-3


def test_expectation_runs_hand_placed_channels_and_noisy_backend_exactly():
    q = cirq.LineQubit.range(2)
    t = sympy.Symbol("t")
    circuit = cirq.Circuit(cirq.rx(t).on(q[0]), cirq.amplitude_damp(0.2).on(q[0]), cirq.CNOT(*q),
                           cirq.depolarize(0.1, n_qubits=2).on(*q), cirq.phase_flip(0.3).on(q[1]))
    values = np.array([[0.4], [2.2]], np.float32)
    operators = [cirq.Z(q[1]), cirq.X(q[0]) * cirq.X(q[1])]
    plain = K.convert_to_numpy(Expectation()(circuit, symbol_names=[t], symbol_values=values, operators=operators))
    noisy = K.convert_to_numpy(Expectation(backend="noisy")(circuit, symbol_names=[t], symbol_values=values,
                                                              operators=operators, repetitions=100))
    for row, v in enumerate(values[:, 0]):
        rho = _rho(circuit, {t: float(v)}, q)
        expected = [np.real(np.trace(cirq.PauliSum.from_pauli_strings([o]).matrix(q) @ rho)) for o in operators]
        np.testing.assert_allclose(plain[row], expected, atol=ATOL)
        np.testing.assert_allclose(noisy[row], expected, atol=ATOL)  # trajectories' limit, computed exactly


def test_state_layer_returns_density_matrices_under_noise():
    q = cirq.LineQubit.range(2)
    t = sympy.Symbol("t")
    circuit = cirq.Circuit(cirq.ry(t).on(q[0]), cirq.CNOT(*q))
    values = np.array([[0.7], [1.5]], np.float32)
    layer = State(noise={"bit_flip": 0.1})
    got = K.convert_to_numpy(layer(circuit, symbol_names=[t], symbol_values=values))
    assert got.shape == (2, 4, 4)
    noisy = as_noise({"bit_flip": 0.1}).apply(circuit)
    for row, v in enumerate(values[:, 0]):
        np.testing.assert_allclose(got[row], _rho(noisy, {t: float(v)}, q), atol=ATOL)


PAPER_LAYERS = [
    ("ParallelPQC", lambda **kw: ParallelPQC(2, 3, depth=1, **kw), (3, 6)),
    ("LCQHNNBlock", lambda **kw: LCQHNNBlock(4, **kw), (3, 4)),
    ("Quanvolution2D", lambda **kw: Quanvolution2D(2, **kw), (3, 4, 4, 1)),
    ("QuantumFeatureMap", lambda **kw: QuantumFeatureMap(3, **kw), (3, 3)),
    ("EncodedPQC", lambda **kw: EncodedPQC(3, depth=1, **kw), (3, 8)),
]


@pytest.mark.parametrize("name,make,shape", PAPER_LAYERS, ids=[p[0] for p in PAPER_LAYERS])
def test_complete_depolarisation_erases_inputs_and_weights_on_every_paper_layer(name, make, shape):
    """depolarize(3/4) after every moment maps every state to I/2^n: each layer's output no longer depends on its
    input or its weights (so their gradients vanish), while the clean layer's does."""
    rng = np.random.default_rng(0)
    x = K.convert_to_tensor(rng.uniform(0.05, 0.95, shape).astype(np.float32))
    clean, noisy = make(), make(noise={"depolarize": 0.75})
    clean_out, noisy_out = K.convert_to_numpy(clean(x)), K.convert_to_numpy(noisy(x))
    assert noisy.simulation["noise"] == {"depolarize": 0.75}
    flat = noisy_out.reshape(shape[0], -1)
    np.testing.assert_allclose(flat, np.broadcast_to(flat[:1], flat.shape), atol=ATOL, err_msg=f"{name}: varies with x")
    assert np.abs(clean_out.reshape(shape[0], -1) - clean_out.reshape(shape[0], -1)[:1]).max() > 1e-3
    if noisy.trainable_weights:
        for variable in noisy.trainable_weights:
            value = variable.value
            variable.assign(value + 0.3)
            moved = K.convert_to_numpy(noisy(x))
            variable.assign(value)
            np.testing.assert_allclose(moved, noisy_out, atol=ATOL, err_msg=f"{name}: varies with {variable.name}")
    gx = K.convert_to_numpy(gradient(lambda v: K.sum(noisy(v) * K.convert_to_tensor(rng.normal(size=noisy_out.shape)
                                                                                     .astype(np.float32))), x))
    np.testing.assert_allclose(gx, 0.0, atol=1e-4)


def _tiny_model(noise=None):
    inputs = keras.Input((6,))
    hidden = ParallelPQC(2, 3, depth=1, noise=noise, name="pqc")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(hidden))


def test_noise_is_saved_with_the_layer_and_reloads_in_a_fresh_process(tmp_path):
    keras.utils.set_random_seed(1)
    model = _tiny_model(SPEC)
    config = model.get_layer("pqc").get_config()
    assert json.loads(json.dumps(config["noise"])) == {"depolarize": 0.03, "amplitude_damp": 0.05, "readout": [0.02, 0.06]}
    again = ParallelPQC.from_config(config)
    assert again.noise == model.get_layer("pqc").noise
    x = np.random.default_rng(2).uniform(0, 1, (5, 6)).astype(np.float32)
    assert_fresh_process_reload_identical(tmp_path, {"noisy": model}, x)
    record = json.loads((tmp_path / "noisy" / "hybridkeras.json").read_text())
    assert record["noise"] == {"pqc": config["noise"]}


def test_load_model_evaluates_a_clean_model_under_noise_and_a_noisy_one_clean(tmp_path):
    keras.utils.set_random_seed(3)
    clean = _tiny_model()
    x = np.random.default_rng(4).uniform(0, 1, (5, 6)).astype(np.float32)
    hk.save_model(clean, tmp_path / "clean")
    noisy_twin = _tiny_model(SPEC)
    noisy_twin.set_weights(clean.get_weights())
    under_noise = hk.load_model(tmp_path / "clean", noise=SPEC)
    assert under_noise.get_layer("pqc").noise == as_noise(SPEC)
    np.testing.assert_allclose(under_noise.predict(x, verbose=0), noisy_twin.predict(x, verbose=0), atol=ATOL)
    assert np.abs(under_noise.predict(x, verbose=0) - clean.predict(x, verbose=0)).max() > 1e-3
    hk.save_model(noisy_twin, tmp_path / "noisy")
    cleaned = hk.load_model(tmp_path / "noisy", noise={})
    assert cleaned.get_layer("pqc").noise is None
    np.testing.assert_allclose(cleaned.predict(x, verbose=0), clean.predict(x, verbose=0), atol=ATOL)
    assert hk.load_model(tmp_path / "noisy").get_layer("pqc").noise == as_noise(SPEC)  # the override ended
    with pytest.raises(ValueError, match="'depolarize' must be in"):
        hk.load_model(tmp_path / "clean", noise={"depolarize": 3})


@pytest.mark.parametrize("make", [lambda: PQC(cirq.Circuit(cirq.rx(sympy.Symbol("a")).on(cirq.LineQubit(0))),
                                              cirq.Z(cirq.LineQubit(0)), noise={"depolarize": -0.1}),
                                  lambda: ParallelPQC(2, 3, noise={"depolarize": -0.1}),
                                  lambda: Expectation(noise={"depolarize": -0.1})])
def test_a_bad_noise_value_is_refused_when_the_layer_is_made(make):
    with pytest.raises(ValueError, match=r"`noise`: 'depolarize' must be in \[0, 1\]. Received: noise="):
        make()


@needs_tfq
def test_tfq_noisy_trajectories_agree_with_the_engine_within_their_sampling_error():
    """TFQ's backend='noisy' (its trajectory ops, `repetitions` trajectories) on a circuit holding channels: within 4σ
    of the engine's exact density-matrix values, for Expectation and SampledExpectation."""
    q = cirq.GridQubit.rect(1, 3)
    t = sympy.Symbol("t")
    circuit = cirq.Circuit(cirq.rx(t).on(q[0]), cirq.CNOT(q[0], q[1]), cirq.H(q[2]), cirq.CZ(q[1], q[2]))
    circuit = as_noise({"depolarize": 0.05, "amplitude_damp": 0.1}).apply(circuit)
    operators = [cirq.Z(q[0]), cirq.Z(q[1]) * cirq.X(q[2])]
    values = np.array([[0.4], [1.3], [2.9]], np.float32)
    exact = K.convert_to_numpy(Expectation()(circuit, symbol_names=[t], symbol_values=values, operators=operators))
    trajectories = 3000
    tfq_exact = K.convert_to_numpy(Expectation(backend="noisy", simulator="tfq")(
        circuit, symbol_names=[t], symbol_values=values, operators=operators, repetitions=trajectories))
    tfq_sampled = K.convert_to_numpy(SampledExpectation(backend="noisy", simulator="tfq")(
        circuit, symbol_names=[t], symbol_values=values, operators=operators, repetitions=trajectories))
    bound = 4 / np.sqrt(trajectories)
    assert np.all(np.abs(tfq_exact - exact) <= bound), (tfq_exact, exact)
    assert np.all(np.abs(tfq_sampled - exact) <= bound), (tfq_sampled, exact)


@needs_tfq
def test_noise_on_tfq_runs_its_trajectory_ops_within_their_sampling_error():
    """noise= with simulator='tfq' (general layers) or backend='tfq' (paper layers): TFQ's noisy ops on the circuit with
    the noise's channels, readout error as the exact operator transform; within 4σ of the engine's density matrices."""
    trajectories = 2000
    spec = {"depolarize": 0.03, "phase_damp": 0.1, "readout": [0.02, 0.06]}
    q = cirq.GridQubit.rect(1, 3)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(cirq.rx(a).on(q[0]), cirq.ry(b).on(q[1]), cirq.CNOT(q[0], q[2]), cirq.CZ(q[1], q[2]))
    operators = [cirq.Z(q[0]), cirq.Z(q[1]) * cirq.Z(q[2])]
    engine = PQC(circuit, operators, noise=spec)
    on_tfq = PQC(circuit, operators, simulator="tfq", differentiator="parameter_shift",
                 noise=dict(spec, trajectories=trajectories))
    on_tfq.set_weights(engine.get_weights())
    zero = np.zeros((1, 0), np.float32)
    bound = 4 / np.sqrt(trajectories)
    assert np.all(np.abs(K.convert_to_numpy(on_tfq(zero)) - K.convert_to_numpy(engine(zero))) <= bound)
    x = np.random.default_rng(0).uniform(0.1, 0.9, (3, 6)).astype(np.float32)
    clean_layer = ParallelPQC(2, 3, depth=1, noise={"depolarize": 0.03})
    tfq_layer = ParallelPQC(2, 3, depth=1, backend="tfq", differentiator="parameter_shift",
                            noise={"depolarize": 0.03, "trajectories": trajectories})
    clean_layer.build(x.shape), tfq_layer.build(x.shape)
    tfq_layer.set_weights(clean_layer.get_weights())
    assert np.all(np.abs(K.convert_to_numpy(tfq_layer(x)) - K.convert_to_numpy(clean_layer(x))) <= bound)
    with pytest.raises(ValueError, match="give noise=\\{..., 'trajectories': N\\}"):
        PQC(circuit, operators, simulator="tfq", noise=spec)
    with pytest.raises(ValueError, match="not 'adjoint'"):
        ParallelPQC(2, 3, backend="tfq", noise={"depolarize": 0.03, "trajectories": 10})


def _sample_based_case():
    q = cirq.GridQubit.rect(1, 2)
    a = sympy.Symbol("a")
    circuit = cirq.Circuit(cirq.rx(a).on(q[0]), cirq.CNOT(q[0], q[1]))
    return circuit, [cirq.Z(q[0]), cirq.Z(q[1])]


def test_sample_based_noise_reads_one_measurement_per_trajectory():
    """TFQ's sample_based meaning on the engine: N one-shot trajectories are N shots of the exact mixed state, so each
    ⟨Z⟩ is a frequency (a multiple of 2/N) within 4σ of the exact value, and it differs from call to call."""
    trajectories = 400
    circuit, operators = _sample_based_case()
    spec = {"depolarize": 0.05, "readout": [0.02, 0.06], "trajectories": trajectories}
    exact_layer = PQC(circuit, operators, noise={"depolarize": 0.05, "readout": [0.02, 0.06]})
    layer = PQC(circuit, operators, noise=dict(spec, sample_based=True), seed=3)
    layer.set_weights(exact_layer.get_weights())
    zero = np.zeros((4, 0), np.float32)
    exact = K.convert_to_numpy(exact_layer(zero))
    first, second = K.convert_to_numpy(layer(zero)), K.convert_to_numpy(layer(zero))
    counts = (first + 1) * trajectories / 2
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # frequencies of `trajectories` shots
    assert np.all(np.abs(first - exact) <= 4 * np.sqrt((1 - exact**2) / trajectories))
    assert np.abs(first - second).max() > 0
    assert layer.get_config()["noise"]["sample_based"] is True
    with pytest.raises(ValueError, match="'sample_based' .* needs 'trajectories'"):
        PQC(circuit, operators, noise={"depolarize": 0.05, "sample_based": True})
    with pytest.raises(ValueError, match="'sample_based' must be True or False"):
        PQC(circuit, operators, noise={"depolarize": 0.05, "trajectories": 10, "sample_based": 1})


@needs_tfq
def test_sample_based_noise_on_tfq_runs_its_sampled_trajectory_op():
    trajectories = 1000
    circuit, operators = _sample_based_case()
    engine = PQC(circuit, operators, noise={"depolarize": 0.05})
    on_tfq = PQC(circuit, operators, simulator="tfq", differentiator="parameter_shift",
                 noise={"depolarize": 0.05, "trajectories": trajectories, "sample_based": True})
    on_tfq.set_weights(engine.get_weights())
    zero = np.zeros((3, 0), np.float32)
    exact, got = K.convert_to_numpy(engine(zero)), K.convert_to_numpy(on_tfq(zero))
    assert np.all(np.abs(got - exact) <= 4 * np.sqrt((1 - exact**2) / trajectories) + 1e-6), (got, exact)
    counts = (got + 1) * trajectories / 2  # one measurement per trajectory: frequencies, not averages of exact values
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-2)
