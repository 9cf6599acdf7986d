"""`QuantumLayer`: what every quantum layer of hybridkeras shares, on tf_keras and on Keras 3.

Its simulation settings — ``backend`` (which simulator), ``repetitions`` (shots, None for exact
values) and ``differentiator`` — are checked against each other once, kept as attributes,
reported together by `simulation` and serialised by `get_config`, so a saved layer rebuilds
on the simulator it was trained on. Its inputs pass `finite_inputs`, which refuses NaN and Inf
with the layer's name before any circuit runs. Subclasses build their circuit after calling
``super().__init__`` (``self.backend`` is then resolved) and list their circuit's symbols in
`symbols`.

One layer code for both Kerases: a layer's body is a class written once against the API the two
share (``build``, ``call``, ``add_weight``, ``get_config``, `keras.ops` for arithmetic, and
``self.keras`` for initializers and the like), and each Keras gets it from one definition:
``ParallelPQC = tf_keras_layer(ParallelPQCBody)`` in its module for tf_keras (with TFQ; defined
only where hybridkeras runs on Keras 2, `hybridkeras._stack`), and ``keras3_layer(ParallelPQCBody)``
(the body on `Keras3QuantumLayer`) in `layers.keras3`. On Keras 3 the
layers run on the state-vector engine, on whichever backend Keras 3 runs, or with ``backend='tfq'``
on TFQ's ops through the simulator seam (`engines.simulators.make_simulation`; TensorFlow only).
"""
from __future__ import annotations

import keras as keras3

from hybridkeras._stack import KERAS_VERSION
from hybridkeras.engines.ops import check_finite, require_backend
from hybridkeras.engines.simulators import check_tfq_available
from hybridkeras.layers._backend import check_simulation

TF_KERAS = KERAS_VERSION == 2  # the tf_keras layers exist (tf_keras and TFQ are there, and chosen)

SIMULATION_SETTINGS = ("backend", "repetitions", "differentiator")


def layer_from_body(body, base, register, module=None):
    """The layer class of a layer body on ``base`` (a tf_keras or Keras 3 base), registered by ``register``.

    Named as the body without its ``Body`` suffix, with the body's docstring, in ``module`` (default:
    the body's own module).
    """
    name = body.__name__.removesuffix("Body")
    namespace = {"__doc__": body.__doc__, "__module__": module or body.__module__, "__qualname__": name}
    return register(type(name, (body, base), namespace))


def keras3_serializable(cls):
    """Registers a Keras 3 layer class as ``hybridkeras>Name`` (what `.keras` files name it by)."""
    return keras3.saving.register_keras_serializable(package="hybridkeras")(cls)


class QuantumLayerBody:
    """Base of the quantum layers' bodies: simulation settings, the input check, their config.

    Args:
        repetitions: None for exact expectations, or shots per circuit and operator.
        differentiator: 'adjoint' (exact), 'parameter_shift' (hardware-style, TFQ only), or
            None (the backend's choice).
        backend: 'tfq' or 'statevector'; None: the default of `hybridkeras.set_backend`
            (resolved when the layer is made, and saved with it). Keras 3 layers default to
            'statevector' (every backend); 'tfq' runs TFQ's ops and differentiators directly
            (`engines.tfq_adapter`, no tf_keras) on Keras' TensorFlow backend where TFQ is installed.
    """

    keras = None  # the Keras namespace the layer belongs to: tf_keras or Keras 3 (set by the two bases)
    keras_version = None

    def __init__(self, *, repetitions=None, differentiator=None, backend=None, **kwargs):
        super().__init__(**kwargs)
        if self.keras_version == 3 and backend is None:
            backend = "statevector"
        self.repetitions, self.differentiator, self.backend = check_simulation(repetitions, differentiator, backend)
        if self.keras_version == 3 and self.backend == "tfq":
            # TFQ's ops and differentiators behind the simulator seam (no tf_keras): Keras' TensorFlow backend with
            # TFQ installed, else an error naming what to change
            check_tfq_available(f"{type(self).__name__}(backend='tfq')")
            self.supports_jit = False  # TFQ's custom ops have no XLA kernels
        if self.keras_version == 2 and self.backend == "statevector":
            require_backend("tensorflow", f"The tf_keras layer {type(self).__name__}")

    @property
    def simulation(self) -> dict:
        """{'backend', 'repetitions', 'differentiator'}: the settings that decide how the circuits are simulated."""
        return {name: getattr(self, name) for name in SIMULATION_SETTINGS}

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


class Keras3QuantumLayer(QuantumLayerBody, keras3.layers.Layer):
    """The Keras 3 base of the quantum layers (the engine on Keras 3's backend); see `QuantumLayerBody`."""

    keras = keras3
    keras_version = 3


if TF_KERAS:
    from hybridkeras._compat import keras

    def serializable(cls):
        """Registers a tf_keras layer class as ``hybridkeras>Name`` and makes it restorable only from its config.

        tf_keras, loading a SavedModel whose class it does not know, would otherwise revive a
        placeholder layer that fails only when called ("Cannot call custom layer ... because the
        call function was not serialized"). With ``_must_restore_from_config`` the load itself
        fails, naming the class — ``Unknown layer: 'hybridkeras>ParallelPQC'`` — which says where
        it comes from: ``import hybridkeras`` (or load with `hybridkeras.load_model`).
        """
        cls._must_restore_from_config = True
        return keras.utils.register_keras_serializable(package="hybridkeras")(cls)

    class QuantumLayer(QuantumLayerBody, keras.layers.Layer):
        """The tf_keras base of the quantum layers (TFQ or the engine on TensorFlow); see `QuantumLayerBody`."""

        keras = keras
        keras_version = 2


def keras3_layer(body, module=None, *, plain=False):
    """The Keras 3 layer of a layer body: the body on `Keras3QuantumLayer` (``plain``: on Keras 3's `Layer`, for a
    body without a circuit), registered as ``hybridkeras>Name``."""
    return layer_from_body(body, keras3.layers.Layer if plain else Keras3QuantumLayer, keras3_serializable, module)


def tf_keras_layer(body, *, plain=False):
    """The tf_keras layer of a layer body: the body on `QuantumLayer` (``plain``: on tf_keras's `Layer`, for a body
    without a circuit), registered as ``hybridkeras>Name`` (Keras 2 only)."""
    return layer_from_body(body, keras.layers.Layer if plain else QuantumLayer, serializable)
