"""Keras 3 layers in a process of their own (``KERAS_BACKEND`` picks the backend), for `tests/test_keras3.py`:

    KERAS_BACKEND=jax python -m tests.keras3_worker train FOLDER   # build, fit a few steps, save .keras (+ export)
    KERAS_BACKEND=jax python -m tests.keras3_worker load FOLDER    # a fresh process: load with safe_mode, predict
    python -m tests.keras3_worker hostile FOLDER                   # write a .keras file whose Lambda would run code
    KERAS_BACKEND=jax python -m tests.keras3_worker distributed FOLDER  # fit with keras.distribution.DataParallel
    KERAS_BACKEND=jax python -m tests.keras3_worker families FOLDER NAME...  # hybridkeras.models builders: fit, save
    KERAS_BACKEND=jax python -m tests.keras3_worker load_families FOLDER     # a fresh process: hk.load_model, predict

Each writes what it saw as .npz beside the model, for the test to compare.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np

CIRCUITS, QUBITS, DEPTH, CLASSES = 2, 3, 2, 3


def data():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (32, CIRCUITS * QUBITS)).astype("float32"), np.arange(32) % CLASSES


def train(folder: Path):
    from hybridkeras import layers as hq

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((CIRCUITS * QUBITS,)), hq.ParallelPQC(CIRCUITS, QUBITS, depth=DEPTH),
                              keras.layers.Dense(CLASSES)], name="hqnn_parallel_k3")
    model.compile(optimizer=keras.optimizers.Adam(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data()
    before = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    model.save(folder / "model.keras")
    layer = model.layers[0]
    np.savez(folder / "trained.npz", backend=keras.config.backend(), before=before[0],
             after=np.array(layer.get_weights()[0]), loss=np.array(history.history["loss"]),
             predictions=np.array(model.predict(x, verbose=0)),
             quantum=np.array(keras.ops.convert_to_numpy(layer(x))))
    np.savez(folder / "layers.npz", **paper_layers())
    train_student(folder)
    if keras.config.backend() == "tensorflow":
        model.export(str(folder / "served"), format="tf_saved_model")


def student_data():
    rng = np.random.default_rng(5)
    return rng.uniform(0, 1, (24, 8)).astype("float32"), np.arange(24) % 3


def train_student(folder: Path):
    """Paper 4's 3-qubit student (amplitude encoding → EncodedPQC → ClassProbabilities), fitted and saved."""
    from hybridkeras import layers as hq

    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((8,)), hq.EncodedPQC(3, depth=2), hq.ClassProbabilities(3)], name="student_k3")
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss=keras.losses.SparseCategoricalCrossentropy())
    x, y = student_data()
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    model.save(folder / "student.keras")
    np.savez(folder / "student.npz", loss=np.array(history.history["loss"]),
             predictions=np.array(model.predict(x, verbose=0)))


def paper_layers() -> dict:
    """Outputs of the other Keras 3 paper layers at fixed weights, and the gradient of their sum, for comparison
    with the same layers on TFQ's ops."""
    from hybridkeras import layers as hq

    rng = np.random.default_rng(3)
    out = {}
    for name, layer, x in (("lcqhnn", hq.LCQHNNBlock(4, readout="probs"), rng.uniform(-1, 1, (5, 4))),
                           ("quanv", hq.Quanvolution2D(2), rng.uniform(0, 1, (2, 4, 4, 1))),
                           ("qfm", hq.QuantumFeatureMap(5, readout="probs"), rng.uniform(0, 1, (3, 10))),
                           ("student", hq.EncodedPQC(3), rng.uniform(0, 1, (4, 8))),
                           ("student_angle", hq.EncodedPQC(4, encoding="angle", depth=1), rng.uniform(-1, 1, (4, 4)))):
        x = x.astype("float32")
        layer.build(x.shape)
        weights = [rng.uniform(0, 6, w.shape).astype("float32") for w in layer.get_weights()]
        layer.set_weights(weights)
        out[f"{name}_x"], out[f"{name}_w"] = x, np.array(weights)
        out[f"{name}_y"] = keras.ops.convert_to_numpy(layer(x))
    return out


def load(folder: Path):
    import hybridkeras.layers  # noqa: F401  (registers the layers by name)

    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    student = keras.saving.load_model(folder / "student.keras", safe_mode=True)
    np.savez(folder / "loaded.npz", backend=keras.config.backend(), predictions=np.array(model.predict(data()[0], verbose=0)),
             simulation=str(model.layers[0].simulation),
             student=np.array(student.predict(student_data()[0], verbose=0)))


