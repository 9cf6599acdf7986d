"""Evaluating exports: accuracy, per-class report, confusion matrix, and the plots that go with them."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hybridkeras import data as hkdata
from hybridkeras.io import load_model, read_history, read_record, write_json_atomic


def _is_export(path: Path) -> bool:
    return (path / "saved_model.pb").is_file()


def find_exports(path) -> dict:
    """{role: export path} for one export, or for every export inside a run directory."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved model or run directory at {str(path)!r}")
    if _is_export(path):
        return {read_record(path).get("metadata", {}).get("role", path.name): path}
    if path.is_file():
        if path.suffix not in (".h5", ".hdf5", ".keras"):
            raise FileNotFoundError(f"{str(path)!r} is a file but not a model (.h5 / .keras); pass an export folder, "
                                    "a model file or the run directory `hybridkeras train` wrote")
        return {path.stem: path}
    exports = {child.name: child for child in sorted(path.iterdir()) if child.is_dir() and _is_export(child)}
    if not exports:
        raise FileNotFoundError(
            f"{str(path)!r} holds no SavedModel (no saved_model.pb in it or its sub-folders); "
            "pass an export or the run directory `hybridkeras train` wrote"
        )
    return exports


def _dataset_for(export: Path, dataset: str | None, data_dir) -> hkdata.Dataset:
    spec = dict(read_record(export).get("metadata", {}).get("data", {}))
    if dataset is not None and dataset != spec.get("dataset"):
        spec = {"dataset": dataset}  # another dataset: its own default splits
    if not spec.get("dataset"):
        raise ValueError(f"{str(export)!r} records no dataset; pass dataset= (CLI: --dataset)")
    if data_dir is not None:
        spec["data_dir"] = str(data_dir)
    return hkdata.load(
        spec["dataset"],
        spec.get("data_dir"),
        train_size=spec.get("train_size"),
        val_size=spec.get("val_size"),
        test_size=spec.get("test_size"),
        validation_split=spec.get("validation_split", 0.1),
        test_split=spec.get("test_split", 0.2),
        classes=spec.get("classes"),
        resize=spec.get("resize"),
        seed=spec.get("seed", 0),
    )


def safe_filename(text: str) -> str:
    """``text`` as one file-name component: letters, digits, '-', '_' and '.'; anything else (path
    separators, '..') becomes '_', so a name read from metadata cannot leave its folder."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "model"
    return name[:100]


def evaluate_export(path, *, dataset: str | None = None, data_dir=None, plots_dir=None, verbose: bool = True,
                    safe_mode: bool = True) -> dict:
    """Scores every classifier export at ``path`` on its held-out test split and draws plots.

    ``path`` is one export or a run directory. The test split is rebuilt from the data
    settings recorded at training time (override with ``dataset`` / ``data_dir``). Plots
    (confusion matrix, training curves, autoencoder reconstructions) go to ``plots_dir``
    (default: ``<run dir>/plots``); a summary goes to ``evaluation.json`` there. File names are
    built from the exports' roles through `safe_filename`. ``safe_mode``: see `hybridkeras.load_model`.
    """
    from sklearn.metrics import classification_report, confusion_matrix

    from hybridkeras import viz

    path = Path(path)
    exports = find_exports(path)
    run_dir = path if not _is_export(path) else path.parent
    plots = Path(plots_dir) if plots_dir is not None else run_dir / "plots"
    data = _dataset_for(next(iter(exports.values())), dataset, data_dir)
    hkdata.check_finite(data.x_test, "x_test")
    results = {"dataset": data.summary(), "models": {}, "plots": []}
    for role, export in exports.items():
        model = load_model(export, compile=False, safe_mode=safe_mode)
        stem = safe_filename(role)
        expected = tuple(model.input_shape[1:])
        if expected != data.input_shape:
            raise ValueError(
                f"The model at {str(export)!r} expects inputs of shape {expected}, but dataset "
                f"{data.name!r} gives {data.input_shape}; pass the dataset it was trained on"
            )
        outputs = model.predict(data.x_test, batch_size=256, verbose=0)
        history = read_history(export)
        if history:
            _draw(viz.plot_history, results, plots / f"{stem}_training_curves.png", history, title=f"{role}: training curves")
        if outputs.shape[1:] == data.x_test.shape[1:]:  # an autoencoder
            mse = float(np.mean((outputs - data.x_test) ** 2))
            results["models"][role] = {"test_mse": mse}
            _draw(viz.plot_reconstructions, results, plots / f"{stem}_reconstructions.png", data.x_test, outputs)
            if verbose:
                print(f"\n== {role} ({export}) ==\ntest reconstruction MSE: {mse:.4f}")
            continue
        predicted = outputs.argmax(axis=1)
        labels = list(range(data.num_classes))
        accuracy = float(np.mean(predicted == data.y_test))
        matrix = confusion_matrix(data.y_test, predicted, labels=labels)
        report = classification_report(
            data.y_test, predicted, labels=labels, target_names=data.class_names, digits=3, zero_division=0
        )
        _draw(viz.plot_confusion_matrix, results, plots / f"{stem}_confusion_matrix.png", matrix, data.class_names,
              title=f"{role}: test accuracy {accuracy:.3f}")
        results["models"][role] = {"test_accuracy": accuracy, "confusion_matrix": matrix.tolist(), "test_samples": len(predicted)}
        if verbose:
            print(f"\n== {role} ({export}) ==\ntest accuracy: {accuracy:.4f} on {len(predicted)} images")
            print(report)
            print("confusion matrix (rows: true, columns: predicted):")
            print(matrix)
    write_json_atomic(plots / "evaluation.json", results)
    if verbose:
        print(f"\nplots and evaluation.json written to {plots}")
    return results


def _draw(plot, results: dict, target: Path, *args, **kwargs) -> None:
    """Draws one plot to ``target``, records its path, and frees the figure."""
    import matplotlib.pyplot as plt

    plt.close(plot(*args, path=target, **kwargs))
    results["plots"].append(str(target))
