"""LCQHNN (paper 3): the block against Cirq and finite differences, the four models, Grad-CAM, data paths."""
import json

import numpy as np
import pytest

import hybridkeras as hk
import tensorflow as tf
from hybridkeras.circuits import lcqhnn_circuit, make_symbols
from hybridkeras.layers import LCQHNNBlock
from hybridkeras.models import (
    MODELS,
    build_lcqhnn,
    build_lcqhnn_cnn,
    build_lcqhnn_cnn4,
    build_lcqhnn_cnn8,
    build_lcqhnn_cnn16,
    compile_for,
)
from hybridkeras.viz import GradCAM, plot_grad_cam
from tests.helpers import (
    assert_fresh_process_reload_identical,
    assert_gradients_match_finite_differences,
    pauli_expectations,
    reference_lcqhnn_state,
    trainable,
)
from tests.backends import tensorflow_only

pytestmark = tensorflow_only  # the same layers on JAX and PyTorch: test_general_layers.py, test_engine_backends.py

# ---------------------------------------------------------------- the block


def test_circuit_has_the_papers_gate_sequence():
    qubits = __import__("cirq").LineQubit.range(4)
    circuit = lcqhnn_circuit(qubits, make_symbols("x", 4), make_symbols("t", 4))
    names = [str(op.gate) for op in circuit.all_operations()]
    cnots = [(op.qubits[0].x, op.qubits[1].x) for op in circuit.all_operations() if len(op.qubits) == 2]
    assert names[:4] == ["H"] * 4 and names[-1] == "H"
    assert cnots == [(0, 1), (1, 2), (2, 3), (2, 3), (1, 2), (0, 1)]
    assert list(circuit.all_operations())[-1].qubits == (qubits[0],)
    assert len(names) == 4 + 4 + 3 + 4 + 3 + 1
    assert sum(name.startswith("Z**") for name in names) == 4 and sum(name.startswith("Ry") for name in names) == 4


@pytest.mark.parametrize("qubits", [4, 3])
def test_block_matches_an_independent_cirq_simulation(rng, qubits):
    z = LCQHNNBlock(qubits)
    probs = LCQHNNBlock(qubits, readout="probs")
    x = rng.normal(scale=1.5, size=(5, qubits)).astype(np.float32)
    out_z = z(x).numpy()
    probs(x)
    probs.theta.assign(z.theta)
    out_p = probs(x).numpy()
    theta = z.theta.numpy().astype(np.float64)
    for row in range(len(x)):
        state = reference_lcqhnn_state(x[row].astype(np.float64), theta)
        np.testing.assert_allclose(out_z[row], pauli_expectations(state, "Z"), atol=1e-5)
        np.testing.assert_allclose(out_p[row], np.abs(state) ** 2, atol=1e-5)
    np.testing.assert_allclose(out_p.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("readout", ["Z", "probs"])
def test_block_gradients_match_finite_differences(rng, readout):
    layer = LCQHNNBlock(4, readout=readout)
    x0 = rng.normal(size=(2, 4)).astype(np.float32)
    layer(x0)
    mix = tf.constant(rng.normal(size=(1, layer.units)).astype(np.float32))
    assert_gradients_match_finite_differences(layer, layer.theta, x0, mix)


def test_sampled_block_is_within_shot_noise_and_differentiable(rng):
    exact = LCQHNNBlock(4, backend="tfq")
    sampled = LCQHNNBlock(4, repetitions=4000, differentiator="parameter_shift", backend="tfq")
    x = rng.normal(size=(3, 4)).astype(np.float32)
    expected = exact(x).numpy()
    sampled(x)
    sampled.theta.assign(exact.theta)
    with tf.GradientTape() as tape:
        values = sampled(x)
        loss = tf.reduce_sum(values)
    assert np.abs(values.numpy() - expected).max() < 3 / np.sqrt(4000) * 2  # ≤ 2·(3σ bound of a ±1 variable)
    assert np.abs(tape.gradient(loss, sampled.theta).numpy()).max() > 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(qubits=0), ValueError, "qubits"),
        (dict(qubits=2.5), TypeError, "qubits"),
        (dict(readout="Y"), ValueError, "readout"),
        (dict(repetitions=100), ValueError, "differentiator"),
        (dict(repetitions=-1, differentiator="parameter_shift"), ValueError, "repetitions"),
    ],
)
def test_block_argument_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        LCQHNNBlock(**kwargs)


def test_block_rejects_wrong_feature_count_and_nan():
    with pytest.raises(ValueError, match=r"must equal qubits = 4.*\(None, 5\)"):
        LCQHNNBlock(4).build((None, 5))
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or Inf"):
        LCQHNNBlock(4)(np.array([[0.1, np.nan, 0.2, 0.3]], np.float32))


