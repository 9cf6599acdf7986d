"""`CircuitLayer`: the Keras 3 base of the general circuit layers (TFQ's ``backend=`` and
``differentiator=``, our ``simulator=``), and `RowGroups`, which runs a batch whose rows hold
different Python circuits as one group per distinct circuit and puts the rows back in order."""
from __future__ import annotations

import cirq
import keras
import numpy as np
from keras import ops as K

from hybridkeras.engines.ops import check_finite, fresh_seed
from hybridkeras.engines.simulators import check_tfq_available, check_tfq_noise, make_simulation
from hybridkeras.layers._backend import resolve_noise
from hybridkeras.layers.base import register
from hybridkeras.layers.general.arguments import check_backend, check_simulator, differentiator_name

# Cirq simulators a config names, and re-creates on loading (TFQ's ops call them; results as from qsim)
SAVED_SIMULATORS = {cirq.Simulator: "cirq.Simulator", cirq.DensityMatrixSimulator: "cirq.DensityMatrixSimulator"}


def is_tensor(value) -> bool:
    """A backend tensor or a symbolic Keras tensor."""
    return keras.backend.is_keras_tensor(value) or keras.ops.is_tensor(value)


def is_string_tensor(value) -> bool:
    """A ``tf.string`` tensor (TFQ's serialised circuits or operators), symbolic or not."""
    return is_tensor(value) and keras.backend.standardize_dtype(value.dtype) == "string"


def get_initializer(value, default):
    """A Keras initializer from ``value`` (None: ``default``), with TFQ's message for an unknown one."""
    try:
        return keras.initializers.get(default if value is None else value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"Unknown initializer: {value!r} ({exc})") from exc


