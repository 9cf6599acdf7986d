"""Keras 3 layers on TensorFlow, JAX and PyTorch: a ParallelPQC model is built, trained a few steps and
saved as `.keras` in one process per backend, reloaded with ``safe_mode=True`` in a fresh one, and
compared with the same layer on TFQ's ops (same weights, same numbers). A `model.export()` artefact is
served by `tf.saved_model.load` in a process that never imports hybridkeras, and a hostile `.keras`
file (a Lambda that would write a file) is refused without running its code.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.backends import BACKENDS, needs_tfq
from tests.keras3_worker import CIRCUITS, DEPTH, QUBITS, data

ROOT = Path(__file__).resolve().parents[1]


def _run(args, backend="tensorflow", code=None, **env_vars):
    env = dict(os.environ, KERAS_BACKEND=backend, **env_vars)
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "tests.keras3_worker", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{backend: (folder, trained npz, loaded npz)}: train + save, then load in a fresh process."""
    out = {}
    for backend in BACKENDS:
        folder = tmp_path_factory.mktemp(f"k3_{backend}")
        for step in ("train", "load"):
            done = _run([step, str(folder)], backend)
            assert done.returncode == 0, done.stderr[-3000:]
        out[backend] = folder, np.load(folder / "trained.npz"), np.load(folder / "loaded.npz")
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_trains_and_reloads_equal_predictions(runs, backend):
    _, trained, loaded = runs[backend]
    assert str(trained["backend"]) == str(loaded["backend"]) == backend
    assert np.all(np.isfinite(trained["loss"])) and trained["loss"][-1] < trained["loss"][0]
    assert np.abs(trained["after"] - trained["before"]).max() > 1e-3  # the circuit weights were trained
    np.testing.assert_allclose(loaded["predictions"], trained["predictions"], atol=1e-6)
    assert "'backend': 'statevector'" in str(loaded["simulation"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_student_trains_and_reloads_equal_on_each_backend(runs, backend):
    folder, _, loaded = runs[backend]
    student = np.load(folder / "student.npz")
    assert np.all(np.isfinite(student["loss"])) and student["loss"][-1] < student["loss"][0]
    np.testing.assert_allclose(student["predictions"].sum(axis=1), 1.0, atol=1e-5)  # class probabilities
    np.testing.assert_allclose(loaded["student"], student["predictions"], atol=1e-6)


@needs_tfq
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_engine_layer_on_each_backend_equals_the_layer_on_tfq(runs, backend):
    from hybridkeras.layers import ParallelPQC

    _, trained, _ = runs[backend]
    layer = ParallelPQC(CIRCUITS, QUBITS, depth=DEPTH, backend="tfq")
    x = data()[0]
    layer.build(x.shape)
    layer.set_weights([trained["after"]])
    np.testing.assert_allclose(trained["quantum"], np.asarray(layer(x)), atol=1e-5)


@needs_tfq
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_paper_layers_on_each_backend_equal_the_layers_on_tfq(runs, backend):
    from hybridkeras.layers import EncodedPQC, LCQHNNBlock, QuantumFeatureMap, Quanvolution2D

    got = np.load(runs[backend][0] / "layers.npz")
    for name, layer in (("lcqhnn", LCQHNNBlock(4, readout="probs", backend="tfq")), ("quanv", Quanvolution2D(2, backend="tfq")),
                        ("qfm", QuantumFeatureMap(5, readout="probs", backend="tfq")), ("student", EncodedPQC(3, backend="tfq")),
                        ("student_angle", EncodedPQC(4, encoding="angle", depth=1, backend="tfq"))):
        x = got[f"{name}_x"]
        layer.build(x.shape)
        layer.set_weights(list(got[f"{name}_w"]))
        np.testing.assert_allclose(got[f"{name}_y"], np.asarray(layer(x)), atol=1e-5, err_msg=f"{backend}: {name}")


@pytest.mark.skipif(len(BACKENDS) < 2, reason="needs two Keras 3 backends")
def test_keras3_paper_layers_agree_across_backends(runs):
    """Where TFQ is missing (the Keras 3 environment) the backends are each other's reference; the engine's own
    tests hold each of them to Cirq."""
    first = np.load(runs[BACKENDS[0]][0] / "layers.npz")
    for backend in BACKENDS[1:]:
        other = np.load(runs[backend][0] / "layers.npz")
        for name in ("lcqhnn", "quanv", "qfm", "student", "student_angle"):
            np.testing.assert_array_equal(other[f"{name}_w"], first[f"{name}_w"])
            np.testing.assert_allclose(other[f"{name}_y"], first[f"{name}_y"], atol=1e-5, err_msg=f"{backend}: {name}")
            assert np.ptp(first[f"{name}_y"]) > 1e-3  # not a constant output


def test_export_serves_without_hybridkeras(runs):
    folder, trained, _ = runs["tensorflow"]
    code = (f"import sys, numpy as np, tensorflow as tf\n"
            f"from tests.keras3_worker import data\n"
            f"served = tf.saved_model.load({str(folder / 'served')!r})\n"
            f"out = served.serve(tf.constant(data()[0])).numpy()\n"
            f"assert not any(m.startswith('hybridkeras') for m in sys.modules), 'hybridkeras was imported'\n"
            f"np.save({str(folder / 'served.npy')!r}, out)\n")
    done = _run([], code=code)
    assert done.returncode == 0, done.stderr[-3000:]
    np.testing.assert_allclose(np.load(folder / "served.npy"), trained["predictions"], atol=1e-5)


@pytest.mark.skipif("jax" not in BACKENDS, reason="keras.distribution runs on JAX")
def test_data_parallel_on_jax_trains_as_one_device_does(tmp_path):
    """`keras.distribution.DataParallel` over two (forced) CPU devices: the batch is split across them and the
    gradients averaged, so the weights after three epochs equal a one-device run's."""
    runs = {}
    for count in (2, 1):
        env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS=f"--xla_force_host_platform_device_count={count}")
        done = subprocess.run([sys.executable, "-m", "tests.keras3_worker", "distributed", str(tmp_path)], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[count] = np.load(tmp_path / f"dp{count}.npz")
    assert int(runs[2]["devices"]) == 2 and int(runs[1]["devices"]) == 1
    assert "'batch': 2" in str(runs[2]["sharding"])  # the weights live on a two-device mesh (replicated)
    assert runs[2]["loss"][-1] < runs[2]["loss"][0]
    np.testing.assert_allclose(runs[2]["loss"], runs[1]["loss"], atol=1e-5)
    np.testing.assert_allclose(runs[2]["weights"], runs[1]["weights"], atol=1e-5)


TUNE = """
import sys, keras, keras_tuner, numpy as np
from hybridkeras import layers as hq
from tests.keras3_worker import CIRCUITS, QUBITS, CLASSES, data


def build(hp):
    model = keras.Sequential([keras.Input((CIRCUITS * QUBITS,)),
                              hq.ParallelPQC(CIRCUITS, QUBITS, depth=hp.Int("depth", 1, 2)), keras.layers.Dense(CLASSES)])
    model.compile(keras.optimizers.Adam(hp.Choice("lr", [0.01, 0.05])),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


tuner = keras_tuner.RandomSearch(build, objective="val_loss", max_trials=2, directory=sys.argv[1], project_name="k3",
                                 seed=0)
x, y = data()
tuner.search(x, y, validation_split=0.25, epochs=1, verbose=0)
best = tuner.get_best_models(1)[0]
print("TRIALS", len(tuner.oracle.trials), "BEST", type(best.layers[0]).__name__, best.layers[0].depth,
      tuner.get_best_hyperparameters(1)[0].get("depth"))
"""


def test_current_keras_tuner_searches_a_keras3_hybrid(tmp_path):
    done = subprocess.run([sys.executable, "-c", TUNE, str(tmp_path)], cwd=ROOT, env=dict(os.environ, KERAS_BACKEND="jax"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("TRIALS"))
    trials, name, depth, chosen = line.split()[1], line.split()[3], line.split()[4], line.split()[5]
    assert trials == "2" and name == "ParallelPQC" and depth == chosen


def test_a_hostile_keras_file_is_refused_without_running_its_code(tmp_path):
    done = _run(["hostile", str(tmp_path)])
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "hostile.keras").exists() and not (tmp_path / "code_ran").exists()
    code = (f"import keras, hybridkeras.layers\n"
            f"keras.saving.load_model({str(tmp_path / 'hostile.keras')!r})\n")
    refused = _run([], "jax", code=code)
    assert refused.returncode != 0 and "safe_mode" in refused.stderr
    assert not (tmp_path / "code_ran").exists()


TFQ_SEAM_RELOAD = """
import json, sys, numpy as np, keras
import hybridkeras.layers  # registers the layers
model = keras.saving.load_model(sys.argv[1], safe_mode=True)
x = np.load(sys.argv[2])["x"]
layer = next(l for l in model.layers if hasattr(l, "simulation"))
print(json.dumps({"backend": layer.backend, "predictions": np.asarray(model.predict(x, verbose=0)).tolist()}))
"""


@needs_tfq
def test_keras3_paper_layers_run_tfq_through_the_simulator_seam(tmp_path):
    """backend='tfq' on the Keras 3 paper layers: TFQ's ops and differentiators called directly (no Keras of TFQ's own),
    equal to the engine in outputs (1e-5) and gradients (1e-3 + 1e-3 relative: TFQ's float32 adjoint); a model
    trains with fit, is not XLA-compiled, saves as .keras and reloads in a fresh Keras 3 process on TFQ."""
    import json

    import keras
    import tensorflow as tf

    from hybridkeras import layers as hq

    rng = np.random.default_rng(0)
    cases = [(lambda b: hq.ParallelPQC(2, 3, depth=2, backend=b), (4, 6)),
             (lambda b: hq.QuantumFeatureMap(4, readout="Z", backend=b), (4, 4)),
             (lambda b: hq.QuantumFeatureMap(3, readout="probs", backend=b), (4, 3)),
             (lambda b: hq.LCQHNNBlock(backend=b), (4, 4)),
             (lambda b: hq.Quanvolution2D(backend=b), (2, 6, 6, 1)),
             (lambda b: hq.EncodedPQC(3, backend=b), (4, 8))]
    for make, shape in cases:
        x = tf.constant(rng.uniform(0, 1, shape).astype(np.float32))
        engine, tfq_layer = make("statevector"), make("tfq")
        engine.build(x.shape)
        tfq_layer.build(x.shape)
        tfq_layer.set_weights(engine.get_weights())
        assert tfq_layer.supports_jit is False and tfq_layer.simulation["backend"] == "tfq"
        results = []
        for layer in (engine, tfq_layer):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
                loss = tf.reduce_sum(0.37 * y + y**2)
            results.append((y.numpy(), [g.numpy() for g in tape.gradient(loss, [x] + layer.trainable_weights)]))
        (y_engine, g_engine), (y_tfq, g_tfq) = results
        np.testing.assert_allclose(y_tfq, y_engine, atol=1e-5, err_msg=type(engine).__name__)
        for a, b in zip(g_tfq, g_engine):
            # TFQ's float32 adjoint, summed over many patches and rows, drifts up to a few 1e-4 between runs
            np.testing.assert_allclose(a, b, atol=1e-3, rtol=1e-3, err_msg=type(engine).__name__)
    keras.utils.set_random_seed(3)
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(hq.ParallelPQC(2, 3, depth=1, backend="tfq")(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    from keras.src.trainers.trainer import model_supports_jit

    assert not model_supports_jit(model)
    x = rng.uniform(0, 1, (16, 6)).astype(np.float32)
    y = (x[:, 0] > 0.5).astype(np.int32)
    history = model.fit(x, y, epochs=4, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "tfq.keras")
    np.savez(tmp_path / "x.npz", x=x)
    done = subprocess.run([sys.executable, "-c", TFQ_SEAM_RELOAD, str(tmp_path / "tfq.keras"), str(tmp_path / "x.npz")],
                          cwd=ROOT, env=dict(os.environ, KERAS_BACKEND="tensorflow"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    reloaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert reloaded["backend"] == "tfq"
    np.testing.assert_allclose(np.array(reloaded["predictions"]), model.predict(x, verbose=0), atol=1e-6)


def test_keras3_paper_layers_on_tfq_elsewhere_say_what_to_change():
    """Without TFQ, or on JAX/PyTorch, backend='tfq' is refused when the layer is made, naming what to change."""
    import importlib.util

    import keras

    from hybridkeras.engines.simulators import SimulatorUnavailableError
    from hybridkeras import layers as hq

    if keras.config.backend() == "tensorflow" and importlib.util.find_spec("tensorflow_quantum") is not None:
        pytest.skip("TFQ runs here (tested above)")
    with pytest.raises(SimulatorUnavailableError, match="TensorFlow Quantum"):
        hq.ParallelPQC(2, 3, backend="tfq")


# One model per family and quantum front (autoencoder + feature map, HQNN-Parallel, HQNN-Quanv, LCQHNN, a student)
# and a classical twin holding several models (the LeNet + AlexNet ensemble); the slow test takes every builder.
FAMILIES = ("autoencoder-qfm", "hqnn-parallel", "hqnn-quanv", "lcqhnn", "student-3q", "ensemble-joint")


def _families(tmp_path, backend, names):
    """Builds, fits and saves ``names`` on Keras 3 with ``backend``, then loads them in a fresh process."""
    for step in (["families", str(tmp_path), *names], ["load_families", str(tmp_path)]):
        done = _run(step, backend)
        assert done.returncode == 0, done.stderr[-3000:]
    trained = json.loads((tmp_path / "families.json").read_text())
    loaded = json.loads((tmp_path / "loaded_families.json").read_text())
    assert trained["backend"] == loaded["backend"] == backend
    assert sorted(trained["models"]) == sorted(loaded["models"]) == sorted(names)
    for name, seen in trained["models"].items():
        assert seen["module"] == loaded["models"][name] == "keras", f"{name}: not a Keras 3 model"
        assert np.all(np.isfinite(seen["loss"])), f"{name}: {seen['loss']}"
        assert seen["refused"], f"{name}: images in [0, 255] were not refused by ImageRange on {backend}"
        if name not in ("ensemble-joint", "autoencoder-classical", "lenet", "alexnet") and "cnn" not in name:
            assert seen["backends"] == ["statevector"], f"{name}: {seen['backends']}"
        predictions = np.load(tmp_path / f"{name}.npy")
        assert np.all(np.isfinite(predictions)) and np.ptp(predictions) > 0, name
        np.testing.assert_allclose(np.load(tmp_path / f"{name}.loaded.npy"), predictions, atol=1e-6, err_msg=name)
    return trained["models"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_family_builds_trains_and_reloads_on_keras3(tmp_path, backend):
    """`hybridkeras.models` on Keras 3: each family's builder gives a Keras 3 model that `compile_for` compiles,
    `fit` trains, `hybridkeras.save_model` writes and `hybridkeras.load_model` reloads in a fresh process
    predicting equal values; `ImageRange` refuses [0, 255] images inside the compiled step on each backend."""
    _families(tmp_path, backend, FAMILIES)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_every_builder_builds_trains_and_reloads_on_keras3(tmp_path, backend):
    from hybridkeras.models import MODELS

    _families(tmp_path, backend, tuple(MODELS))


DISTIL = """
import json, sys, numpy as np, keras
import hybridkeras as hk
from hybridkeras.training import Distiller
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (64, 4)).astype("float32")
y = (x[:, 0] + x[:, 1] > 1).astype("int32") + (x[:, 2] > 0.7).astype("int32")
teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
student = keras.Sequential([keras.Input((4,)), hk.layers.ParallelPQC(1, 4, depth=1), keras.layers.Dense(3, activation="softmax")])
distiller = Distiller(student, teacher, temperature=3.0, alpha=0.9)
distiller.compile(optimizer=keras.optimizers.Adam(0.05), metrics=["accuracy"])
first = distiller.evaluate(x, y, batch_size=64, verbose=0, return_dict=True)
t_out = np.asarray(teacher.predict(x, verbose=0)); s_out = np.asarray(student.predict(x, verbose=0))
def soft(p):
    z = np.log(np.clip(p, 1e-7, 1.0)) / 3.0
    e = np.exp(z - z.max(axis=1, keepdims=True)); return e / e.sum(axis=1, keepdims=True)
ce = -np.log(np.clip(s_out[np.arange(64), y], 1e-7, 1.0))
kl = np.sum(soft(t_out) * np.log(np.clip(soft(t_out), 1e-7, 1) / np.clip(soft(s_out), 1e-7, 1)), axis=1)
cached = distiller.evaluate(x, (y, t_out), batch_size=64, verbose=0, return_dict=True)
teacher_before = [w.copy() for w in teacher.get_weights()]
history = distiller.fit(x, y, epochs=8, batch_size=16, verbose=0)
print(json.dumps({"first": first, "cached": cached, "expected": float(np.mean(0.1 * ce + 0.9 * 9 * kl)),
                  "ce": float(ce.mean()), "kl": float(kl.mean()), "history": history.history,
                  "teacher_unchanged": all(np.array_equal(a, b) for a, b in zip(teacher_before, teacher.get_weights()))}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_distiller_distils_on_keras3(backend):
    """The Keras 3 Distiller (compute_loss / compute_metrics, Keras' own steps) on each backend: its loss equals
    (1 − λ)·CE + λ·T²·KL computed by hand, cached teacher outputs give the same loss, fit lowers it into a
    quantum student and reports both terms and the accuracy, and the teacher does not train."""
    import json

    done = _run([], backend, code=DISTIL)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(out["first"]["loss"], out["expected"], rtol=1e-4)
    np.testing.assert_allclose(out["first"]["student_loss"], out["ce"], rtol=1e-4)
    np.testing.assert_allclose(out["first"]["distillation_loss"], out["kl"], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(out["cached"]["loss"], out["first"]["loss"], rtol=1e-5)
    history = out["history"]
    assert {"loss", "student_loss", "distillation_loss", "accuracy"} <= set(history)
    assert history["loss"][-1] < history["loss"][0] and out["teacher_unchanged"]


GRAD_CAM = """
import json, sys, numpy as np, keras
import hybridkeras as hk
from hybridkeras.models import build_lcqhnn
from hybridkeras.viz import GradCAM, grad_cam
keras.utils.set_random_seed(0)
model = build_lcqhnn((16, 16, 1), 2, filters=(4, 6), hidden_units=32)
weights = np.load(sys.argv[1], allow_pickle=False) if len(sys.argv) > 2 else None
if weights is not None:
    model.set_weights([weights[f"w{i}"] for i in range(len(weights.files))])
else:
    np.savez(sys.argv[1], **{f"w{i}": w for i, w in enumerate(model.get_weights())})
images = np.random.default_rng(1).uniform(0, 1, (3, 16, 16, 1)).astype("float32")
cam = GradCAM(model)
activations, grads, index = cam.gradients(images, class_index=1)
# central differences of the class-1 logit
# the three largest activations of image 0 (each the maximum of its pooling window, away from ReLU's and the
# pooling's kinks, where a central difference would halve the slope)
top = np.argsort(activations[0].ravel())[-3:]
picks, eps, numeric = [(0, *np.unravel_index(i, activations.shape[1:])) for i in top], 1e-3, []
for pick in picks:
    up, down = activations.copy(), activations.copy()
    up[pick] += eps
    down[pick] -= eps
    f = lambda a: float(keras.ops.convert_to_numpy(cam.scores(keras.ops.convert_to_tensor(a)))[0, 1])
    numeric.append((f(up) - f(down)) / (2 * eps))
try:
    inputs = keras.Input((16, 16, 1)); conv = keras.layers.Conv2D(2, 3, padding="same")(inputs)
    skip = keras.layers.Add()([conv, keras.layers.Conv2D(2, 3, padding="same")(conv)])
    GradCAM(keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(skip))))(images)
    refused = ""
except ValueError as exc:
    refused = str(exc)
print(json.dumps({"heatmaps": [grad_cam(model, images, class_index=c).tolist() for c in (0, 1)],
                  "layer": cam.layer_name,
                  "grads": [float(grads[p]) for p in picks], "numeric": numeric, "refused": refused}))
"""


def test_grad_cam_on_keras3_matches_finite_differences_and_the_backends_agree(tmp_path):
    """Grad-CAM through LCQHNN's quantum block on each Keras 3 backend (one gradient helper per backend): the class
    score's gradients equal central differences, the heat maps agree across backends (same weights), and a model
    that is not a chain is refused."""
    import json

    weights = tmp_path / "weights.npz"
    results = {}
    for i, backend in enumerate(BACKENDS):
        done = _run([], backend, code=GRAD_CAM.replace("sys.argv[1]", repr(str(weights))).replace(
            "len(sys.argv) > 2", repr(i > 0)))
        assert done.returncode == 0, done.stderr[-3000:]
        results[backend] = out = json.loads(done.stdout.strip().splitlines()[-1])
        np.testing.assert_allclose(out["grads"], out["numeric"], rtol=2e-2, atol=2e-4, err_msg=backend)
        assert "chain model" in out["refused"], backend
        heatmaps = np.array(out["heatmaps"])  # (class, image, H, W), each map normalised to a maximum of 1 (or all 0)
        peaks = heatmaps.reshape(6, -1).max(axis=1)
        assert heatmaps.shape == (2, 3, 16, 16) and heatmaps.min() >= 0
        assert np.all(np.isclose(peaks, 1.0) | (peaks == 0)) and peaks.sum() >= 1, peaks
    first = np.array(results[BACKENDS[0]]["heatmaps"])
    for backend in BACKENDS[1:]:
        np.testing.assert_allclose(np.array(results[backend]["heatmaps"]), first, atol=1e-4, err_msg=backend)


CALLBACKS = """
import json, sys, numpy as np, keras
from pathlib import Path
import hybridkeras as hk
from hybridkeras.models import build_lcqhnn, compile_for
from hybridkeras.training import EpochRecorder, GradCAMSnapshots, make_callbacks
keras.utils.set_random_seed(0)
folder = Path(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (32, 16, 16, 1)).astype("float32")
y = (x[:, :8].mean(axis=(1, 2, 3)) > x[:, 8:].mean(axis=(1, 2, 3))).astype("int32")

class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("stopped after epoch 2")

def run(extra):
    keras.utils.set_random_seed(0)
    model = compile_for(build_lcqhnn((16, 16, 1), 2, filters=(2, 3), hidden_units=16), learning_rate=0.01)
    recorder = EpochRecorder(folder / "history.json")
    snapshots = GradCAMSnapshots(x[:2], epochs=(0, 4), output_dir=folder / "cam")
    callbacks = [recorder, snapshots] + make_callbacks(lr_schedule="step", initial_lr=0.01, lr_factor=0.5,
                                                       step_every=2, backup_dir=folder / "backup") + extra
    try:
        history = model.fit(x, y, epochs=4, batch_size=16, callbacks=callbacks, verbose=0)
    except KeyboardInterrupt:
        return None, None, recorder, snapshots
    return model, history, recorder, snapshots

first = run([Interrupt()])
model, history, recorder, snapshots = run([])
print(json.dumps({"epochs_run_on_resume": len(history.history["loss"]), "recorded": sorted(recorder.epochs),
                  "lr": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
                  "snapshots": sorted(snapshots.snapshots), "png": (folder / "cam" / "gradcam.png").is_file(),
                  "finite": bool(all(np.isfinite(v["loss"]) for v in recorder.epochs.values()))}))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_callbacks_on_keras3_resume_schedule_record_and_snapshot(tmp_path, backend):
    """The training callbacks on each Keras 3 backend: a fit interrupted after epoch 2 resumes from its backup
    (running only epochs 3-4), the step schedule halves the learning rate every 2 epochs, `EpochRecorder` keeps
    every epoch across the interruption, `GradCAMSnapshots` keeps the untrained and the last epoch's maps."""
    import json

    done = _run([], backend, code=CALLBACKS.replace("sys.argv[1]", repr(str(tmp_path))))
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["epochs_run_on_resume"] == 2 and out["recorded"] == [1, 2, 3, 4] and out["finite"]
    assert np.isclose(out["lr"], 0.01 * 0.5 ** 1)  # epoch 4 (index 3): 0.01 · 0.5^(3 // 2)
    assert out["snapshots"] == [0, 4] and out["png"]
