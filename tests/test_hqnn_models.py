"""HQNN-Parallel, HQNN-Quanv and their classical counterparts: counts, fitting, saving."""
import numpy as np
import pytest

from tests.backends import needs_tfq

import hybridkeras as hk
from hybridkeras.models import (
    MODELS,
    build_cnn1,
    build_cnn4,
    build_hqnn_parallel,
    build_hqnn_parallel_cnn,
    build_hqnn_quanv,
    compile_for,
)
from tests.helpers import predict_in_fresh_process, trainable


@pytest.mark.parametrize(
    "build, expected",
    [
        # conv 416 + BN 32 + conv 12,832 + BN 64 + Dense 1568→20 31,380 + BN 40 + PQC 180 + Dense 210
        (build_hqnn_parallel, 45_154),
        # the PQC's 180 weights become Dense(20) 420 + BN 40
        (build_hqnn_parallel_cnn, 45_434),
        (build_hqnn_quanv, 4 + 196 * 10 + 10),
        (build_cnn1, 4 + 1 + 49 * 10 + 10),
        (build_cnn4, 16 + 4 + 196 * 10 + 10),
    ],
)
def test_pinned_trainable_parameter_counts(build, expected):
    assert trainable(build()) == expected


def test_paper_variants_for_other_datasets():
    medical = build_hqnn_parallel((64, 64, 3), 6, conv_blocks=2)
    cifar = build_hqnn_parallel((32, 32, 3), 10, conv_blocks=3)
    assert medical.output_shape == (None, 6) and cifar.output_shape == (None, 10)
    assert tuple(medical.get_layer("dense_in").input.shape) == (None, 32 * 16 * 16)
    assert tuple(cifar.get_layer("dense_in").input.shape) == (None, 64 * 4 * 4)
    assert trainable(build_hqnn_parallel_cnn((32, 32, 3), 10, conv_blocks=3)) - trainable(cifar) == 420 + 40 - 180


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=(28, 28)), "input_shape"),
        (dict(num_classes=1), "num_classes"),
        (dict(conv_blocks=2, filters=(8,)), "filters"),
        (dict(input_shape=(4, 4, 1), conv_blocks=3), "too small"),
        (dict(qubits=21), "qubits"),  # the engine takes up to 20
        pytest.param(dict(qubits=13, backend="tfq"), "qubits", marks=needs_tfq),  # TFQ takes up to 12
    ],
)
def test_builder_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_hqnn_parallel(**kwargs)


@pytest.mark.parametrize("name", ["hqnn-parallel", "hqnn-parallel-cnn", "hqnn-quanv", "cnn1", "cnn4"])
def test_one_fit_step_on_digits_stays_finite_and_changes_weights(name, seed):
    data = hk.data.load("digits", train_size=64)
    kwargs = dict(qubits=2, depth=1, circuits=2, filters=(4, 8)) if name.startswith("hqnn-parallel") else {}
    model = compile_for(MODELS[name](data.input_shape, data.num_classes, **kwargs))
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(data.x_train, data.y_train, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = model.get_weights()
    assert all(np.isfinite(w).all() for w in after)
    quantum = [v for v in model.trainable_weights if "circuit_weights" in v.name or "quanv" in v.name]
    for v in quantum:  # the circuit weights themselves learn
        index = [w.name for w in model.weights].index(v.name)
        assert np.abs(after[index] - before[index]).max() > 0


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hqnn_io")
    hk.keras.utils.set_random_seed(1)
    mnist = hk.data.load("mnist_sample", train_size=64, test_size=40)
    small = hk.data.load("mnist_sample", train_size=64, test_size=40, resize=(14, 14))
    cases = {
        "hqnn-parallel": (build_hqnn_parallel((28, 28, 1), 10, qubits=3, depth=2, circuits=2), mnist),
        "hqnn-parallel-cnn": (build_hqnn_parallel_cnn((28, 28, 1), 10, qubits=3, circuits=2), mnist),
        "hqnn-quanv": (build_hqnn_quanv(), small),
        "cnn4": (build_cnn4(), small),
    }
    out = {}
    for name, (model, data) in cases.items():
        compile_for(model).fit(data.x_train, data.y_train, epochs=1, batch_size=32, verbose=0)
        np.save(folder / f"{name}_x.npy", data.x_test)
        np.save(folder / f"{name}_expected.npy", model.predict(data.x_test, verbose=0))
        hk.save_model(model, folder / name)
        out[name] = model
    return folder, out


def test_all_four_models_reload_in_a_fresh_process_with_identical_predictions(saved_models):
    folder, models = saved_models
    loaded = predict_in_fresh_process(folder, {name: f"{name}_x.npy" for name in models})
    for name in models:
        np.testing.assert_array_equal(loaded[name], np.load(folder / f"{name}_expected.npy"))


def test_models_survive_get_config_from_config(saved_models):
    folder, models = saved_models
    for name, model in models.items():
        clone = hk.keras.Model.from_config(model.get_config(), custom_objects=hk.layers.CUSTOM_OBJECTS)
        clone.set_weights(model.get_weights())
        x = np.load(folder / f"{name}_x.npy")[:8]
        np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
