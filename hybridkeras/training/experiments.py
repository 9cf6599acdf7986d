"""The experiment runner: named configs → models × seeds → per-epoch metrics, mean ± std tables, plots.

Layout of ``<output>`` (default ``saved_models/<config name>``)::

    config.json                     the config the run was started with
    <model>/seed<k>/history.json    per-epoch metrics, written after every epoch
    <model>/seed<k>/backup/         EpochBackup state while the run is unfinished
    <model>/seed<k>/metrics.json    final metrics (its presence marks the run as done)
    <model>/seed<k>/model/          the trained model (hybridkeras.save_model: model.keras and its record)
    summary.csv, summary.md, summary.json, curves.png

Calling :func:`run_experiment` again on the same folder skips finished runs and resumes an
interrupted one from its last finished epoch.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path

import numpy as np

import keras
from hybridkeras.data import DataSpec
from hybridkeras.io import save_model, write_json_atomic, write_text_atomic
from hybridkeras.layers import noise_scope
from hybridkeras.models import build_model, compile_for, get_builder, runner_steps_per_execution
from hybridkeras.training.callbacks import EpochRecorder, GradCAMSnapshots, make_callbacks, read_run_history
from hybridkeras.training.configs import ExperimentConfig
from hybridkeras.training.distribute import make_strategy, worker_folder
from hybridkeras.training.feeding import array_inputs, validation_inputs
from hybridkeras.training.metrics import convergence_epoch, convergence_speedup
from hybridkeras.training.runs import check_config, default_output, holds_lock, mean_std, resolved, write_csv



@dataclass
class ExperimentResult:
    config: ExperimentConfig
    output_dir: Path
    runs: dict = field(default_factory=dict)  # model -> [metrics per seed]
    histories: dict = field(default_factory=dict)  # model -> [history per seed]
    rows: list = field(default_factory=list)  # one summary row per model
    speedups: list = field(default_factory=list)  # Q_AB rows
    markdown: str = ""


def experiment_dataset(config: ExperimentConfig, seed: int):
    """The dataset of ``config`` split with split seed ``seed`` (see :meth:`ExperimentConfig.split_seed`)."""
    return DataSpec.of(config, seed).load()


class TestAccuracyAt(keras.callbacks.Callback):
    """Adds ``test_accuracy`` (and ``test_loss``) to the logs of the chosen epochs, for reporting only.

    Nothing is selected on it: it lets a table show held-out accuracy at epochs 10/25/50 as
    the LCQHNN paper does. Put it before the recorder so the values are stored in the history.
    """

    def __init__(self, epochs, x, y, batch_size: int = 256):
        super().__init__()
        self.epochs, self.x, self.y, self.batch_size = set(epochs), x, y, batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and epoch + 1 in self.epochs:
            loss, accuracy = self.model.evaluate(self.x, self.y, batch_size=self.batch_size, verbose=0)[:2]
            logs["test_loss"], logs["test_accuracy"] = loss, accuracy


def _gradcam_callbacks(config: ExperimentConfig, model, data, run_dir: Path) -> list:
    """A GradCAMSnapshots callback on the first test images (classes in turn), if the config asks and the model has a conv layer."""
    if not config.gradcam_epochs or not any(isinstance(layer, keras.layers.Conv2D) for layer in _all_layers(model)):
        return []
    key = _round_robin(data.y_test) * data.num_classes + data.y_test
    chosen = np.argsort(key, kind="stable")[: config.gradcam_images]
    labels = [data.class_names[int(c)] for c in data.y_test[chosen]]
    return [GradCAMSnapshots(data.x_test[chosen], config.gradcam_epochs, output_dir=run_dir / "gradcam", labels=labels)]


def _round_robin(labels: np.ndarray) -> np.ndarray:
    """Rank of each sample within its class, so sorting by it takes one sample of every class in turn."""
    rank = np.zeros(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        index = np.flatnonzero(labels == label)
        rank[index] = np.arange(len(index))
    return rank


def _all_layers(model) -> list:
    layers = []
    for layer in model.layers:
        layers.extend(_all_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return layers


def train_one(config: ExperimentConfig, model_name: str, seed: int, data, run_dir: Path, *,
              verbose: int = 1, save: bool = True, tensorboard: bool = False, strategy=None) -> dict:
    """Trains one model with one seed (resuming from ``run_dir/backup``); returns its metrics.

    ``strategy``: a strategy of `hybridkeras.training.distribute.make_strategy`; the model is
    built, compiled and trained in its scope.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    strategy = make_strategy(strategy or "default")
    keras.utils.set_random_seed(seed)
    with strategy.scope():  # built, compiled and trained in it (a JAX DataParallel lays out the batches while fitting)
        with noise_scope(config.noise or None):  # every quantum layer simulates config.noise (noise-aware training)
            model = build_model(model_name, data.input_shape, data.num_classes, backend=config.backend,
                                **config.model_kwargs.get(model_name, {}))
        compile_for(model, learning_rate=config.learning_rate, steps_per_execution=runner_steps_per_execution())
        recorder = EpochRecorder(run_dir / "history.json")
        tests = [TestAccuracyAt(config.report_epochs, data.x_test, data.y_test)] if config.report_test else []
        callbacks = tests + [recorder] + _gradcam_callbacks(config, model, data, run_dir) + make_callbacks(
            lr_schedule=config.lr_schedule, initial_lr=config.learning_rate, backup_dir=run_dir / "backup",
            keep_backup=True, tensorboard_dir=run_dir / "logs" if tensorboard else None,
        )
        started = time.perf_counter()
        model.fit(
            **array_inputs(data.x_train, data.y_train, batch_size=config.batch_size, seed=seed),
            validation_data=validation_inputs(data.x_val, data.y_val, batch_size=config.batch_size),
            epochs=config.epochs, callbacks=callbacks, verbose=verbose,
        )
    seconds = time.perf_counter() - started
    test_loss, test_accuracy = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
    history = recorder.history()
    val = history.get("val_accuracy", [])
    metrics = {
        "model": model_name,
        "seed": seed,
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "val_accuracy": float(val[-1]) if val else math.nan,
        "best_val_accuracy": float(max(val)) if val else math.nan,
        "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)),
        "epochs": len(val),
        "seconds_per_epoch": float(np.mean(history.get("seconds", [math.nan]))),
        "seconds_this_session": seconds,
    }
    for epoch in config.report_epochs:
        metrics[f"val_accuracy@{epoch}"] = float(val[epoch - 1]) if len(val) >= epoch else math.nan
        if config.report_test:
            tested = history.get("test_accuracy", [])
            value = tested[epoch - 1] if len(tested) >= epoch else math.nan
            metrics[f"test_accuracy@{epoch}"] = math.nan if value is None else float(value)
    if config.threshold is not None:
        metrics["convergence_epoch"] = convergence_epoch(val, config.threshold)
    if save:
        save_model(model, run_dir / "model", history=history, metadata={
            "role": model_name, "experiment": config.name, "seed": seed, "metrics": metrics,
            "data": config.data_spec(seed).record(data)})
    write_json_atomic(run_dir / "metrics.json", metrics)
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    return metrics


