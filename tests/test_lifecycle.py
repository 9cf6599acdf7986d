"""The run lifecycle under real faults: a runner SIGKILLed mid-epoch or mid-export resumes without
redoing finished work or losing epochs, and never exports a mix of settings."""
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import hybridkeras as hk
from hybridkeras.training import get_config, run_experiment, train_autoencoder_qfm

# Injected into the killed process: SIGKILL at the chosen moment (a batch of an epoch, or the write
# of an export's record, which save_model makes after the SavedModel and before the renames).
KILLERS = textwrap.dedent("""
    import os, signal
    import hybridkeras as hk, hybridkeras.io as hio
    keras = hk.keras

    class KillAt(keras.callbacks.Callback):
        def __init__(self, epoch, batch):
            super().__init__()
            self.epoch, self.batch, self.current = epoch, batch, None
        def on_epoch_begin(self, epoch, logs=None):
            self.current = epoch
        def on_train_batch_end(self, batch, logs=None):
            if (self.current, batch) == (self.epoch, self.batch):
                os.kill(os.getpid(), signal.SIGKILL)

    def kill_in_export(marker):
        real = hio.write_json_atomic
        def write(path, obj):
            if marker in str(path):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, obj)
        hio.write_json_atomic = write

    def kill_in_fit(module, stage, epoch, batch):
        real = module.make_callbacks
        def make(**kwargs):
            chosen = stage is None or stage in str(kwargs.get("backup_dir"))
            return real(**kwargs) + ([KillAt(epoch, batch)] if chosen else [])
        module.make_callbacks = make
""")


