"""Differential tests of the state-vector engine against cirq.Simulator (complex128) on random circuits.

The default run sweeps 1–14 qubits; ``-m slow`` runs ≥ 1,000 circuits up to 16 qubits. Every
circuit is checked for final states (global phase included), probabilities, Pauli-string /
PauliSum expectations (common-basis and non-commuting readouts) and, on smaller registers,
gradients against central finite differences of the Cirq reference, with and without
shared (per-group) weights, on line, gapped-line and grid qubits.
"""
import cirq
import numpy as np
import pytest

import tensorflow as tf
from hybridkeras.engines import StateVectorCircuit
from tests.engine_circuits import (
    random_circuit, random_operators, random_product_circuit, reference_expectations,
    reference_state, register, symbols_for,
)
from tests.backends import tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py

ATOL = 1e-5
GRAD_ATOL = 1e-4  # float32 autodiff vs float64 central differences (eps 1e-4) of the Cirq reference


def _check_circuit(seed: int, n: int, *, rows: int = 2, gradients: bool = True, ops: int | None = None):
    rng = np.random.default_rng(seed)
    qubits = register(n, ["line", "gapped", "grid"][seed % 3])
    per_row, weights = int(rng.integers(0, 4)), int(rng.integers(0, 4))
    symbols = symbols_for(per_row, "x") + symbols_for(weights, "w")
    circuit = random_circuit(rng, qubits, symbols, ops=ops or int(rng.integers(6, 30)))
    operators = random_operators(rng, qubits)
    pauli = [cirq.X, cirq.Y, cirq.Z][seed % 3]  # every qubit read on one axis: the basis-change path
    common = [cirq.PauliString(pauli(q)) for q in qubits]

    groups = 2 if weights else 1
    x = rng.uniform(-2, 2, (rows * groups, per_row))
    w = rng.uniform(-2, 2, (groups, weights))
    full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)  # rows ordered (sample, group)

    shared = StateVectorCircuit(circuit, symbols, operators, qubits=qubits, shared=weights)
    plain = StateVectorCircuit(circuit, symbols, "probs", qubits=qubits)
    along = StateVectorCircuit(circuit, symbols, common, qubits=qubits, shared=weights)
    xs, ws = tf.constant(x, tf.float32), tf.constant(w, tf.float32)
    states = [plain.state(full.astype(np.float32)).numpy().reshape(len(full), -1),
              shared.state(xs, ws).numpy().reshape(len(full), -1)]
    probs = plain(full.astype(np.float32)).numpy()
    values = shared(xs, ws).numpy()
    values_common = along(xs, ws).numpy()
    for row in range(len(full)):
        reference = reference_state(circuit, symbols, full[row], qubits)
        for state in states:
            np.testing.assert_allclose(state[row], reference, atol=ATOL, err_msg=f"seed {seed}, n {n}, row {row}")
        np.testing.assert_allclose(probs[row], np.abs(reference) ** 2, atol=ATOL)
        np.testing.assert_allclose(values[row], reference_expectations(reference, operators, qubits), atol=ATOL)
        np.testing.assert_allclose(values_common[row], reference_expectations(reference, common, qubits), atol=ATOL)
    if gradients and symbols:
        _check_gradients(shared, circuit, symbols, operators, qubits, x, w, rows, groups, rng)


def _check_gradients(engine, circuit, symbols, operators, qubits, x, w, rows, groups, rng):
    mix = rng.normal(size=(len(x), len(operators)))
    xs, ws = tf.constant(x, tf.float32), tf.constant(w, tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([xs, ws])
        loss = tf.reduce_sum(engine(xs, ws) * tf.constant(mix, tf.float32))
    grad_x, grad_w = tape.gradient(loss, [xs, ws], unconnected_gradients=tf.UnconnectedGradients.ZERO)

    def loss_of(x, w):
        full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
        return sum(float(reference_expectations(reference_state(circuit, symbols, full[r], qubits), operators, qubits)
                         @ mix[r]) for r in range(len(full)))

    eps = 1e-4
    for array, grad in ((x, grad_x), (w, grad_w)):
        if array.size == 0:
            continue
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            plus, minus = array.copy(), array.copy()
            plus[index] += eps
            minus[index] -= eps
            args_plus = (plus, w) if array is x else (x, plus)
            args_minus = (minus, w) if array is x else (x, minus)
            numeric[index] = (loss_of(*args_plus) - loss_of(*args_minus)) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), numeric, atol=GRAD_ATOL)


SMALL_SWEEP = [(seed, n) for n in range(1, 15) for seed in (n, 100 + n)]


@pytest.mark.parametrize("seed,n", SMALL_SWEEP)
def test_random_circuits_equal_cirq(seed, n):
    _check_circuit(seed, n, gradients=n <= 6, ops=None if n <= 10 else 16)


