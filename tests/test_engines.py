"""The state-vector engine (backend='statevector') against TFQ and Cirq: outputs, gradients, saving across backends."""
import cirq
import numpy as np
import pytest

import hybridkeras as hk
import tensorflow as tf
from hybridkeras.circuits import (
    amplitude_encoding, feature_map_circuit, hadamard_angle_encoding, lcqhnn_circuit, make_symbols, parallel_pqc_circuit,
    pauli_readout, phase_encoding, quanv_kernel_circuit, ry_rz_layers, strongly_entangling_layers,
)
from hybridkeras.engines import StateVectorCircuit, UnsupportedGateError
from hybridkeras.layers import EncodedPQC, LCQHNNBlock, ParallelPQC, QuantumFeatureMap, Quanvolution2D
from tests.helpers import numeric_gradient, run_python
from tests.backends import tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py

LAYERS = {
    "parallel-Y": (lambda b: ParallelPQC(2, 5, depth=3, backend=b), (4, 10), "normal"),
    "parallel-Z-embedY": (lambda b: ParallelPQC(3, 3, depth=2, readout="Z", embedding="Y", backend=b), (4, 9), "normal"),
    "quanv": (lambda b: Quanvolution2D(2, backend=b), (2, 4, 4, 1), "uniform"),
    "quanv-3x3-Y": (lambda b: Quanvolution2D(3, rotation="Y", backend=b), (1, 6, 6, 1), "uniform"),
    "lcqhnn-Z": (lambda b: LCQHNNBlock(4, backend=b), (5, 4), "normal"),
    "lcqhnn-probs": (lambda b: LCQHNNBlock(4, readout="probs", backend=b), (5, 4), "normal"),
    "student-amplitude-3": (lambda b: EncodedPQC(3, backend=b), (5, 8), "normal"),
    "student-amplitude-4": (lambda b: EncodedPQC(4, depth=1, backend=b), (3, 16), "normal"),
    "student-angle": (lambda b: EncodedPQC(4, encoding="angle", backend=b), (5, 4), "normal"),
    "feature-map-Z": (lambda b: QuantumFeatureMap(5, backend=b), (4, 10), "uniform"),
    "feature-map-probs": (lambda b: QuantumFeatureMap(5, readout="probs", backend=b), (4, 5), "uniform"),
    "feature-map-X": (lambda b: QuantumFeatureMap(5, readout="X", backend=b), (4, 5), "uniform"),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_engine_equals_tfq_in_outputs_and_gradients(name, rng):
    make, shape, kind = LAYERS[name]
    x = (rng.uniform(0.02, 0.98, size=shape) if kind == "uniform" else rng.normal(size=shape)).astype(np.float32)
    tfq_layer, engine_layer = make("tfq"), make("statevector")
    tfq_layer(x)
    engine_layer(x)
    engine_layer.set_weights(tfq_layer.get_weights())
    assert engine_layer.backend == "statevector" and engine_layer.get_config()["backend"] == "statevector"
    inputs = tf.constant(x)
    results = []
    for layer in (tfq_layer, engine_layer):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(inputs)
            out = layer(inputs)
            mix = tf.constant(np.random.default_rng(7).normal(size=out.shape[1:]).astype(np.float32))
            loss = tf.reduce_sum(out * mix)
        grads = [tape.gradient(loss, inputs)] + [tape.gradient(loss, w) for w in layer.trainable_weights]
        results.append((out.numpy(), [g.numpy() for g in grads]))
    (out_a, grads_a), (out_b, grads_b) = results
    np.testing.assert_allclose(out_b, out_a, atol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_allclose(gb, ga, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("n", [3, 4])
def test_engine_amplitude_student_equals_tfq_on_empty_blocks(rng, n):
    """The engine starts the amplitude students from the encoded state in closed form (the normalised features);
    where blocks of the features are zero (angles at the atan2 edge), an all-zero row included, it must still give
    TFQ's outputs and weight gradients (TFQ runs the encoder gates). Its input gradients are the derivative of
    that state, which central differences confirm; TFQ's differ there, by the angles' convention of a zero
    gradient at atan2(0, 0), and equal the engine's on rows without an empty block. All-zero rows get zero."""
    x = np.tanh(rng.normal(size=(5, 2**n))).astype(np.float32)
    x[0, : 2 ** (n - 1)] = 0.0  # an empty half
    x[1, 2:4] = 0.0  # an empty pair on the last level
    x[2, ::2] = 0.0
    x[3] = 0.0  # nothing at all
    layers = [EncodedPQC(n, depth=2, backend=b) for b in ("tfq", "statevector")]
    for layer in layers:
        layer(x)
    layers[1].set_weights(layers[0].get_weights())
    mix = tf.constant(np.linspace(-1, 1, 2**n), tf.float32)
    results = []
    inputs = tf.constant(x)
    for layer in layers:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(inputs)
            out = layer(inputs)
            loss = tf.reduce_sum(out * mix)
        results.append([out.numpy(), tape.gradient(loss, inputs).numpy(), tape.gradient(loss, layer.circuit_weights).numpy()])
    (tfq_out, tfq_grad_x, tfq_grad_w), (out, grad_x, grad_w) = results
    np.testing.assert_allclose(out, tfq_out, atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(grad_w, tfq_grad_w, atol=1e-4, rtol=1e-3)
    np.testing.assert_allclose(grad_x[4], tfq_grad_x[4], atol=1e-4, rtol=1e-3)  # no empty block
    np.testing.assert_array_equal(grad_x[3], 0.0)
    for row in range(3):
        numeric = numeric_gradient(lambda v: float(tf.reduce_sum(layers[1](v) * mix)), x[row:row + 1], eps=1e-3)[0]
        assert np.abs(grad_x[row] - numeric).max() < 2e-3, (row, grad_x[row], numeric)


def test_engine_equals_cirq_for_the_builders(rng):
    qubits = cirq.LineQubit.range(4)
    x, theta = make_symbols("x", 4), make_symbols("t", 4)
    circuit = lcqhnn_circuit(qubits, x, theta)
    values = rng.normal(size=(3, 8))
    engine = StateVectorCircuit(circuit, x + theta, "probs", qubits=qubits)
    out = engine(values.astype(np.float32)).numpy()
    for row in range(3):
        resolver = cirq.ParamResolver(dict(zip(x + theta, values[row])))
        state = cirq.Simulator(dtype=np.complex128).simulate(circuit, resolver, qubit_order=qubits).final_state_vector
        np.testing.assert_allclose(out[row], np.abs(state) ** 2, atol=1e-5)
    measured = feature_map_circuit(qubits, x, measure=True)  # measurements are ignored, not an error
    assert StateVectorCircuit(measured, x, "probs", qubits=qubits)(np.zeros((1, 4), np.float32)).shape == (1, 16)


def _builder_circuits():
    """(name, circuit, per-row symbols, weight symbols, qubits) for every circuit builder of the package."""
    out = []
    for n in (1, 3, 5):
        q = cirq.LineQubit.range(n)
        x, w = make_symbols("x", n), make_symbols("w", 2 * n * 3)
        grid = np.array(w, dtype=object).reshape(2, n, 3).tolist()
        out.append((f"parallel-{n}", parallel_pqc_circuit(q, x, grid, embedding="Y"), x, w, q))
    q = cirq.LineQubit.range(4)
    x, w = make_symbols("x", 4), make_symbols("w", 4)
    out.append(("quanv", quanv_kernel_circuit(q, x, w, rotation_axis="Z"), x, w, q))
    out.append(("lcqhnn", lcqhnn_circuit(q, x, w), x, w, q))
    out.append(("feature-map", feature_map_circuit(q, x), x, [], q))
    out.append(("phase+ry-rz", phase_encoding(q, x) + ry_rz_layers(q, np.array(make_symbols("w", 8), dtype=object)
                                                                   .reshape(1, 4, 2).tolist()), x, make_symbols("w", 8), q))
    a, w = make_symbols("a", 15), make_symbols("w", 16)
    out.append(("amplitude+ry-rz", amplitude_encoding(q, a) + ry_rz_layers(q, np.array(w, dtype=object)
                                                                           .reshape(2, 4, 2).tolist()), a, w, q))
    q3 = cirq.LineQubit.range(3)
    x3, w3 = make_symbols("x", 3), make_symbols("w", 9)
    out.append(("hadamard-angle+sel", hadamard_angle_encoding(q3, x3) + strongly_entangling_layers(
        q3, np.array(w3, dtype=object).reshape(1, 3, 3).tolist()), x3, w3, q3))
    # data re-uploading: per-row rotations after entangling gates, a controlled rotation after
    # the weights, and symbols inside affine expressions
    r = cirq.Circuit(cirq.rx(2 * x3[0] + 0.3).on(q3[0]), cirq.H(q3[1]), cirq.CNOT(q3[0], q3[1]),
                     cirq.ry(w3[0]).on(q3[1]), cirq.rz(x3[1] - w3[1]).on(q3[2]), cirq.CZ(q3[1], q3[2]),
                     cirq.ry(x3[2]).on(q3[0]), cirq.ry(w3[2]).on(q3[2]).controlled_by(q3[0], control_values=[0]),
                     cirq.ZPowGate(exponent=w3[3] / np.pi).on(q3[1]), cirq.XPowGate(exponent=0.25).on(q3[2]))
    out.append(("re-uploading", r, x3, w3[:4], q3))
    return out


BUILDERS = {name: rest for name, *rest in _builder_circuits()}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_engine_equals_cirq_for_every_builder_with_and_without_shared_weights(name, rng):
    circuit, rows, weights, qubits = BUILDERS[name]
    groups, per_group = 3, 2  # 6 rows: (sample, group) order, one weight row per group
    x = rng.uniform(-2, 2, size=(groups * per_group, len(rows)))
    w = rng.uniform(-3, 3, size=(groups, len(weights)))
    full = np.concatenate([x, np.tile(w, (per_group, 1))], axis=1).astype(np.float32)
    operators = pauli_readout(qubits, "Y") + pauli_readout(qubits, "X")[:1]
    if len(qubits) > 1:
        operators.append(0.5 * cirq.Z(qubits[0]) * cirq.X(qubits[-1]) - 0.25 * cirq.Y(qubits[1]))
    plain = StateVectorCircuit(circuit, rows + weights, "probs", qubits=qubits)
    shared = StateVectorCircuit(circuit, rows + weights, "probs", qubits=qubits, shared=len(weights))
    paulis = StateVectorCircuit(circuit, rows + weights, operators, qubits=qubits, shared=len(weights))
    states = [plain.state(full).numpy(), shared.state(x.astype(np.float32), w.astype(np.float32)).numpy(),
              shared.state(full).numpy()]
    probs = shared(x.astype(np.float32), w.astype(np.float32)).numpy()
    expectations = paulis(x.astype(np.float32), w.astype(np.float32)).numpy()
    simulator = cirq.Simulator(dtype=np.complex128)
    for row in range(len(full)):
        resolver = cirq.ParamResolver(dict(zip(rows + weights, full[row].astype(np.float64))))
        reference = simulator.simulate(circuit, resolver, qubit_order=qubits).final_state_vector
        for state in states:  # the state itself, global phase included
            np.testing.assert_allclose(state[row].reshape(-1), reference, atol=1e-5)
        np.testing.assert_allclose(probs[row], np.abs(reference) ** 2, atol=1e-5)
        for k, operator in enumerate(operators):
            expected = operator.expectation_from_state_vector(reference, {q: i for i, q in enumerate(qubits)}).real
            assert abs(expectations[row, k] - expected) < 1e-5, (name, k)


def test_engine_errors_name_the_backend_to_use():
    q = cirq.LineQubit(0)
    s = make_symbols("x", 1)[0]
    with pytest.raises(UnsupportedGateError, match="affine"):
        StateVectorCircuit(cirq.Circuit(cirq.rx(s**2).on(q)), [s], "probs")
    with pytest.raises(UnsupportedGateError, match="backend='tfq'"):
        StateVectorCircuit(cirq.Circuit(cirq.depolarize(0.1).on(q)), [s], "probs")
    with pytest.raises(ValueError, match="at most 20 qubits"):
        StateVectorCircuit(cirq.Circuit(cirq.H.on_each(*cirq.LineQubit.range(21))), [], "probs")
    with pytest.raises(ValueError, match="parameter-shift rule runs on backend='tfq'"):
        ParallelPQC(2, 2, repetitions=100, differentiator="parameter_shift", backend="statevector")
    with pytest.raises(ValueError, match="parameter-shift rule runs on backend='tfq'"):
        LCQHNNBlock(4, differentiator="parameter_shift", backend="statevector")
    with pytest.raises(ValueError, match="backend"):
        LCQHNNBlock(4, backend="qsim")


SAMPLED = {
    "parallel-Y": (lambda b, r: ParallelPQC(2, 3, depth=2, differentiator=None, repetitions=r, backend=b), (6, 6)),
    "lcqhnn-probs": (lambda b, r: LCQHNNBlock(4, readout="probs", differentiator=None, repetitions=r, backend=b), (6, 4)),
    "feature-map-probs": (lambda b, r: QuantumFeatureMap(3, readout="probs", repetitions=r, backend=b), (6, 3)),
}


@pytest.mark.parametrize("name", sorted(SAMPLED))
def test_engine_shots_estimate_the_exact_values_with_exact_gradients(name, rng):
    make, shape = SAMPLED[name]
    x = tf.constant(rng.uniform(0.05, 0.95, size=shape).astype(np.float32))
    shots = 4000
    hk.keras.utils.set_random_seed(3)
    exact, sampled, tfq_sampled = make("statevector", None), make("statevector", shots), make("tfq", shots)
    for layer in (exact, sampled, tfq_sampled):
        layer(x)
        layer.set_weights(exact.get_weights())
    hk.keras.utils.set_random_seed(3)
    twin = make("statevector", shots)  # same seed → same shots
    twin(x)
    twin.set_weights(exact.get_weights())
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        values = {k: layer(x) for k, layer in (("exact", exact), ("sampled", sampled))}
        losses = {k: tf.reduce_sum(v * tf.range(1.0, v.shape[1] + 1.0)) for k, v in values.items()}
    reference = values["exact"].numpy()
    first = values["sampled"].numpy()
    second = sampled(x).numpy()
    tolerance = 5.0 / np.sqrt(shots)  # > 5 standard deviations of any estimate in [-1, 1]
    assert np.abs(first - reference).max() < tolerance
    assert np.abs(tfq_sampled(x).numpy() - reference).max() < tolerance
    assert np.abs(first - reference).max() > 0 and np.abs(first - second).max() > 0  # shots are drawn, anew each call
    np.testing.assert_array_equal(twin(x).numpy(), first)  # same seed, same call count → same shots
    if name.endswith("probs"):
        assert first.min() >= -1e-6 and np.allclose(first.reshape(len(first), -1, 16 if "lcqhnn" in name else 8).sum(-1), 1)
        assert np.allclose(first * shots, np.round(first * shots), atol=1e-3)  # frequencies of whole shots
    np.testing.assert_allclose(tape.gradient(losses["sampled"], x), tape.gradient(losses["exact"], x), atol=1e-5)
    if exact.trainable_weights:
        np.testing.assert_allclose(tape.gradient(losses["sampled"], sampled.trainable_weights[0]),
                                   tape.gradient(losses["exact"], exact.trainable_weights[0]), atol=1e-5)


def test_global_default_backend():
    assert hk.get_backend() == "statevector"
    try:
        hk.set_backend("tfq")
        assert LCQHNNBlock(4).backend == "tfq"
        assert LCQHNNBlock(4, backend="statevector").backend == "statevector"
    finally:
        hk.set_backend("statevector")
    with pytest.raises(ValueError, match="backend"):
        hk.set_backend("gpu")


def test_saved_with_tfq_loads_on_the_engine_and_back(tmp_path, tiny_images):
    hk.keras.utils.set_random_seed(0)
    model = hk.models.build_hqnn_parallel((28, 28, 1), 10, qubits=3, depth=2, circuits=2, filters=(4, 8), backend="tfq")
    expected = model.predict(tiny_images[:16], verbose=0)
    hk.save_model(model, tmp_path / "tfq")
    np.save(tmp_path / "x.npy", tiny_images[:16])
    out = run_python(f"""
        import numpy as np, hybridkeras as hk
        model = hk.load_model({str(tmp_path / 'tfq')!r}, backend="statevector")
        print(model.get_layer("parallel_pqc").backend)
        np.save({str(tmp_path / 'engine.npy')!r}, model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))
        hk.save_model(model, {str(tmp_path / 'engine')!r})
        back = hk.load_model({str(tmp_path / 'engine')!r}, backend="tfq")
        print(back.get_layer("parallel_pqc").backend)
        np.save({str(tmp_path / 'back.npy')!r}, back.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))
    """)
    assert out.split() == ["statevector", "tfq"]
    np.testing.assert_allclose(np.load(tmp_path / "engine.npy"), expected, atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "back.npy"), expected)


def test_cli_backend_flag_builds_engine_layers(tmp_path):
    from hybridkeras.cli import main

    assert main(["train", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--backend", "statevector", "--epochs",
                 "1", "--quiet", "--output", str(tmp_path / "run")]) == 0
    export = tmp_path / "run" / "hqnn-parallel" / "seed0" / "model"
    assert hk.load_model(export).get_layer("parallel_pqc").backend == "statevector"


# ---------------------------------------------------------------- issue 11: measured failures of the old engine

def _cirq_state(circuit, resolver, qubits):
    return cirq.Simulator(dtype=np.complex128).simulate(circuit, resolver, qubit_order=qubits).final_state_vector


def test_eleven_qubits_keep_the_gate_order():
    qubits = cirq.LineQubit.range(11)
    engine = StateVectorCircuit(cirq.Circuit(cirq.H(qubits[0]), cirq.CNOT(qubits[0], qubits[1])), [], "probs",
                                qubits=qubits)
    probs = engine(np.zeros((1, 0), np.float32)).numpy()[0]
    expected = np.zeros(2**11)
    expected[0] = expected[0b11 << 9] = 0.5  # |00…0⟩ and |110…0⟩
    np.testing.assert_allclose(probs, expected, atol=1e-6)


@pytest.mark.parametrize("readout", ["Z", "Y", "X"])
def test_eleven_qubit_parallel_pqc_equals_tfq(readout, rng):
    x = rng.normal(size=(3, 11)).astype(np.float32)
    tfq_layer, engine_layer = (ParallelPQC(1, 11, depth=1, readout=readout, backend=b) for b in ("tfq", "statevector"))
    tfq_layer(x)
    engine_layer(x)
    engine_layer.set_weights(tfq_layer.get_weights())
    np.testing.assert_allclose(engine_layer(x).numpy(), tfq_layer(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("qubits,controls", [
    (3, [(0, 1), (0, 1)]),
    (3, cirq.SumOfProducts(((0, 0), (0, 1), (1, 1)))),
    (4, cirq.SumOfProducts(((0, 1, 1), (1, 0, 0)))),
])
def test_controlled_rotations_with_several_allowed_values_equal_cirq(qubits, controls):
    q = cirq.LineQubit.range(qubits)
    a = make_symbols("a", 1)[0]
    circuit = cirq.Circuit(cirq.H.on_each(*q), cirq.ry(0.4).on(q[1]),
                           cirq.rx(a).on(q[0]).controlled_by(*q[1:], control_values=controls))
    engine = StateVectorCircuit(circuit, [a], "probs", qubits=q)
    for value in (0.7, -2.1):
        state = engine.state(np.array([[value]], np.float32)).numpy().reshape(-1)
        np.testing.assert_allclose(state, _cirq_state(circuit, {a: value}, q), atol=1e-6)


@pytest.mark.parametrize("make", [
    lambda a: cirq.CXPowGate(exponent=a), lambda a: cirq.CZPowGate(exponent=a),
    lambda a: (cirq.S**a).controlled(), lambda a: (cirq.T**a).controlled(),
    lambda a: cirq.CZPowGate(exponent=0.5 * a + 0.1, global_shift=0.25),
])
def test_controlled_powers_with_zero_global_shift_compile_exactly(make):
    q = cirq.LineQubit.range(2)
    a = make_symbols("a", 1)[0]
    circuit = cirq.Circuit(cirq.H.on_each(*q), make(a).on(*q), cirq.rx(0.3).on(q[0]))
    engine = StateVectorCircuit(circuit, [a], [cirq.X(q[0]) * cirq.Y(q[1]), cirq.Z(q[1])], qubits=q)
    for value in (0.37, 1.9):
        reference = _cirq_state(circuit, {a: value}, q)
        np.testing.assert_allclose(engine.state(np.array([[value]], np.float32)).numpy().reshape(-1), reference, atol=1e-6)


def test_unclear_inputs_get_errors_that_name_the_problem():
    q = cirq.LineQubit.range(2)
    a, b = make_symbols("a", 2)
    circuit = cirq.Circuit(cirq.rx(a).on(q[0]), cirq.CNOT(*q))
    with pytest.raises(ValueError, match=r"`symbols` must be distinct.*a000"):
        StateVectorCircuit(circuit, [a, a], "probs")
    with pytest.raises(ValueError, match=r"acts on \[cirq.LineQubit\(1\)\], which are not in `qubits`"):
        StateVectorCircuit(circuit, [a], "probs", qubits=[q[0]])
    with pytest.raises(ValueError, match=r"operator .* acts on \[cirq.LineQubit\(5\)\], which are not in `qubits`"):
        StateVectorCircuit(circuit, [a], [cirq.Z(cirq.LineQubit(5))], qubits=q)
    qutrit = cirq.LineQid(0, dimension=3)
    with pytest.raises(UnsupportedGateError, match="dimension 3.*qubits"):
        StateVectorCircuit(cirq.Circuit(cirq.MatrixGate(np.eye(3), qid_shape=(3,)).on(qutrit)), [], "probs")
    plain = StateVectorCircuit(circuit, [a, b], "probs")
    with pytest.raises(ValueError, match="compiled with shared=0"):
        plain(np.zeros((2, 1), np.float32), shared=np.zeros((1, 1), np.float32))
    grouped = StateVectorCircuit(circuit, [a, b], "probs", shared=1)
    with pytest.raises(ValueError, match=r"number of rows \(3\) must be a multiple of the number of groups .*\(2\)"):
        grouped(np.zeros((3, 1), np.float32), shared=np.zeros((2, 1), np.float32))
    with pytest.raises(ValueError, match=r"`values` must have 2 columns"):
        plain(np.zeros((3, 5), np.float32))
    dynamic = tf.function(lambda v, s: grouped(v, shared=s),
                          input_signature=[tf.TensorSpec([None, 1]), tf.TensorSpec([None, 1])])
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple of the number of groups"):
        dynamic(tf.zeros((3, 1)), tf.zeros((2, 1)))
    with pytest.raises(ValueError, match="`shared` must be an int between 0 and the number of symbols"):
        StateVectorCircuit(circuit, [a], "probs", shared=2)
    with pytest.raises(ValueError, match="`operators` must be a list of Pauli operators or 'probs'"):
        StateVectorCircuit(circuit, [a], "prob")
    with pytest.raises(ValueError, match="`repetitions` must be a positive number of shots"):
        StateVectorCircuit(circuit, [a], "probs", repetitions=0)


def test_shots_are_independent_across_rows_and_calls():
    """Variance of the batch mean of shot frequencies against the independent-rows prediction.

    The old sampler (tf.random.stateless_categorical) reused random streams between worker
    threads, which doubled this variance."""
    qubits = cirq.LineQubit.range(3)
    rows, shots, calls = 400, 200, 200
    engine = StateVectorCircuit(cirq.Circuit(cirq.H.on_each(*qubits)), [], "probs", repetitions=shots, seed=11)
    values = np.zeros((rows, 0), np.float32)
    means = np.array([engine(values).numpy().mean(axis=0) for _ in range(calls)])  # [calls, 8]
    p = 1 / 8
    predicted = p * (1 - p) / (shots * rows)
    ratio = means.var(axis=0, ddof=1) / predicted  # each ~ chi2(calls − 1) / (calls − 1): sd 0.1
    assert np.all(ratio > 0.6) and np.all(ratio < 1.45), ratio
    assert abs(np.corrcoef(means[:-1, 0], means[1:, 0])[0, 1]) < 4 / np.sqrt(calls)  # successive calls independent
    assert abs(means.mean() - p) < 5 * np.sqrt(predicted / calls)
    twin = StateVectorCircuit(cirq.Circuit(cirq.H.on_each(*qubits)), [], "probs", repetitions=shots, seed=11)
    np.testing.assert_array_equal(twin(values).numpy(), StateVectorCircuit(
        cirq.Circuit(cirq.H.on_each(*qubits)), [], "probs", repetitions=shots, seed=11)(values).numpy())
    other = StateVectorCircuit(cirq.Circuit(cirq.H.on_each(*qubits)), [], "probs", repetitions=shots, seed=12)
    assert not np.array_equal(other(values).numpy(), twin(values).numpy())


def test_layers_take_up_to_twenty_qubits_on_the_engine(rng):
    from tests.helpers import reference_parallel_pqc

    layer = ParallelPQC(1, 16, depth=1, readout="Y", backend="statevector")
    x = rng.normal(size=(2, 16)).astype(np.float32)
    out = layer(x).numpy()
    weights = layer.get_weights()[0]
    for row in range(2):
        np.testing.assert_allclose(out[row], reference_parallel_pqc(x[row], weights, "Y"), atol=1e-5)
    assert ParallelPQC(1, 20, depth=1, backend="statevector")(x[:1, :1].repeat(20, axis=1)).shape == (1, 20)
    with pytest.raises(ValueError, match="`qubits` must be at most 20 on backend='statevector'"):
        ParallelPQC(1, 21, backend="statevector")
    with pytest.raises(ValueError, match="`qubits` must be at most 12 on backend='tfq'"):
        ParallelPQC(1, 13, backend="tfq")
    with pytest.raises(ValueError, match="readout='probs' .* at most 12 qubits"):
        LCQHNNBlock(13, readout="probs", backend="statevector")


def test_a_batch_that_would_exhaust_memory_is_refused_before_it_runs():
    qubits = cirq.LineQubit.range(20)
    engine = StateVectorCircuit(cirq.Circuit(cirq.H.on_each(*qubits)), [], "probs")
    with pytest.raises(ValueError, match=r"A batch of 100000 rows of 20-qubit states would exceed .* memory"):
        engine.state(tf.zeros((100_000, 0)))
    dynamic = tf.function(engine.state, input_signature=[tf.TensorSpec([None, 0])])
    with pytest.raises(tf.errors.InvalidArgumentError, match="would exceed .* memory"):
        dynamic(tf.zeros((100_000, 0)))


@pytest.mark.parametrize("build", [
    lambda: hk.models.build_student_3q(),
    lambda: hk.models.build_lcqhnn(readout="probs"),
    lambda: hk.models.build_hqnn_parallel(),
])
def test_engine_models_build_with_static_output_shapes(build):
    model = build()  # on the engine, the default
    assert {layer.backend for layer in model.layers if hasattr(layer, "simulation")} == {"statevector"}
    assert all(d is not None for d in model.output_shape[1:])
    assert model(np.zeros((2,) + model.input_shape[1:], np.float32)).shape[0] == 2


def test_shots_of_non_commuting_terms_estimate_each_term_in_its_own_basis():
    q = cirq.LineQubit.range(3)
    a = make_symbols("a", 1)[0]
    circuit = cirq.Circuit(cirq.ry(a).on(q[0]), cirq.H(q[1]), cirq.CNOT(q[1], q[2]), cirq.rx(0.7).on(q[2]))
    operators = [0.5 * cirq.X(q[0]) + 0.8 * cirq.Z(q[0]), cirq.Y(q[1]) * cirq.Z(q[2]) - 0.3 * cirq.X(q[1])]
    shots = 20_000
    values = np.array([[0.3], [1.2], [-2.0]], np.float32)
    exact = StateVectorCircuit(circuit, [a], operators)(values).numpy()
    sampled = StateVectorCircuit(circuit, [a], operators, repetitions=shots, seed=5)(values).numpy()
    for row in range(3):
        reference = _cirq_state(circuit, {a: float(values[row, 0])}, q)
        expected = [op.expectation_from_state_vector(reference, {x: i for i, x in enumerate(q)}).real for op in operators]
        np.testing.assert_allclose(exact[row], expected, atol=1e-5)
    bound = 5 * np.array([0.5 + 0.8, 1 + 0.3]) / np.sqrt(shots)  # 5 sd of a sum of independent ±1 estimates
    assert np.all(np.abs(sampled - exact) < bound)
    assert np.abs(sampled - exact).max() > 0


def _engine_step(name):
    """(function of x, x, layer or None) for one engine path a compiled training step goes through."""
    rng = np.random.default_rng(0)
    if name.startswith("parallel-"):  # 4: whole-register blocks; 10: tiles, a Perm step, a rotated readout
        n = int(name.split("-")[1])
        layer = ParallelPQC(1, n, depth=2, backend="statevector")
        return layer, rng.uniform(-1, 1, (8, n)), layer
    layers = {"feature-map-probs": (lambda: QuantumFeatureMap(5, readout="probs", backend="statevector"), 5),
              "feature-map-Z": (lambda: QuantumFeatureMap(5, backend="statevector"), 10),
              "lcqhnn-probs": (lambda: LCQHNNBlock(4, readout="probs", backend="statevector"), 4)}
    if name in layers:
        make, width = layers[name]
        layer = make()
        return layer, rng.uniform(0.05, 0.95, (8, width)), layer
    q = cirq.LineQubit.range(3)
    x = make_symbols("x", 3)
    circuit = cirq.Circuit([cirq.rx(x[i]).on(q[i]) for i in range(3)], cirq.CNOT(q[0], q[1]), cirq.CZ(q[1], q[2]),
                           cirq.CNOT(q[2], q[0]))
    direct = StateVectorCircuit(circuit, x, [cirq.X(q[0]) * cirq.Y(q[1]) + cirq.Z(q[0]), cirq.Y(q[2]) + 0.5 * cirq.X(q[1])])
    return direct, rng.uniform(-2, 2, (8, 3)), None


@pytest.mark.parametrize("name", ["parallel-4", "parallel-10", "feature-map-probs", "feature-map-Z", "lcqhnn-probs",
                                  "non-commuting"])
def test_the_xla_compiled_step_has_no_loops(name):
    """Compiled whole by XLA, forward + backward, the engine's step is straight-line code: its
    selections and permutations differentiate without scatters (which XLA runs on CPU as loops
    over the indices: three per 4-qubit ParallelPQC step before they were replaced), and its
    gradients equal the graph's."""
    fn, x, layer = _engine_step(name)
    x = tf.constant(x.astype(np.float32))
    fn(x)
    variables = layer.trainable_variables if layer is not None else []

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = fn(x)
            loss = tf.reduce_sum(out * tf.cos(tf.range(out.shape[-1], dtype=tf.float32)))
        return tape.gradient(loss, [x, *variables])

    compiled = tf.function(step, jit_compile=True)
    hlo = compiled.experimental_get_compiler_ir(x)(stage="optimized_hlo")
    assert " while(" not in hlo and " scatter(" not in hlo
    for got, expected in zip(compiled(x), step(x)):
        np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-5)


def test_selections_equal_a_gather_in_values_and_gradients(monkeypatch):
    """`engines.ops.take` (one-hot contraction, or a gather past its size limit) selects exactly."""
    from hybridkeras.engines import ops

    rng = np.random.default_rng(0)
    x = tf.constant((rng.normal(size=(3, 40, 2, 2)) + 1j * rng.normal(size=(3, 40, 2, 2))).astype(np.complex64))
    index = rng.integers(0, 40, (25, 2))
    weights = tf.constant((rng.normal(size=(3, 25, 2, 2, 2)) + 1j * rng.normal(size=(3, 25, 2, 2, 2))).astype(np.complex64))
    expected = np.zeros(x.shape, np.complex64)  # d/dx of Re Σ w · x[:, index] is Σ over the places x is picked
    np.add.at(expected, (slice(None), index), np.conj(weights.numpy()))
    for limit in (ops.ONE_HOT_LIMIT, 1):
        monkeypatch.setattr(ops, "ONE_HOT_LIMIT", limit)
        with tf.GradientTape() as tape:
            tape.watch(x)
            picked = ops.take(x, index)
            loss = tf.reduce_sum(tf.math.real(picked * weights))
        np.testing.assert_array_equal(picked.numpy(), x.numpy()[:, index])
        np.testing.assert_allclose(tape.gradient(loss, x).numpy(), expected, atol=1e-5)
