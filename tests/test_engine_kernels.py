"""The engine on quantum-kernel-shaped circuits (HQNN-Quanv's shape), on whichever Keras backend runs the suite.

A kernel circuit encodes one data value per qubit (a per-row gate), applies layers of weight-only gates
(shared by a group of rows), sometimes more data gates, then a CNOT ladder and other basis-state
permutations, and is read in the Z basis. The engine computes such circuits without building the 2^n state
(a product state, the trailing permutations folded into the readout), with the weight layers multiplied into
small matrices rather than into every row: Z readouts (PauliSums with coefficients, and single Z's),
probabilities and gradients must still equal Cirq (complex128) and central finite differences.
"""
import cirq
import numpy as np
import pytest
from keras import ops as K

from hybridkeras.engines import StateVectorCircuit
from hybridkeras.engines.ops import gradient
from tests.engine_circuits import _TAIL, random_operators, reference_expectations, reference_state, register, symbols_for
from tests.helpers import numeric_gradient

ATOL, GRAD_ATOL = 1e-5, 1e-4
_GATES = (cirq.XPowGate, cirq.YPowGate, cirq.ZPowGate)


def _affine(rng, symbols):
    """a·s + b over one of ``symbols`` (or a plain number when there are none)."""
    if not symbols:
        return float(rng.uniform(-2, 2))
    return float(rng.uniform(-1.5, 1.5)) * symbols[int(rng.integers(len(symbols)))] + float(rng.uniform(-1, 1))


def kernel_circuit(rng, qubits, xs, ws, *, every_qubit: bool, data_later: bool, data_reads_weights: bool):
    """One data gate per qubit (on every qubit, or on the first and some others), 1–3 layers of weight gates (each on some qubits),
    a data layer between them when ``data_later``, then a CNOT ladder and a random permutation tail."""
    circuit = cirq.Circuit()
    for i, q in enumerate(qubits):
        if every_qubit or i == 0 or rng.random() < 0.6:
            exponent = _affine(rng, xs)
            if data_reads_weights:
                exponent = exponent + float(rng.uniform(-1, 1)) * ws[0]
            circuit.append(_GATES[rng.integers(3)](exponent=exponent, global_shift=float(rng.choice([0.0, -0.5]))).on(q))
    for layer in range(int(rng.integers(1, 4))):
        for q in qubits:
            if rng.random() < 0.8:
                circuit.append(_GATES[rng.integers(3)](exponent=_affine(rng, ws)).on(q))
        if data_later and layer == 0:
            for q in qubits:
                if rng.random() < 0.5:
                    circuit.append(cirq.ry(np.pi * _affine(rng, xs)).on(q))
    for a, b in zip(qubits, qubits[1:]):
        circuit.append(cirq.CNOT(a, b))
    for _ in range(int(rng.integers(0, 4)) if len(qubits) > 1 else 0):
        a, b = (qubits[i] for i in rng.choice(len(qubits), 2, replace=False))
        circuit.append(_TAIL[rng.integers(len(_TAIL))](a, b))
    return circuit


CASES = [(seed, n, variant) for n in (1, 2, 4, 5) for seed, variant in
         ((10 + n, "kernel"), (20 + n, "some qubits"), (30 + n, "data later"), (40 + n, "data reads weights"))]


@pytest.mark.parametrize("seed,n,variant", CASES)
@pytest.mark.parametrize("groups", [1, 2])
def test_kernel_circuits_equal_cirq_in_values_probabilities_and_gradients(seed, n, variant, groups):
    rng = np.random.default_rng(seed)
    qubits = register(n, ["line", "gapped", "grid"][seed % 3])
    xs, ws = symbols_for(n, "x"), symbols_for(2, "w")
    circuit = kernel_circuit(rng, qubits, xs, ws, every_qubit=variant != "some qubits",
                             data_later=variant == "data later", data_reads_weights=variant == "data reads weights")
    sums = random_operators(rng, qubits, 3, paulis=(cirq.Z,), sizes=(1, n))  # with coefficients
    singles = [cirq.Z(q) for q in qubits]  # one term each, coefficient 1
    rows = 3
    x = rng.uniform(0, 1, (rows * groups, n))
    w = rng.uniform(-2, 2, (groups, 2))
    full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)  # rows ordered (sample, group)
    x32, w32 = K.convert_to_tensor(x.astype(np.float32)), K.convert_to_tensor(w.astype(np.float32))
    references = [reference_state(circuit, xs + ws, row, qubits) for row in full]
    for operators in (sums, singles, "probs"):
        engine = StateVectorCircuit(circuit, xs + ws, operators, qubits=qubits, shared=2)
        assert engine.plan.product  # the path under test: no 2^n state
        got = K.convert_to_numpy(engine(x32, w32))
        for row, reference in enumerate(references):
            expected = np.abs(reference) ** 2 if operators == "probs" else reference_expectations(reference, operators, qubits)
            np.testing.assert_allclose(got[row], expected, atol=ATOL, err_msg=f"{variant}, {operators}, row {row}")

    engine = StateVectorCircuit(circuit, xs + ws, sums, qubits=qubits, shared=2)
    mix = rng.normal(size=(len(full), len(sums)))
    mix32 = K.convert_to_tensor(mix.astype(np.float32))

    def cirq_loss(x, w):
        full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
        return sum(float(reference_expectations(reference_state(circuit, xs + ws, full[r], qubits), sums, qubits) @ mix[r])
                   for r in range(len(full)))

    grads = {"x": gradient(lambda v: K.sum(engine(v, w32) * mix32), x32),
             "w": gradient(lambda v: K.sum(engine(x32, v) * mix32), w32)}
    numeric = {"x": numeric_gradient(lambda v: cirq_loss(v, w), x, eps=1e-4),
               "w": numeric_gradient(lambda v: cirq_loss(x, v), w, eps=1e-4)}
    for name in ("x", "w"):
        np.testing.assert_allclose(K.convert_to_numpy(grads[name]), numeric[name], atol=GRAD_ATOL,
                                   err_msg=f"{variant}, d/d{name}")
