"""Loading never runs code stored in a model folder unless asked; names read from metadata never leave their folder."""
from pathlib import Path

import numpy as np
import pytest

import hybridkeras as hk
from hybridkeras.io import UnsafeModelError
from tests.test_cli import hybridkeras as cli
from tests.test_cli import in_process


def _lambda_export(folder: Path, marker: Path, suffix: str = "") -> Path:
    """A digits classifier whose Lambda layer writes ``marker`` whenever its stored code runs."""
    keras = hk.keras
    inputs = keras.Input((8, 8, 1))
    # the marker's path is a constant of the code (Keras 3 cannot restore a lambda's default arguments)
    hostile = eval(f"lambda x: (open({str(marker)!r}, 'w').write('ran'), x)[1]")  # noqa: S307
    touched = keras.layers.Lambda(hostile, name="hostile")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(touched))
    model = keras.Model(inputs, outputs)
    if suffix:
        path = folder / f"hostile{suffix}"
        model.save(str(path))
    else:
        path = hk.save_model(model, folder / "hostile", metadata={"data": {"dataset": "digits"}, "role": "hostile"})
    if marker.exists():
        marker.unlink()  # building and saving ran the function; from here on only loading may run it
    return path


@pytest.mark.parametrize("suffix", ["", ".h5"])
def test_load_model_refuses_stored_bytecode_without_running_it(tmp_path, suffix):
    marker = tmp_path / "ran.txt"
    path = _lambda_export(tmp_path, marker, suffix)
    with pytest.raises(UnsafeModelError, match=r"stored Python bytecode .*Lambda 'hostile'.*safe_mode=False"):
        hk.load_model(path)
    assert not marker.exists()
    model = hk.load_model(path, safe_mode=False)  # the user's explicit choice: the stored code runs
    assert marker.exists() and model.output_shape == (None, 10)


def test_evaluate_and_teacher_inherit_safe_loading(tmp_path):
    marker = tmp_path / "ran.txt"
    path = _lambda_export(tmp_path, marker)
    done = cli("evaluate", str(path), "--plots", str(tmp_path / "plots"), cwd=tmp_path)
    assert done.returncode != 0 and "stored Python bytecode" in done.stderr and "--unsafe-load" in done.stderr
    assert not marker.exists()
    done = cli("distill", "--teacher", str(path), "--output", str(tmp_path / "distilled"), "--quiet", cwd=tmp_path)
    assert done.returncode != 0 and "stored Python bytecode" in done.stderr, done.stderr[-2000:]
    assert not marker.exists()


def test_evaluate_keeps_plot_names_inside_the_plots_folder(tmp_path):
    keras = hk.keras
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    export = hk.save_model(model, tmp_path / "runs" / "m", metadata={"data": {"dataset": "digits"},
                                                                     "role": "../../escaped/owned"})
    plots = tmp_path / "runs" / "plots"
    from hybridkeras.training.evaluation import evaluate_export

    results = evaluate_export(export, plots_dir=plots, verbose=False)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "runs" / "escaped").exists()
    written = [Path(p) for p in results["plots"]]
    assert written and all(p.resolve().parent == plots.resolve() for p in written)
    assert (plots / "escaped_owned_confusion_matrix.png").is_file()
    assert np.isfinite(results["models"]["../../escaped/owned"]["test_accuracy"])


@pytest.mark.parametrize("suffix", [".h5", ".keras", ".txt"])
def test_evaluate_takes_model_files_or_says_what_it_needs(tmp_path, suffix, monkeypatch, capsys):
    """In process (the command line's exit path is checked in subprocesses elsewhere): a file that is
    not a model, and a model file that records no dataset, get clear errors; with --dataset it is scored."""
    monkeypatch.chdir(tmp_path)

    def evaluate(*args):
        done = in_process(capsys, "evaluate", *args)
        return done.returncode, done.stdout, done.stderr

    keras = hk.keras
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inputs)))
    path = tmp_path / f"m{suffix}"
    if suffix == ".txt":
        path.write_text("not a model")
        code, _, err = evaluate(str(path), "--dataset", "digits")
        assert code != 0 and "is a file but not a model" in err
        return
    model.save(str(path))
    code, _, err = evaluate(str(path))
    assert code != 0 and "records no dataset; pass dataset= (CLI: --dataset)" in err
    code, out, err = evaluate(str(path), "--dataset", "digits", "--plots", str(tmp_path / "plots"))
    assert code == 0 and "test accuracy" in out, err[-2000:]
