import numpy as np
import pytest

import hybridkeras as hk
from hybridkeras.io import ModelLoadError, read_history, read_record
from hybridkeras.models import adapt_front, build_autoencoder_classical, build_autoencoder_qfm, compile_for
from tests.helpers import run_python


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory):
    """A briefly trained hybrid (groups, exact ⟨Z⟩) and classical model with saved inputs."""
    hk.keras.utils.set_random_seed(0)
    data = hk.data.load("mnist_sample", train_size=200)
    x, y = data.x_train, data.y_train
    models = {}
    for name, build in (("hybrid", build_autoencoder_qfm), ("classical", build_autoencoder_classical)):
        model = build((28, 28, 1), 10, latent_dim=20, hidden_units=64, head_units=(32, 16))
        if name == "hybrid":
            adapt_front(model.get_layer("quantum_front"), model.get_layer("encoder").predict(x, verbose=0))
        compile_for(model).fit(x, y, epochs=2, batch_size=32, verbose=0)
        models[name] = model
    folder = tmp_path_factory.mktemp("io")
    np.save(folder / "x.npy", data.x_test[:64])
    return models, folder


@pytest.mark.parametrize("name", ["hybrid", "classical"])
def test_save_load_in_fresh_process_predicts_identically(trained_pair, name):
    models, folder = trained_pair
    model = models[name]
    path = hk.save_model(model, folder / name, history={"loss": [2.0, 1.0]}, metadata={"role": name})
    x = np.load(folder / "x.npy")
    expected = model.predict(x, verbose=0)
    run_python(f"""
        import numpy as np, hybridkeras
        model = hybridkeras.load_model({str(path)!r})
        np.save({str(folder / (name + '_loaded.npy'))!r}, model.predict(np.load({str(folder / 'x.npy')!r}), verbose=0))
        print(model.name)
    """)
    np.testing.assert_array_equal(np.load(folder / f"{name}_loaded.npy"), expected)
    assert read_history(path) == {"loss": [2.0, 1.0]}
    record = read_record(path)
    assert record["metadata"]["role"] == name
    # the Keras backend and the simulator are named in the record
    assert record["keras_backend"] == hk.keras.config.backend() and record["versions"]["keras"].startswith("3.")
    assert record["simulators"] == (["statevector"] if name == "hybrid" else [])


def test_failed_save_leaves_previous_export_and_no_temporary_dirs(trained_pair, monkeypatch):
    models, folder = trained_pair
    target = folder / "atomic"
    hk.save_model(models["classical"], target, metadata={"generation": 1})

    def broken_save(self, path, **kwargs):
        path = __import__("pathlib").Path(path)
        partial = path if path.suffix == ".keras" else path / "saved_model.pb"
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(models["classical"]), "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        hk.save_model(models["classical"], target, metadata={"generation": 2})
    assert read_record(target)["metadata"]["generation"] == 1
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(RuntimeError, match="disk full"):
        hk.save_model(models["classical"], folder / "fresh")
    assert not (folder / "fresh").exists()


def test_overwrite_false_refuses(trained_pair):
    models, folder = trained_pair
    hk.save_model(models["classical"], folder / "keep")
    with pytest.raises(FileExistsError, match="overwrite"):
        hk.save_model(models["classical"], folder / "keep", overwrite=False)
    with pytest.raises(TypeError, match="model"):
        hk.save_model("not a model", folder / "x")


def test_missing_foreign_and_corrupt_exports_raise_clear_errors(trained_pair, tmp_path):
    models, _ = trained_pair
    with pytest.raises(FileNotFoundError, match="No saved model"):
        hk.load_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="holds no model.keras"):
        hk.load_model(tmp_path / "empty")
    path = hk.save_model(models["hybrid"], tmp_path / "corrupt")
    model_file = path / "model.keras"
    model_file.write_bytes(model_file.read_bytes()[:-200])  # the zip's directory cut off
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        hk.load_model(path)
    model_file.write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="corrupt or incomplete"):
        hk.load_model(path)


def test_records_write_null_for_values_that_are_not_numbers(tmp_path):
    import json

    from hybridkeras.io import write_json_atomic

    def strict(text):
        return json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(f"{name} is not JSON")))

    path = write_json_atomic(tmp_path / "r.json", {"test_accuracy@10": float("nan"), "loss": [np.float32("inf"), 1.5],
                                                   "per_class": np.array([np.nan, 0.25])})
    assert strict(path.read_text()) == {"test_accuracy@10": None, "loss": [None, 1.5], "per_class": [None, 0.25]}
    model = hk.keras.Sequential([hk.keras.Input((2,)), hk.keras.layers.Dense(1)])
    export = hk.save_model(model, tmp_path / "m", metadata={"metrics": {"test_accuracy@10": float("nan")}},
                           history={"loss": [float("nan"), 0.5]})
    assert strict((export / "hybridkeras.json").read_text())["metadata"]["metrics"]["test_accuracy@10"] is None
    assert strict((export / "history.json").read_text())["loss"] == [None, 0.5]


