"""The experiment runner: tables, plots, resume; convergence metrics."""
import json
import math

import pytest

import hybridkeras as hk
from hybridkeras.training import convergence_epoch, convergence_speedup, get_config, run_experiment
from hybridkeras.engines.ops import backend as keras_backend
from hybridkeras.training import experiments


def test_convergence_epoch_and_speedup():
    assert convergence_epoch([0.5, 0.8, 0.91, 0.95], 0.9) == 3
    assert convergence_epoch([0.5, 0.6], 0.9) is None
    assert convergence_speedup(3, 12) == pytest.approx(0.75)
    assert convergence_speedup(12, 3) == pytest.approx(-3.0)
    assert convergence_speedup(None, 3) is None
    with pytest.raises(ValueError, match="threshold"):
        convergence_epoch([0.5], 1.5)


def test_runner_writes_tables_plots_models_and_resumes(tmp_path, monkeypatch):
    config = get_config("hqnn-quanv-tiny", threshold=0.15, report_epochs=(1, 2))
    out = tmp_path / "exp"
    calls = []
    real = experiments.train_one

    def counting(config, model_name, seed, *args, **kwargs):
        calls.append((model_name, seed))
        if len(calls) == 4:
            raise KeyboardInterrupt("simulated interruption")
        return real(config, model_name, seed, *args, **kwargs)

    monkeypatch.setattr(experiments, "train_one", counting)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(config, out, verbose=0)
    finished = sorted(p.parent.relative_to(out).as_posix() for p in out.glob("*/seed*/metrics.json"))
    assert finished == ["cnn4/seed0", "hqnn-quanv/seed0", "hqnn-quanv/seed1"]
    first = (out / "hqnn-quanv" / "seed0" / "metrics.json").read_text()

    calls.clear()
    result = run_experiment(config, out, verbose=0)
    assert calls == [("cnn4", 1), ("cnn1", 0), ("cnn1", 1)]  # finished runs are not repeated
    assert (out / "hqnn-quanv" / "seed0" / "metrics.json").read_text() == first

    assert [r["model"] for r in result.rows] == ["hqnn-quanv", "cnn4", "cnn1"]
    for row in result.rows:
        assert row["seeds"] == 2 and 0.0 <= row["test_accuracy_mean"] <= 1.0 and row["test_accuracy_std"] >= 0.0
        assert not math.isnan(row["val_accuracy@2_mean"])
    runs = result.runs["hqnn-quanv"]
    expected_mean = sum(r["test_accuracy"] for r in runs) / 2
    assert result.rows[0]["test_accuracy_mean"] == pytest.approx(expected_mean)
    assert len(result.speedups) == 6
    for name in ("summary.csv", "summary.md", "summary.json", "curves.png", "config.json"):
        assert (out / name).is_file(), name
    assert "| hqnn-quanv | 654 |" in (out / "summary.md").read_text()
    history = json.loads((out / "cnn1" / "seed1" / "history.json").read_text())["epochs"]
    assert sorted(history) == ["1", "2"] and "val_accuracy" in history["2"]
    assert not (out / "cnn1" / "seed1" / "backup").exists()

    # the exported model reloads and scores what the runner measured
    data = experiments.experiment_dataset(config, 0)
    model = hk.load_model(out / "cnn4" / "seed0" / "model")
    accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
    assert accuracy == pytest.approx(result.runs["cnn4"][0]["test_accuracy"], abs=1e-6)


def test_runner_refuses_to_mix_configs(tmp_path):
    config = get_config("hqnn-quanv-tiny", seeds=(0,), epochs=1, models=("cnn1",))
    run_experiment(config, tmp_path / "exp", verbose=0, save_models=False, plots=False)
    with pytest.raises(ValueError, match="different config.*epochs"):
        run_experiment(config.replace(epochs=2), tmp_path / "exp", verbose=0)
    result = run_experiment(config.replace(epochs=2), tmp_path / "exp", resume=False, verbose=0, save_models=False)
    assert result.runs["cnn1"][0]["epochs"] == 2
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "precious.txt").write_text("keep")
    with pytest.raises(FileExistsError, match="not a run folder"):
        run_experiment(config, tmp_path / "other", resume=False, verbose=0)
    assert (tmp_path / "other" / "precious.txt").is_file()