def test_block_config_round_trip(rng):
    layer = LCQHNNBlock(4, readout="probs", name="block")
    x = rng.normal(size=(3, 4)).astype(np.float32)
    out = layer(x).numpy()
    clone = LCQHNNBlock.from_config(layer.get_config())
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x).numpy(), out)
    assert layer.get_config()["readout"] == "probs" and [str(s) for s in layer.symbols][-1] == "theta003"


# ---------------------------------------------------------------- the four models


@pytest.mark.parametrize(
    "build, expected",
    [
        # conv1 80 + conv2 1,168 + Dense 400→256 102,656 + Dense 256→4 1,028 = extractor 104,932
        (build_lcqhnn, 104_932 + 4 + 10),  # + 4 RY angles + Dense 4→2
        (build_lcqhnn_cnn4, 104_932 + 4 + 4),  # + Dense 4→1 (no bias) + Dense 1→2
        (build_lcqhnn_cnn8, 104_932 + 8 + 6),  # + Dense 4→2 (no bias) + Dense 2→2
        (build_lcqhnn_cnn16, 104_932 + 16 + 10),  # + Dense 4→4 (no bias) + Dense 4→2
    ],
)
def test_pinned_parameter_counts(build, expected):
    assert trainable(build()) == expected


def test_classical_modules_have_exactly_p_parameters():
    for p in (4, 8, 16):
        model = build_lcqhnn_cnn(parameters=p)
        assert model.get_layer("classical_block").count_params() == p
    assert build_lcqhnn().get_layer("lcqhnn_block").count_params() == 4


@pytest.mark.parametrize(
    "build, kwargs, match",
    [
        (build_lcqhnn, dict(input_shape=(9, 9, 1)), "at least 10 pixels"),
        (build_lcqhnn, dict(filters=(8,)), "filters"),
        (build_lcqhnn, dict(dropout=1.0), "dropout"),
        (build_lcqhnn, dict(num_classes=1), "num_classes"),
        (build_lcqhnn_cnn, dict(parameters=10), "multiple of the feature count"),
    ],
)
def test_builder_validation(build, kwargs, match):
    with pytest.raises(ValueError, match=match):
        build(**kwargs)


@pytest.fixture(scope="module")
def mnist01(mnist_dir):
    return hk.data.load("mnist", mnist_dir, classes=(0, 1), train_size=256, val_size=64, test_size=128,
                        validation_split=0.2, test_split=0.28, seed=42)


@pytest.fixture(scope="module")
def trained_lcqhnn(mnist01):
    hk.keras.utils.set_random_seed(42)
    model = compile_for(build_lcqhnn(backend="tfq"), learning_rate=1e-3)  # its paper's simulator; the engine: test_keras3
    model.fit(mnist01.x_train, mnist01.y_train, epochs=4, batch_size=32, verbose=0)
    return model


def test_lcqhnn_learns_mnist_zero_vs_one(trained_lcqhnn, mnist01):
    accuracy = trained_lcqhnn.evaluate(mnist01.x_test, mnist01.y_test, verbose=0)[1]
    assert accuracy >= 0.95


def test_all_four_models_reload_in_a_fresh_process_with_identical_predictions(tmp_path, mnist01, trained_lcqhnn):
    models = {"lcqhnn": trained_lcqhnn}
    hk.keras.utils.set_random_seed(0)
    for name in ("lcqhnn-cnn4", "lcqhnn-cnn8", "lcqhnn-cnn16"):
        models[name] = compile_for(MODELS[name]())
        models[name].fit(mnist01.x_train[:64], mnist01.y_train[:64], epochs=1, verbose=0)
    models["lcqhnn-probs"] = compile_for(build_lcqhnn(readout="probs"))
    assert_fresh_process_reload_identical(tmp_path, models, mnist01.x_test[:32])


# ---------------------------------------------------------------- Grad-CAM


def test_grad_cam_of_a_trained_hybrid_is_non_trivial(trained_lcqhnn, mnist01, tmp_path):
    images = mnist01.x_test[:6]
    heatmaps = hk.viz.grad_cam(trained_lcqhnn, images)
    assert heatmaps.shape == (6, 28, 28) and np.isfinite(heatmaps).all()
    assert heatmaps.min() >= 0.0 and np.isclose(heatmaps.max(), 1.0)
    spread = heatmaps.reshape(6, -1).std(axis=1)
    # a map is either spread over the image or all zero (ReLU of evidence against the predicted class everywhere,
    # which this Keras 3 training run gives for some images); most are spread
    assert ((spread > 0.05) | (heatmaps.reshape(6, -1).max(axis=1) == 0)).all() and (spread > 0.05).sum() >= 3
    plot_grad_cam(images, heatmaps, tmp_path / "cam.png", titles=mnist01.y_test[:6])
    assert (tmp_path / "cam.png").stat().st_size > 1000


