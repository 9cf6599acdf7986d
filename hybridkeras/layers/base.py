"""`QuantumLayer`: what every quantum layer of hybridkeras shares.

Its simulation settings — ``backend`` (which simulator), ``repetitions`` (shots, None for exact
values) and ``differentiator`` — are checked against each other once, kept as attributes,
reported together by `simulation` and serialised by `get_config`, so a saved layer rebuilds
on the simulator it was trained on. Its inputs pass `finite_inputs`, which refuses NaN and Inf
with the layer's name before any circuit runs. Subclasses build their circuit after calling
``super().__init__`` (``self.backend`` is then resolved) and list their circuit's symbols in
`symbols`.
"""
from __future__ import annotations

from hybridkeras._compat import keras, tf
from hybridkeras.layers._backend import check_simulation

SIMULATION_SETTINGS = ("backend", "repetitions", "differentiator")


def serializable(cls):
    """Registers a layer class as ``hybridkeras>Name`` and makes it restorable only from its config.

    tf_keras, loading a SavedModel whose class it does not know, would otherwise revive a
    placeholder layer that fails only when called ("Cannot call custom layer ... because the
    call function was not serialized"). With ``_must_restore_from_config`` the load itself
    fails, naming the class — ``Unknown layer: 'hybridkeras>ParallelPQC'`` — which says where
    it comes from: ``import hybridkeras`` (or load with `hybridkeras.load_model`).
    """
    cls._must_restore_from_config = True
    return keras.utils.register_keras_serializable(package="hybridkeras")(cls)


class QuantumLayer(keras.layers.Layer):
    """Base of the quantum layers: simulation settings, the input check, their config.

    Args:
        repetitions: None for exact expectations, or shots per circuit and operator.
        differentiator: 'adjoint' (exact), 'parameter_shift' (hardware-style, TFQ only), or
            None (the backend's choice).
        backend: 'tfq' or 'statevector'; None: the default of `hybridkeras.set_backend`
            (resolved when the layer is made, and saved with it).
    """

    def __init__(self, *, repetitions=None, differentiator=None, backend=None, **kwargs):
        super().__init__(**kwargs)
        self.repetitions, self.differentiator, self.backend = check_simulation(repetitions, differentiator, backend)

    @property
    def simulation(self) -> dict:
        """{'backend', 'repetitions', 'differentiator'}: the settings that decide how the circuits are simulated."""
        return {name: getattr(self, name) for name in SIMULATION_SETTINGS}

    @property
    def symbols(self) -> list:
        """The circuit's symbols, in the order the layer fills them."""
        raise NotImplementedError

    def finite_inputs(self, inputs):
        """``inputs`` as float32, refused (InvalidArgumentError naming the layer) if any value is NaN or Inf."""
        return tf.debugging.check_numerics(tf.cast(inputs, tf.float32),
                                           f"{type(self).__name__} received NaN or Inf inputs (layer {self.name!r})")

    def get_config(self):
        config = super().get_config()
        config.update(self.simulation)
        return config