def test_epoch_recorder_resumes_mid_fit(tmp_path, seed):
    """Interrupted inside fit: EpochBackup + the recorder continue from the last finished epoch."""
    config = get_config("hqnn-quanv-tiny", models=("cnn4",), seeds=(0,), epochs=4)
    data = experiments.experiment_dataset(config, 0)
    run_dir = tmp_path / "run"

    class Crash(hk.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("power cut")

    original = experiments.make_callbacks
    experiments.make_callbacks = lambda **kw: original(**kw) + [Crash()]
    try:
        with pytest.raises(RuntimeError, match="power cut"):
            experiments.train_one(config, "cnn4", 0, data, run_dir, verbose=0, save=False)
    finally:
        experiments.make_callbacks = original
    assert sorted(json.loads((run_dir / "history.json").read_text())["epochs"]) == ["1", "2"]
    metrics = experiments.train_one(config, "cnn4", 0, data, run_dir, verbose=0, save=False)
    assert metrics["epochs"] == 4
    epochs = json.loads((run_dir / "history.json").read_text())["epochs"]
    assert sorted(epochs) == ["1", "2", "3", "4"]


def test_no_resume_deletes_only_folders_a_run_marked_as_its_own(tmp_path):
    """The issue's report: a folder holding a config.json and other files was deleted by --no-resume."""
    from tests.test_cli import hybridkeras as cli

    victim = tmp_path / "v"
    (victim / "src").mkdir(parents=True)
    (victim / "config.json").write_text("{}")
    (victim / "src" / "important.txt").write_text("x")
    done = cli("train", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--epochs", "1", "--output", str(victim),
               "--no-resume", "--quiet", cwd=tmp_path)
    assert done.returncode != 0 and "not a run folder of hybridkeras" in done.stderr, done.stderr[-2000:]
    assert (victim / "src" / "important.txt").read_text() == "x" and (victim / "config.json").read_text() == "{}"
    config = get_config("hqnn-quanv-tiny", seeds=(0,), epochs=1, models=("cnn1",))
    run_experiment(config, tmp_path / "ours", verbose=0, save_models=False, plots=False)
    assert (tmp_path / "ours" / ".hybridkeras-run").is_file()
    (tmp_path / "ours" / "stale.txt").write_text("from the earlier run")
    run_experiment(config, tmp_path / "ours", resume=False, verbose=0, save_models=False, plots=False)
    assert not (tmp_path / "ours" / "stale.txt").exists()  # our own run folder is started over


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_holder(tmp_path):
    import os

    from hybridkeras.training.runs import locked
    from tests.test_cli import hybridkeras as cli

    folder = tmp_path / "busy"
    config = get_config("hqnn-quanv-tiny", seeds=(0,), epochs=1, models=("cnn1",))
    with locked(folder):
        done = cli("train", "hqnn-quanv", "--config", "hqnn-quanv-tiny", "--epochs", "1", "--output", str(folder),
                   "--quiet", cwd=tmp_path)
        assert done.returncode != 0 and f"is in use by pid {os.getpid()}" in done.stderr, done.stderr[-2000:]
        with pytest.raises(FileExistsError, match="is in use by pid"):
            run_experiment(config, folder, verbose=0, save_models=False, plots=False)
        assert not (folder / "config.json").exists()  # the refused runs wrote nothing
    run_experiment(config, folder, verbose=0, save_models=False, plots=False)  # free again
    assert (folder / "summary.md").is_file()
    for bad, message in (({"seeds": ()}, "lists no seeds"), ({"models": ("nope",)}, "Unknown model name")):
        with pytest.raises(ValueError, match=message):  # refused by validation: no folder is left behind
            run_experiment(config.replace(**bad), tmp_path / "never", verbose=0)
        assert not (tmp_path / "never").exists()


def test_the_backend_is_recorded_and_a_resume_on_another_one_is_refused(tmp_path):
    import json

    import hybridkeras as hk

    default, other = hk.get_backend(), ({"tfq", "statevector"} - {hk.get_backend()}).pop()
    config = get_config("hqnn-quanv-tiny", seeds=(0,), epochs=1, models=("cnn1",))
    run_experiment(config, tmp_path / "exp", verbose=0, save_models=False, plots=False)
    recorded = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert recorded["backend"] == default and recorded["keras_backend"] == keras_backend()
    try:
        hk.set_backend(other)
        with pytest.raises(ValueError, match=r"fields \['backend'\] differ"):
            run_experiment(config, tmp_path / "exp", verbose=0, save_models=False, plots=False)
    finally:
        hk.set_backend(default)
    run_experiment(config, tmp_path / "exp", verbose=0, save_models=False, plots=False)  # same backend: resumes
    with pytest.raises(ValueError, match=r"fields \['backend'\] differ"):  # given explicitly, alike
        run_experiment(config.replace(backend=other), tmp_path / "exp", verbose=0, save_models=False,
                       plots=False)
    with pytest.raises(ValueError, match=r"`backend` must be one of None, 'tfq', 'statevector'. Received: backend='qsim'"):
        config.replace(backend="qsim")


def test_the_backend_is_an_explicit_setting_of_builders_runs_and_the_command_line(tmp_path, monkeypatch):
    """The simulator travelled through a module global (`set_backend`): a run could not choose it
    without changing every later model of the session, and builders could not be told."""
    import hybridkeras as hk
    from hybridkeras import cli
    from hybridkeras.models import build_hqnn_parallel, build_lcqhnn, build_model

    default = hk.get_backend()  # statevector

    def quantum_backends(model):
        found = []
        for layer in model.layers:
            found += quantum_backends(layer) if isinstance(layer, hk.keras.Model) else []
            if isinstance(getattr(layer, "simulation", None), dict):  # a quantum layer of either Keras
                found.append(layer.simulation["backend"])
        return found

    assert quantum_backends(build_hqnn_parallel((8, 8, 1), 3, qubits=2, circuits=1, depth=1,
                                                backend="statevector")) == ["statevector"]
    assert quantum_backends(build_lcqhnn((12, 12, 1), 2, backend="statevector")) == ["statevector"]
    for name in ("hqnn-quanv", "student-3q", "autoencoder-qfm"):
        assert quantum_backends(build_model(name, (8, 8, 1), 2, backend="statevector")) == ["statevector"], name
    assert quantum_backends(build_model("lenet", (28, 28, 1), 2, backend="statevector")) == []  # no quantum layer
    assert quantum_backends(build_model("hqnn-quanv", (8, 8, 1), 2)) == [default]  # None: the default

    built = []
    real = experiments.build_model
    monkeypatch.setattr(experiments, "build_model", lambda *a, **k: built.append(k.get("backend")) or real(*a, **k))
    config = get_config("hqnn-quanv-tiny", seeds=(0,), epochs=1, models=("hqnn-quanv",), backend="statevector")
    result = run_experiment(config, tmp_path / "exp", verbose=0, plots=False)
    assert built == ["statevector"] and hk.get_backend() == default
    assert json.loads((tmp_path / "exp" / "config.json").read_text())["backend"] == "statevector"
    exported = hk.load_model(tmp_path / "exp" / "hqnn-quanv" / "seed0" / "model")
    assert quantum_backends(exported) == ["statevector"]
    assert result.runs["hqnn-quanv"][0]["epochs"] == 1

    assert cli.main(["train", "hqnn-quanv", "--config", "hqnn-quanv-tiny", "--seeds", "0", "--epochs", "1",
                     "--output", str(tmp_path / "cli"), "--backend", "statevector", "--quiet"]) == 0
    assert hk.get_backend() == default  # the command line sets the run's backend, not the session's default
    assert json.loads((tmp_path / "cli" / "config.json").read_text())["backend"] == "statevector"