def _smooth_under_max_pooling(activations: np.ndarray, margin: float) -> np.ndarray:
    """Entries where 2×2 max pooling is differentiable: a window's strict maximum (by > margin), or out of every window.

    Post-ReLU activations are often exactly 0 in a whole window; there max pooling has a kink
    (moving one zero up changes the max, moving it down does not), so finite differences
    there measure half the one-sided slope.
    """
    _, h, w, _ = activations.shape
    mask = np.ones_like(activations, dtype=bool)
    mask[:, : h // 2 * 2, : w // 2 * 2, :] = False
    for i in range(0, h // 2 * 2, 2):
        for j in range(0, w // 2 * 2, 2):
            window = activations[0, i:i + 2, j:j + 2, :].reshape(4, -1)
            order = np.sort(window, axis=0)
            strict = order[-1] - order[-2] > margin
            top = window.argmax(axis=0)
            for channel in np.flatnonzero(strict):
                mask[0, i + top[channel] // 2, j + top[channel] % 2, channel] = True
    return mask


def test_grad_cam_gradients_through_the_quantum_block_match_finite_differences(trained_lcqhnn, mnist01, rng):
    cam = GradCAM(trained_lcqhnn)
    assert cam.layer_name == "conv2"
    activations, grads, index = cam.gradients(mnist01.x_test[:1])
    c = int(index[0])

    def score(a):
        return float(cam.scores(tf.constant(a, tf.float32))[0, c])

    # the scores are the softmax's logits: softmax(scores) reproduces the model's output
    probabilities = tf.nn.softmax(cam.scores(tf.constant(activations))).numpy()
    np.testing.assert_allclose(probabilities, trained_lcqhnn.predict(mnist01.x_test[:1], verbose=0), atol=1e-5)
    eps = 1e-3
    mask = _smooth_under_max_pooling(activations, margin=4 * eps)
    assert np.abs(grads[mask]).max() > 1e-3 and mask.sum() > 100
    directions = [np.where(mask, grads, 0.0)] + [np.where(mask, rng.normal(size=grads.shape), 0.0) for _ in range(3)]
    for d in directions:
        d = (d / np.linalg.norm(d)).astype(np.float32)
        numeric = (score(activations + eps * d) - score(activations - eps * d)) / (2 * eps)
        np.testing.assert_allclose(float((grads * d).sum()), numeric, rtol=1e-2, atol=1e-3)
    for flat in np.argsort(np.abs(np.where(mask, grads, 0.0)).ravel())[-3:]:  # the three largest single entries
        step = np.zeros(activations.size, np.float32)
        step[flat] = eps
        step = step.reshape(activations.shape)
        numeric = (score(activations + step) - score(activations - step)) / (2 * eps)
        np.testing.assert_allclose(grads.ravel()[flat], numeric, rtol=1e-2, atol=1e-3)


def test_grad_cam_reaches_into_nested_blocks_and_names_bad_layers(tiny_images):
    model = MODELS["hqnn-parallel"]((28, 28, 1), 10, qubits=2, depth=1, circuits=2, filters=(4, 8))
    heatmaps = hk.viz.grad_cam(model, tiny_images[:2], class_index=3)
    assert heatmaps.shape == (2, 28, 28) and np.isfinite(heatmaps).all()
    assert GradCAM(model).layer_name == "conv2"
    with pytest.raises(ValueError, match="layer_name"):
        GradCAM(model, "no_such_layer")
    with pytest.raises(ValueError, match="no convolution layer"):
        GradCAM(hk.keras.Sequential([hk.keras.Input((4,)), hk.keras.layers.Dense(2)]))


def test_grad_cam_snapshots_callback_records_untrained_and_later_epochs(mnist01, tmp_path):
    hk.keras.utils.set_random_seed(0)
    model = compile_for(build_lcqhnn_cnn16())
    snapshots = hk.training.GradCAMSnapshots(mnist01.x_test[:3], epochs=(0, 2), output_dir=tmp_path / "cam")
    model.fit(mnist01.x_train[:128], mnist01.y_train[:128], epochs=2, batch_size=32, callbacks=[snapshots], verbose=0)
    assert sorted(snapshots.snapshots) == [0, 2]
    assert not np.allclose(snapshots.snapshots[0], snapshots.snapshots[2])
    assert {p.name for p in (tmp_path / "cam").iterdir()} == {"gradcam_epoch000.npz", "gradcam_epoch002.npz", "gradcam.png"}
    # a resumed run reloads the snapshots already written instead of retaking them
    again = hk.training.GradCAMSnapshots(mnist01.x_test[:3], epochs=(0, 2), output_dir=tmp_path / "cam")
    again.set_model(model)
    again.on_train_begin()
    np.testing.assert_array_equal(again.snapshots[0], snapshots.snapshots[0])


# ---------------------------------------------------------------- data, configs, runner, CLI


def _write_fake_fashion(folder, rng, per_class=100):
    from hybridkeras.data.idx import write_idx

    folder.mkdir(parents=True)
    for split, stem in (("train", "train"), ("test", "t10k")):
        labels = np.repeat(np.arange(10, dtype=np.uint8), per_class)
        images = rng.integers(0, 255, size=(len(labels), 28, 28), dtype=np.uint8)
        write_idx(folder / f"{stem}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{stem}-labels-idx1-ubyte.gz", labels)


def test_fashion_config_loads_trouser_vs_shirt_from_a_local_idx_folder(tmp_path, rng):
    _write_fake_fashion(tmp_path / "fashion_mnist", rng)
    config = hk.training.get_config("lcqhnn-fashion", data_dir=str(tmp_path), train_size=40, val_size=10,
                                    test_size=20)
    data = hk.training.experiments.experiment_dataset(config, config.split_seed(config.seeds[0]))
    assert data.class_names == ["Trouser", "Shirt"] and data.input_shape == (28, 28, 1)
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (40, 10, 20)
    assert np.bincount(data.y_train).tolist() == [20, 20] and np.bincount(data.y_test).tolist() == [10, 10]
    assert config.threshold == 0.90 and config.models == ("lcqhnn", "lcqhnn-cnn4", "lcqhnn-cnn8", "lcqhnn-cnn16")


def test_paper_configs_follow_the_protocol():
    config = hk.training.get_config("lcqhnn-mnist")
    assert (config.train_size, config.val_size, config.test_size) == (2048, 512, 1024)
    assert (config.epochs, config.batch_size, config.learning_rate, config.seeds) == (50, 64, 1e-3, (42,))
    assert config.classes == (0, 1) and config.threshold == 0.99 and config.report_epochs == (10, 25, 50)


def test_tiny_experiment_reports_convergence_q_ab_and_grad_cam(tmp_path):
    config = hk.training.get_config("lcqhnn-tiny")
    result = hk.training.run_experiment(config, tmp_path / "run", verbose=0)
    rows = {r["model"]: r for r in result.rows}
    assert set(rows) == set(config.models)
    assert {r["trainable_params"] for r in result.rows} == {
        trainable(MODELS[m]((12, 12, 1), 2)) for m in config.models}
    assert len(result.speedups) == 4 * 3
    for s in result.speedups:
        if s["Q_AB"] is not None:
            assert np.isclose(s["Q_AB"], (s["E_B"] - s["E_A"]) / s["E_B"])
    assert "epochs to 90% val" in result.markdown and "Q_AB" in result.markdown and "test acc % @2" in result.markdown
    for runs in result.runs.values():  # the epoch-2 test accuracy is the final one (same weights)
        assert np.isclose(runs[0]["test_accuracy@2"], runs[0]["test_accuracy"], atol=1e-6)
    for model in config.models:
        folder = tmp_path / "run" / model / "seed0" / "gradcam"
        assert (folder / "gradcam.png").is_file() and (folder / "gradcam_epoch000.npz").is_file()
        maps = np.load(folder / "gradcam_epoch002.npz")["heatmaps"]
        assert maps.shape == (2, 12, 12) and np.isfinite(maps).all()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["speedups"]) == 12


@pytest.mark.slow
def test_paper_protocol_on_local_zeros_and_ones_reaches_99_percent(mnist_dir, tmp_path):
    """The benchmark's setting (balanced 800 / 200 / 400 of the shared 0s and 1s, 50 epochs, seed 42)."""
    config = hk.training.get_config("lcqhnn-mnist").replace(
        data_dir=str(mnist_dir), train_size=800, val_size=200, test_size=400, test_split=0.28, validation_split=0.2,
        models=("lcqhnn",), gradcam_epochs=(),
    )
    result = hk.training.run_experiment(config, tmp_path / "run", verbose=0, plots=False)
    assert result.runs["lcqhnn"][0]["test_accuracy"] >= 0.99
