"""The engine's exact density matrices (`engines.density`) on whichever Keras backend runs the suite (CI runs this
file on TensorFlow, JAX and PyTorch): random noisy circuits against `cirq.DensityMatrixSimulator` (complex128)
within 1e-5, gradients against central finite differences of that reference within 1e-4, readout (assignment)
error against its stochastic matrix, shots within 4σ of the exact values, and the errors where the mode stops.
"""
import cirq
import numpy as np
import pytest
import sympy
from keras import ops as K

from hybridkeras.circuits.noise import as_noise
from hybridkeras.engines.compiler import Compiler, GateRecord
from hybridkeras.engines.density import (MAX_DENSITY_QUBITS, DensityMatrixCircuit, channel_record, pauli_transfer,
                                         superoperator)
from hybridkeras.engines.ops import gradient
from hybridkeras.engines.simulators import make_simulation
from tests.backends import tensorflow_only
from tests.engine_circuits import random_circuit, random_operators, register, symbols_for
from tests.helpers import numeric_gradient

ATOL, GRAD_ATOL = 1e-5, 1e-4
REFERENCE = cirq.DensityMatrixSimulator(dtype=np.complex128)


def _channel(rng, qubits):
    """A random channel on one or two of ``qubits``: every kind Cirq's noise models insert, and wider ones."""
    q = [qubits[i] for i in rng.permutation(len(qubits))]
    p = float(rng.uniform(0.01, 0.3))
    kinds = [lambda: cirq.depolarize(p).on(q[0]), lambda: cirq.amplitude_damp(p).on(q[0]),
             lambda: cirq.phase_damp(p).on(q[0]), lambda: cirq.bit_flip(p).on(q[0]),
             lambda: cirq.phase_flip(p).on(q[0]), lambda: cirq.asymmetric_depolarize(p / 3, p / 2, p / 4).on(q[0]),
             lambda: cirq.generalized_amplitude_damp(0.3, p).on(q[0]), lambda: cirq.reset(q[0])]
    if len(q) > 1:
        kinds += [lambda: cirq.depolarize(p, n_qubits=2).on(q[0], q[1]),
                  lambda: cirq.KrausChannel(_random_kraus(rng, 2)).on(q[0], q[1])]
    return kinds[int(rng.integers(len(kinds)))]()


def _random_kraus(rng, width):
    """Kraus operators of a random channel on ``width`` qubits (a random isometry cut into blocks)."""
    d, m = 2**width, 3
    z = rng.normal(size=(m * d, d)) + 1j * rng.normal(size=(m * d, d))
    isometry, _ = np.linalg.qr(z)
    return [isometry[k * d:(k + 1) * d] for k in range(m)]


def noisy_circuit(rng, qubits, symbols, ops):
    """A random circuit of the state-vector engine's tests with random channels after about a third of its operations."""
    out = cirq.Circuit()
    for op in random_circuit(rng, qubits, symbols, ops=ops).all_operations():
        out.append(op)
        if rng.random() < 0.35:
            out.append(_channel(rng, qubits))
    return out


def reference_density(circuit, symbols, values, qubits):
    resolved = cirq.resolve_parameters(circuit, dict(zip(symbols, map(float, values))))
    return REFERENCE.simulate(resolved, qubit_order=qubits).final_density_matrix


def reference_values(rho, operators, qubits):
    sums = [o if isinstance(o, cirq.PauliSum) else cirq.PauliSum.from_pauli_strings([o]) for o in operators]
    return np.array([np.real(np.trace(o.matrix(qubits) @ rho)) for o in sums])


def confusion(p01, p10, n):
    one = np.array([[1 - p01, p10], [p01, 1 - p10]])
    out = np.ones((1, 1))
    for _ in range(n):
        out = np.kron(out, one)
    return out


CASES = [(seed, n) for seed, n in ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8))]


