"""The distillation runner (paper 4): teachers, students alone, every teacher → student pair, the gains table.

Layout of ``<output>`` (default ``saved_models/<config name>``)::

    config.json
    seed<k>/teachers/<teacher>/          metrics.json, history.json, model/ (an hk.save_model folder)
    seed<k>/teachers/ensemble/           metrics.json, model/ (the members' averaged probabilities)
    seed<k>/<student>/alone/             the student trained on labels only
    seed<k>/<student>/from-<teacher>/    the student distilled from that teacher (the student alone is exported)
    summary.md, summary.csv, summary.json

A run whose ``metrics.json`` exists is skipped when the runner is called again, so an
interrupted table resumes at the run it stopped in; a run interrupted mid-fit resumes at its last
finished epoch (``<run>/backup``, kept until the run's export is written).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import keras
from hybridkeras.data import DataSpec
from hybridkeras.io import load_model, save_model, write_json_atomic, write_text_atomic
from hybridkeras.layers import noise_scope
from hybridkeras.models import (
    build_ensemble, build_model, compile_for, get_builder, output_kind, runner_steps_per_execution,
)
from hybridkeras.training.configs import DistillationConfig
from hybridkeras.training.distiller import Distiller
from hybridkeras.training.feeding import array_inputs, validation_inputs
from hybridkeras.training.callbacks import EpochRecorder, TestAccuracy, make_callbacks
from hybridkeras.training.runs import check_config, default_output, holds_lock, mean_std, resolved, write_csv



@dataclass
class DistillationResult:
    config: DistillationConfig
    output_dir: Path
    runs: list = field(default_factory=list)  # one metrics dict per (seed, role)
    rows: list = field(default_factory=list)
    markdown: str = ""


def distillation_dataset(config: DistillationConfig, seed: int):
    """The balanced ``per_class`` training subset, ``val_per_class`` validation subset and the test split
    (``seed``: the split seed)."""
    return DataSpec.of(config, seed).load()


def teacher_dataset(config: DistillationConfig, seed: int, data=None):
    """The teachers' data of the run with seed ``seed`` (`DistillationConfig.teacher_spec`): ``data``, the
    student's, unless ``teacher_data='rest'``."""
    if config.teacher_data == "student" and data is not None:
        return data
    return config.teacher_spec(seed).load()


def build_student(config: DistillationConfig, name: str, data, seed: int):
    """The student ``name`` with the initial weights of ``seed`` (equal for its alone and distilled runs)."""
    keras.utils.set_random_seed(seed)
    with noise_scope(config.noise or None):  # noise-aware students
        return build_model(name, data.input_shape, data.num_classes, backend=resolved(config).backend,
                           **config.student_kwargs.get(name, {}))


def distill(student, teacher, data, *, temperature: float = 3.0, alpha: float = 0.9, epochs: int = 10,
            batch_size: int = 32, learning_rate: float = 1e-3, callbacks=(), verbose: int = 1,
            cache_teacher: bool = True, ce_weight: float | None = None, seed: int = 0) -> Distiller:
    """Distils ``teacher`` into ``student`` on ``data`` (a hybridkeras Dataset); returns the fitted Distiller.

    With ``cache_teacher`` (default) the teacher's outputs on the training and validation
    images are computed once (inference mode, so they are the same at every step) instead of
    at every step; for the 95-million-parameter AlexNet this is most of the cost.
    ``ce_weight`` None: (1 − alpha)·CE + alpha·T²·KL; a number: ce_weight·CE + alpha·T²·KL.
    A student that outputs logits (`outputs_logits`) is distilled as such. ``seed``: the shuffle seed of the
    training batches (`training.feeding.array_inputs`).
    """
    distiller = Distiller(student, teacher, temperature=temperature, alpha=alpha, ce_weight=ce_weight,
                          student_outputs=output_kind(student), teacher_outputs=output_kind(teacher))
    distiller.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"],
                      steps_per_execution=runner_steps_per_execution())
    y_train, y_val = data.y_train, data.y_val
    if cache_teacher:
        y_train = (data.y_train, teacher.predict(data.x_train, batch_size=256, verbose=0))
        y_val = (data.y_val, teacher.predict(data.x_val, batch_size=256, verbose=0))
    distiller.fit(**array_inputs(data.x_train, y_train, batch_size=batch_size, seed=seed),
                  validation_data=validation_inputs(data.x_val, y_val, batch_size=batch_size), epochs=epochs,
                  callbacks=list(callbacks), verbose=verbose)
    return distiller


