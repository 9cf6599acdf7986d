"""Grad-CAM (Selvaraju et al. 2017) through hybrid models, and its overlay plots.

The class score's gradient with respect to the last convolution layer's activations is
taken by the backend's autodiff (`engines.ops.gradient`: TensorFlow, JAX or PyTorch) through every
layer after it, quantum layers included (the engine differentiates exactly; on TFQ its
differentiator supplies the input gradients). The score is the
class logit: the input of the final softmax (recomputed from a ``Dense(..., activation=
'softmax')`` classifier's kernel and bias), or the model output if there is no softmax.
"""
from __future__ import annotations

import numpy as np

from keras import ops as K

import keras
from hybridkeras.engines.ops import gradient



def _flatten(model) -> list:
    """The model's layers in order, nested sub-models expanded, input layers left out."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        layers.extend(_flatten(layer) if isinstance(layer, keras.Model) else [layer])
    return layers


def _check_chain(model, layers, probe) -> None:
    """Raises unless running ``layers`` one after another on ``probe`` gives the model's own output: Grad-CAM splits
    the model at a layer, which is only the model when its layers form a chain."""
    chain_error = ValueError(
        f"Grad-CAM needs a chain model (each layer feeding the next, as Sequential models and the hybridkeras "
        f"classifiers are); the layers of model {model.name!r} do not form one")
    x = probe
    try:
        for layer in layers:
            x = layer(x, training=False)
    except Exception as exc:  # a layer that takes several inputs, or another's output
        raise chain_error from exc
    expected = model(probe, training=False)
    if tuple(x.shape) != tuple(expected.shape) or not np.allclose(K.convert_to_numpy(x), K.convert_to_numpy(expected),
                                                                  atol=1e-5):
        raise chain_error


def _is_conv(layer) -> bool:
    if isinstance(layer, keras.layers.Conv2D):
        return True
    try:
        rank = len(layer.output.shape)
    except (AttributeError, ValueError):
        return False
    return rank == 4 and "conv" in type(layer).__name__.lower()


class GradCAM:
    """Class activation maps of a chain classifier for one convolution layer.

    Args:
        model: A trained (or untrained) Keras classifier whose layers form a chain; nested
            Sequential blocks (such as HQNN-Parallel's ``conv_block``) are expanded.
        layer_name: The convolution layer to explain (default: the last Conv2D).

    Example:
        >>> cam = GradCAM(model)
        >>> heatmaps = cam(x_test[:8])        # (8, H, W) in [0, 1], for the predicted classes
    """

    def __init__(self, model, layer_name: str | None = None):
        self.model = model
        layers = _flatten(model)
        self._layers = layers
        self._checked = False
        convs = [i for i, layer in enumerate(layers) if _is_conv(layer)]
        if layer_name is None:
            if not convs:
                raise ValueError(f"Model {model.name!r} has no convolution layer for Grad-CAM")
            index = convs[-1]
        else:
            names = [layer.name for layer in layers]
            if layer_name not in names:
                raise ValueError(f"`layer_name` {layer_name!r} is not a layer of {model.name!r}. Expected one of {names}")
            index = names.index(layer_name)
        self.layer_name = layers[index].name
        self._front, self._back = layers[: index + 1], layers[index + 1:]
        last = self._back[-1] if self._back else None
        self._dense_softmax = (
            isinstance(last, keras.layers.Dense) and getattr(last.activation, "__name__", "") == "softmax"
        )
        self._drop_last = isinstance(last, keras.layers.Softmax) or (
            isinstance(last, keras.layers.Activation) and getattr(last.activation, "__name__", "") == "softmax"
        )

    def activations(self, images):
        """The chosen layer's activations for ``images``."""
        x = K.convert_to_tensor(np.asarray(images, np.float32))
        if not self._checked:
            _check_chain(self.model, self._layers, x[:1])
            self._checked = True
        for layer in self._front:
            x = layer(x, training=False)
        return x

    def scores(self, activations):
        """Class logits computed from the chosen layer's activations (the rest of the model)."""
        x = activations
        back = self._back[:-1] if (self._dense_softmax or self._drop_last) else self._back
        for layer in back:
            x = layer(x, training=False)
        if self._dense_softmax:
            last = self._back[-1]
            x = K.matmul(x, last.kernel)
            if last.use_bias:
                x = x + last.bias
        return x

    def gradients(self, images, class_index=None):
        """(activations, d score_c / d activations, class indices) for every image (the backend's autodiff,
        `engines.ops.gradient`; rows are independent in inference mode, so the sum's gradient is each row's)."""
        activations = self.activations(images)
        if class_index is None:
            index = np.argmax(K.convert_to_numpy(self.scores(activations)), axis=-1).astype(np.int32)
        else:
            index = np.broadcast_to(np.asarray(class_index, np.int32), (int(activations.shape[0]),)).copy()
        picks = K.convert_to_tensor(index[:, None])

        def chosen(a):
            return K.sum(K.take_along_axis(self.scores(a), K.cast(picks, "int32"), axis=1))

        grads = gradient(chosen, activations)
        return K.convert_to_numpy(activations), K.convert_to_numpy(grads), index

    def __call__(self, images, class_index=None, *, normalize: bool = True) -> np.ndarray:
        """Heat maps (N, H, W) at the input resolution for ``class_index`` (default: the predicted class).

        ``class_index`` may be one int for all images or one per image. With ``normalize``
        every map is divided by its maximum (all-zero maps stay zero).
        """
        images = np.asarray(images, np.float32)
        if images.ndim != 4:
            raise ValueError(f"`images` must have shape (N, H, W, C). Received shape {images.shape}")
        if not np.all(np.isfinite(images)):
            raise ValueError("`images` contains NaN or Inf values")
        activations, grads, _ = self.gradients(images, class_index)
        weights = grads.mean(axis=(1, 2), keepdims=True)
        cam = np.maximum((weights * activations).sum(axis=-1), 0.0)
        cam = K.convert_to_numpy(K.image.resize(cam[..., None], images.shape[1:3], interpolation="bilinear",
                                                antialias=False))[..., 0]
        if normalize:
            peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
            cam = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
        return cam.astype(np.float32)


def grad_cam(model, images, class_index=None, *, layer_name: str | None = None, normalize: bool = True) -> np.ndarray:
    """Grad-CAM heat maps (N, H, W) of ``model`` for ``images``; see :class:`GradCAM`."""
    return GradCAM(model, layer_name)(images, class_index, normalize=normalize)


def _show_image(ax, image):
    image = np.asarray(image)
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=max(1.0, float(image.max())))
    else:
        ax.imshow(np.clip(image, 0.0, 1.0))
    ax.set_xticks([])
    ax.set_yticks([])