def test_exports_serve_through_tf_saved_model_without_hybridkeras(tmp_path):
    """Engine-backed HQNN-Parallel and a classical model answer through `serving_default` in a process that
    imports only TensorFlow, with the Keras model's predictions."""
    if hk.keras.config.backend() != "tensorflow":
        pytest.skip("serving SavedModels are written on Keras' TensorFlow backend")
    hk.keras.utils.set_random_seed(0)
    hybrid = hk.models.build_hqnn_parallel((28, 28, 1), 10, qubits=3, depth=2, circuits=2, filters=(4, 8),
                                           backend="statevector")
    classical = hk.models.build_hqnn_parallel_cnn((28, 28, 1), 10, qubits=3, circuits=2, filters=(4, 8))
    x = np.random.default_rng(0).uniform(0, 1, (6, 28, 28, 1)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    for name, model in (("hybrid", hybrid), ("classical", classical)):
        hk.save_model(model, tmp_path / name)
        np.save(tmp_path / f"{name}_keras.npy", model.predict(x, verbose=0))
    root = str(tmp_path)
    # model.export()'s SavedModel in serving/, and plain Keras without hybridkeras
    serve = f"(served := tf.saved_model.load({root!r} + '/' + name + '/serving')).serve(x)"  # kept referenced
    plain = f"__import__('keras').saving.load_model({root!r} + '/hybrid/model.keras')"
    run_python(f"""
        import sys, numpy as np, tensorflow as tf
        x = tf.constant(np.load({root!r} + "/x.npy"))
        for name in ("hybrid", "classical"):
            out = {serve}
            np.save({str(tmp_path)!r} + f"/{{name}}_served.npy", out.numpy())
        try:  # plain Keras, without hybridkeras: the load itself fails, naming where the layers come from
            {plain}
        except Exception as exc:
            open({str(tmp_path)!r} + "/plain_keras_error.txt", "w").write(str(exc))
        assert "hybridkeras" not in sys.modules and "tensorflow_quantum" not in sys.modules
    """)
    assert "hybridkeras>" in (tmp_path / "plain_keras_error.txt").read_text()
    for name in ("hybrid", "classical"):
        np.testing.assert_allclose(np.load(tmp_path / f"{name}_served.npy"), np.load(tmp_path / f"{name}_keras.npy"),
                                   atol=1e-6)


@pytest.mark.parametrize("moment", ["between the renames", "mid-export"])
def test_an_export_killed_at_any_moment_loses_nothing(tmp_path, moment):
    """A real SIGKILL of a saving process, at a chosen moment; the next load (or save) finds a whole
    export — the new one once it was complete, else the old one — and no temporary folders."""
    import subprocess
    import sys
    import textwrap

    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code = textwrap.dedent(f"""
        import os, signal, numpy as np, hybridkeras as hk, hybridkeras.io as hio
        keras = hk.keras
        def model(seed):
            keras.utils.set_random_seed(seed)
            return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
        x = np.load({str(tmp_path / 'x.npy')!r})
        first, second = model(1), model(2)
        hk.save_model(first, {str(tmp_path / 'm')!r})
        np.save({str(tmp_path / 'first.npy')!r}, first.predict(x, verbose=0))
        np.save({str(tmp_path / 'second.npy')!r}, second.predict(x, verbose=0))
        if {moment!r} == "between the renames":
            real = os.replace
            def replace(src, dst):
                real(src, dst)
                if ".old-" in str(dst):
                    os.kill(os.getpid(), signal.SIGKILL)
            hio.os.replace = replace
        else:
            def dies(*args, **kwargs):
                os.kill(os.getpid(), signal.SIGKILL)
            hio.write_json_atomic = dies  # the record is written after the SavedModel: killed mid-export
        hk.save_model(second, {str(tmp_path / 'm')!r})
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr[-2000:]
    if moment == "between the renames":
        assert not (tmp_path / "m").exists()  # the window the old code could not recover from
    expected = np.load(tmp_path / ("second.npy" if moment == "between the renames" else "first.npy"))
    np.testing.assert_array_equal(hk.load_model(tmp_path / "m").predict(x, verbose=0), expected)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".m.")] == []
