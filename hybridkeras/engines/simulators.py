"""The one seam between the layers and the simulators: `make_simulation` returns an object with
``__call__(values, shared=None)`` (expectations or probabilities), ``state(values)`` and
``samples(values, repetitions)``, whichever simulator runs it, so a layer never branches on it.

* ``'engine'``: the state-vector engine (`StateVectorCircuit`), on every Keras 3 backend; circuits with
  channels, or with ``noise=``, on its exact density matrices (`DensityMatrixCircuit`).
* ``'tfq'``: TensorFlow Quantum's ops and differentiators, on Keras' TensorFlow backend, where
  TFQ is installed; any other backend gets an error naming the one to switch to.
"""
from __future__ import annotations

import importlib.util

import cirq

from hybridkeras.circuits.noise import Noise, has_channels, readout_error_operators
from hybridkeras.circuits.readouts import register_of
from hybridkeras.engines.density import MAX_DENSITY_QUBITS, DensityMatrixCircuit
from hybridkeras.engines.ops import backend
from hybridkeras.engines.statevector import StateVectorCircuit
from hybridkeras.engines.trajectories import TrajectoryCircuit


class SimulatorUnavailableError(ValueError):
    """The simulator asked for cannot run on this Keras backend or installation."""


def check_tfq_available(what: str = "simulator='tfq'") -> None:
    """Raises `SimulatorUnavailableError` unless TFQ's ops can run here (Keras' TensorFlow backend, TFQ installed)."""
    if backend() != "tensorflow":
        raise SimulatorUnavailableError(
            f"{what} runs TensorFlow Quantum's ops, which need Keras' TensorFlow backend; this process runs Keras on "
            f"{backend()!r}. Set KERAS_BACKEND=tensorflow before Python starts, or use simulator='engine' (the same "
            "numbers on every backend)")
    if importlib.util.find_spec("tensorflow_quantum") is None:
        raise SimulatorUnavailableError(
            f"{what} needs TensorFlow Quantum, which is not installed (`pip install \"hybridkeras[tfq]\"`, Python 3.11 "
            "or 3.12); or use simulator='engine' (the same numbers)")


def check_tfq_noise(noise: Noise, readout=None, repetitions=None, differentiator=None) -> None:
    """Refuses, naming what to change, noise that TFQ's noisy ops cannot run: they average trajectories (so a
    trajectory count is needed), give Pauli expectations (not states or probabilities of their own), and are
    differentiated by parameter shift or finite differences, not the adjoint method."""
    if noise.trajectories is None and repetitions is None:
        raise ValueError("TFQ simulates noise by trajectories (its noisy ops): give noise={..., 'trajectories': N}, or "
                         f"run the engine, which simulates it exactly. Received: noise={noise.to_json()!r}")
    if isinstance(readout, str):
        raise ValueError("TFQ's noisy ops give Pauli expectations; states, samples and 'probs' under noise= run on the "
                         "engine (simulator='engine')")
    if differentiator == "adjoint":
        raise ValueError("TFQ differentiates noisy trajectories with 'parameter_shift' (or finite differences), not "
                         "'adjoint'. Received: differentiator='adjoint' with noise=")


def make_simulation(simulator: str, circuit: cirq.Circuit, symbols, readout, *, qubits=None, shared: int = 0,
                    repetitions=None, seed=None, noisy: bool = False, differentiator=None, backend=None,
                    noise: Noise | None = None):
    """A simulation of ``circuit`` with ``symbols`` (column order of the values) read out as ``readout``: a list of
    Pauli operators (one output each), 'probs' (the 2^n probabilities) or 'state' (for `state` / `samples`).

    ``noisy``, ``differentiator`` and ``backend`` (TFQ's meaning) reach TFQ's ops; the engine differentiates exactly
    by autodiff. ``noise`` (a checked `circuits.noise.Noise`) adds its channels to the circuit and its readout error
    to the measurements; on the engine a circuit with channels (its own or the noise's) runs on exact density
    matrices (`engines.density`), or by trajectories when the noise names them (`engines.trajectories`), a
    channel-free one on state vectors; on TFQ, by TFQ's noisy trajectory ops (`check_tfq_noise`)."""
    if simulator == "tfq":
        check_tfq_available()
        from hybridkeras.engines.tfq_adapter import TFQSimulation

        if noise is not None:  # TFQ's noisy ops: trajectories of the circuit with the noise's channels
            check_tfq_noise(noise, readout, repetitions, differentiator)
            if noise.gates:
                circuit = noise.apply(circuit)
            if noise.readout is not None:
                readout = readout_error_operators(readout, *noise.readout)
            return TFQSimulation(circuit, symbols, readout, qubits=qubits, noisy=True, differentiator=differentiator,
                                 repetitions=repetitions if repetitions is not None else noise.trajectories,
                                 sample_based=noise.sample_based)
        return TFQSimulation(circuit, symbols, readout, qubits=qubits, repetitions=repetitions, noisy=noisy,
                             differentiator=differentiator, backend=backend)
    operators = "probs" if isinstance(readout, str) else readout
    if noise is not None and noise.gates:
        circuit = noise.apply(circuit)
    sample_based = noise is not None and noise.sample_based
    if sample_based:  # one measurement per trajectory: shots of the exact mixed state
        register = len(qubits) if qubits is not None else len(register_of(circuit, operators))
        if register > MAX_DENSITY_QUBITS:
            raise ValueError(f"'sample_based' noise (one measurement per trajectory) is drawn on the engine as shots of "
                             f"the exact density matrix, which holds at most {MAX_DENSITY_QUBITS} qubits; this circuit "
                             f"has {register}. Drop 'sample_based' (exact values per trajectory), or use "
                             "simulator='tfq'")
        repetitions = repetitions if repetitions is not None else noise.trajectories
    if noise is not None and noise.trajectories is not None and not sample_based:
        if noise.readout is not None and operators == "probs":
            raise ValueError("Readout error on probabilities is simulated on density matrices; with 'trajectories' give "
                             "Pauli readouts, or drop 'trajectories' (exact, up to 12 qubits)")
        if noise.readout is not None:
            operators = readout_error_operators(operators, *noise.readout)
        return TrajectoryCircuit(circuit, symbols, operators, trajectories=noise.trajectories, qubits=qubits,
                                 shared=shared, repetitions=None if noisy else repetitions, seed=seed)
    if noise is not None or has_channels(circuit):
        if noisy and not sample_based:  # TFQ's trajectories estimate the mixed state's values; the engine: exactly
            repetitions = None
        return DensityMatrixCircuit(circuit, symbols, operators, qubits=qubits, shared=shared, repetitions=repetitions,
                                    seed=seed, readout_error=None if noise is None or noise.readout is None
                                    else noise.readout_matrix())
    if noisy:  # trajectories of a channel-free circuit are all the exact state
        repetitions = None
    return StateVectorCircuit(circuit, symbols, operators, qubits=qubits, shared=shared, repetitions=repetitions,
                              seed=seed)


__all__ = ["SimulatorUnavailableError", "check_tfq_available", "check_tfq_noise", "make_simulation"]
