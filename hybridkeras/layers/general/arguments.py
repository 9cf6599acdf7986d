"""The general circuit layers' arguments, checked in pure Cirq (no Keras, no TensorFlow): circuits,
operators, symbol names, differentiators and TFQ's ``backend=`` values.

Shared by the general circuit layers of this package,
so both accept the same values and say the same thing about a bad one.
"""
from __future__ import annotations

import numbers

import cirq
import numpy as np
import sympy

from hybridkeras.circuits.serialization import from_json

PAULI = (cirq.PauliString, cirq.PauliSum)

# TFQ's differentiators by class name (checked by name: TFQ need not be installed to read a config)
DIFFERENTIATOR_NAMES = {"Adjoint": "adjoint", "ParameterShift": "parameter_shift",
                        "ForwardDifference": "forward_difference", "CentralDifference": "central_difference"}

SIMULATORS = ("engine", "tfq")


def differentiator_name(value, *, extended: bool = False):
    """A differentiator as its name: None, 'adjoint', 'parameter_shift', or TFQ's Adjoint() / ParameterShift()
    (``extended``: also ForwardDifference() / CentralDifference() and their names)."""
    known = dict(DIFFERENTIATOR_NAMES)
    if not extended:
        known = {k: v for k, v in known.items() if v in ("adjoint", "parameter_shift")}
    if value is None or (isinstance(value, str) and value in known.values()):
        return value
    name = None if isinstance(value, str) else known.get(type(value).__name__)
    if name is None:
        accepted = ", ".join(repr(v) for v in known.values())
        raise TypeError(f"`differentiator` must be a tfq.differentiators.Differentiator ({', '.join(known)}), one of "
                        f"their names ({accepted}), or None. Received: differentiator={value!r}")
    return name


def check_model_circuit(value, name: str = "model_circuit") -> cirq.Circuit:
    value = from_json(value, what=name)
    if isinstance(value, cirq.FrozenCircuit):
        value = value.unfreeze()
    if not isinstance(value, cirq.Circuit):
        raise TypeError(f"{name} must be a cirq.Circuit. Received: {name}={type(value).__name__}")
    return value


def check_operators(value, name: str = "operators") -> list:
    """A list of PauliStrings / PauliSums (one output each) from one of them or a list."""
    value = from_json(value, what=name)
    if isinstance(value, PAULI):
        value = [value]
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"`{name}` must be a cirq.PauliSum or cirq.PauliString, or a non-empty list of them. "
                        f"Received: {name}={value!r}")
    bad = [op for op in value if not isinstance(op, PAULI)]
    if bad:
        raise TypeError(f"Each element of `{name}` must be a cirq.PauliSum or cirq.PauliString. Received: {bad[0]!r}")
    return list(value)


def check_operator_qubits(operators, circuit, name: str = "model_circuit") -> None:
    inside = set(circuit.all_qubits())
    outside = sorted(set().union(*(op.qubits for op in operators)) - inside)
    if outside:
        raise ValueError(f"`operators` act on {outside!r}, which `{name}` does not touch (its qubits: "
                         f"{sorted(inside)!r}). Measure qubits of the circuit, or add identity gates (cirq.I) on them")


def check_names(value, circuits=(), *, unused_ok: bool = False) -> list:
    """Symbol names as strings: distinct, covering every symbol of ``circuits`` (when given) and, unless
    ``unused_ok`` (TFQ's executors accept names a circuit does not use), none beyond them."""
    if isinstance(value, (str, sympy.Symbol)) or not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"`symbol_names` must be a list of str or sympy.Symbol. Received: symbol_names={value!r}")
    value = [v.decode() if isinstance(v, bytes) else v for v in (np.asarray(value).reshape(-1).tolist()
                                                                  if isinstance(value, np.ndarray) else value)]
    bad = [v for v in value if not isinstance(v, (str, sympy.Symbol))]
    if bad:
        raise TypeError(f"Each element of `symbol_names` must be a string or sympy.Symbol. Received: {bad[0]!r}")
    names = [str(v) for v in value]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"`symbol_names` must be distinct; {repeated} appear more than once. Received: symbol_names={names}")
    if circuits:
        used = set().union(*(cirq.parameter_names(c) for c in circuits))
        lacking = sorted(set(names) - used)
        if lacking and not unused_ok:
            raise ValueError(f"`symbol_names` holds {lacking}, which the circuit lacks (its symbols: {sorted(used)}). "
                             f"Received: symbol_names={names}")
        missing = sorted(used - set(names))
        if missing:
            raise ValueError(f"Could not find symbol in parameter map: the circuit has the symbols {missing}, which "
                             f"`symbol_names` does not give. Received: symbol_names={names}")
    return names


def as_circuits(value):
    """A list of circuits when ``value`` is a cirq.Circuit or a list of them, else None."""
    if isinstance(value, (cirq.Circuit, cirq.FrozenCircuit)):
        return [check_model_circuit(value, "inputs")]
    if isinstance(value, (list, tuple, np.ndarray)) and len(value) and all(
            isinstance(c, (cirq.Circuit, cirq.FrozenCircuit)) for c in value):
        return [check_model_circuit(c, "inputs") for c in value]
    return None


def check_repetitions_value(value, name: str = "repetitions"):
    """Shots: a positive int, or a list/array of them (one per operator, or per row and operator, as TFQ takes)."""
    if isinstance(value, (list, tuple, np.ndarray)):
        array = np.asarray(value)
        if array.size == 0 or not np.issubdtype(array.dtype, np.integer) or (array < 1).any():
            raise TypeError(f"`{name}` cannot be parsed: give a positive int or an array of positive ints. "
                            f"Received: {name}={value!r}")
        return array.astype(np.int64)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` cannot be parsed: give a positive int (shots). Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be greater than 0 (a positive int). Received: {name}={value!r}")
    return int(value)


def backend_kind(value) -> str:
    """What a TFQ ``backend=`` value asks for: 'noiseless' (None, 'noiseless', cirq.Simulator()), 'noisy' ('noisy'),
    'density_matrix' (cirq.DensityMatrixSimulator()), 'sampler' (any other cirq.Sampler), else 'unknown'."""
    if value is None or value == "noiseless":
        return "noiseless"
    if value == "noisy":
        return "noisy"
    if isinstance(value, cirq.DensityMatrixSimulator):
        return "density_matrix"
    if isinstance(value, cirq.Simulator):
        return "noiseless"
    if isinstance(value, (cirq.Sampler, cirq.SimulatesExpectationValues, cirq.SimulatesFinalState)):
        return "sampler" if isinstance(value, cirq.Sampler) else "simulator"
    return "unknown"


def check_backend(value, layer: str, *, sampled: bool, state: bool = False) -> str:
    """A TFQ ``backend=`` value checked with TFQ's rules (TypeError for a value TFQ refuses); returns its kind."""
    kind = backend_kind(value)
    if kind == "unknown":
        wanted = ("'noiseless', 'noisy', a cirq.Sampler or None" if sampled else
                  "'noiseless', a cirq.SimulatesFinalState or None" if state else
                  "'noiseless', 'noisy', a cirq.SimulatesExpectationValues or None")
        raise TypeError(f"{layer}: backend={value} is invalid; `backend` must be {wanted}. Received: backend={value!r}")
    if kind == "sampler" and not sampled and not isinstance(value, cirq.SimulatesExpectationValues):
        raise TypeError(f"{layer}: `backend` {type(value).__name__} is a cirq.Sampler, which estimates from shots: use "
                        f"SampledExpectation (or Sample) with it. Received: backend={value!r}")
    if kind == "simulator" and sampled and not isinstance(value, cirq.Sampler):
        raise TypeError(f"{layer}: `backend` {type(value).__name__} is not a cirq.Sampler (it computes exact values: use "
                        f"Expectation or State with it). Received: backend={value!r}")
    return kind


def check_simulator(value, backend=None) -> str:
    """'engine' (the state-vector engine, every Keras backend) or 'tfq' (TensorFlow Quantum's ops, TF backend).
    Configs written by the Keras 2 versions, which named the simulator ``backend='statevector'|'tfq'``, still read."""
    if value is None and backend in ("statevector", "tfq"):
        value = "engine" if backend == "statevector" else "tfq"
    value = "engine" if value in (None, "statevector") else value
    if value not in SIMULATORS:
        raise ValueError(f"`simulator` must be one of {SIMULATORS}: 'engine' (the state-vector engine, on every Keras "
                         f"backend) or 'tfq' (TensorFlow Quantum's ops, on the TensorFlow backend). "
                         f"Received: simulator={value!r}")
    return value


def check_pqc_repetitions(value):
    """PQC's ``repetitions``: None or a positive int, with TFQ's error types."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"repetitions must be a positive integer value. Received: repetitions={value!r}")
    if value <= 0:
        raise ValueError(f"Repetitions must be greater than zero. Received: repetitions={value!r}")
    return int(value)


def check_pqc_backend(value, layer: str, repetitions) -> str:
    """PQC / ControlledPQC's ``backend`` with TFQ's rules: exact values need a cirq.SimulatesExpectationValues (or
    None), shots a cirq.Sampler (or None); 'noisy' belongs to TFQ's NoisyPQC. Returns the backend's kind."""
    if value == "noisy":
        raise ValueError(f"{layer} does not take backend='noisy'; TFQ runs noisy circuits in tfq.layers.Noisy{layer} "
                         "(noise on these layers arrives with their `noise=` setting)")
    kind = backend_kind(value)
    if value is None or value == "noiseless":
        return kind
    if repetitions is None and not isinstance(value, cirq.SimulatesExpectationValues):
        raise TypeError(f"{layer}: for exact values (repetitions=None) `backend` must be a "
                        f"cirq.sim.simulator.SimulatesExpectationValues or None. Received: backend={value!r}")
    if repetitions is not None and not isinstance(value, cirq.Sampler):
        raise TypeError(f"{layer}: with repetitions `backend` must be a cirq.Sampler or None. Received: "
                        f"backend={value!r}")
    return kind
