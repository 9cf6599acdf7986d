"""The circuits of three TensorFlow Quantum tutorials, rebuilt from their descriptions (pure Cirq, no TensorFlow).

* Hello, many worlds: one qubit, miscalibrated by a random fixed rotation (the input circuit); a
  classical controller turns a command (0 or 1) into the angles of rz, ry, rx (the model
  circuit) so that ⟨Z⟩ reaches +1 for command 0 and −1 for command 1.
* MNIST classification ("MNIST classification" tutorial): 4×4 binarised digits, one data qubit per
  pixel (X where the pixel is on), and a 17-qubit QNN: the readout qubit prepared in |−⟩, one
  layer of XX couplings and one of ZZ couplings between every data qubit and the readout (one
  symbol each), H on the readout, measured as ⟨Z_readout⟩; trained with a hinge loss.
* Quantum convolutional neural network ("QCNN" tutorial): a cluster state on 8 qubits with one
  random X rotation (an excitation) on one qubit; the label says whether the rotation angle is
  near π/2 (+1) or not (−1). The model alternates quantum convolutions (a general two-qubit
  unitary of 15 parameters on neighbouring pairs) and quantum poolings (6 parameters, a
  source qubit's information moved onto a sink qubit), 8 → 4 → 2 → 1 qubits, read out as ⟨Z⟩
  of the last qubit.
"""
from __future__ import annotations

import cirq
import numpy as np
import sympy

MNIST_SIDE = 4


# ---------------------------------------------------------------------------------------------- hello, many worlds
def hello_model_circuit(qubit) -> cirq.Circuit:
    """rz(alpha), ry(beta), rx(gamma) on ``qubit``: the controlled rotation (symbols alpha, beta, gamma)."""
    alpha, beta, gamma = sympy.symbols("alpha beta gamma")
    return cirq.Circuit(cirq.rz(alpha)(qubit), cirq.ry(beta)(qubit), cirq.rx(gamma)(qubit))


def hello_miscalibrations(qubit, count: int, *, seed: int = 0) -> list:
    """``count`` input circuits: rx, ry, rz by random angles in [0, 2π) on ``qubit`` (one fixed miscalibration,
    repeated, as the tutorial feeds it)."""
    angles = np.random.default_rng(seed).uniform(0, 2 * np.pi, 3)
    circuit = cirq.Circuit(cirq.rx(angles[0])(qubit), cirq.ry(angles[1])(qubit), cirq.rz(angles[2])(qubit))
    return [circuit] * int(count)


# -------------------------------------------------------------------------------------------------------- MNIST
def mnist_qubits():
    """(data qubits: a 4×4 grid of GridQubits, the readout qubit GridQubit(-1, -1))."""
    return cirq.GridQubit.rect(MNIST_SIDE, MNIST_SIDE), cirq.GridQubit(-1, -1)


def mnist_data_circuit(image) -> cirq.Circuit:
    """An X gate on the data qubit of every pixel that is on (``image``: 4×4 values 0/1)."""
    image = np.asarray(image).reshape(-1)
    if image.size != MNIST_SIDE**2:
        raise ValueError(f"`image` must hold {MNIST_SIDE**2} pixels (4×4). Received {image.size}")
    qubits, _ = mnist_qubits()
    return cirq.Circuit(cirq.X(q) for q, on in zip(qubits, image) if on)


def mnist_model_circuit():
    """(the 17-qubit QNN with 32 symbols, its readout operator ⟨Z_readout⟩)."""
    data, readout = mnist_qubits()
    circuit = cirq.Circuit(cirq.X(readout), cirq.H(readout))
    for prefix, gate in (("xx1", cirq.XX), ("zz1", cirq.ZZ)):
        for i, qubit in enumerate(data):
            circuit.append(gate(qubit, readout) ** sympy.Symbol(f"{prefix}-{i}"))
    circuit.append(cirq.H(readout))
    return circuit, cirq.Z(readout)


def remove_contradicting(images, labels):
    """The binarised images whose pattern maps to one label only (the tutorial drops patterns seen with both),
    one copy of each pattern kept per label as often as it occurs; returns (images, labels)."""
    images, labels = np.asarray(images), np.asarray(labels)
    keys = [tuple(np.asarray(x).reshape(-1).astype(int)) for x in images]
    seen: dict = {}
    for key, label in zip(keys, labels):
        seen.setdefault(key, set()).add(int(label))
    keep = np.array([len(seen[key]) == 1 for key in keys], bool)
    return images[keep], labels[keep]


