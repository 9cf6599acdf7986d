import numpy as np
import pytest

import hybridkeras as hk
import tensorflow as tf

from hybridkeras.models import (
    MODELS,
    adapt_front,
    build_autoencoder,
    build_autoencoder_classical,
    build_autoencoder_qfm,
    compile_for,
    get_builder,
)
from tests.helpers import trainable
from tests.backends import tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py


# encoder 784·256+256 + 256·64+64 = 217,408; decoder 64·256+256 + 256·784+784 = 218,128
# head on d inputs: d·256+256 + 128·256+128 + 64·128+64 + 10·64+10 + BatchNorm γ,β (2·(256+128+64))
@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: build_autoencoder((28, 28, 1)), 435_536),
        (lambda: build_autoencoder_classical((28, 28, 1), 10), 276_746),
        (lambda: build_autoencoder_qfm((28, 28, 1), 10, reduction="groups"), 277_002),
        (lambda: build_autoencoder_qfm((28, 28, 1), 10, reduction="pca"), 261_642),
        (lambda: build_autoencoder_qfm((28, 28, 1), 10, reduction="pca", readout="probs"), 268_554),
    ],
)
def test_pinned_trainable_parameter_counts(build, expected):
    assert trainable(build()) == expected


def test_registry_builders_have_stable_names():
    assert set(MODELS) >= {"autoencoder-qfm", "autoencoder-classical", "hqnn-parallel", "hqnn-parallel-cnn",
                           "hqnn-quanv", "cnn1", "cnn4"}
    assert get_builder("autoencoder-qfm")((8, 8, 1), 3, latent_dim=10, hidden_units=16).name == "autoencoder_qfm"
    with pytest.raises(ValueError, match="Unknown model name"):
        get_builder("resnet")


def test_hybrid_fit_step_keeps_everything_finite(tiny_images, seed):
    model = build_autoencoder_qfm((28, 28, 1), 10, latent_dim=10, hidden_units=32, head_units=(16,))
    adapt_front(model.get_layer("quantum_front"), model.get_layer("encoder").predict(tiny_images, verbose=0))
    compile_for(model)
    before = [w.numpy().copy() for w in model.get_layer("encoder").trainable_weights]
    history = model.fit(tiny_images, np.arange(32) % 10, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert all(np.all(np.isfinite(w.numpy())) for w in model.weights)
    after = [w.numpy() for w in model.get_layer("encoder").trainable_weights]
    assert any(not np.allclose(a, b) for a, b in zip(after, before)), "gradients did not reach the encoder through the quantum map"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=(28, 0, 1)), "input_shape"),
        (dict(reduction="tsne"), "reduction"),
        (dict(dropout=1.0), "dropout"),
        (dict(qubits=0), "qubits"),
        (dict(latent_dim=0), "latent_dim"),
        (dict(num_classes=0), "num_classes"),
    ],
)
def test_builder_validation(kwargs, match):
    args = dict(input_shape=(28, 28, 1), num_classes=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        build_autoencoder_qfm(args.pop("input_shape"), args.pop("num_classes"), **args)


def test_builders_and_layers_name_bad_shapes_and_sizes():
    import hybridkeras as hk
    from hybridkeras.layers import EncodedPQC, ParallelPQC

    for bad in (None, 28, "28x28"):
        with pytest.raises(TypeError, match=r"`input_shape` must be a tuple of positive ints.*Received: input_shape="):
            hk.models.build_hqnn_parallel(bad)
    with pytest.raises(ValueError, match=r"`input_shape` must be a tuple of positive ints"):
        hk.models.build_lcqhnn((28, 0, 1))
    with pytest.raises(ValueError, match=r"`depth` must be at most 200. Received: depth=1000000"):
        ParallelPQC(1, 5, depth=10**6)
    with pytest.raises(ValueError, match=r"`depth` must be at most 200"):
        EncodedPQC(3, depth=201)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_image_models_refuse_uint8_and_nan_images_instead_of_misreading_them(name, tmp_path):
    """uint8 digits (0–255) given to predict were read as saturated pixels: predictions agreed with
    the /255 input for 0–37% of images; an all-NaN image got a finite prediction."""
    from hybridkeras.models import build_model

    shape = (28, 28, 1) if name == "lenet" else (16, 16, 1)
    model = build_model(name, shape, 3, **({"fc_units": 8} if name == "alexnet" else {}))
    images = np.random.default_rng(0).uniform(size=(4,) + shape).astype(np.float32)
    assert np.all(np.isfinite(model.predict(images, verbose=0)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"images must be floats in \[0, 1\] \(divide uint8 images by 255\)"):
        model.predict((images * 255).astype(np.uint8), verbose=0)
    nan = images.copy()
    nan[1] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="the images hold NaN or Inf values"):
        model.predict(nan, verbose=0)
    if name == "cnn4":  # exported and reloaded, the check stays, also in training
        hk.save_model(compile_for(model), tmp_path / "m")
        loaded = hk.load_model(tmp_path / "m")
        with pytest.raises(tf.errors.InvalidArgumentError, match="divide uint8 images by 255"):
            loaded.predict((images * 255).astype(np.uint8), verbose=0)
        with pytest.raises(tf.errors.InvalidArgumentError, match="divide uint8 images by 255"):
            loaded.fit(images * 255, np.zeros(4), epochs=1, verbose=0)