def _metrics(model, data, role: str, seed: int, seconds: float, history: dict | None = None) -> dict:
    """Final test accuracy and loss; with per-epoch test accuracies in ``history`` (``report_test``) also
    the best epoch's (what the distillation authors report) and the one at the best validation epoch."""
    loss, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)[:2]
    val = (history or {}).get("val_accuracy", [])
    metrics = {"role": role, "seed": seed, "test_accuracy": float(accuracy), "test_loss": float(loss),
               "val_accuracy": float(val[-1]) if val else math.nan,
               "trainable_params": int(sum(np.prod(w.shape) for w in model.trainable_weights)), "seconds": seconds}
    tests = (history or {}).get("test_accuracy", [])
    if tests:
        best = int(np.argmax(tests))
        metrics.update(best_test_accuracy=float(tests[best]), best_test_epoch=best + 1,
                       test_accuracy_at_best_val=float(tests[int(np.argmax(val))]) if len(val) == len(tests)
                       else math.nan)
    return metrics


def _finish(run_dir: Path, model, metrics: dict, config, data, seed, history=None, save=True, spec=None) -> dict:
    if save:
        save_model(model, run_dir / "model", history=history, metadata={
            "role": metrics["role"], "experiment": config.name, "seed": seed, "metrics": metrics,
            "data": (spec or config.data_spec(seed)).record(data)})
    write_json_atomic(run_dir / "metrics.json", metrics)  # the run is finished once this exists
    shutil.rmtree(run_dir / "backup", ignore_errors=True)
    return metrics


def _resumable(run_dir: Path, config=None, data=None) -> tuple[list, EpochRecorder]:
    """(callbacks in the order `fit` takes them, the per-epoch recorder) of one run: a run killed mid-fit
    resumes at its last finished epoch; killed after ``fit``, before its export, it trains no epoch again.
    With ``config.report_test`` the test accuracy of every epoch is recorded too."""
    recorder = EpochRecorder(run_dir / "history.json")
    tests = [TestAccuracy(data.x_test, data.y_test)] if config is not None and config.report_test else []
    # TestAccuracy writes into the epoch's logs, so it runs before the recorder
    backup = make_callbacks(lr_schedule=None, backup_dir=run_dir / "backup", keep_backup=True)
    return [*tests, recorder, *backup], recorder


def _done(run_dir: Path):
    path = run_dir / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _fit_classifier(model, config, data, run_dir: Path, epochs: int, verbose: int, seed: int, batch_size=None) -> dict:
    compile_for(model, learning_rate=config.learning_rate, steps_per_execution=runner_steps_per_execution())
    callbacks, recorder = _resumable(run_dir, config, data)
    batch_size = batch_size or config.batch_size
    model.fit(**array_inputs(data.x_train, data.y_train, batch_size=batch_size, seed=seed),
              validation_data=validation_inputs(data.x_val, data.y_val, batch_size=batch_size), epochs=epochs,
              callbacks=callbacks, verbose=verbose)
    return recorder.history()


def train_teacher(config: DistillationConfig, name: str, data, seed: int, run_dir: Path, *, verbose: int = 1):
    """Trains the registered teacher ``name`` on ``data`` (the teachers' data, `teacher_dataset`), or reloads
    it from ``run_dir``; returns (model, metrics).

    Teachers are always exported: a resumed table, the ensemble and `tune` reuse them.
    """
    metrics = _done(run_dir)
    if metrics is not None and (run_dir / "model").is_dir():
        return load_model(run_dir / "model"), metrics
    if verbose:
        print(f"[{config.name}] seed {seed}: teacher {name}", flush=True)
    keras.utils.set_random_seed(seed)
    model = build_model(name, data.input_shape, data.num_classes, backend=resolved(config).backend,
                        **config.teacher_kwargs.get(name, {}))
    started = time.perf_counter()
    history = _fit_classifier(model, config, data, run_dir, config.teacher_epochs, verbose, seed,
                              batch_size=config.teacher_batch_size)
    metrics = _finish(run_dir, model, _metrics(model, data, name, seed, time.perf_counter() - started, history),
                      config, data, seed, history, save=True, spec=config.teacher_spec(seed))
    return model, metrics


def load_teacher(config: DistillationConfig, teacher: str, data, seed: int, run_dir: Path, *, verbose: int = 1,
                 safe_mode: bool = True):
    """A trained teacher: a registered name (trained with the config), 'ensemble' (of the config's
    teachers), or the path of any saved Keras classifier (an hk.save_model folder, .keras or .h5 file),
    loaded with `hybridkeras.load_model` (``safe_mode``: refuse stored bytecode). ``data`` is the student's;
    registered teachers train on `teacher_dataset`."""
    from hybridkeras.models import MODELS

    if teacher == "ensemble" or teacher in MODELS:
        data = teacher_dataset(config, seed, data)

    if teacher == "ensemble":
        members = [train_teacher(config, name, data, seed, Path(run_dir) / name, verbose=verbose)[0]
                   for name in config.teachers]
        return compile_for(build_ensemble(members), learning_rate=config.learning_rate)
    if teacher in MODELS:
        return train_teacher(config, teacher, data, seed, Path(run_dir) / teacher, verbose=verbose)[0]
    path = Path(teacher)
    if not path.exists():
        raise FileNotFoundError(
            f"`teacher` {teacher!r} is neither a registered model ({', '.join(config.teachers)}, ensemble, ...) "
            "nor the path of a saved classifier"
        )
    model = load_model(path, safe_mode=safe_mode)
    if model.output_shape[-1] != data.num_classes or tuple(model.input_shape[1:]) != data.input_shape:
        raise ValueError(
            f"The teacher at {teacher!r} maps {model.input_shape[1:]} to {model.output_shape[-1]} classes; the data "
            f"has inputs {data.input_shape} and {data.num_classes} classes"
        )
    if not model.compiled_loss:
        compile_for(model, learning_rate=config.learning_rate)
    return model


def run_seed(config: DistillationConfig, seed: int, output: Path, *, verbose: int = 1,
             save_models: bool = True) -> tuple[list, str]:
    """All runs of one seed (teachers, ensemble, each student alone and from each teacher) and the data summary."""
    data = distillation_dataset(config, config.split_seed(seed))
    teacher_data = teacher_dataset(config, config.split_seed(seed), data)
    root = output / f"seed{seed}"
    runs, teachers = [], {}
    for name in config.teachers:
        teachers[name], metrics = train_teacher(config, name, teacher_data, seed, root / "teachers" / name,
                                                verbose=verbose)
        runs.append(metrics)
    if config.ensemble and len(teachers) >= 2:
        run_dir = root / "teachers" / "ensemble"
        teachers["ensemble"] = compile_for(build_ensemble(list(teachers.values())), learning_rate=config.learning_rate)
        metrics = _done(run_dir)
        if metrics is None:
            metrics = _finish(run_dir, teachers["ensemble"], _metrics(teachers["ensemble"], data, "ensemble", seed, 0.0),
                              config, data, seed, save=save_models)
        runs.append(metrics)
    for student_name in config.students:
        run_dir = root / student_name / "alone"
        metrics = _done(run_dir)
        if metrics is None:
            if verbose:
                print(f"[{config.name}] seed {seed}: {student_name} alone", flush=True)
            student = build_student(config, student_name, data, seed)
            started = time.perf_counter()
            history = _fit_classifier(student, config, data, run_dir, config.epochs, verbose, seed)
            metrics = _finish(run_dir, student, _metrics(student, data, f"{student_name}", seed,
                                                         time.perf_counter() - started, history),
                              config, data, seed, history, save=save_models)
        runs.append({**metrics, "student": student_name, "teacher": None})
        for teacher_name, teacher in teachers.items():
            run_dir = root / student_name / f"from-{teacher_name}"
            metrics = _done(run_dir)
            if metrics is None:
                if verbose:
                    print(f"[{config.name}] seed {seed}: {teacher_name} → {student_name}", flush=True)
                student = build_student(config, student_name, data, seed)
                before = [w.copy() for w in teacher.get_weights()]
                started = time.perf_counter()
                callbacks, recorder = _resumable(run_dir, config, data)
                distill(student, teacher, data, temperature=config.temperature, alpha=config.alpha,
                        ce_weight=config.ce_weight, epochs=config.epochs, batch_size=config.batch_size,
                        learning_rate=config.learning_rate, callbacks=callbacks, verbose=verbose, seed=seed)
                if not all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights())):
                    raise RuntimeError(f"teacher {teacher_name!r} changed during distillation")
                compile_for(student, learning_rate=config.learning_rate)
                role = f"{student_name} from {teacher_name}"
                metrics = _finish(run_dir, student, _metrics(student, data, role, seed, time.perf_counter() - started,
                                                             recorder.history()),
                                  config, data, seed, recorder.history(), save=save_models)
            runs.append({**metrics, "student": student_name, "teacher": teacher_name})
    return runs, data.summary()


