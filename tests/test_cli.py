import json
import subprocess
import sys
from pathlib import Path

import pytest

from hybridkeras.cli import build_parser


def hybridkeras(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hybridkeras.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=900)


def in_process(capsys, *args):
    """``hybridkeras ARGS`` through `hybridkeras.cli.main` in this process (no interpreter start-up), with
    the exit status and output a subprocess would give; tests that need a fresh interpreter use `hybridkeras`."""
    import types

    from hybridkeras.cli import main

    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except SystemExit as exit_:
        code = exit_.code
    out = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)


@pytest.mark.parametrize("command", ["train", "experiment", "evaluate", "tune"])
def test_help_explains_every_option(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    parser = build_parser()._subparsers._group_actions[0].choices[command]
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"{command} {action.option_strings} has no help text"
            assert action.option_strings[-1] in text


def test_train_then_evaluate_from_the_command_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    train = in_process(capsys, "train", "autoencoder-qfm", "--config", "autoencoder-qfm-tiny", "--quiet")
    assert train.returncode == 0, train.stderr[-3000:]
    run = tmp_path / "saved_models" / "autoencoder-qfm-tiny"
    assert {"autoencoder", "classical", "hybrid"} <= {p.name for p in run.iterdir()}
    evaluate = in_process(capsys, "evaluate", str(run))
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert "test accuracy" in evaluate.stdout and "confusion matrix" in evaluate.stdout and "precision" in evaluate.stdout
    plots = {p.name for p in (run / "plots").iterdir()}
    assert {"hybrid_confusion_matrix.png", "classical_training_curves.png", "autoencoder_reconstructions.png"} <= plots
    recorded = json.loads((run / "record.json").read_text())["metrics"]["hybrid_test_accuracy"]
    evaluated = json.loads((run / "plots" / "evaluation.json").read_text())["models"]["hybrid"]["test_accuracy"]
    assert evaluated == pytest.approx(recorded, abs=1e-6)


def test_train_then_evaluate_on_the_other_keras_backend(tmp_path):
    """The suite runs on one Keras backend per environment (TensorFlow on Python 3.11, JAX on 3.13); the CLI's
    main job also runs on the other one (JAX here on 3.11, TensorFlow on 3.13), in a fresh interpreter, and
    records which backend trained it."""
    import os

    import keras

    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    env = dict(os.environ, KERAS_BACKEND=other)
    run = tmp_path / "run"
    for args in (["train", "autoencoder-qfm", "--config", "autoencoder-qfm-tiny", "--output", str(run), "--quiet"],
                 ["evaluate", str(run)]):
        done = subprocess.run([sys.executable, "-m", "hybridkeras.cli", *args], capture_output=True, text=True,
                              cwd=tmp_path, env=env, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    assert "test accuracy" in done.stdout
    assert json.loads((run / "config.json").read_text())["keras_backend"] == other


def test_user_errors_are_one_clear_line(tmp_path):
    missing = hybridkeras("evaluate", str(tmp_path / "nothing"), cwd=tmp_path)
    assert missing.returncode == 2 and "No saved model or run directory" in missing.stderr
    assert "Traceback" not in missing.stderr
    bad = hybridkeras("train", "autoencoder-qfm", "--dataset", "cifar", cwd=tmp_path)
    assert bad.returncode == 2 and "invalid choice: 'cifar'" in bad.stderr
    no_data = hybridkeras("train", "autoencoder-qfm", "--dataset", "mnist", "--data-dir", str(tmp_path / "none"), cwd=tmp_path)
    assert no_data.returncode == 2 and "`data_dir`" in no_data.stderr and "Traceback" not in no_data.stderr


def test_readme_setup_commands_are_the_ones_ci_runs():
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = readme.split("## Set up", 1)[1].split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2, block
    for command in block:
        assert command in ci.splitlines(), f"README command not run by .ci/run: {command}"


def test_experiment_families_train_tune_and_evaluate_from_the_command_line(tmp_path, monkeypatch, capsys):
    """In process, except the search: its exit must not print TensorFlow's restore warnings, which only
    a fresh interpreter's exit shows."""
    monkeypatch.chdir(tmp_path)
    train = in_process(capsys, "train", "hqnn-quanv", "--config", "hqnn-quanv-tiny", "--seeds", "0", "--epochs", "1",
                        "--quiet")
    assert train.returncode == 0, train.stderr[-3000:]
    run = tmp_path / "saved_models" / "hqnn-quanv-tiny"
    assert "| hqnn-quanv |" in train.stdout and (run / "summary.csv").is_file()
    evaluate = in_process(capsys, "evaluate", str(run / "cnn4" / "seed0" / "model"))
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    recorded = json.loads((run / "cnn4" / "seed0" / "metrics.json").read_text())["test_accuracy"]
    assert f"{recorded:.4f}" in evaluate.stdout

    parallel = in_process(capsys, "train", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--qubits", "3",
                          "--circuits", "2", "--depth", "1", "--seeds", "0", "1", "--epochs", "1", "--quiet")
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    folder = tmp_path / "saved_models" / "hqnn-parallel-tiny"
    config = json.loads((folder / "config.json").read_text())
    assert config["model_kwargs"]["hqnn-parallel"]["qubits"] == 3

    # the whole folder train wrote: every model and seed, each on its own seed's test split
    scored = in_process(capsys, "evaluate", str(folder))
    assert scored.returncode == 0, scored.stderr[-3000:]
    evaluated = json.loads((folder / "plots" / "evaluation.json").read_text())
    runs = {p.parent.relative_to(folder).as_posix(): json.loads(p.read_text()) for p in folder.glob("*/seed*/metrics.json")}
    assert set(evaluated["models"]) == set(runs) == {f"{m}/seed{s}" for m in ("hqnn-parallel", "hqnn-parallel-cnn")
                                                    for s in (0, 1)}
    for label, metrics in runs.items():
        assert evaluated["models"][label]["test_accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6), label
    for row in evaluated["summary"]:
        values = [m["test_accuracy"] for m in runs.values() if m["model"] == row["role"]]
        assert row["models"] == 2 and row["test_accuracy_mean"] == pytest.approx(sum(values) / 2, abs=1e-6)
    assert "| hqnn-parallel-cnn | 2 |" in scored.stdout
    every = in_process(capsys, "evaluate", str(folder / "hqnn-parallel" / "seed1" / "model"), "--split", "all",
                        "--plots", str(tmp_path / "all"))
    assert every.returncode == 0, every.stderr[-3000:]
    assert json.loads((tmp_path / "all" / "evaluation.json").read_text())["models"]["hqnn-parallel"]["test_samples"] == 1797

    tune = hybridkeras("tune", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--trials", "2", "--epochs", "1",
                       "--quiet", cwd=tmp_path)
    assert tune.returncode == 0, tune.stderr[-3000:]
    summary = json.loads((tmp_path / "saved_models" / "hqnn-parallel-tiny-hqnn-parallel-tuning" / "tuning.json").read_text())
    assert {"qubits", "depth", "circuits", "readout", "learning_rate"} <= set(summary["best_hyperparameters"])
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    assert "could not be found in the restored object" not in tune.stderr
    best = in_process(capsys, "evaluate", str(tmp_path / "saved_models" / "hqnn-parallel-tiny-hqnn-parallel-tuning" / "best"))
    assert best.returncode == 0, best.stderr[-3000:]
    assert f"{summary['test_accuracy']:.4f}" in best.stdout


@pytest.mark.slow  # the default run's time budget: their runners are tested in-process by the default run
def test_lcqhnn_trains_tunes_and_evaluates_from_the_command_line(tmp_path):
    train = hybridkeras("train", "lcqhnn", "--config", "lcqhnn-tiny", "--readout", "probs", "--quiet", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    run = tmp_path / "saved_models" / "lcqhnn-tiny"
    assert "| lcqhnn |" in train.stdout and "| lcqhnn-cnn16 |" in train.stdout and "Q_AB" in train.stdout
    config = json.loads((run / "config.json").read_text())
    assert config["model_kwargs"]["lcqhnn"]["readout"] == "probs"
    assert (run / "lcqhnn" / "seed0" / "gradcam" / "gradcam.png").is_file()
    evaluate = hybridkeras("evaluate", str(run / "lcqhnn" / "seed0" / "model"), cwd=tmp_path)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    recorded = json.loads((run / "lcqhnn" / "seed0" / "metrics.json").read_text())["test_accuracy"]
    assert f"{recorded:.4f}" in evaluate.stdout

    tune = hybridkeras("tune", "lcqhnn-cnn", "--config", "lcqhnn-tiny", "--trials", "2", "--epochs", "1", "--quiet",
                       cwd=tmp_path)
    assert tune.returncode == 0, tune.stderr[-3000:]
    summary = json.loads((tmp_path / "saved_models" / "lcqhnn-tiny-lcqhnn-cnn-tuning" / "tuning.json").read_text())
    assert {"parameters", "filters1", "hidden_units", "dropout", "learning_rate"} <= set(summary["best_hyperparameters"])


@pytest.mark.slow  # the default run's time budget: their runners are tested in-process by the default run
def test_distillation_table_pair_and_tuning_from_the_command_line(tmp_path):
    table = hybridkeras("train", "distill", "--config", "distill-tiny", "--quiet", cwd=tmp_path)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "| student-3q |" in table.stdout and "ensemble" in table.stdout and "gain (points)" in table.stdout
    teacher = tmp_path / "saved_models" / "distill-tiny" / "seed0" / "teachers" / "lenet" / "model"

    pair = hybridkeras("distill", "--config", "distill-tiny", "--teacher", str(teacher), "--student", "student-4q",
                       "--temperature", "4", "--alpha", "0.5", "--quiet", cwd=tmp_path)
    assert pair.returncode == 0, pair.stderr[-3000:]
    export = tmp_path / "saved_models" / "distill-tiny-model-student-4q" / "student"
    record = json.loads((export / "hybridkeras.json").read_text())
    assert record["metadata"]["metrics"]["temperature"] == 4.0 and record["metadata"]["metrics"]["alpha"] == 0.5
    recorded = json.loads((tmp_path / "saved_models" / "distill-tiny" / "seed0" / "teachers" / "lenet" / "metrics.json").read_text())
    assert abs(record["metadata"]["metrics"]["teacher_test_accuracy"] - recorded["test_accuracy"]) < 1e-6
    evaluate = hybridkeras("evaluate", str(export), cwd=tmp_path)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]

    tune = hybridkeras("tune", "distill", "--config", "distill-tiny", "--trials", "2", "--epochs", "1", "--quiet",
                       cwd=tmp_path)
    assert tune.returncode == 0, tune.stderr[-3000:]
    summary = json.loads((tmp_path / "saved_models" / "distill-tiny-tuning" / "tuning.json").read_text())
    assert {"temperature", "alpha", "learning_rate"} <= set(summary["best_hyperparameters"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "hqnn-quanv", "--ae-epochs", "3"], "--ae-epochs applies only to autoencoder-qfm"),
        (["train", "autoencoder-qfm", "--seeds", "1"], "--seeds applies only to experiment configs"),
        (["train", "hqnn-quanv", "--qubits", "3"], "apply to HQNN-Parallel configs"),
        (["train", "hqnn-quanv", "--readout", "Z"], "apply to HQNN-Parallel and LCQHNN configs"),
        (["train", "lcqhnn", "--readout", "X"], "--readout must be one of Z, probs for LCQHNN"),
        (["train", "lcqhnn", "--depth", "2"], "apply to HQNN-Parallel configs"),
        (["train", "distill", "--readout", "Z"], "--readout does not apply to distillation config"),
        (["train", "lcqhnn", "--temperature", "2"], "--temperature applies only to distillation configs"),
        (["distill", "--config", "lcqhnn"], "`distill` needs a distillation config"),
        (["distill", "--config", "distill-tiny", "--teacher", "no/such/model"], "neither a registered model"),
        (["experiment", "no-such-config"], "Unknown config name"),
        (["experiment", "noise-robustness", "--family", "autoencoder-qfm", "--config", "hqnn-parallel-tiny"],
         "must name an autoencoder-qfm config"),
        (["experiment", "noise-robustness", "--family", "autoencoder-qfm", "--epochs", "2"],
         "--epochs applies only to experiment configs"),
    ],
)
def test_experiment_option_errors(args, message, tmp_path, monkeypatch, capsys):
    """In process (the commands fail before any training; `test_user_errors_are_one_clear_line` checks
    the same exit path in a subprocess): exit status 2 and the message on stderr."""
    from hybridkeras.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_noise_robustness_of_autoencoder_qfm_takes_its_seeds_from_the_command_line(tmp_path, monkeypatch, capsys):
    """autoencoder-qfm's pipeline config has one seed: --seeds become the experiment's own, the pipeline flags its
    overrides (the run itself: tests/test_noise_robustness.py)."""
    import hybridkeras.training
    from hybridkeras.cli import main

    seen = []

    def fake(config, output, **kwargs):
        seen.append(config)
        (Path(output) / "robustness.md").parent.mkdir(parents=True, exist_ok=True)
        (Path(output) / "robustness.md").write_text("table")

    monkeypatch.setattr(hybridkeras.training, "run_noise_robustness", fake)
    main(["experiment", "noise-robustness", "--family", "autoencoder-qfm", "--config", "autoencoder-qfm-tiny",
          "--seeds", "0", "3", "--ae-epochs", "2", "--sweep", "0", "0.1", "--output", str(tmp_path / "run")])
    (config,) = seen
    assert config.seeds == (0, 3) and config.sweep == (0.0, 0.1)
    assert {k: v for k, v in config.overrides.items() if k != "backend"} == {"ae_epochs": 2}
    assert config.seeds_of(config.base()) == (0, 3) and config.base().ae_epochs == 2


@pytest.mark.parametrize("argv,message", [
    (["tune", "hqnn-parallel", "--trials", "0"], "argument --trials: expected a value > 0, got '0'"),
    (["tune", "hqnn-parallel", "--trials", "-1"], "argument --trials: expected a value > 0, got '-1'"),
    (["train", "hqnn-parallel", "--learning-rate", "-1"], "argument --learning-rate: expected a value > 0.0, got '-1'"),
    (["train", "hqnn-parallel", "--learning-rate", "nan"], "argument --learning-rate: expected a finite number, got 'nan'"),
    (["train", "distill", "--temperature", "-1"], "argument --temperature: expected a value > 0.0, got '-1'"),
    (["train", "distill", "--alpha", "1.5"], "argument --alpha: expected a value <= 1.0, got '1.5'"),
])
def test_numeric_options_are_checked_before_anything_runs(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_tuners_refuse_a_trial_count_that_keras_tuner_reads_as_unlimited():
    from hybridkeras.tuning.search import make_tuner

    with pytest.raises(ValueError, match=r"`max_trials` must be a positive int .*Received: max_trials=0"):
        make_tuner(None, "random", max_trials=0, epochs=1, directory="unused", project_name="p", seed=0, overwrite=False)
