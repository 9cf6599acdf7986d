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


def predict_in_fresh_process(folder, inputs: dict) -> dict:
    """Loads each saved model ``folder/<name>`` in one fresh Python process and predicts on the
    array saved at ``folder/<inputs[name]>``; returns {name: predictions}."""
    run_python(f"""
        import numpy as np, hybridkeras
        folder = {str(folder)!r}
        for name, x in {dict(inputs)!r}.items():
            model = hybridkeras.load_model(f"{{folder}}/{{name}}")
            np.save(f"{{folder}}/{{name}}_loaded.npy", model.predict(np.load(f"{{folder}}/{{x}}"), verbose=0))
    """)
    return {name: np.load(f"{folder}/{name}_loaded.npy") for name in inputs}


def assert_fresh_process_reload_identical(folder, models: dict, x) -> None:
    """Saves every model under ``folder/<name>``, reloads them in a fresh process and requires
    bit-identical predictions on ``x``."""
    import hybridkeras as hk

    np.save(f"{folder}/x.npy", x)
    expected = {}
    for name, model in models.items():
        expected[name] = model.predict(x, verbose=0)
        hk.save_model(model, f"{folder}/{name}")
    loaded = predict_in_fresh_process(folder, {name: "x.npy" for name in models})
    for name in models:
        np.testing.assert_array_equal(loaded[name], expected[name], err_msg=name)


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


def numeric_gradient(f, x: np.ndarray, eps: float = 1e-2) -> np.ndarray:
    """Central finite differences of the scalar function ``f`` at ``x``."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def assert_gradients_match_finite_differences(layer, variable, x0, mix, *, eps_x=1e-2, atol_x=2e-3):
    """d/dx and d/dw of sum(layer(x)·mix): autodiff through TFQ's differentiator vs central differences."""
    from hybridkeras._stack import tf  # Keras on its TensorFlow backend

    w0 = variable.numpy()
    x = tf.constant(x0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        value = tf.reduce_sum(layer(x) * mix)
    grad_x = tape.gradient(value, x).numpy()
    grad_w = tape.gradient(value, variable).numpy()
    numeric_x = numeric_gradient(lambda v: float(tf.reduce_sum(layer(v) * mix)), x0, eps=eps_x)
    np.testing.assert_allclose(grad_x, numeric_x, rtol=2e-2, atol=atol_x)

    def of_weights(w):
        variable.assign(w)
        return float(tf.reduce_sum(layer(x0) * mix))

    numeric_w = numeric_gradient(of_weights, w0)
    variable.assign(w0)
    np.testing.assert_allclose(grad_w, numeric_w, rtol=2e-2, atol=2e-3)
    assert np.abs(grad_w).max() > 1e-2 and np.abs(grad_x).max() > 1e-2  # both really reach the circuit


def reference_lcqhnn_state(x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """State of paper 3's block written from its gate list, U1 as an explicit diag(1, e^{2ix}) matrix."""
    n = len(x)
    qubits = cirq.LineQubit.range(n)
    circuit = cirq.Circuit(cirq.H(q) for q in qubits)
    for q, value in zip(qubits, x):
        circuit.append(cirq.MatrixGate(np.diag([1.0, np.exp(2j * float(value))])).on(q))
    ladder = [cirq.CNOT(qubits[i], qubits[i + 1]) for i in range(n - 1)]
    circuit.append(ladder)
    circuit.append(cirq.ry(float(t)).on(q) for q, t in zip(qubits, theta))
    circuit.append(reversed(ladder))
    circuit.append(cirq.H(qubits[0]))
    return cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qubits).final_state_vector


def _student_layers(qubits, weights):
    """RY, RZ on every qubit then CNOT(0,1)…CNOT(n−2,n−1) and CNOT(n−1,0) for n > 2, per layer."""
    ops = []
    n = len(qubits)
    for layer in weights:
        ops += [cirq.ry(float(w[0])).on(q) for q, w in zip(qubits, layer)]
        ops += [cirq.rz(float(w[1])).on(q) for q, w in zip(qubits, layer)]
        ops += [cirq.CNOT(qubits[i], qubits[i + 1]) for i in range(n - 1)]
        if n > 2:
            ops.append(cirq.CNOT(qubits[-1], qubits[0]))
    return ops


def reference_student_probs(x: np.ndarray, weights: np.ndarray, encoding: str = "amplitude") -> np.ndarray:
    """Basis-state probabilities of a student circuit, its encoded state built without the package.

    'amplitude': the simulation starts from the L2-normalised x itself (the state the encoder
    must prepare); 'angle': H then RY(π·x_i) per qubit.
    """
    n = weights.shape[1]
    qubits = cirq.LineQubit.range(n)
    if encoding == "amplitude":
        initial = (np.asarray(x, np.float64) / np.linalg.norm(x)).astype(np.complex128)
        circuit = cirq.Circuit(_student_layers(qubits, weights))
    else:
        initial = None
        circuit = cirq.Circuit([cirq.H(q) for q in qubits] + [cirq.ry(np.pi * float(v)).on(q) for q, v in zip(qubits, x)])
        circuit.append(_student_layers(qubits, weights))
    state = cirq.Simulator(dtype=np.complex128).simulate(circuit, qubit_order=qubits, initial_state=initial).final_state_vector
    return np.abs(state) ** 2
