"""Independent references for tests: circuits simulated gate by gate with cirq.Simulator."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import cirq
import numpy as np


def reference_feature_map_state(x: np.ndarray) -> np.ndarray:
    """State of RY(2·arccos x_i) on each qubit, H on each, CNOT chain — built here, not by the package."""
    x = np.asarray(x, dtype=np.float64)
    qubits = cirq.LineQubit.range(len(x))
    circuit = cirq.Circuit()
    for q, value in zip(qubits, x):
        circuit.append(cirq.ry(2.0 * np.arccos(value)).on(q))
    for q in qubits:
        circuit.append(cirq.H(q))
    for a, b in zip(qubits[:-1], qubits[1:]):
        circuit.append(cirq.CNOT(a, b))
    return cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qubits).final_state_vector


def pauli_expectations(state: np.ndarray, axis: str) -> np.ndarray:
    n = int(np.log2(len(state)))
    qubits = cirq.LineQubit.range(n)
    pauli = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}[axis]
    order = {q: i for i, q in enumerate(qubits)}
    state = state / np.linalg.norm(state)
    return np.array([np.real(cirq.PauliString(pauli(q)).expectation_from_state_vector(state, order)) for q in qubits])


def run_python(code: str, timeout: int = 300) -> str:
    """Runs ``code`` in a fresh Python process and returns its stdout (raises on failure)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"fresh process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout
