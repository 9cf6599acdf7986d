"""Evaluating exports: accuracy, per-class report, confusion matrix, and the plots that go with them."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from hybridkeras import data as hkdata
from hybridkeras.io import is_export, load_model, read_history, read_record, refuse_legacy, write_json_atomic


def _exports_below(folder: Path) -> list:
    """Every export under ``folder`` (not inside other exports, hidden folders or resume backups), sorted."""
    found = []
    for child in sorted(folder.iterdir()):
        if not child.is_dir() or child.name.startswith(".") or child.name in ("backup", "checkpoints", "plots"):
            continue
        found.extend([child] if is_export(child) else _exports_below(child))
    return found


def _label(export: Path, root: Path) -> str:
    """A run folder's export as ``model/seed0`` (the ``model`` folder of the experiment layouts is implied)."""
    parts = export.relative_to(root).parts
    return "/".join(parts[:-1] if len(parts) > 1 and parts[-1] == "model" else parts)


def find_exports(path) -> dict:
    """{label: export path} for one export, or for every export below a run directory.

    A run directory is anything `train`, `experiment`, `tune` or `distill` wrote: the labels are
    the exports' folders relative to it (``hybrid``, ``hqnn-parallel/seed0``,
    ``seed1/student-3q/from-lenet``, ``best``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved model or run directory at {str(path)!r}")
    if is_export(path):
        return {read_record(path).get("metadata", {}).get("role", path.name): path}
    if path.is_file():
        if path.suffix not in (".h5", ".hdf5", ".keras"):
            raise FileNotFoundError(f"{str(path)!r} is a file but not a model (.h5 / .keras); pass an export folder, "
                                    "a model file or the run directory `hybridkeras train` wrote")
        return {path.stem: path}
    exports = {_label(export, path): export for export in _exports_below(path)}
    if not exports:
        raise FileNotFoundError(
            f"{str(path)!r} holds no export of hybridkeras (no model.keras or saved_model.pb with a hybridkeras.json record in it or its sub-folders); "
            "pass an export or the run directory `hybridkeras train` wrote"
        )
    return exports


SPLITS = ("test", "all")


def data_settings(export: Path, dataset: str | None, data_dir, split: str = "test") -> hkdata.DataSpec:
    """The `DataSpec` that rebuilds the data ``export`` is scored on: the one it recorded, another
    ``dataset`` (with its own default splits) or the recorded one read from ``data_dir``.

    ``split='all'`` drops the recorded subset sizes, so every image of the recorded classes is
    scored (train, validation and test splits together).
    """
    record = read_record(export).get("metadata", {}).get("data", {})
    if dataset is not None and dataset != record.get("dataset"):
        record = {"dataset": dataset}
    if not record.get("dataset"):
        raise ValueError(f"{str(export)!r} records no dataset; pass dataset= (CLI: --dataset)")
    if data_dir is not None:
        record = dict(record, data_dir=str(data_dir))
    spec = hkdata.DataSpec.from_record(record)
    return spec.every_image() if split == "all" else spec


def _scored_images(spec: hkdata.DataSpec, split: str):
    """(images, labels, dataset) to score: the test split, or every image (``split='all'``)."""
    data = spec.load()
    if split == "all":
        x = np.concatenate([data.x_train, data.x_val, data.x_test])
        y = np.concatenate([data.y_train, data.y_val, data.y_test])
    else:
        x, y = data.x_test, data.y_test
    hkdata.check_finite(x, "x_test" if split == "test" else "images")
    return x, y, data


def safe_filename(text: str) -> str:
    """``text`` as one file-name component: letters, digits, '-', '_' and '.'; anything else (path
    separators, '..') becomes '_', so a name read from metadata cannot leave its folder."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._") or "model"
    return name[:100]