@pytest.mark.slow
def test_random_circuit_sweep_of_a_thousand_circuits_up_to_16_qubits():
    rng = np.random.default_rng(2026)
    sizes = list(rng.choice(np.arange(1, 11), size=900)) + list(rng.choice(np.arange(11, 17), size=100))
    for seed, n in enumerate(sizes):
        _check_circuit(10_000 + seed, int(n), gradients=n <= 5, ops=None if n <= 10 else 14)


PRODUCT_SWEEP = [(seed, n, shape) for n in (1, 2, 3, 4, 5, 7, 9, 12, 14)
                 for seed, shape in ((n, "product"), (50 + n, "entangled"), (80 + n, "toffoli"))]


@pytest.mark.parametrize("seed,n,shape", PRODUCT_SWEEP)
def test_product_states_and_trailing_permutations_equal_cirq(seed, n, shape):
    """Probability and Z-basis readouts skip trailing CNOT/CZ/SWAP/X/S gates (they relabel outcomes) and,
    when only single-qubit gates are left, never build the 2^n state: both must equal Cirq."""
    rng = np.random.default_rng(seed)
    qubits = register(n, ["line", "gapped", "grid"][seed % 3])
    per_row, weights = 1 + int(rng.integers(0, 3)), int(rng.integers(0, 3))
    symbols = symbols_for(per_row, "x") + symbols_for(weights, "w")
    circuit = random_product_circuit(rng, qubits, symbols, entangle=shape == "entangled", toffoli=shape == "toffoli")
    operators = random_operators(rng, qubits, 4, paulis=(cirq.Z,), sizes=(0, 4))  # identity terms included
    groups, rows = (2 if weights else 1), 2
    x = rng.uniform(-2, 2, (rows * groups, per_row))
    w = rng.uniform(-2, 2, (groups, weights))
    full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
    xs, ws = tf.constant(x, tf.float32), tf.constant(w, tf.float32)
    z = StateVectorCircuit(circuit, symbols, operators, qubits=qubits, shared=weights)
    probs = StateVectorCircuit(circuit, symbols, "probs", qubits=qubits, shared=weights)
    product = shape == "product" or n == 1 or n == 2 and shape == "toffoli"  # no room to entangle / no Toffoli
    assert z.plan.product == product and probs.plan.product == product
    if n > 1 and shape != "toffoli":
        assert not any(r.width > 1 for r in z._executor(False, peel=True).plan.singles) and len(z.plan.steps) <= n
    values, p = z(xs, ws).numpy(), probs(xs, ws).numpy()
    for row in range(len(full)):
        reference = reference_state(circuit, symbols, full[row], qubits)
        np.testing.assert_allclose(p[row], np.abs(reference) ** 2, atol=ATOL, err_msg=f"seed {seed}, n {n}, row {row}")
        np.testing.assert_allclose(values[row], reference_expectations(reference, operators, qubits), atol=ATOL)
    if n <= 5:
        _check_gradients(z, circuit, symbols, operators, qubits, x, w, rows, groups, rng)


def test_shots_of_a_peeled_product_circuit_are_unbiased_and_independent():
    """Shots on the product / relabelled-outcome path: the batch mean of every Z-parity lies within 4.5σ of
    the exact value, with σ² = (1 − ⟨P⟩²) / (rows · shots) for independent rows and shots."""
    rng = np.random.default_rng(7)
    qubits = cirq.LineQubit.range(4)
    symbols = symbols_for(4, "x")
    circuit = cirq.Circuit([cirq.ry(symbols[i]).on(q) for i, q in enumerate(qubits)],
                           [cirq.CNOT(qubits[i], qubits[i + 1]) for i in range(3)], cirq.SWAP(qubits[0], qubits[3]))
    operators = [cirq.Z(qubits[0]), cirq.Z(qubits[1]) * cirq.Z(qubits[3]), cirq.Z(qubits[2])]
    rows, shots = 400, 50
    x = np.tile(rng.uniform(0.3, 2.8, (1, 4)), (rows, 1)).astype(np.float32)
    exact = StateVectorCircuit(circuit, symbols, operators)(x).numpy()[0]
    sampled = StateVectorCircuit(circuit, symbols, operators, repetitions=shots, seed=3)
    assert sampled.plan.product
    estimate = sampled(x).numpy()
    sigma = np.sqrt((1 - exact**2) / (rows * shots))
    assert (np.abs(estimate.mean(axis=0) - exact) < 4.5 * sigma).all(), (estimate.mean(axis=0), exact, sigma)
    ratio = estimate.var(axis=0) / ((1 - exact**2) / shots)  # spread of the rows: independent rows give ~1
    assert ((ratio > 0.75) & (ratio < 1.3)).all(), ratio
    probs = StateVectorCircuit(circuit, symbols, "probs", repetitions=shots, seed=5)(x).numpy()
    reference = np.abs(reference_state(circuit, symbols, x[0], qubits)) ** 2
    assert np.abs(probs.mean(axis=0) - reference).max() < 4.5 * np.sqrt(reference.max() / (rows * shots))


