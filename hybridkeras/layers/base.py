"""`QuantumLayer`: what every paper layer of hybridkeras shares, and `register`, which names a layer class
``hybridkeras>Name`` for `.keras` files.

Its simulation settings — ``backend`` (which simulator), ``repetitions`` (shots, None for exact
values) and ``differentiator`` — are checked against each other once, kept as attributes,
reported together by `simulation` and serialised by `get_config`, so a saved layer rebuilds
on the simulator it was trained on. Its inputs pass `finite_inputs`, which refuses NaN and Inf
with the layer's name before any circuit runs. Subclasses build their circuit after calling
``super().__init__`` (``self.backend`` is then resolved) and list their circuit's symbols in
`symbols`.

The layers are Keras 3 layers written in `keras.ops`: ``backend='statevector'`` (the default) runs the
state-vector engine on whichever backend Keras runs (TensorFlow, JAX or PyTorch); ``backend='tfq'`` runs
TensorFlow Quantum's ops and differentiators through the simulator seam (`engines.simulators.make_simulation`),
on Keras' TensorFlow backend where TFQ is installed.
"""
from __future__ import annotations

import keras

from hybridkeras.engines.ops import check_finite
from hybridkeras.engines.simulators import check_tfq_available, check_tfq_noise
from hybridkeras.layers._backend import check_simulation, resolve_noise

SIMULATION_SETTINGS = ("backend", "repetitions", "differentiator", "noise")


def register(cls):
    """Registers a layer class as ``hybridkeras>Name`` (the name `.keras` files give it)."""
    return keras.saving.register_keras_serializable(package="hybridkeras")(cls)


class QuantumLayer(keras.layers.Layer):
    """Base of the paper layers: simulation settings, the input check, their config.

    Args:
        repetitions: None for exact expectations, or shots per circuit and operator.
        differentiator: 'adjoint' (exact), 'parameter_shift' (hardware-style, TFQ only), or
            None (the simulator's choice).
        backend: 'statevector' (the state-vector engine, on every Keras backend) or 'tfq' (TensorFlow Quantum's
            ops and differentiators, on Keras' TensorFlow backend where TFQ is installed); None: the default of
            `hybridkeras.set_backend` ('statevector' unless changed), resolved when the layer is made and saved
            with it.
        noise: Device noise on the layer's circuits (`hybridkeras.circuits.noise.as_noise`): None, a
            `cirq.NoiseModel`, one single-qubit channel (after every moment, on every qubit), or a named spec such
            as ``{"depolarize": 0.01, "readout": [0.02, 0.05]}``. The state-vector engine then simulates exact
            density matrices on every Keras backend (or trajectories, when the spec names ``"trajectories"``);
            ``backend='tfq'`` runs TFQ's noisy trajectory ops (the spec must name ``"trajectories"``, and the
            differentiator be 'parameter_shift'). Saved with the layer as JSON; `hybridkeras.load_model(...,
            noise=...)` evaluates a saved model under other noise.
    """

    def __init__(self, *, repetitions=None, differentiator=None, backend=None, noise=None, **kwargs):
        noise = resolve_noise(noise)  # checked before anything is made (or the one `load_model(noise=)` gives)
        super().__init__(**kwargs)
        self.repetitions, self.differentiator, self.backend = check_simulation(repetitions, differentiator, backend)
        self.noise = noise
        if noise is not None and self.backend == "tfq":
            check_tfq_noise(noise, None, self.repetitions, self.differentiator)
        if self.backend == "tfq":
            # Keras' TensorFlow backend with TFQ installed, else an error naming what to change
            check_tfq_available(f"{type(self).__name__}(backend='tfq')")
            self.supports_jit = False  # TFQ's custom ops have no XLA kernels

    @property
    def simulation(self) -> dict:
        """{'backend', 'repetitions', 'differentiator', 'noise'}: the settings that decide how the circuits are
        simulated (noise as its JSON spec, or None)."""
        settings = {name: getattr(self, name) for name in SIMULATION_SETTINGS}
        settings["noise"] = None if self.noise is None else self.noise.to_json()
        return settings

    @property
    def symbols(self) -> list:
        """The circuit's symbols, in the order the layer fills them."""
        raise NotImplementedError

    def finite_inputs(self, inputs):
        """``inputs`` as float32, refused (naming the layer) if any value is NaN or Inf (see `engines.ops.check_finite`)."""
        return check_finite(inputs, f"{type(self).__name__} received NaN or Inf inputs (layer {self.name!r})")

    def get_config(self):
        config = super().get_config()
        config.update(self.simulation)
        return config