def evaluate_export(path, *, dataset: str | None = None, data_dir=None, plots_dir=None, verbose: bool = True,
                    safe_mode: bool = True, split: str = "test") -> dict:
    """Scores every classifier export at ``path`` on held-out data and draws plots.

    ``path`` is one export, a model file, or any folder `train` / `experiment` / `tune` /
    `distill` wrote: every export below it is scored (all models and seeds), each on the data
    recorded with it — its own seed's test split — and the models' mean ± std over seeds goes to
    ``summary`` (and a table). ``split='all'`` scores every image of the recorded dataset and
    classes instead of the test split (for example of a ``data_dir`` you point it at). Plots
    (confusion matrix, training curves, autoencoder reconstructions) go to ``plots_dir``
    (default: ``<run dir>/plots``); a summary goes to ``evaluation.json`` there. File names are
    built from the exports' labels through `safe_filename`. ``safe_mode``: see `hybridkeras.load_model`.
    """
    from sklearn.metrics import classification_report, confusion_matrix

    from hybridkeras import viz

    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}. Received: split={split!r}")
    path = Path(path)
    exports = find_exports(path)
    run_dir = path if path.is_dir() and not is_export(path) else path.parent
    plots = Path(plots_dir) if plots_dir is not None else run_dir / "plots"
    for export in exports.values():
        refuse_legacy(export)  # before anything else is asked of it: it names who wrote it and what to do
    specs = {label: data_settings(export, dataset, data_dir, split) for label, export in exports.items()}
    loaded = {}
    for spec in specs.values():  # every data setting is checked before anything is written
        if spec not in loaded:
            loaded[spec] = _scored_images(spec, split)
    results = {"split": split, "datasets": sorted({data.summary() for _, _, data in loaded.values()}),
               "models": {}, "plots": []}
    groups = {}
    for label, export in exports.items():
        x, y, data = loaded[specs[label]]
        metadata = read_record(export).get("metadata", {}) if export.is_dir() else {}
        model = load_model(export, compile=False, safe_mode=safe_mode)
        stem = safe_filename(label)
        expected = tuple(model.input_shape[1:])
        if expected != data.input_shape:
            raise ValueError(
                f"The model at {str(export)!r} expects inputs of shape {expected}, but dataset "
                f"{data.name!r} gives {data.input_shape}; pass the dataset it was trained on"
            )
        outputs = model.predict(x, batch_size=256, verbose=0)
        history = read_history(export)
        if history:
            _draw(viz.plot_history, results, plots / f"{stem}_training_curves.png", history, title=f"{label}: training curves")
        entry = {"path": str(export), "role": metadata.get("role", label), "seed": metadata.get("seed")}
        if outputs.shape[1:] == x.shape[1:]:  # an autoencoder
            mse = float(np.mean((outputs - x) ** 2))
            results["models"][label] = dict(entry, test_mse=mse, test_samples=len(x))
            _draw(viz.plot_reconstructions, results, plots / f"{stem}_reconstructions.png", x, outputs)
            if verbose:
                print(f"\n== {label} ({export}) ==\nreconstruction MSE: {mse:.4f} on {len(x)} images ({split})")
            continue
        predicted = outputs.argmax(axis=1)
        labels = list(range(data.num_classes))
        accuracy = float(np.mean(predicted == y))
        matrix = confusion_matrix(y, predicted, labels=labels)
        report = classification_report(
            y, predicted, labels=labels, target_names=data.class_names, digits=3, zero_division=0
        )
        _draw(viz.plot_confusion_matrix, results, plots / f"{stem}_confusion_matrix.png", matrix, data.class_names,
              title=f"{label}: accuracy {accuracy:.3f} ({split})")
        results["models"][label] = dict(entry, test_accuracy=accuracy, confusion_matrix=matrix.tolist(),
                                        test_samples=len(predicted))
        groups.setdefault(entry["role"], []).append(accuracy)
        if verbose:
            scored = "test accuracy" if split == "test" else "accuracy on every image"
            print(f"\n== {label} ({export}) ==\n{scored}: {accuracy:.4f} on {len(predicted)} images")
            print(report)
            print("confusion matrix (rows: true, columns: predicted):")
            print(matrix)
    results["summary"] = [
        {"role": role, "models": len(values), "test_accuracy_mean": float(np.mean(values)),
         "test_accuracy_std": float(np.std(values))}
        for role, values in groups.items()
    ]
    write_json_atomic(plots / "evaluation.json", results)
    if verbose:
        if len(exports) > 1:
            print(f"\n| model | exports | accuracy % ({split}), mean ± std |\n|---|---|---|")
            for row in results["summary"]:
                print(f"| {row['role']} | {row['models']} | {100 * row['test_accuracy_mean']:.2f} ± "
                      f"{100 * row['test_accuracy_std']:.2f} |")
        print(f"\nplots and evaluation.json written to {plots}")
    return results


def _draw(plot, results: dict, target: Path, *args, **kwargs) -> None:
    """Draws one plot to ``target``, records its path, and frees the figure."""
    import matplotlib.pyplot as plt

    plt.close(plot(*args, path=target, **kwargs))
    results["plots"].append(str(target))