@pytest.mark.parametrize("seed,n", CASES)
def test_random_noisy_circuits_equal_cirq_density_matrices(seed, n):
    rng = np.random.default_rng(seed)
    qubits = register(n, ["line", "gapped", "grid"][seed % 3])
    symbols = symbols_for(2, "x") + symbols_for(2, "w")
    circuit = noisy_circuit(rng, qubits, symbols, ops=int(rng.integers(6, 16)) if n < 8 else 8)
    operators = random_operators(rng, qubits)  # any Pauli terms: one measurement setting per term
    common = [cirq.PauliString([cirq.X, cirq.Y, cirq.Z][seed % 3](q)) for q in qubits]  # one basis
    rows, groups = 2, 2
    x = rng.uniform(-2, 2, (rows * groups, 2))
    w = rng.uniform(-2, 2, (groups, 2))
    full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
    x32, w32 = K.convert_to_tensor(x.astype(np.float32)), K.convert_to_tensor(w.astype(np.float32))
    rhos = [reference_density(circuit, symbols, row, qubits) for row in full]
    engines = {name: DensityMatrixCircuit(circuit, symbols, ops, qubits=qubits, shared=2)
               for name, ops in (("any", operators), ("common", common), ("probs", "probs"))}
    states = K.convert_to_numpy(engines["probs"].state(x32, w32))
    got = {name: K.convert_to_numpy(engine(x32, w32)) for name, engine in engines.items()}
    for row, rho in enumerate(rhos):
        np.testing.assert_allclose(states[row], rho, atol=ATOL, err_msg=f"density matrix, row {row}")
        np.testing.assert_allclose(got["probs"][row], np.real(np.diag(rho)), atol=ATOL)
        np.testing.assert_allclose(got["any"][row], reference_values(rho, operators, qubits), atol=ATOL)
        np.testing.assert_allclose(got["common"][row], reference_values(rho, common, qubits), atol=ATOL)


def test_the_pauli_transfer_form_is_real_with_signed_permutations_and_diagonal_pauli_channels():
    """The run is real: CNOT's superoperator is a permutation with signs ±1, depolarisation is diag(1, f, f, f)."""
    a = cirq.LineQubit(0)
    cnot = pauli_transfer(superoperator(GateRecord("CNOT", (0, 1), cirq.unitary(cirq.CNOT))))
    matrix = cnot.base
    assert np.abs(matrix.imag).max() < 1e-12
    assert np.array_equal(np.abs(matrix.real) > 1e-9, np.abs(np.round(matrix.real)) == 1)  # entries 0 or ±1
    assert ((np.abs(matrix) > 1e-9).sum(axis=0) == 1).all() and ((np.abs(matrix) > 1e-9).sum(axis=1) == 1).all()
    p = 0.1
    depolarise = pauli_transfer(channel_record(cirq.depolarize(p).on(a), (0,))).base
    np.testing.assert_allclose(depolarise, np.diag([1.0] + [1 - 4 * p / 3] * 3), atol=1e-12)
    rx = superoperator(Compiler([a], [sympy.Symbol("t")]).compile(cirq.rx(sympy.Symbol("t")).on(a))[0])
    for angle in (0.3, -1.2):  # base + Σ e^{i·angle·c} M: real at every angle, though its terms are complex
        total = pauli_transfer(rx).base + sum(np.exp(1j * (angle * t.coeffs[0] + t.const)) * t.matrix
                                              for t in pauli_transfer(rx).terms)
        assert np.abs(total.imag).max() < 1e-12


def test_initial_pure_states_equal_cirq():
    rng = np.random.default_rng(11)
    qubits = register(3, "line")
    symbols = symbols_for(2, "x")
    circuit = noisy_circuit(rng, qubits, symbols, ops=10)
    psi = rng.normal(size=(2, 8)) + 1j * rng.normal(size=(2, 8))
    psi /= np.linalg.norm(psi, axis=1, keepdims=True)
    x = rng.uniform(-2, 2, (2, 2))
    engine = DensityMatrixCircuit(circuit, symbols, "probs", qubits=qubits)
    states = K.convert_to_numpy(engine.state(K.convert_to_tensor(x.astype(np.float32)),
                                             initial=K.convert_to_tensor(psi.astype(np.complex64))))
    for row in range(2):
        resolved = cirq.resolve_parameters(circuit, dict(zip(symbols, map(float, x[row]))))
        rho = REFERENCE.simulate(resolved, qubit_order=qubits, initial_state=np.outer(psi[row], psi[row].conj())
                                 ).final_density_matrix
        np.testing.assert_allclose(states[row], rho, atol=ATOL)