@register
class CircuitLayer(keras.layers.Layer):
    """What every general circuit layer shares.

    Args:
        backend: TFQ's meaning: None or 'noiseless' (exact), 'noisy' (TFQ's trajectory simulation: needs
            ``repetitions``; the engine computes the trajectories' limit exactly, on density matrices),
            ``cirq.Simulator()`` (exact), ``cirq.DensityMatrixSimulator()`` (exact; `State` returns density
            matrices), or another `cirq.Sampler` (TFQ's ops only). Circuits may hold channels
            (``cirq.depolarize(p).on(q)``, ``circuit.with_noise(...)``): the engine runs them on exact density
            matrices whatever ``backend`` says. A
            saved layer names the two Cirq simulators (noise-free) and re-creates them on loading; saving
            a layer with any other Cirq object is refused with an error, since no file can re-create it.
        differentiator: None or a TFQ differentiator (`tfq.differentiators.Adjoint()`, ``ParameterShift()``,
            ``ForwardDifference()``, ``CentralDifference()``) or its name. The engine differentiates every
            circuit exactly by autodiff (what ``Adjoint`` computes); TFQ's ops use the one given.
        simulator: 'engine' (default: the state-vector engine, on TensorFlow, JAX and PyTorch) or
            'tfq' (TensorFlow Quantum's ops, on Keras' TensorFlow backend where TFQ is installed).
        noise: Device noise added to every circuit the layer runs (`hybridkeras.circuits.noise.as_noise`): a
            `cirq.NoiseModel`, one single-qubit channel (after every moment, on every qubit), or a named spec
            such as ``{"depolarize": 0.01, "readout": [0.02, 0.05]}``. The engine simulates it exactly on
            density matrices (`State` then returns density matrices), or by trajectories when the spec names
            ``"trajectories"``; ``simulator='tfq'`` runs TFQ's noisy trajectory ops (the spec must name
            ``"trajectories"``). Saved in the config as JSON.
        seed: Seed of the shot sampler of a sampled layer, for reproducible shots (None: fresh
            operating-system entropy; NumPy's, Python's and Keras' global streams are never drawn from).
        check_inputs: Refuse NaN or Inf symbol values and input values with an error naming the layer
            (`engines.ops.check_finite`; default True). Under `jax.jit` the check is a host callback in
            a branch taken only for a bad batch. The step's own work is unchanged on JAX 0.12, but JAX
            runs a function holding a callback synchronously, so in `fit` Keras' per-step Python work
            stops overlapping the step: about 0.1–0.2 ms a step on a CPU (0.3 ms more on JAX 0.5, TFQ's
            pin; docs/tfq_migration.md). TensorFlow under XLA cannot raise at run time
            and drops the check. False drops it everywhere, and a NaN then reaches the outputs and, through
            training, the weights.
    """

    sampled = False  # shots are part of the layer's output (SampledExpectation, Sample)
    state_layer = False

    def __init__(self, backend=None, differentiator=None, *, simulator=None, seed=None, check_inputs=True, noise=None,
                 **kwargs):
        legacy = backend if backend in ("statevector", "tfq") else None  # configs written by the Keras 2 versions
        simulator = check_simulator(simulator, legacy)
        backend = None if legacy else backend
        layer = type(self).__name__
        self.backend_kind = check_backend(backend, layer, sampled=self.sampled, state=self.state_layer)
        differentiator = differentiator_name(differentiator, extended=True)
        self.noise = resolve_noise(noise)
        if self.noise is not None and simulator == "tfq":
            check_tfq_noise(self.noise, "state" if getattr(self, "kind", None) in ("state", "sample") else None, None,
                            differentiator)
        super().__init__(**kwargs)
        if simulator == "tfq":
            check_tfq_available(f"{layer}(simulator='tfq')")
            self.supports_jit = False  # TFQ's custom ops have no XLA kernels (Keras then never jit-compiles the model)
        if self.backend_kind in ("sampler", "simulator") and simulator == "engine":
            raise ValueError(f"{layer}: `backend={backend!r}` is a Cirq simulator or sampler that only TFQ's ops can "
                             "call; use simulator='tfq' on Keras' TensorFlow backend, or backend=None for the engine")
        self.simulator, self.backend, self.differentiator = simulator, backend, differentiator
        self.seed = None if seed is None else int(seed)
        if not isinstance(check_inputs, bool):
            raise TypeError(f"`check_inputs` must be True or False. Received: check_inputs={check_inputs!r}")
        self.check_inputs = check_inputs
        self._simulations_made = 0
        self._circuit_tensor_run = None

    @property
    def simulation(self) -> dict:
        """The settings that decide how circuits are simulated (recorded with every export)."""
        return {"simulator": self.simulator, "backend": self.backend_kind, "differentiator": self.differentiator,
                "noise": None if self.noise is None else self.noise.to_json()}

    def _simulation(self, circuit, symbols, readout, **kwargs):
        # each simulation of a layer (one per distinct circuit) samples its own stream
        seed = fresh_seed() if self.seed is None else (self.seed + 7919 * self._simulations_made) % (2**31 - 1)
        self._simulations_made += 1
        return make_simulation(self.simulator, circuit, symbols, readout, seed=seed, noisy=self.backend_kind == "noisy",
                               differentiator=self.differentiator, backend=self.backend, noise=self.noise, **kwargs)

    def circuit_tensor_run(self, *, expectation: bool, sampled: bool | None = None):
        """The runner of circuits given as a ``tf.string`` tensor (TFQ's serialised circuits; Keras' TensorFlow
        backend with TFQ installed): TFQ's ops (``simulator='tfq'``) or the engine, made once per layer."""
        if self._circuit_tensor_run is None:
            from hybridkeras.engines.tfq_adapter import EngineCircuitTensor, TFQCircuitTensor

            if self.simulator == "tfq":
                self._circuit_tensor_run = TFQCircuitTensor(
                    noisy=self.backend_kind == "noisy", sampled=self.sampled if sampled is None else sampled,
                    differentiator=self.differentiator,
                    backend=self.backend, expectation=expectation)
            else:
                def simulate(circuit, names, readout, repetitions):
                    qubits = sorted(circuit.all_qubits()) if isinstance(readout, str) else None
                    return self._simulation(circuit, names, readout, qubits=qubits, repetitions=repetitions)

                self._circuit_tensor_run = EngineCircuitTensor(simulate)
        return self._circuit_tensor_run

    def takes_circuit_tensors(self, what: str):
        """Checks that TFQ can parse a ``tf.string`` circuit tensor here, and keeps Keras from XLA-compiling the
        layer (neither TFQ's ops nor the engine's ``tf.py_function`` have XLA kernels)."""
        check_tfq_available(f"{type(self).__name__}: {what} as a tf.string tensor (TFQ's serialised circuits)")
        self.supports_jit = False

    def finite(self, values, what: str = "symbol_values"):
        """``values`` as float32, refused with the layer's name if any is NaN or Inf (see `engines.ops.check_finite`)."""
        if not self.check_inputs:
            return K.cast(values, "float32")
        return check_finite(values, f"{type(self).__name__} received NaN or Inf in `{what}` (layer {self.name!r})")

    def get_config(self):
        config = super().get_config()
        config.update(backend=self._saved_backend(), differentiator=self.differentiator, simulator=self.simulator,
                      seed=self.seed, check_inputs=self.check_inputs,
                      noise=None if self.noise is None else self.noise.to_json())
        return config

    def _saved_backend(self):
        """``backend`` as JSON: TFQ's names as given, Cirq's two simulators by name; any other Cirq object cannot be
        re-created from a file, so saving it is refused rather than silently replaced."""
        backend = self.backend
        if backend is None or isinstance(backend, str):
            return backend
        name = SAVED_SIMULATORS.get(type(backend))
        if name is None or getattr(backend, "noise", cirq.NO_NOISE) is not cirq.NO_NOISE:
            raise ValueError(f"{type(self).__name__} (layer {self.name!r}): backend={backend!r} "
                             f"({type(backend).__name__}) cannot be saved: a file can re-create only 'noiseless', "
                             "'noisy', None, and a noise-free cirq.Simulator() or cirq.DensityMatrixSimulator(). "
                             "Save the weights (model.save_weights) and rebuild the layer with this backend in code")
        return name

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        names = {name: simulator for simulator, name in SAVED_SIMULATORS.items()}
        names["density_matrix"] = cirq.DensityMatrixSimulator  # configs saved before the simulators were named
        if config.get("backend") in names:
            config["backend"] = names[config["backend"]]()
        return cls(**config)


class RowGroups:
    """Rows grouped by a static key (their circuit, operators, shots): ``run(values, fn)`` calls ``fn(key, rows)``
    once per group, on that group's rows of ``values``, and returns the results in the rows' order."""

    def __init__(self, keys):
        self.keys = list(keys)
        self.groups = {}
        for row, key in enumerate(self.keys):
            self.groups.setdefault(key, []).append(row)

    def __len__(self):
        return len(self.keys)

    def run(self, values, fn):
        if len(self.groups) == 1:
            ((key, _),) = self.groups.items()
            return fn(key, values)
        parts, order = [], []
        for key, rows in self.groups.items():
            parts.append(fn(key, K.take(values, np.asarray(rows, np.int32), axis=0)))
            order.extend(rows)
        inverse = np.argsort(np.asarray(order)).astype(np.int32)
        return K.take(K.concatenate(parts, axis=0), inverse, axis=0)
