import json
import subprocess
import sys

import pytest

from hybridkeras.cli import build_parser


def hybridkeras(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hybridkeras.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=900)


@pytest.mark.parametrize("command", ["train", "evaluate", "tune"])
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


def test_train_then_evaluate_from_the_command_line(tmp_path):
    train = hybridkeras("train", "autoencoder-qfm", "--config", "autoencoder-qfm-tiny", "--quiet", cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    run = tmp_path / "saved_models" / "autoencoder-qfm-tiny"
    assert {"autoencoder", "classical", "hybrid"} <= {p.name for p in run.iterdir()}
    evaluate = hybridkeras("evaluate", str(run), cwd=tmp_path)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    assert "test accuracy" in evaluate.stdout and "confusion matrix" in evaluate.stdout and "precision" in evaluate.stdout
    plots = {p.name for p in (run / "plots").iterdir()}
    assert {"hybrid_confusion_matrix.png", "classical_training_curves.png", "autoencoder_reconstructions.png"} <= plots
    recorded = json.loads((run / "record.json").read_text())["metrics"]["hybrid_test_accuracy"]
    evaluated = json.loads((run / "plots" / "evaluation.json").read_text())["models"]["hybrid"]["test_accuracy"]
    assert evaluated == pytest.approx(recorded, abs=1e-6)


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