def summarise(config: ExperimentConfig, runs: dict) -> tuple[list, list]:
    """One row per model (mean ± std over seeds) and the Q_AB rows for every ordered pair."""
    rows = []
    for model_name, metrics in runs.items():
        row = {"model": model_name, "seeds": len(metrics), "trainable_params": metrics[0]["trainable_params"]}
        keys = ["test_accuracy", "val_accuracy", "best_val_accuracy", "seconds_per_epoch"]
        keys += [f"val_accuracy@{e}" for e in config.report_epochs]
        if config.report_test:
            keys += [f"test_accuracy@{e}" for e in config.report_epochs]
        if config.threshold is not None:
            keys.append("convergence_epoch")
            row["converged_seeds"] = sum(m.get("convergence_epoch") is not None for m in metrics)
        for key in keys:
            row[f"{key}_mean"], row[f"{key}_std"] = mean_std(m.get(key) for m in metrics)
        rows.append(row)
    speedups = []
    if config.threshold is not None:
        epochs = {r["model"]: r["convergence_epoch_mean"] for r in rows}
        for a, b in permutations(epochs, 2):
            ea, eb = epochs[a], epochs[b]
            q = None if math.isnan(ea) or math.isnan(eb) else convergence_speedup(ea, eb)
            speedups.append({"A": a, "B": b, "E_A": ea, "E_B": eb, "Q_AB": q})
    return rows, speedups


def _fmt(mean, std, scale=1.0, digits=2):
    if mean is None or math.isnan(mean):
        return "–"
    return f"{mean * scale:.{digits}f} ± {std * scale:.{digits}f}"


