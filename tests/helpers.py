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


def trainable(model) -> int:
    """Number of trainable parameters of a Keras model."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def run_python(code: str, timeout: int = 300) -> str:
    """Runs ``code`` in a fresh Python process and returns its stdout (raises on failure)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"fresh process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _expectations(circuit, qubits, axis):
    state = cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qubits).final_state_vector
    return pauli_expectations(state, axis)


def reference_parallel_pqc(x: np.ndarray, weights: np.ndarray, axis: str = "Y", embedding: str = "X") -> np.ndarray:
    """⟨P_j⟩ of every circuit, written out from the StronglyEntanglingLayers definition.

    x: (circuits·qubits,), weights: (circuits, depth, qubits, 3).
    """
    circuits, depth, n, _ = weights.shape
    rot = {"X": cirq.rx, "Y": cirq.ry, "Z": cirq.rz}[embedding]
    out = []
    for c in range(circuits):
        qubits = cirq.LineQubit.range(n)
        circuit = cirq.Circuit(rot(float(v)).on(q) for q, v in zip(qubits, x[c * n:(c + 1) * n]))
        for layer in range(depth):
            for j, q in enumerate(qubits):
                phi, theta, omega = weights[c, layer, j]
                circuit.append([cirq.rz(phi).on(q), cirq.ry(theta).on(q), cirq.rz(omega).on(q)])
            if n > 1:
                r = layer % (n - 1) + 1
                for j in range(n):
                    circuit.append(cirq.CNOT(qubits[j], qubits[(j + r) % n]))
        out.append(_expectations(circuit, qubits, axis))
    return np.concatenate(out)


def reference_quanv_patch(pixels: np.ndarray, weights: np.ndarray, rotation: str = "X") -> np.ndarray:
    """⟨Z_i⟩ after RY(π p_i), R(w_i), CNOT(0,1), CNOT(1,2), … for one flattened patch."""
    qubits = cirq.LineQubit.range(len(pixels))
    rot = {"X": cirq.rx, "Y": cirq.ry}[rotation]
    circuit = cirq.Circuit(cirq.ry(np.pi * float(p)).on(q) for q, p in zip(qubits, pixels))
    circuit.append(rot(float(w)).on(q) for q, w in zip(qubits, weights))
    circuit.append(cirq.CNOT(a, b) for a, b in zip(qubits[:-1], qubits[1:]))
    return _expectations(circuit, qubits, "Z")