def killed(code: str) -> None:
    done = subprocess.run([sys.executable, "-c", KILLERS + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == -9, done.stderr[-3000:]


def epochs_of(path) -> dict:
    return json.loads(path.read_text())["epochs"]


EXPERIMENT = dict(models=("cnn1",), seeds=(0,), epochs=3)


@pytest.mark.parametrize("moment", [pytest.param("mid-epoch", marks=pytest.mark.slow), "mid-export"])
def test_experiment_killed_resumes_without_retraining(tmp_path, moment):
    out = tmp_path / "exp"
    kill = ("kill_in_fit(ex, None, 1, 1)" if moment == "mid-epoch" else "kill_in_export('.model.tmp-')")
    killed(f"""
        import hybridkeras.training.experiments as ex
        from hybridkeras.training import get_config, run_experiment
        {kill}
        run_experiment(get_config("hqnn-quanv-tiny", **{EXPERIMENT!r}), {str(out)!r}, verbose=0, plots=False)
    """)
    run_dir = out / "cnn1" / "seed0"
    before = epochs_of(run_dir / "history.json")
    assert sorted(before) == (["1"] if moment == "mid-epoch" else ["1", "2", "3"])
    assert not (run_dir / "metrics.json").exists()
    if moment == "mid-export":
        assert [p.name for p in run_dir.iterdir() if p.name.startswith(".model.tmp-")]  # the killed export's leftover

    result = run_experiment(get_config("hqnn-quanv-tiny", **EXPERIMENT), out, verbose=0, plots=False)
    after = epochs_of(run_dir / "history.json")
    assert sorted(after) == ["1", "2", "3"]
    for epoch, record in before.items():
        assert after[epoch] == record, f"epoch {epoch} was trained again"  # same seconds, same losses
    assert result.runs["cnn1"][0]["epochs"] == 3
    assert not (run_dir / "backup").exists()
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []
    model = hk.load_model(run_dir / "model")
    from hybridkeras.training.experiments import experiment_dataset

    data = experiment_dataset(result.config, 0)  # the export scores what metrics.json says
    accuracy = np.mean(model.predict(data.x_test, verbose=0).argmax(1) == data.y_test)
    assert accuracy == pytest.approx(result.runs["cnn1"][0]["test_accuracy"], abs=1e-6)


PIPELINE = dict(ae_epochs=2, head_epochs=3)


@pytest.mark.slow
def test_pipeline_killed_mid_epoch_exports_the_whole_history(tmp_path):
    out = tmp_path / "run"
    killed(f"""
        import hybridkeras.training.pipeline as pipeline
        from hybridkeras.training import get_config, train_autoencoder_qfm
        kill_in_fit(pipeline, "hybrid-backup", 1, 1)
        train_autoencoder_qfm(get_config("autoencoder-qfm-tiny", **{PIPELINE!r}), output_dir={str(out)!r}, verbose=0)
    """)
    first_epoch = [epochs_of(p)["1"] for p in (out / "checkpoints").glob("hybrid.epochs.json")]
    result = train_autoencoder_qfm(get_config("autoencoder-qfm-tiny", **PIPELINE), output_dir=out, verbose=0)
    exported = hk.io.read_history(out / "hybrid")
    assert len(exported["loss"]) == len(exported["val_accuracy"]) == 3  # not only the epochs after the restart
    assert exported["loss"][0] == pytest.approx(first_epoch[0]["loss"])  # the epoch trained before the kill
    assert result.histories["hybrid"]["loss"] == exported["loss"]


@pytest.mark.slow
def test_pipeline_killed_mid_export_never_leaves_a_mix_of_settings(tmp_path, capsys):
    out = tmp_path / "run"
    config = get_config("autoencoder-qfm-tiny", **PIPELINE)
    killed(f"""
        from hybridkeras.training import get_config, train_autoencoder_qfm
        kill_in_export(".hybrid.tmp-")  # the third export
        train_autoencoder_qfm(get_config("autoencoder-qfm-tiny", **{PIPELINE!r}), output_dir={str(out)!r}, verbose=0)
    """)
    assert (out / "autoencoder").is_dir() and not (out / "hybrid").exists() and not (out / "record.json").exists()
    trained = json.loads((out / "checkpoints" / "autoencoder.history.json").read_text())

    # a rerun with another setting over the unfinished run is refused, as the experiment runner does
    with pytest.raises(ValueError, match=r"fields \['head_epochs'\] differ"):
        train_autoencoder_qfm(config.replace(head_epochs=4), output_dir=out, verbose=0)
    assert (out / "checkpoints" / "autoencoder.weights.h5").is_file()  # and nothing was deleted

    result = train_autoencoder_qfm(config, output_dir=out, verbose=0)  # the same settings: finishes the exports
    assert "[autoencoder] finished in an earlier run" in capsys.readouterr().out
    assert result.histories["autoencoder"] == trained
    record = json.loads((out / "record.json").read_text())
    for role in ("autoencoder", "classical", "hybrid"):
        assert hk.io.read_record(out / role)["metadata"]["config"] == record["config"] == json.loads(json.dumps(dict(config.to_dict(), backend="tfq")))
    assert [p.name for p in out.iterdir() if p.name.startswith(".") and "tmp" in p.name] == []

    again = train_autoencoder_qfm(config, output_dir=out, verbose=0)  # finished: loaded, not retrained
    assert "exports loaded from" in capsys.readouterr().out
    assert again.metrics == record["metrics"]
    x = result.dataset.x_test[:16]
    np.testing.assert_allclose(again.models["hybrid"].predict(x, verbose=0), result.models["hybrid"].predict(x, verbose=0),
                               atol=1e-6)
    with pytest.raises(ValueError, match="differ"):
        train_autoencoder_qfm(config.replace(head_epochs=4), output_dir=out, verbose=0)
    changed = train_autoencoder_qfm(config.replace(head_epochs=4), output_dir=out, resume=False, verbose=0)
    assert len(changed.histories["hybrid"]["loss"]) == 4


DISTILL = dict(teachers=("lenet",), students=("student-3q",), ensemble=False, epochs=3, teacher_epochs=1)


@pytest.mark.slow
def test_distillation_killed_mid_epoch_resumes_at_its_last_epoch(tmp_path):
    """A distillation run killed mid-fit started that run over from epoch 1 (no resume state)."""
    from hybridkeras.training import run_distillation

    out = tmp_path / "distill"
    killed(f"""
        import hybridkeras.training.distillation as dist
        from hybridkeras.training import get_config, run_distillation
        kill_in_fit(dist, "from-lenet", 1, 1)
        run_distillation(get_config("distill-tiny", **{DISTILL!r}), {str(out)!r}, verbose=0)
    """)
    run_dir = out / "seed0" / "student-3q" / "from-lenet"
    before = epochs_of(run_dir / "history.json")
    assert sorted(before) == ["1"] and (run_dir / "backup").is_dir()
    teacher = epochs_of(out / "seed0" / "teachers" / "lenet" / "history.json")

    result = run_distillation(get_config("distill-tiny", **DISTILL), out, verbose=0)
    after = epochs_of(run_dir / "history.json")
    assert sorted(after) == ["1", "2", "3"] and after["1"] == before["1"]  # epoch 1 was not trained again
    assert epochs_of(out / "seed0" / "teachers" / "lenet" / "history.json") == teacher
    assert not (run_dir / "backup").exists() and (run_dir / "metrics.json").is_file()
    assert {r["role"] for r in result.runs} == {"lenet", "student-3q", "student-3q from lenet"}
