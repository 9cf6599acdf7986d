"""Noise as data: what a layer's ``noise=`` accepts, checked once, applied to a Cirq circuit, saved as JSON.

`as_noise` turns a user's value into a `Noise` (or None for no noise):

* a `cirq.NoiseModel` (``cirq.ConstantQubitNoiseModel``, ``cirq.InsertionNoiseModel``, ``cirq.NO_NOISE``, …):
  applied as Cirq applies it, ``circuit.with_noise(model)``;
* one single-qubit `cirq` channel (``cirq.depolarize(0.01)``, ``cirq.amplitude_damp(0.02)``, any gate with
  Kraus operators): on every qubit after every moment, as ``cirq.ConstantQubitNoiseModel`` does;
* a named spec, a dict of plain numbers: ``{"depolarize": p}``, ``{"amplitude_damp": γ}``,
  ``{"phase_damp": γ}``, ``{"bit_flip": p}``, ``{"phase_flip": p}`` (each on every qubit after every
  moment, in that order when several are named), and ``{"readout": p}`` or ``{"readout": [p01, p10]}``: a
  classical assignment error on every measured qubit, 0 read as 1 with probability p01 and 1 read as 0
  with p10. A spec may also hold ``"model"``: a NoiseModel or channel as above, applied before the named
  channels (so a Cirq model can be combined with readout error), and ``"trajectories": N``: simulate the
  noise by N state-vector trajectories per row instead of exact density matrices (for registers above 12
  qubits; channels that are mixtures of unitaries only), and with it ``"sample_based": True``: TFQ's
  ``sample_based`` meaning, one measurement per trajectory rather than each trajectory's exact values (on the
  engine: N shots of the exact density matrix, which have the same distribution).

`Noise.to_json` gives the named spec as plain JSON (a model as Cirq JSON text), which `as_noise` reads
back without running code. Readout error is not a gate: simulators apply it to measured probabilities
(`Noise.readout`).
"""
from __future__ import annotations

import json
import numbers
from dataclasses import dataclass

import cirq

# the named channels, in the order they follow each moment
CHANNELS = {
    "depolarize": cirq.depolarize,
    "amplitude_damp": cirq.amplitude_damp,
    "phase_damp": cirq.phase_damp,
    "bit_flip": cirq.bit_flip,
    "phase_flip": cirq.phase_flip,
}
NAMES = tuple(CHANNELS) + ("readout", "model", "trajectories", "sample_based")


