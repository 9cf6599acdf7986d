"""Fixed feature transforms fitted on training data with `adapt`, saved as layer weights, and the image check.

They turn a two-stage pipeline (fit PCA / a scaler on training codes, then train a head)
into one Keras model that can be exported and reloaded without scikit-learn state.

Each is written in `keras.ops`, so it runs on every Keras backend.
"""
from __future__ import annotations

import numpy as np
import keras
from keras import ops as K

from hybridkeras.engines.ops import check_all, check_finite
from hybridkeras.layers.base import register
from hybridkeras.layers._validation import check_positive_int, check_rank2


def _as_matrix(layer: str, data) -> np.ndarray:
    array = np.asarray(data, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 1:
        raise ValueError(f"{layer}.adapt expects a (samples, features) array. Received shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{layer}.adapt received NaN or Inf values")
    return array


class _Adapted(keras.layers.Layer):
    """Base for layers whose non-trainable weights are fitted by `adapt(data)`."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)

    def _ensure_built(self, data: np.ndarray) -> None:
        if not self.built:
            self.build((None, data.shape[1]))
        elif data.shape[1] != self.features:
            raise ValueError(
                f"{type(self).__name__} was built for {self.features} features; adapt data "
                f"has {data.shape[1]}. Received shape {data.shape}"
            )

    @property
    def is_adapted(self) -> bool:
        return bool(self.built and float(K.convert_to_numpy(self._adapted)) > 0)


@register
class PCAProjection(_Adapted):
    """Projects features onto their first `components` principal axes (fitted by `adapt`).

    Computes (x − mean) · V[:, :components], with signs fixed so that the largest-magnitude
    entry of each axis is positive (as scikit-learn does), so the result is reproducible.

    Args:
        components: Number of principal components to keep.

    Input shape:
        (batch, features), features >= components.

    Output shape:
        (batch, components).

    Example:
        >>> pca = PCAProjection(5)
        >>> pca.adapt(np.random.rand(100, 64))
        >>> pca(np.random.rand(3, 64)).shape
        (3, 5)
    """

    def __init__(self, components, **kwargs):
        super().__init__(**kwargs)
        self.components = check_positive_int("components", components)

    def build(self, input_shape):
        self.features = check_rank2("PCAProjection", input_shape)
        if self.components > self.features:
            raise ValueError(
                f"`components` ({self.components}) must not exceed the input features "
                f"({self.features}). Received input shape {tuple(input_shape)}"
            )
        self.mean = self.add_weight(name="mean", shape=(self.features,), initializer="zeros", trainable=False)
        self.basis = self.add_weight(
            name="basis", shape=(self.features, self.components), initializer="zeros", trainable=False
        )
        self._adapted = self.add_weight(name="adapted", shape=(), initializer="zeros", trainable=False)
        super().build(input_shape)

    def adapt(self, data):
        data = _as_matrix("PCAProjection", data)
        self._ensure_built(data)
        mean = data.mean(axis=0)
        _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
        basis = vt[: self.components].T
        if basis.shape[1] < self.components:  # fewer samples than components
            basis = np.pad(basis, ((0, 0), (0, self.components - basis.shape[1])))
        signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), np.arange(self.components)])
        basis = basis * np.where(signs == 0, 1.0, signs)
        self.set_weights([mean.astype(np.float32), basis.astype(np.float32), np.float32(1.0)])
        return self

    def call(self, inputs):
        return K.matmul(K.cast(inputs, "float32") - self.mean, self.basis)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.components)

    def get_config(self):
        config = super().get_config()
        config.update(components=self.components)
        return config


@register
class MinMaxScaling(_Adapted):
    """Scales each feature into [0, 1] with the minimum and maximum seen by `adapt`.

    Values outside the fitted range are clipped, so test data can never leave [0, 1] (the
    domain of the arccos encoding). Constant features map to 0.

    Input shape:
        (batch, features).

    Output shape:
        (batch, features).

    Example:
        >>> scale = MinMaxScaling()
        >>> scale.adapt(np.array([[0.0, 2.0], [4.0, 6.0]]))
        >>> scale(np.array([[2.0, 6.0]])).numpy()
        array([[0.5, 1. ]], dtype=float32)
    """

    def build(self, input_shape):
        self.features = check_rank2("MinMaxScaling", input_shape)
        self.minimum = self.add_weight(name="minimum", shape=(self.features,), initializer="zeros", trainable=False)
        self.scale = self.add_weight(name="scale", shape=(self.features,), initializer="ones", trainable=False)
        self._adapted = self.add_weight(name="adapted", shape=(), initializer="zeros", trainable=False)
        super().build(input_shape)

    def adapt(self, data):
        data = _as_matrix("MinMaxScaling", data)
        self._ensure_built(data)
        low, high = data.min(axis=0), data.max(axis=0)
        span = high - low
        scale = np.where(span > 1e-12, 1.0 / np.where(span > 1e-12, span, 1.0), 0.0)
        self.set_weights([low.astype(np.float32), scale.astype(np.float32), np.float32(1.0)])
        return self

    def call(self, inputs):
        scaled = (K.cast(inputs, "float32") - self.minimum) * self.scale
        return K.clip(scaled, 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@register
class PadFeatures(keras.layers.Layer):
    """Zero-pads the feature axis up to the next multiple of `multiple` (64 → 65 for 5).

    Args:
        multiple: The feature count is padded to a multiple of this (e.g. the qubit count).

    Input shape:
        (batch, features).

    Output shape:
        (batch, ceil(features / multiple) * multiple).

    Example:
        >>> PadFeatures(5)(np.ones((2, 64))).shape
        (2, 65)
    """

    def __init__(self, multiple, **kwargs):
        super().__init__(**kwargs)
        self.multiple = check_positive_int("multiple", multiple)

    def build(self, input_shape):
        self.features = check_rank2("PadFeatures", input_shape)
        self.padding = -self.features % self.multiple
        super().build(input_shape)

    def call(self, inputs):
        return K.pad(K.cast(inputs, "float32"), [[0, 0], [0, self.padding]])

    def compute_output_shape(self, input_shape):
        features = check_rank2("PadFeatures", input_shape)
        return (input_shape[0], features + (-features % self.multiple))

    def get_config(self):
        config = super().get_config()
        config.update(multiple=self.multiple)
        return config


@register
class ImageRange(keras.layers.Layer):
    """Passes images through unchanged, refusing any batch that is not the [0, 1] floats the models
    are trained on: uint8 images (0–255) given to ``predict`` would otherwise be read as
    saturated pixels and silently misclassified, and NaN pixels turned into a finite answer.

    Fails the call (`engines.ops.check_finite` and `check_all`: ``InvalidArgumentError`` on TensorFlow,
    in eager, graph and served calls alike; ValueError elsewhere, under `jax.jit` too) naming the layer
    and the fix, when a value is NaN or Inf or lies outside [0 − tolerance, 1 + tolerance].

    Args:
        tolerance: Slack on either side of [0, 1] (resampling and float rounding).
    """

    def __init__(self, tolerance: float = 1e-3, **kwargs):
        kwargs.setdefault("trainable", False)
        super().__init__(**kwargs)
        self.tolerance = float(tolerance)
        if not (self.tolerance >= 0.0 and np.isfinite(self.tolerance)):
            raise ValueError(f"`tolerance` must be a finite number ≥ 0. Received: tolerance={tolerance!r}")

    def call(self, inputs):
        x = check_finite(K.cast(inputs, self.compute_dtype),
                         f"{self.name}: the images hold NaN or Inf values; models take finite pixels in [0, 1]")
        inside = K.all(K.logical_and(x >= -self.tolerance, x <= 1.0 + self.tolerance))
        return check_all(x, inside, f"{self.name}: images must be floats in [0, 1] (divide uint8 images by 255); this "
                                    "batch holds values from {} to {}", [K.min(x), K.max(x)])

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(tolerance=self.tolerance)
        return config