def hostile(folder: Path):
    marker = str(folder / "code_ran")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: (open(marker, "w").close(), t)[1])])
    model.save(folder / "hostile.keras")
    Path(marker).unlink(missing_ok=True)  # building traced the Lambda once: only a run at load time counts


def distributed(folder: Path):
    """Fits the `train` model with `keras.distribution.DataParallel` over every device JAX sees (several CPU
    devices when XLA_FLAGS=--xla_force_host_platform_device_count=N), or on one device, and saves what it saw."""
    from hybridkeras import layers as hq

    devices = keras.distribution.list_devices()
    if len(devices) > 1:
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((CIRCUITS * QUBITS,)), hq.ParallelPQC(CIRCUITS, QUBITS, depth=DEPTH),
                              keras.layers.Dense(CLASSES)])
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data()
    history = model.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0)
    weights = np.concatenate([np.ravel(np.array(w)) for w in model.get_weights()])
    sharding = str(getattr(model.layers[0].circuit_weights.value, "sharding", ""))
    np.savez(folder / f"dp{len(devices)}.npz", devices=len(devices), loss=np.array(history.history["loss"]),
             weights=weights, sharding=sharding)


# Small hyperparameters for the builders whose paper sizes would make the test slow (the architecture is unchanged).
SMALL = {
    "autoencoder-qfm": dict(latent_dim=8, hidden_units=16, head_units=(8,)),
    "autoencoder-classical": dict(latent_dim=8, hidden_units=16, head_units=(8,)),
    "hqnn-parallel": dict(qubits=3, depth=1, circuits=2, filters=(4, 4)),
    "hqnn-parallel-cnn": dict(qubits=3, circuits=2, filters=(4, 4)),
    "alexnet": dict(fc_units=32),
    "ensemble-joint": dict(member_kwargs={"alexnet": {"fc_units": 32}}),
}


def family_data(name):
    shape = (14, 14, 1) if name in ("hqnn-quanv", "cnn1", "cnn4") else (28, 28, 1)
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, (16, *shape)).astype("float32"), np.arange(16) % 2


def families(folder: Path, names):
    """Each named `hybridkeras.models` builder, built small, compiled with `compile_for`, fitted two epochs and
    saved with `hybridkeras.save_model`; then fed [0, 255] images, which `ImageRange` must refuse."""
    import hybridkeras as hk
    from hybridkeras import models

    seen = {}
    for name in names:
        keras.utils.set_random_seed(0)
        x, y = family_data(name)
        model = models.build_model(name, x.shape[1:], 2, **SMALL.get(name, {}))
        if name == "autoencoder-qfm":  # its PCA and scaling are fitted on the encoder's codes first
            models.adapt_front(model.get_layer("quantum_front"), keras.ops.convert_to_numpy(model.layers[1](x)))
        models.compile_for(model, learning_rate=1e-3)
        history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
        predictions = np.array(model.predict(x, verbose=0))
        hk.save_model(model, folder / name)
        np.save(folder / f"{name}.npy", predictions)
        try:
            model.predict(x * 255, verbose=0)
            refused = ""
        except Exception as error:  # noqa: BLE001  (each backend raises its own type; the message is the check)
            refused = str(error)
        seen[name] = {"loss": history.history["loss"], "module": type(model).__module__.split(".")[0],
                      "backends": sorted({str(getattr(layer, "simulation", {}).get("backend")) for layer in
                                          _all_layers(model) if hasattr(layer, "simulation")}),
                      "refused": "images must be floats in [0, 1]" in refused}
    (folder / "families.json").write_text(json.dumps({"backend": keras.config.backend(), "models": seen}))


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def load_families(folder: Path):
    import hybridkeras as hk

    seen = json.loads((folder / "families.json").read_text())["models"]
    loaded = {}
    for name in seen:
        model = hk.load_model(folder / name)
        np.save(folder / f"{name}.loaded.npy", np.array(model.predict(family_data(name)[0], verbose=0)))
        loaded[name] = type(model).__module__.split(".")[0]
    (folder / "loaded_families.json").write_text(json.dumps({"backend": keras.config.backend(), "models": loaded}))


if __name__ == "__main__":
    steps = {"train": train, "load": load, "hostile": hostile, "distributed": distributed, "load_families": load_families}
    if sys.argv[1] == "families":
        families(Path(sys.argv[2]), sys.argv[3:])
    else:
        steps[sys.argv[1]](Path(sys.argv[2]))