# --------------------------------------------------------------------------------------------------------- QCNN
def cluster_state_circuit(qubits) -> cirq.Circuit:
    """H on every qubit, then CZ between neighbours of a ring: a cluster state."""
    qubits = list(qubits)
    circuit = cirq.Circuit(cirq.H.on_each(qubits))
    for a, b in zip(qubits, qubits[1:] + qubits[:1]):
        circuit.append(cirq.CZ(a, b))
    return circuit


def cluster_excitations(qubits, count: int, *, seed: int = 0):
    """(``count`` circuits, each one X rotation by a random angle on a random qubit, labels ±1).

    The label is +1 when the angle lies in [−π/2, π/2] (the excitation is small on the
    rotation's scale), else −1, as in the tutorial."""
    rng = np.random.default_rng(seed)
    qubits = list(qubits)
    circuits, labels = [], []
    for _ in range(int(count)):
        angle = float(rng.uniform(-np.pi, np.pi))
        circuits.append(cirq.Circuit(cirq.rx(angle)(qubits[int(rng.integers(len(qubits)))])))
        labels.append(1.0 if -np.pi / 2 <= angle <= np.pi / 2 else -1.0)
    return circuits, np.array(labels, np.float32)


def _one_qubit_unitary(qubit, symbols):
    return [cirq.X(qubit) ** symbols[0], cirq.Y(qubit) ** symbols[1], cirq.Z(qubit) ** symbols[2]]


def two_qubit_unitary(a, b, symbols) -> cirq.Circuit:
    """A general two-qubit unitary: one-qubit rotations on both, ZZ, YY and XX couplings, rotations again (15 symbols)."""
    circuit = cirq.Circuit(_one_qubit_unitary(a, symbols[0:3]) + _one_qubit_unitary(b, symbols[3:6]))
    circuit.append([cirq.ZZ(a, b) ** symbols[6], cirq.YY(a, b) ** symbols[7], cirq.XX(a, b) ** symbols[8]])
    circuit.append(_one_qubit_unitary(a, symbols[9:12]) + _one_qubit_unitary(b, symbols[12:15]))
    return circuit


def two_qubit_pool(source, sink, symbols) -> cirq.Circuit:
    """Moves ``source``'s information onto ``sink``: rotations on both, a CNOT, the sink's rotation undone (6 symbols)."""
    sink_basis = _one_qubit_unitary(sink, symbols[0:3])
    circuit = cirq.Circuit(sink_basis + _one_qubit_unitary(source, symbols[3:6]))
    circuit.append(cirq.CNOT(source, sink))
    circuit.append(cirq.inverse(cirq.Circuit(sink_basis)))
    return circuit


def quantum_conv_circuit(qubits, symbols) -> cirq.Circuit:
    """`two_qubit_unitary` (the same 15 symbols) on pairs (0,1), (2,3), … then (1,2), (3,4), …, (n−1, 0)."""
    qubits = list(qubits)
    circuit = cirq.Circuit()
    for a, b in zip(qubits[0::2], qubits[1::2]):
        circuit += two_qubit_unitary(a, b, symbols)
    for a, b in zip(qubits[1::2], qubits[2::2] + [qubits[0]]):
        circuit += two_qubit_unitary(a, b, symbols)
    return circuit


def quantum_pool_circuit(sources, sinks, symbols) -> cirq.Circuit:
    """`two_qubit_pool` (the same 6 symbols) from each source onto its sink."""
    circuit = cirq.Circuit()
    for source, sink in zip(sources, sinks):
        circuit += two_qubit_pool(source, sink, symbols)
    return circuit


def qcnn_model_circuit(qubits):
    """(the QCNN on 8 qubits, 63 symbols; its readout ⟨Z⟩ of the last qubit)."""
    qubits = list(qubits)
    if len(qubits) != 8:
        raise ValueError(f"The QCNN circuit takes 8 qubits. Received {len(qubits)}")
    s = sympy.symbols("qconv0:63")
    circuit = cirq.Circuit()
    circuit += quantum_conv_circuit(qubits, s[0:15])
    circuit += quantum_pool_circuit(qubits[:4], qubits[4:], s[15:21])
    circuit += quantum_conv_circuit(qubits[4:], s[21:36])
    circuit += quantum_pool_circuit(qubits[4:6], qubits[6:], s[36:42])
    circuit += quantum_conv_circuit(qubits[6:], s[42:57])
    circuit += quantum_pool_circuit([qubits[6]], [qubits[7]], s[57:63])
    return circuit, cirq.Z(qubits[-1])