def _probability(value, what: str, argument: str, received) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{argument}`: {what} must be a probability (a number in [0, 1]). Received: "
                        f"{argument}={received!r}")
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"`{argument}`: {what} must be in [0, 1]. Received: {argument}={received!r}")
    return value


def _channel_model(value, argument: str, received) -> cirq.NoiseModel:
    """A NoiseModel from a NoiseModel or one single-qubit channel, checked."""
    if isinstance(value, cirq.NoiseModel):
        return value
    if isinstance(value, cirq.Gate) and not isinstance(value, cirq.MeasurementGate):
        if cirq.is_parameterized(value):
            raise ValueError(f"`{argument}`: the channel {value!r} has symbolic parameters; noise takes numbers. "
                             f"Received: {argument}={received!r}")
        if not cirq.has_kraus(value):
            raise ValueError(f"`{argument}`: {value!r} is not a quantum channel (it has no Kraus operators). "
                             f"Received: {argument}={received!r}")
        if cirq.num_qubits(value) != 1:
            raise ValueError(f"`{argument}`: a channel applied to every qubit must act on one qubit; {value!r} acts "
                             f"on {cirq.num_qubits(value)}. Put wider channels in the circuit, or give a cirq.NoiseModel. "
                             f"Received: {argument}={received!r}")
        return cirq.ConstantQubitNoiseModel(value)
    raise TypeError(f"`{argument}` must be None, a cirq.NoiseModel, a single-qubit cirq channel (e.g. "
                    f"cirq.depolarize(0.01)) or a dict of named channels {NAMES}. Received: {argument}={received!r} "
                    f"({type(received).__name__})")


@dataclass(frozen=True)
class Noise:
    """Checked noise: a Cirq model and named channels applied to circuits, and a readout (assignment) error.

    Attributes:
        model: A `cirq.NoiseModel` applied first (None: none).
        channels: ((name, probability), …) of `CHANNELS`, applied after every moment in this order.
        readout: (p01, p10) or None: 0 read as 1 with probability p01, 1 read as 0 with p10.
        trajectories: None (exact density matrices) or trajectories per row.
        sample_based: One measurement per trajectory (TFQ's ``sample_based``), not its exact values.
    """

    model: cirq.NoiseModel | None = None
    channels: tuple = ()
    readout: tuple | None = None
    trajectories: int | None = None
    sample_based: bool = False

    @property
    def gates(self) -> bool:
        """Whether the noise adds channels to circuits (else it is readout error alone)."""
        return self.model is not None or bool(self.channels)

    def apply(self, circuit: cirq.AbstractCircuit) -> cirq.Circuit:
        """The circuit with this noise's channels added (readout error is not a gate and is not added)."""
        circuit = cirq.Circuit(circuit)
        if self.model is not None:
            circuit = cirq.Circuit(circuit.with_noise(self.model))
        if not self.channels:
            return circuit
        qubits = sorted(circuit.all_qubits())
        gates = [CHANNELS[name](p) for name, p in self.channels]
        moments = []
        for moment in circuit.moments:
            moments.append(moment)
            if moment.operations and not any(cirq.is_measurement(op) for op in moment.operations):
                moments.extend(cirq.Moment(gate.on_each(qubits)) for gate in gates)
        return cirq.Circuit(moments)

    def readout_matrix(self):
        """[[1 − p01, p10], [p01, 1 − p10]]: column j is the distribution of the bit read when j was measured."""
        p01, p10 = self.readout
        return [[1.0 - p01, p10], [p01, 1.0 - p10]]

    def to_json(self) -> dict:
        """The named spec of this noise, as plain JSON data (a model as Cirq JSON text under 'model');
        `as_noise` reads it back."""
        spec = {name: p for name, p in self.channels}
        if self.readout is not None:
            spec["readout"] = list(self.readout)
        if self.trajectories is not None:
            spec["trajectories"] = self.trajectories
        if self.sample_based:
            spec["sample_based"] = True
        if self.model is not None:
            try:
                spec["model"] = cirq.to_json(self.model)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"noise model {self.model!r} cannot be saved as Cirq JSON ({exc}); give a Cirq "
                                 "model that serialises (cirq.ConstantQubitNoiseModel, cirq.InsertionNoiseModel, …) or "
                                 "a named spec") from exc
        return spec

    def describe(self) -> str:
        """A short human-readable summary, e.g. 'depolarize 0.01, readout 0.02/0.05'."""
        parts = [] if self.model is None else [repr(self.model)]
        parts += [f"{name} {p:g}" for name, p in self.channels]
        if self.readout is not None:
            parts.append(f"readout {self.readout[0]:g}/{self.readout[1]:g}")
        if self.trajectories is not None:
            parts.append(f"{self.trajectories} trajectories" + (", one measurement each" if self.sample_based else ""))
        return ", ".join(parts) or "none"


def as_noise(value, argument: str = "noise") -> Noise | None:
    """A user's ``noise=`` value checked and turned into `Noise`, or None when it adds no noise.

    Raises a TypeError or ValueError naming ``argument``, the value and what was expected, before anything runs.
    """
    if value is None or isinstance(value, Noise):
        return value if value is None or value.gates or value.readout is not None else None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):  # JSON text of a spec, as configs hold it
            raise ValueError(f"`{argument}` as text must be a JSON dict of named channels {NAMES}. "
                             f"Received: {argument}={value!r}")
        value = parsed
    if not isinstance(value, dict):
        model = _channel_model(value, argument, value)
        return None if model is cirq.NO_NOISE else Noise(model=model)
    unknown = sorted(str(k) for k in value if k not in NAMES)
    if unknown:
        raise ValueError(f"`{argument}` names unknown channels {unknown}; the names are {NAMES}. "
                         f"Received: {argument}={value!r}")
    model = value.get("model")
    if isinstance(model, str):  # Cirq JSON text, as `Noise.to_json` writes it (data: Cirq's resolvers, no code)
        try:
            model = cirq.read_json(json_text=model)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"`{argument}`: 'model' is not Cirq JSON of a noise model ({exc}). "
                             f"Received: {argument}={value!r}") from exc
    if model is not None:
        model = _channel_model(model, argument, value)
        model = None if model is cirq.NO_NOISE else model
    channels = tuple((name, _probability(value[name], f"{name!r}", argument, value))
                     for name in CHANNELS if name in value)
    readout = value.get("readout")
    if readout is not None:
        pair = list(readout) if isinstance(readout, (list, tuple)) else [readout, readout]
        if len(pair) != 2:
            raise ValueError(f"`{argument}`: 'readout' must be p or [p01, p10]. Received: {argument}={value!r}")
        readout = tuple(_probability(p, f"'readout' {which}", argument, value) for p, which in zip(pair, ("p01", "p10")))
        if readout == (0.0, 0.0):
            readout = None
    channels = tuple((name, p) for name, p in channels if p > 0.0)
    trajectories = value.get("trajectories")
    if trajectories is not None and (isinstance(trajectories, bool) or not isinstance(trajectories, numbers.Integral)
                                     or trajectories < 1):
        raise ValueError(f"`{argument}`: 'trajectories' must be a positive int (trajectories per row) or None (exact "
                         f"density matrices). Received: {argument}={value!r}")
    sample_based = value.get("sample_based", False)
    if not isinstance(sample_based, bool):
        raise ValueError(f"`{argument}`: 'sample_based' must be True or False. Received: {argument}={value!r}")
    if sample_based and trajectories is None:
        raise ValueError(f"`{argument}`: 'sample_based' (one measurement per trajectory) needs 'trajectories': N. "
                         f"Received: {argument}={value!r}")
    noise = Noise(model, channels, readout, None if trajectories is None else int(trajectories), sample_based)
    return noise if noise.gates or noise.readout is not None else None


def readout_error_operators(operators, p01: float, p10: float) -> list:
    """Pauli operators whose exact expectations are what a device with assignment error reads for ``operators``.

    A term c·P read on the qubits T (each in its Pauli's basis) gives the product of its qubits' read signs;
    each read sign has mean a + b·s with a = p10 − p01 and b = 1 − p01 − p10 given the true sign s, independently
    per qubit, so ⟨c·P⟩ reads as Σ_{S ⊆ T} c · a^{|T∖S|} · b^{|S|} · ⟨P_S⟩ (P_S: P's factors on S; S = ∅: a constant).
    """
    a, b = p10 - p01, 1.0 - p01 - p10
    out = []
    for operator in operators:
        terms = operator if isinstance(operator, cirq.PauliSum) else [operator]
        total = cirq.PauliSum()
        for term in terms:
            items = list(term.items())
            for mask in range(2 ** len(items)):
                kept = [(q, p) for i, (q, p) in enumerate(items) if mask >> i & 1]
                weight = complex(term.coefficient) * a ** (len(items) - len(kept)) * b ** len(kept)
                if weight != 0:
                    total += cirq.PauliString(dict(kept), coefficient=weight)
        out.append(total)
    return out


def has_channels(circuit: cirq.AbstractCircuit) -> bool:
    """Whether ``circuit`` holds an operation with no unitary that is not a measurement (a channel)."""
    return any(not cirq.is_measurement(op) and not cirq.is_parameterized(op) and not cirq.has_unitary(op)
               for op in circuit.all_operations())


__all__ = ["CHANNELS", "NAMES", "Noise", "as_noise", "has_channels", "readout_error_operators"]