@pytest.mark.parametrize("seed,n", [c for c in CASES if c[1] <= 4])
def test_noisy_gradients_equal_finite_differences(seed, n):
    rng = np.random.default_rng(100 + seed)
    qubits = register(n, "line")
    symbols = symbols_for(2, "x") + symbols_for(2, "w")
    circuit = noisy_circuit(rng, qubits, symbols, ops=10)
    operators = random_operators(rng, qubits)
    rows = 2
    x, w = rng.uniform(-2, 2, (rows, 2)), rng.uniform(-2, 2, (1, 2))
    mix = rng.normal(size=(rows, len(operators)))
    engine = DensityMatrixCircuit(circuit, symbols, operators, qubits=qubits, shared=2)
    x32, w32 = K.convert_to_tensor(x.astype(np.float32)), K.convert_to_tensor(w.astype(np.float32))
    mix32 = K.convert_to_tensor(mix.astype(np.float32))

    def cirq_loss(x, w):
        full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
        return sum(float(reference_values(reference_density(circuit, symbols, full[r], qubits), operators, qubits)
                         @ mix[r]) for r in range(rows))

    grads = {"x": gradient(lambda v: K.sum(engine(v, w32) * mix32), x32),
             "w": gradient(lambda v: K.sum(engine(x32, v) * mix32), w32)}
    numeric = {"x": numeric_gradient(lambda v: cirq_loss(v, w), x, eps=1e-4),
               "w": numeric_gradient(lambda v: cirq_loss(x, v), w, eps=1e-4)}
    for name in ("x", "w"):
        np.testing.assert_allclose(K.convert_to_numpy(grads[name]), numeric[name], atol=GRAD_ATOL, err_msg=f"d/d{name}")


def test_named_noise_and_readout_error_equal_their_definitions():
    """noise={'depolarize': p, 'readout': [p01, p10]}: the circuit's channels as Cirq's noise model adds them, then the
    readout's stochastic matrix on every measured qubit (probabilities, Z-parities, and X readouts after the basis change)."""
    qubits = cirq.LineQubit.range(3)
    a = sympy.Symbol("a")
    circuit = cirq.Circuit(cirq.H(qubits[0]), cirq.rx(a).on(qubits[1]), cirq.CNOT(qubits[0], qubits[2]),
                           cirq.ry(0.7).on(qubits[2]))
    noise = as_noise({"depolarize": 0.05, "amplitude_damp": 0.1, "readout": [0.02, 0.07]})
    values = np.array([[0.3], [1.9]], np.float32)
    probs = K.convert_to_numpy(make_simulation("engine", circuit, [a], "probs", qubits=qubits, noise=noise)(values))
    operators = [cirq.Z(qubits[0]) * cirq.Z(qubits[2]), cirq.Z(qubits[1])]
    zs = K.convert_to_numpy(make_simulation("engine", circuit, [a], operators, qubits=qubits, noise=noise)(values))
    xs = K.convert_to_numpy(make_simulation("engine", circuit, [a], [cirq.X(qubits[0])], qubits=qubits, noise=noise)(values))
    noisy = noise.apply(circuit)
    assert any(isinstance(op.gate, cirq.AmplitudeDampingChannel) for op in noisy.all_operations())
    for row, v in enumerate(values[:, 0]):
        rho = reference_density(noisy, [a], [v], qubits)
        measured = confusion(0.02, 0.07, 3) @ np.real(np.diag(rho))
        np.testing.assert_allclose(probs[row], measured, atol=ATOL)
        signs = np.array([[(-1) ** (((i >> 2) ^ i) & 1), (-1) ** ((i >> 1) & 1)] for i in range(8)])
        np.testing.assert_allclose(zs[row], measured @ signs, atol=ATOL)
        # ⟨X⟩ read with assignment error: (1 − p01 − p10)⟨X⟩ + (p10 − p01)
        x_exact = reference_values(rho, [cirq.X(qubits[0])], qubits)[0]
        np.testing.assert_allclose(xs[row, 0], (1 - 0.09) * x_exact + (0.07 - 0.02), atol=ATOL)