def paired_test(differences) -> dict:
    """Paired statistics of per-seed gains (distilled − alone, same initial weights): how many are positive,
    negative, zero; the paired t-test's and the Wilcoxon signed-rank test's two-sided p-values (NaN when
    fewer than two pairs, or every difference is zero)."""
    diffs = np.array([d for d in differences if d is not None and not math.isnan(d)], float)
    result = {"pairs": int(diffs.size), "positive": int((diffs > 0).sum()), "negative": int((diffs < 0).sum()),
              "zero": int((diffs == 0).sum()), "t_p": math.nan, "wilcoxon_p": math.nan}
    if diffs.size >= 2 and np.any(diffs != 0):
        from scipy import stats

        if np.std(diffs) > 0:
            result["t_p"] = float(stats.ttest_rel(diffs, np.zeros_like(diffs)).pvalue)
        result["wilcoxon_p"] = float(stats.wilcoxon(diffs).pvalue)
    return result


def summarise(config: DistillationConfig, runs: list) -> list:
    """The paper's table: per student and teacher, the student alone, the teacher, the distilled student, the
    gain (paired by seed), and with ``report_test`` the same at each run's best epoch."""
    keys = [("", "test_accuracy")] + ([("best_", "best_test_accuracy")] if config.report_test else [])
    rows = []
    for student in config.students:
        params = next(r["trainable_params"] for r in runs if r.get("student") == student)
        alone = {r["seed"]: r for r in runs if r.get("student") == student and r.get("teacher") is None}
        for teacher in [t for t in (*config.teachers, "ensemble") if any(r.get("teacher") == t for r in runs)]:
            taught = {r["seed"]: r for r in runs if r.get("student") == student and r.get("teacher") == teacher}
            seeds = sorted(set(alone) & set(taught))  # runs paired by seed, for every accuracy below
            teachers = sorted((r for r in runs if r["role"] == teacher and "student" not in r), key=lambda r: r["seed"])
            row = {"student": student, "student_params": params, "teacher": teacher, "seeds": len(seeds)}
            for prefix, key in keys:
                before = [alone[s].get(key, math.nan) for s in seeds]
                after = [taught[s].get(key, math.nan) for s in seeds]
                gains = [b - a for a, b in zip(before, after)]
                for name, vals in (("student_alone", before), ("teacher", [r.get(key, math.nan) for r in teachers]),
                                   ("distilled", after), ("gain", gains)):
                    row[f"{prefix}{name}_mean"], row[f"{prefix}{name}_std"] = mean_std(vals)
                test = paired_test(gains)
                row.update({f"{prefix}gain_{k}": v for k, v in test.items() if k != "pairs"})
            rows.append(row)
    return rows


