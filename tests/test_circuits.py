import cirq
import numpy as np
import pytest

from hybridkeras.circuits import (
    arccos_angles,
    basis_state_projectors,
    feature_map_circuit,
    make_symbols,
    pauli_readout,
    readout_operators,
)
from tests.helpers import reference_feature_map_state


def test_symbols_sort_in_index_order():
    symbols = make_symbols("x", 12)
    assert [str(s) for s in symbols] == sorted(str(s) for s in symbols)
    assert str(symbols[11]) == "x011"
    with pytest.raises(ValueError, match="count"):
        make_symbols("x", 0)


def test_arccos_angle_puts_the_feature_in_the_amplitude(rng):
    for x in rng.uniform(0, 1, 5):
        state = cirq.Simulator().simulate(cirq.Circuit(cirq.ry(arccos_angles(x)).on(cirq.LineQubit(0)))).final_state_vector
        np.testing.assert_allclose(state.real, [x, np.sqrt(1 - x**2)], atol=1e-6)
    np.testing.assert_allclose(arccos_angles([-0.5, 1.5]), [np.pi, 0.0])  # clipped into [0, 1]


def test_feature_map_gate_sequence():
    qubits = cirq.LineQubit.range(5)
    circuit = feature_map_circuit(qubits, make_symbols("x", 5))
    ops = list(circuit.all_operations())
    assert [type(op.gate).__name__ for op in ops[:5]] == ["Ry"] * 5
    assert [op.gate for op in ops[5:10]] == [cirq.H] * 5
    assert [(op.gate, op.qubits) for op in ops[10:]] == [(cirq.CNOT, (qubits[i], qubits[i + 1])) for i in range(4)]
    measured = feature_map_circuit(qubits, make_symbols("x", 5), measure=True)
    assert cirq.is_measurement(list(measured.all_operations())[-1])


def test_feature_map_resolved_equals_reference(rng):
    x = rng.uniform(0, 1, 5)
    qubits = cirq.LineQubit.range(5)
    symbols = make_symbols("x", 5)
    resolver = dict(zip(map(str, symbols), arccos_angles(x)))
    ours = cirq.Simulator(dtype=np.complex128).simulate(feature_map_circuit(qubits, symbols), resolver, qubit_order=qubits)
    assert cirq.allclose_up_to_global_phase(ours.final_state_vector, reference_feature_map_state(x), atol=1e-7)


def test_projectors_give_basis_state_probabilities(rng):
    qubits = cirq.LineQubit.range(3)
    state = rng.normal(size=8) + 1j * rng.normal(size=8)
    state /= np.linalg.norm(state)
    order = {q: i for i, q in enumerate(qubits)}
    probs = [np.real(p.expectation_from_state_vector(state, order)) for p in basis_state_projectors(qubits)]
    np.testing.assert_allclose(probs, np.abs(state) ** 2, atol=1e-10)


def test_readout_names():
    qubits = cirq.LineQubit.range(2)
    assert len(readout_operators(qubits, "probs")) == 4
    assert readout_operators(qubits, "Y") == pauli_readout(qubits, "Y")
    with pytest.raises(ValueError, match="readout"):
        readout_operators(qubits, "W")
    with pytest.raises(ValueError, match="axis"):
        pauli_readout(qubits, "W")