def plot_grad_cam(images, heatmaps, path=None, *, titles=None, alpha: float = 0.45, cmap: str = "jet",
                  title: str = "Grad-CAM"):
    """Each image beside its heat map overlaid on it (one column per image)."""
    from hybridkeras.viz.plots import _finish, plt

    images, heatmaps = np.asarray(images), np.asarray(heatmaps)
    if len(images) != len(heatmaps):
        raise ValueError(f"`heatmaps` must have one map per image ({len(images)}). Received: {len(heatmaps)}")
    count = len(images)
    fig, axes = plt.subplots(2, count, figsize=(1.8 * count, 3.8), squeeze=False)
    for i in range(count):
        _show_image(axes[0, i], images[i])
        _show_image(axes[1, i], images[i])
        axes[1, i].imshow(heatmaps[i], cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=9)
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("Grad-CAM")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_grad_cam_snapshots(images, snapshots: dict, path=None, *, alpha: float = 0.45, cmap: str = "jet",
                            labels=None, title: str = "Grad-CAM during training"):
    """Rows: images; columns: the input, then its heat map at each snapshot epoch (0 = untrained).

    ``snapshots`` maps an epoch to heat maps (N, H, W), as :class:`GradCAMSnapshots` records them.
    """
    from hybridkeras.viz.plots import _finish, plt

    images = np.asarray(images)
    epochs = sorted(snapshots)
    count = len(images)
    fig, axes = plt.subplots(count, len(epochs) + 1, figsize=(1.8 * (len(epochs) + 1), 1.8 * count), squeeze=False)
    for i in range(count):
        _show_image(axes[i, 0], images[i])
        if labels is not None:
            axes[i, 0].set_ylabel(str(labels[i]))
        for j, epoch in enumerate(epochs, start=1):
            _show_image(axes[i, j], images[i])
            axes[i, j].imshow(np.asarray(snapshots[epoch])[i], cmap=cmap, alpha=alpha, vmin=0.0, vmax=1.0)
            if i == 0:
                axes[i, j].set_title("untrained" if epoch == 0 else f"epoch {epoch}", fontsize=9)
    axes[0, 0].set_title("input", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)