def test_noisy_shots_lie_within_four_sigma_of_the_exact_values():
    qubits = cirq.LineQubit.range(3)
    a = sympy.Symbol("a")
    circuit = cirq.Circuit(cirq.ry(a).on_each(*qubits), cirq.CNOT(qubits[0], qubits[1]))
    noise = as_noise({"depolarize": 0.1, "readout": 0.05})
    values = np.array([[0.4], [1.2], [2.5]], np.float32)
    exact = K.convert_to_numpy(make_simulation("engine", circuit, [a], "probs", noise=noise)(values))
    shots = 4000
    sampled = make_simulation("engine", circuit, [a], "probs", noise=noise, repetitions=shots, seed=3)
    first, second = K.convert_to_numpy(sampled(values)), K.convert_to_numpy(sampled(values))
    sigma = np.sqrt(exact * (1 - exact) / shots) + 1e-12
    for draw in (first, second):
        assert np.all(np.abs(draw - exact) <= 4 * sigma + 1.0 / shots)
        np.testing.assert_allclose(draw.sum(axis=1), 1.0, atol=1e-6)
    assert not np.array_equal(first, second)  # each call draws new shots
    z = [cirq.Z(qubits[0]), cirq.Z(qubits[1]) * cirq.Z(qubits[2])]
    exact_z = K.convert_to_numpy(make_simulation("engine", circuit, [a], z, noise=noise)(values))
    sampled_z = K.convert_to_numpy(make_simulation("engine", circuit, [a], z, noise=noise, repetitions=shots,
                                                   seed=4)(values))
    assert np.all(np.abs(sampled_z - exact_z) <= 4 * np.sqrt((1 - exact_z**2) / shots) + 1e-3)


def test_channels_in_the_circuit_run_as_density_matrices_through_the_seam():
    """A circuit holding channels reaches the density-matrix engine without `noise=`; a clean one stays on state vectors."""
    q = cirq.LineQubit.range(2)
    noisy = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(*q), cirq.amplitude_damp(0.3).on(q[1]))
    assert isinstance(make_simulation("engine", noisy, [], [cirq.Z(q[1])]), DensityMatrixCircuit)
    clean = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(*q))
    assert not isinstance(make_simulation("engine", clean, [], [cirq.Z(q[1])]), DensityMatrixCircuit)
    value = K.convert_to_numpy(make_simulation("engine", noisy, [], [cirq.Z(q[1])])(np.zeros((1, 0), np.float32)))
    np.testing.assert_allclose(value, [[0.5 * (1 - 0.3) * -1 + 0.5 + 0.5 * 0.3]], atol=ATOL)  # ⟨Z⟩ after damping


def test_where_density_matrices_stop():
    big = cirq.LineQubit.range(MAX_DENSITY_QUBITS + 1)
    with pytest.raises(ValueError, match=f"at most {MAX_DENSITY_QUBITS} qubits"):
        DensityMatrixCircuit(cirq.Circuit(cirq.H.on_each(*big)), [], "probs")
    q = cirq.LineQubit.range(6)
    circuit = cirq.Circuit(cirq.H.on_each(*q), cirq.depolarize(0.1).on_each(*q))
    with pytest.raises(ValueError, match="memory budget"):
        DensityMatrixCircuit(circuit, [], "probs", memory_budget=10_000)
    p = sympy.Symbol("p")
    with pytest.raises(ValueError, match="symbolic"):
        DensityMatrixCircuit(cirq.Circuit(cirq.RandomGateChannel(sub_gate=cirq.X, probability=p).on(q[0])), [p], "probs")
    with pytest.raises(ValueError, match="readout_error"):
        DensityMatrixCircuit(circuit, [], "probs", readout_error=[[0.9, 0.2], [0.2, 0.9]])


