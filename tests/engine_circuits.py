"""Random circuits for the engine's differential tests, built here (not by the package), and their Cirq references."""
from __future__ import annotations

import cirq
import numpy as np
import sympy

SIMULATOR = cirq.Simulator(dtype=np.complex128)


def register(n: int, kind: str):
    """n qubits: 'line' (0…n−1), 'gapped' (line qubits with holes) or 'grid' (GridQubits, row-major)."""
    if kind == "gapped":
        return [cirq.LineQubit(3 * i + (i % 2)) for i in range(n)]
    if kind == "grid":
        width = max(1, int(np.ceil(np.sqrt(n))))
        return [cirq.GridQubit(i // width, i % width) for i in range(n)]
    return cirq.LineQubit.range(n)


_ROTATIONS = (cirq.XPowGate, cirq.YPowGate, cirq.ZPowGate, cirq.HPowGate)
_PAIRS = (cirq.CZPowGate, cirq.CXPowGate, cirq.XXPowGate, cirq.YYPowGate, cirq.ZZPowGate, cirq.ISwapPowGate,
          cirq.SwapPowGate)


def _exponent(rng, symbols):
    """An affine exponent a·s + b (sometimes of two symbols, sometimes a plain number)."""
    if not symbols or rng.random() < 0.1:
        return float(rng.uniform(-2, 2))
    picks = rng.choice(len(symbols), size=min(len(symbols), 1 + int(rng.random() < 0.3)), replace=False)
    expr = sum(float(rng.uniform(-1.5, 1.5)) * symbols[i] for i in picks)
    return expr + float(rng.uniform(-1, 1))


def _control_values(rng, count):
    """Any control values Cirq allows: plain bits, products of sums (several values per control), sums of products."""
    choice = rng.integers(3)
    if choice == 0:
        return [int(b) for b in rng.integers(0, 2, count)]
    if choice == 1:
        return [tuple(sorted({int(v) for v in rng.integers(0, 2, 1 + int(rng.random() < 0.5))})) for _ in range(count)]
    combos = {tuple(int(b) for b in rng.integers(0, 2, count)) for _ in range(1 + int(rng.integers(3)))}
    return cirq.SumOfProducts(sorted(combos))


def random_circuit(rng, qubits, symbols, *, ops: int = 24) -> cirq.Circuit:
    """Symbolic rotations (affine exponents, global shifts), parameterised two-qubit gates, controlled rotations with
    multi-valued controls, constant gates of 1–3 qubits (incl. random unitaries), PhasedX/FSim, and a
    `cirq.testing.random_circuit` part."""
    n = len(qubits)
    circuit = cirq.Circuit()
    seed = int(rng.integers(2**31))
    circuit += cirq.testing.random_circuit(qubits, n_moments=3, op_density=0.6, random_state=seed)
    for _ in range(ops):
        kind = rng.integers(8)
        q = [qubits[i] for i in rng.permutation(n)]
        if kind <= 2 or n == 1:
            gate = _ROTATIONS[rng.integers(len(_ROTATIONS))](exponent=_exponent(rng, symbols),
                                                            global_shift=float(rng.choice([0.0, -0.5, 0.3])))
            op = gate.on(q[0])
            if n > 1 and rng.random() < 0.15:
                op = cirq.PhasedXPowGate(phase_exponent=_exponent(rng, symbols), exponent=_exponent(rng, symbols)).on(q[0])
        elif kind == 3:
            gate = _PAIRS[rng.integers(len(_PAIRS))](exponent=_exponent(rng, symbols),
                                                    global_shift=float(rng.choice([0.0, -0.25])))
            op = gate.on(q[0], q[1])
        elif kind == 4:
            controls = q[1: 1 + int(rng.integers(1, min(3, n - 1) + 1))]
            inner = _ROTATIONS[rng.integers(3)](exponent=_exponent(rng, symbols)).on(q[0])
            op = inner.controlled_by(*controls, control_values=_control_values(rng, len(controls)))
        elif kind == 5:
            width = int(rng.integers(1, min(3, n) + 1))
            op = cirq.MatrixGate(cirq.testing.random_unitary(2**width, random_state=int(rng.integers(2**31)))).on(*q[:width])
        elif kind == 6:
            op = [cirq.CNOT, cirq.CZ, cirq.SWAP, cirq.ISWAP][rng.integers(4)](q[0], q[1])
            if n > 2 and rng.random() < 0.4:
                op = [cirq.CCX, cirq.CCZ, cirq.CSWAP][rng.integers(3)](q[0], q[1], q[2])
        else:
            op = cirq.FSimGate(theta=_exponent(rng, symbols), phi=float(rng.uniform(-1, 1))).on(q[0], q[1]) \
                if rng.random() < 0.3 else cirq.H(q[0])
        circuit.append(op)
    return circuit


def random_operators(rng, qubits, count: int = 3, *, paulis=(cirq.X, cirq.Y, cirq.Z), sizes=(1, 3)) -> list:
    """PauliSums of 1–3 terms and single Pauli strings, with real coefficients, each term on ``sizes`` = (fewest,
    most) qubits: by default non-commuting terms; with ``paulis=(cirq.Z,)`` Z-parities (one measurement basis)."""
    out = []
    for _ in range(count):
        terms = []
        for _ in range(1 + int(rng.integers(3))):
            size = int(rng.integers(sizes[0], min(sizes[1], len(qubits)) + 1))
            picked = rng.choice(len(qubits), size=size, replace=False)
            term = {qubits[i]: paulis[rng.integers(len(paulis))] for i in picked}
            terms.append(float(rng.uniform(-1, 1)) * cirq.PauliString(term))
        out.append(sum(terms[1:], terms[0]) if len(terms) > 1 else terms[0])
    return out


def reference_state(circuit, symbols, values, qubits, initial=None) -> np.ndarray:
    """Cirq's final state from |0…0⟩, or from the unit-norm state ``initial``."""
    resolver = cirq.ParamResolver({s: float(v) for s, v in zip(symbols, values)})
    start = 0 if initial is None else np.asarray(initial, np.complex128)
    return SIMULATOR.simulate(circuit, resolver, qubit_order=qubits, initial_state=start).final_state_vector


def reference_expectations(state, operators, qubits) -> np.ndarray:
    index = {q: i for i, q in enumerate(qubits)}
    state = state / np.linalg.norm(state)
    return np.array([np.real(op.expectation_from_state_vector(state, index)) for op in operators])


def symbols_for(count: int, prefix: str = "s"):
    return [sympy.Symbol(f"{prefix}{i}") for i in range(count)]


_TAIL = (lambda a, b: cirq.CNOT(a, b), lambda a, b: cirq.CZ(a, b), lambda a, b: cirq.SWAP(a, b), lambda a, b: cirq.X(a),
         lambda a, b: cirq.S(a), lambda a, b: cirq.CZPowGate(exponent=0.5).on(a, b), lambda a, b: cirq.CNOT(b, a))


def random_product_circuit(rng, qubits, symbols, *, tail: int = 6, entangle: bool = False, toffoli: bool = False):
    """Single-qubit layers (symbolic rotations with affine exponents and shifts, PhasedX, random 1-qubit
    unitaries, H), then a tail of constant basis-state permutations with phases (CNOT ladders, CZ, SWAP,
    X, S, CZ**0.5): the shape of HQNN-Quanv's kernel. ``entangle`` puts a random two-qubit unitary
    before the tail; ``toffoli`` ends the circuit with a Toffoli (a permutation that is not affine)."""
    n = len(qubits)
    circuit = cirq.Circuit()
    for _ in range(int(rng.integers(1, 4))):
        for q in qubits:
            pick = rng.random()
            if pick < 0.6:
                gate = _ROTATIONS[rng.integers(len(_ROTATIONS))](exponent=_exponent(rng, symbols),
                                                                global_shift=float(rng.choice([0.0, -0.5, 0.3])))
                circuit.append(gate.on(q))
            elif pick < 0.75:
                circuit.append(cirq.PhasedXPowGate(phase_exponent=_exponent(rng, symbols),
                                                   exponent=_exponent(rng, symbols)).on(q))
            elif pick < 0.9:
                circuit.append(cirq.MatrixGate(cirq.testing.random_unitary(2, random_state=int(rng.integers(2**31)))).on(q))
            else:
                circuit.append(cirq.H(q))
    if entangle and n > 1:
        a, b = rng.choice(n, 2, replace=False)
        circuit.append(cirq.MatrixGate(cirq.testing.random_unitary(4, random_state=int(rng.integers(2**31)))).on(
            qubits[a], qubits[b]))
    for i in range(n - 1):  # a CNOT ladder, as in the Quanv kernel
        circuit.append(cirq.CNOT(qubits[i], qubits[i + 1]))
    for _ in range(tail if n > 1 else 0):
        a, b = (qubits[i] for i in rng.choice(n, 2, replace=False))
        circuit.append(_TAIL[rng.integers(len(_TAIL))](a, b))
    if toffoli and n > 2:
        circuit.append(cirq.CCX(*(qubits[i] for i in rng.choice(n, 3, replace=False))))
    return circuit


_TFQ_ONE = (cirq.XPowGate, cirq.YPowGate, cirq.ZPowGate, cirq.HPowGate)
_TFQ_TWO = (cirq.CZPowGate, cirq.CXPowGate, cirq.XXPowGate, cirq.YYPowGate, cirq.ZZPowGate, cirq.ISwapPowGate,
            cirq.SwapPowGate)


def tfq_random_circuit(rng, qubits, symbols, *, ops: int = 16) -> cirq.Circuit:
    """A random circuit of the gates TFQ serialises: powers of X/Y/Z/H and of the two-qubit gates with exponents
    c·symbol (TFQ's form) or numbers, PhasedX, FSim, and controlled rotations; ``symbols`` all appear."""
    n = len(qubits)
    circuit = cirq.Circuit()

    def exponent(i=None):
        if symbols and (i is not None or rng.random() < 0.8):
            s = symbols[int(rng.integers(len(symbols))) if i is None else i]
            return float(rng.choice([1.0, -0.5, 0.7, 2.0])) * s
        return float(rng.uniform(-1, 1))

    for i in range(len(symbols)):  # every symbol is used at least once
        circuit.append(_TFQ_ONE[i % 3](exponent=exponent(i)).on(qubits[i % n]))
    for _ in range(ops):
        q = [qubits[i] for i in rng.permutation(n)]
        kind = rng.integers(5)
        if kind <= 1 or n == 1:
            op = _TFQ_ONE[rng.integers(4)](exponent=exponent(), global_shift=float(rng.choice([0.0, -0.5]))).on(q[0])
        elif kind == 2:
            op = _TFQ_TWO[rng.integers(len(_TFQ_TWO))](exponent=exponent()).on(q[0], q[1])
        elif kind == 3:
            op = cirq.PhasedXPowGate(phase_exponent=float(rng.uniform(-1, 1)), exponent=exponent()).on(q[0]) \
                if rng.random() < 0.5 else cirq.FSimGate(theta=exponent(), phi=float(rng.uniform(-1, 1))).on(q[0], q[1])
        else:
            op = _TFQ_ONE[rng.integers(3)](exponent=exponent()).on(q[0]).controlled_by(q[1])
        circuit.append(op)
    return circuit