INITIAL_SWEEP = [(seed, n, kind) for n in (1, 2, 3, 5, 7, 9, 12)
                 for seed, kind in ((200 + n, "random"), (300 + n, "product"))]


@pytest.mark.parametrize("seed,n,kind", INITIAL_SWEEP)
def test_runs_from_given_initial_states_equal_cirq(seed, n, kind):
    """``initial=`` states (complex, or real as the amplitude-encoded students give them): final states,
    probabilities and Pauli readouts equal Cirq's simulation from that state, with shared weights, and
    circuits of single-qubit gates only do not take the product-state path (the start is not |0…0⟩)."""
    rng = np.random.default_rng(seed)
    qubits = register(n, ["line", "gapped", "grid"][seed % 3])
    per_row, weights = int(rng.integers(0, 3)), 1 + int(rng.integers(0, 3))
    symbols = symbols_for(per_row, "x") + symbols_for(weights, "w")
    if kind == "product":
        circuit = random_product_circuit(rng, qubits, symbols)
    else:
        circuit = random_circuit(rng, qubits, symbols, ops=16)
    operators = random_operators(rng, qubits)
    common = [cirq.PauliString(cirq.Z(q)) for q in qubits]
    groups, rows = 2, 2
    x = rng.uniform(-2, 2, (rows * groups, per_row))
    w = rng.uniform(-2, 2, (groups, weights))
    full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
    start = rng.normal(size=(len(full), 2**n)) + 1j * rng.normal(size=(len(full), 2**n))
    start[0] = start[0].real  # a real start too
    start /= np.linalg.norm(start, axis=1, keepdims=True)
    xs, ws = tf.constant(x, tf.float32), tf.constant(w, tf.float32)
    initial = tf.constant(start.astype(np.complex64))
    engines = {name: StateVectorCircuit(circuit, symbols, ops, qubits=qubits, shared=weights)
               for name, ops in (("probs", "probs"), ("paulis", operators), ("common", common))}
    states = engines["probs"].state(xs, ws, initial=initial).numpy().reshape(len(full), -1)
    probs = engines["probs"](xs, ws, initial=initial).numpy()
    values = engines["paulis"](xs, ws, initial=initial).numpy()
    values_common = engines["common"](xs, ws, initial=initial).numpy()
    for row in range(len(full)):
        reference = reference_state(circuit, symbols, full[row], qubits, initial=start[row])
        np.testing.assert_allclose(states[row], reference, atol=ATOL, err_msg=f"seed {seed}, n {n}, row {row}")
        np.testing.assert_allclose(probs[row], np.abs(reference) ** 2, atol=ATOL)
        np.testing.assert_allclose(values[row], reference_expectations(reference, operators, qubits), atol=ATOL)
        np.testing.assert_allclose(values_common[row], reference_expectations(reference, common, qubits), atol=ATOL)
    # the same engines still start from |0…0⟩ when no initial state is given
    np.testing.assert_allclose(engines["probs"](xs, ws).numpy()[0],
                               np.abs(reference_state(circuit, symbols, full[0], qubits)) ** 2, atol=ATOL)
    if n <= 5:  # gradients reach a real initial state: against central differences of the Cirq unitary
        real = tf.constant(start.real.astype(np.float32))
        mix = rng.normal(size=(len(full), len(operators)))
        with tf.GradientTape() as tape:
            tape.watch(real)
            loss = tf.reduce_sum(engines["paulis"](xs, ws, initial=real) * tf.constant(mix, tf.float32))
        grad = tape.gradient(loss, real).numpy()
        matrices = [op.matrix(qubits) for op in operators]
        for row in range(len(full)):
            resolver = cirq.ParamResolver({s: float(v) for s, v in zip(symbols, full[row])})
            u = cirq.resolve_parameters(circuit, resolver).unitary(qubit_order=qubits, qubits_that_should_be_present=qubits)

            def loss_of(psi):
                out = u @ psi
                return sum(m * np.real(np.vdot(out, o @ out)) for m, o in zip(mix[row], matrices))

            eps, numeric = 1e-4, np.zeros(2**n)
            for i in range(2**n):
                plus, minus = start[row].real.copy(), start[row].real.copy()
                plus[i] += eps
                minus[i] -= eps
                numeric[i] = (loss_of(plus) - loss_of(minus)) / (2 * eps)
            np.testing.assert_allclose(grad[row], numeric, atol=GRAD_ATOL)


def test_initial_states_are_checked():
    qubits = cirq.LineQubit.range(2)
    engine = StateVectorCircuit(cirq.Circuit(cirq.H(qubits[0]), cirq.CNOT(*qubits)), [], "probs")
    with pytest.raises(ValueError, match=r"`initial` states must be \[rows, 2\*\*2 = 4\]"):
        engine(np.zeros((1, 0), np.float32), initial=np.ones((1, 8), np.float32))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="one state per row"):
        engine(np.zeros((2, 0), np.float32), initial=np.ones((3, 4), np.float32) / 2)