def render_markdown(config: DistillationConfig, rows: list, data_summary: str) -> str:
    def cell(row, key):
        mean, std = row[f"{key}_mean"], row[f"{key}_std"]
        return "–" if math.isnan(mean) else f"{100 * mean:.2f} ± {100 * std:.2f}"

    def gain(row, prefix=""):
        mean, std = row[f"{prefix}gain_mean"], row[f"{prefix}gain_std"]
        if math.isnan(mean):
            return "–"
        p = row.get(f"{prefix}gain_t_p", math.nan)
        signs = f"{row[f'{prefix}gain_positive']}+/{row[f'{prefix}gain_negative']}−"
        return f"{100 * mean:+.2f} ± {100 * std:.2f} ({signs}{'' if math.isnan(p) else f', p = {p:.2g}'})"

    best = config.report_test
    loss = (f"{config.ce_weight:g}·CE + λ·T²·KL" if config.ce_weight is not None else "(1 − λ)·CE + λ·T²·KL")
    lines = [
        f"Distillation `{config.name}`: {data_summary}; loss {loss}, T = {config.temperature}, λ = {config.alpha}; "
        f"teachers {config.teacher_epochs} epochs (batch {config.teacher_batch_size or config.batch_size}, "
        f"{'every image the student splits leave' if config.teacher_data == 'rest' else 'the student data'}), "
        f"students {config.epochs} epochs, batch {config.batch_size}, Adam lr {config.learning_rate}; test accuracy %, "
        f"mean ± std over seeds {list(config.seeds)}; gain paired by seed (same initial weights), with the count of "
        "seeds it is positive/negative in and the paired t-test's p"
        + ("; *best*: each run's best epoch (the authors' reported figure)." if best else "."),
        "",
        "| student | params | student alone | teacher | teacher acc | distilled student | gain (points) |"
        + (" best: alone | best: distilled | best: gain |" if best else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|---|" if best else ""),
    ]
    for row in rows:
        line = (f"| {row['student']} | {row['student_params']:,} | {cell(row, 'student_alone')} | {row['teacher']} | "
                f"{cell(row, 'teacher')} | {cell(row, 'distilled')} | {gain(row)} |")
        if best:
            line += f" {cell(row, 'best_student_alone')} | {cell(row, 'best_distilled')} | {gain(row, 'best_')} |"
        lines.append(line)
    return "\n".join(lines) + "\n"


@holds_lock(default_output)
def run_distillation(config: DistillationConfig, output_dir=None, *, resume: bool = True, verbose: int = 1,
                     save_models: bool = True, strategy="default") -> DistillationResult:
    """Runs every seed of ``config`` and writes ``summary.md|csv|json``.

    Args:
        config: A :class:`DistillationConfig` (see ``hybridkeras.training.CONFIGS``).
        output_dir: Folder of the run (default ``saved_models/<config.name>``).
        resume: Skip finished runs (default); False deletes an earlier run of the folder first.
        verbose: Keras' progress bars (1), one line per epoch (2) or silent (0).
        save_models: Export students and the ensemble (teachers are always exported: the
            pairs of a resumed run need them).
        strategy: 'default', 'mirrored' (every GPU of this machine) or a single-machine
            `tf.distribute.Strategy`: teachers, students and the Distiller are built, compiled and
            trained in its scope (the Distiller's losses are averaged over the global batch).
            Multi-worker training of the distillation table is not supported (refused).
    """
    if not isinstance(config, DistillationConfig):
        raise TypeError(f"`config` must be a DistillationConfig. Received: config={type(config).__name__}")
    for name in (*config.teachers, *config.students):
        get_builder(name)
    from hybridkeras.training.distribute import make_strategy

    strategy = make_strategy(strategy)
    config = resolved(config)  # the backend is explicit from here on, and recorded
    output = Path(output_dir or default_output(config))
    check_config(output, config, resume)
    result = DistillationResult(config=config, output_dir=output)
    summary = ""
    for seed in config.seeds:
        with strategy.scope():
            runs, summary = run_seed(config, seed, output, verbose=verbose, save_models=save_models)
        keras.backend.clear_session()  # outside the scope: clearing inside it breaks the strategy's scope stack
        result.runs += runs
    result.rows = summarise(config, result.runs)
    result.markdown = render_markdown(config, result.rows, summary)
    write_csv(output / "summary.csv", result.rows)
    write_text_atomic(output / "summary.md", result.markdown)
    write_json_atomic(output / "summary.json", {"rows": result.rows, "runs": result.runs, "data": summary})
    return result