def render_markdown(config: ExperimentConfig, rows: list, speedups: list, data_summary: str) -> str:
    header = ["model", "params", "test acc %", "final val acc %"]
    header += [f"val acc % @{e}" for e in config.report_epochs]
    if config.report_test:
        header += [f"test acc % @{e}" for e in config.report_epochs]
    if config.threshold is not None:
        header.append(f"epochs to {config.threshold:.0%} val")
    header.append("s / epoch")
    lines = [
        f"Experiment `{config.name}`: {data_summary}; {config.epochs} epochs, batch {config.batch_size}, "
        f"Adam lr {config.learning_rate}; mean ± std over seeds {list(config.seeds)}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in rows:
        cells = [r["model"], f"{r['trainable_params']:,}", _fmt(r["test_accuracy_mean"], r["test_accuracy_std"], 100),
                 _fmt(r["val_accuracy_mean"], r["val_accuracy_std"], 100)]
        cells += [_fmt(r[f"val_accuracy@{e}_mean"], r[f"val_accuracy@{e}_std"], 100) for e in config.report_epochs]
        if config.report_test:
            cells += [_fmt(r[f"test_accuracy@{e}_mean"], r[f"test_accuracy@{e}_std"], 100) for e in config.report_epochs]
        if config.threshold is not None:
            cells.append(_fmt(r["convergence_epoch_mean"], r["convergence_epoch_std"], 1, 1)
                         + f" ({r['converged_seeds']}/{r['seeds']} seeds)")
        cells.append(f"{r['seconds_per_epoch_mean']:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    if speedups:
        lines += ["", "Convergence speed Q_AB = (E_B − E_A) / E_B (positive: A reaches the threshold in fewer epochs):",
                  "", "| A | B | E_A | E_B | Q_AB |", "|---|---|---|---|---|"]
        for s in speedups:
            q = "–" if s["Q_AB"] is None else f"{s['Q_AB']:+.2f}"
            lines.append(f"| {s['A']} | {s['B']} | {s['E_A']:.1f} | {s['E_B']:.1f} | {q} |")
    return "\n".join(lines) + "\n"


@holds_lock(default_output)
def run_experiment(config: ExperimentConfig, output_dir=None, *, resume: bool = True, verbose: int = 1,
                   save_models: bool = True, tensorboard: bool = False, plots: bool = True,
                   strategy="default") -> ExperimentResult:
    """Runs every model of ``config`` for every seed and writes the tables and plots.

    Args:
        config: An :class:`ExperimentConfig` (see ``hybridkeras.training.CONFIGS``).
        output_dir: Folder of the run (default ``saved_models/<config.name>``).
        resume: Skip finished runs and resume an interrupted one (default). False deletes an
            earlier run of the folder first.
        verbose: Keras' progress bar (1), one line per epoch (2) or silent (0).
        save_models: Export every trained model to ``<model>/seed<k>/model``.
        strategy: 'default', 'mirrored' or a strategy object: see `hybridkeras.training.distribute`
            ('multi-worker' is refused there, naming why).

    Returns:
        An :class:`ExperimentResult` with per-seed metrics, histories and the summary rows.
    """
    if not isinstance(config, ExperimentConfig):
        raise TypeError(f"`config` must be an ExperimentConfig. Received: config={type(config).__name__}")
    if not config.models:
        raise ValueError(f"Config {config.name!r} lists no models")
    if not config.seeds:
        raise ValueError(f"Config {config.name!r} lists no seeds; give at least one (CLI: --seeds 0)")
    for name in config.models:
        get_builder(name)
    config = resolved(config)  # the backend is explicit from here on, and recorded
    strategy = make_strategy(strategy)
    output = worker_folder(Path(output_dir or default_output(config)))
    check_config(output, config, resume)
    result = ExperimentResult(config=config, output_dir=output)
    datasets = {}
    data_summary = ""
    for model_name in config.models:
        result.runs[model_name], result.histories[model_name] = [], []
        for seed in config.seeds:
            run_dir = output / model_name / f"seed{seed}"
            data_seed = config.split_seed(seed)
            if data_seed not in datasets:
                datasets[data_seed] = experiment_dataset(config, data_seed)
            data = datasets[data_seed]
            data_summary = data.summary()
            done = run_dir / "metrics.json"
            if done.is_file():
                metrics = json.loads(done.read_text())
            else:
                if verbose:
                    print(f"[{config.name}] {model_name} seed {seed}", flush=True)
                metrics = train_one(config, model_name, seed, data, run_dir, verbose=verbose, save=save_models,
                                    tensorboard=tensorboard, strategy=strategy)
                keras.backend.clear_session()
            result.runs[model_name].append(metrics)
            result.histories[model_name].append(read_run_history(run_dir))
    result.rows, result.speedups = summarise(config, result.runs)
    result.markdown = render_markdown(config, result.rows, result.speedups, data_summary)
    write_csv(output / "summary.csv", result.rows)
    write_text_atomic(output / "summary.md", result.markdown)
    write_json_atomic(output / "summary.json", {"rows": result.rows, "speedups": result.speedups,
                                                "runs": result.runs, "data": data_summary})
    if plots:
        from hybridkeras.viz import plot_experiment_curves

        plot_experiment_curves(result.histories, output / "curves.png", title=config.name)
    return result