def test_a_batch_beyond_the_memory_budget_is_split_with_the_same_numbers():
    rng = np.random.default_rng(9)
    qubits = register(3, "line")
    symbols = symbols_for(2, "x") + symbols_for(2, "w")
    circuit = noisy_circuit(rng, qubits, symbols, ops=5)
    operators = random_operators(rng, qubits)
    whole = DensityMatrixCircuit(circuit, symbols, operators, qubits=qubits, shared=2)
    small = DensityMatrixCircuit(circuit, symbols, operators, qubits=qubits, shared=2,
                                 memory_budget=whole._row_bytes() * 5)  # 5 rows fit: chunks of 4 (2 groups)
    x = K.convert_to_tensor(rng.uniform(-2, 2, (12, 2)).astype(np.float32))
    w = K.convert_to_tensor(rng.uniform(-2, 2, (2, 2)).astype(np.float32))
    np.testing.assert_allclose(K.convert_to_numpy(small(x, w)), K.convert_to_numpy(whole(x, w)), atol=1e-6)
    mix = K.convert_to_tensor(rng.normal(size=(12, len(operators))).astype(np.float32))
    np.testing.assert_allclose(K.convert_to_numpy(gradient(lambda v: K.sum(small(x, v) * mix), w)),
                               K.convert_to_numpy(gradient(lambda v: K.sum(whole(x, v) * mix), w)), atol=1e-5)


@tensorflow_only
def test_a_graph_batch_beyond_the_memory_budget_is_refused_when_it_runs():
    import tensorflow as tf

    q = cirq.LineQubit.range(3)
    circuit = cirq.Circuit(cirq.H.on_each(*q), cirq.depolarize(0.1).on_each(*q))
    engine = DensityMatrixCircuit(circuit, [], "probs")
    engine = DensityMatrixCircuit(circuit, [], "probs", memory_budget=engine._row_bytes() * 4)
    run = tf.function(lambda v: engine(v), input_signature=[tf.TensorSpec([None, 0], tf.float32)])
    assert run(tf.zeros((4, 0))).shape == (4, 8)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 4 rows fit"):
        run(tf.zeros((6, 0)))


@pytest.mark.parametrize("value,error,match", [
    ({"depolarize": 1.5}, ValueError, r"'depolarize' must be in \[0, 1\]. Received: noise="),
    ({"readout": [0.1, -0.2]}, ValueError, r"'readout' p10 must be in \[0, 1\]"),
    ({"depolarise": 0.1}, ValueError, r"unknown channels \['depolarise'\]"),
    ({"bit_flip": "high"}, TypeError, "must be a probability"),
    (cirq.CNOT, ValueError, "must act on one qubit"),
    (cirq.MeasurementGate(1), TypeError, "must be None, a cirq.NoiseModel"),
    ("loud", ValueError, "JSON dict of named channels"),
    (0.1, TypeError, r"Received: noise=0.1 \(float\)"),
])
def test_bad_noise_values_are_refused_by_name(value, error, match):
    with pytest.raises(error, match=match):
        as_noise(value)


@pytest.mark.parametrize("value", [
    {"depolarize": 0.01, "readout": [0.02, 0.05]},
    cirq.amplitude_damp(0.1),
    cirq.ConstantQubitNoiseModel(cirq.phase_damp(0.2)),
    {"model": cirq.bit_flip(0.1), "readout": 0.03},
    {"depolarize": 0.02, "trajectories": 50, "sample_based": True},
])
def test_noise_round_trips_through_json(value):
    import json

    noise = as_noise(value)
    again = as_noise(json.loads(json.dumps(noise.to_json())))
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(*q))
    assert again == noise or (again.apply(circuit) == noise.apply(circuit) and again.readout == noise.readout)
