"""Data encoders: circuits whose rotation angles are sympy symbols fed with data values.

TFQ resolves only affine functions of symbols, so non-linear angle maps (such as
``2·arccos(x)``) are applied to the data before it becomes a symbol value; the helpers here
give the reference NumPy version of each map.
"""
from __future__ import annotations

from typing import Sequence

import cirq
import numpy as np
import sympy


def make_symbols(prefix: str, count: int) -> list[sympy.Symbol]:
    """Symbols ``prefix000, prefix001, ...`` whose string order equals their index order."""
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"`count` must be a positive int. Received: count={count!r}")
    width = max(3, len(str(count - 1)))
    return [sympy.Symbol(f"{prefix}{i:0{width}d}") for i in range(count)]


def arccos_angles(x: np.ndarray) -> np.ndarray:
    """The RY angle ``θ = 2·arccos(x)`` for features ``x`` in [0, 1] (clipped).

    RY(2·arccos x)|0⟩ = x|0⟩ + sqrt(1 − x²)|1⟩, so the feature becomes an amplitude.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return 2.0 * np.arccos(x)


def arccos_ry_encoding(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Symbol]) -> cirq.Circuit:
    """One RY rotation per qubit; feed ``arccos_angles(x)`` as the symbol values."""
    return angle_encoding(qubits, symbols, "Y")


_ROTATIONS = {"X": cirq.rx, "Y": cirq.ry, "Z": cirq.rz}


def rotation(axis: str):
    """The Cirq rotation gate factory for axis 'X', 'Y' or 'Z'."""
    if axis not in _ROTATIONS:
        raise ValueError(f"`axis` must be one of {tuple(_ROTATIONS)}. Received: axis={axis!r}")
    return _ROTATIONS[axis]


def angle_encoding(
    qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Basic], axis: str = "X"
) -> cirq.Circuit:
    """One rotation R_axis(s_i) per qubit (PennyLane's ``AngleEmbedding``); symbols may be expressions."""
    if len(qubits) != len(symbols):
        raise ValueError(
            f"`symbols` must have one symbol per qubit ({len(qubits)}). Received: {len(symbols)} symbols"
        )
    gate = rotation(axis)
    return cirq.Circuit(cirq.Moment(gate(s).on(q) for q, s in zip(qubits, symbols)))


def phase_encoding(qubits: Sequence[cirq.Qid], symbols: Sequence[sympy.Basic], *, scale: float = 2.0) -> cirq.Circuit:
    """H on every qubit, then the phase U1(δ_i) = diag(1, e^{iδ_i}) with δ_i = scale·x_i.

    U1(δ) is ``cirq.ZPowGate(exponent=δ/π)`` exactly (no global phase), so the symbol enters
    through the affine exponent ``x·scale/π`` that TFQ resolves in the graph.
    """
    if len(qubits) != len(symbols):
        raise ValueError(
            f"`symbols` must have one symbol per qubit ({len(qubits)}). Received: {len(symbols)} symbols"
        )
    factor = float(scale) / np.pi
    return cirq.Circuit(
        cirq.Moment(cirq.H.on_each(*qubits)),
        cirq.Moment(cirq.ZPowGate(exponent=s * factor).on(q) for q, s in zip(qubits, symbols)),
    )
