"""Entry point for Keras Tuner searches: train the fixed parts, search, export the best model."""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import keras_tuner as kt

from hybridkeras.io import save_model, write_json_atomic
from hybridkeras.training.configs import AutoencoderQFMConfig, ExperimentConfig
from hybridkeras.models import build_autoencoder
from hybridkeras.training.pipeline import fit_autoencoder, load_dataset
from hybridkeras.training.runs import check_config, check_joinable, locked, resolved
from hybridkeras.tuning import distributed
from hybridkeras.tuning.hypermodels import AutoencoderQFMHyperModel

TUNERS = ("random", "hyperband", "bayesian")


class _Trials:
    """What every tuner of hybridkeras adds to Keras Tuner's: each trial starts from its own seed
    (the search's seed + the trial number), so a trial trains alike whichever worker runs it and
    a distributed search gives a single-process search's results; the running trial is known
    (`current_trial`) for a worker's heartbeat."""

    current_trial = None
    search_seed = 0

    def run_trial(self, trial, *args, **kwargs):
        keras.utils.set_random_seed(int(self.search_seed) + int(trial.trial_id))
        return super().run_trial(trial, *args, **kwargs)

    def on_trial_begin(self, trial):
        self.current_trial = trial.trial_id
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.current_trial = None


_TUNER_CLASSES = {kind: type(cls.__name__, (_Trials, cls), {"__module__": __name__})
                  for kind, cls in (("random", kt.RandomSearch), ("bayesian", kt.BayesianOptimization),
                                    ("hyperband", kt.Hyperband))}


def _check_search(kind: str, max_trials) -> None:
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise ValueError(f"`max_trials` must be a positive int (Keras Tuner reads 0 as 'no limit'). "
                         f"Received: max_trials={max_trials!r}")
    if kind not in TUNERS:
        raise ValueError(f"`tuner` must be one of {TUNERS}. Received: tuner={kind!r}")


def make_tuner(hypermodel, kind: str, *, max_trials: int, epochs: int, directory, project_name: str, seed: int, overwrite: bool):
    """A Keras Tuner of ``kind`` maximising validation accuracy.

    In a distributed search (Keras Tuner's environment variables, see
    `hybridkeras.tuning.distributed`) the chief's tuner keeps its own oracle, which
    `run_search` serves; a worker's tuner asks the chief for trials. A crashed trial is retried
    once (``max_retries_per_trial=1``), then recorded as failed.
    """
    _check_search(kind, max_trials)
    # Keras Tuner reads seed 0 as "no seed" (a random one): the oracle gets seed + 1, so every seed,
    # 0 included, makes a reproducible search
    common = dict(objective="val_accuracy", directory=str(directory), project_name=project_name, seed=int(seed or 0) + 1,
                  overwrite=overwrite and distributed.role() in (None, "chief"),  # a worker never deletes the search
                  max_retries_per_trial=distributed.MAX_RETRIES)
    if kind == "hyperband":
        common.update(max_epochs=max(epochs, 2), factor=3)
    else:
        common.update(max_trials=max_trials)
    chief = distributed.role() == "chief"
    with distributed.local_oracle() if chief else contextlib.nullcontext():
        search = _TUNER_CLASSES[kind](hypermodel, **common)
    search.search_seed = int(seed or 0)
    if chief:  # the chief runs no trial, so Keras Tuner never writes its tuner file, which is what it resumes from
        if not overwrite and not os.path.isfile(search._get_tuner_fname()) and \
                os.path.isfile(os.path.join(search.project_dir, "oracle.json")):
            search.oracle.reload()  # an earlier chief's search: resume it
        search.save()
    return search


def run_search(search, *args, **kwargs) -> bool:
    """Runs ``search`` in this process's part of the search; True where the best model is to be
    exported (a single-process search, or the chief once every trial has ended), False on a worker.
    """
    part = distributed.role()
    if part == "chief":
        search.workers = distributed.serve_oracle(search.oracle)
        return True
    if part is None:
        search.search(*args, **kwargs)
        return True
    heartbeat = distributed.Heartbeat(search)
    heartbeat.start()
    try:
        search.search(*args, **kwargs)
    finally:
        heartbeat.stop()
    return False


def trials_record(search) -> list:
    """Every trial of the search: id, status, score, hyperparameters and (distributed) the worker that ran it."""
    workers = getattr(search, "workers", {})
    return [{"trial": trial_id, "status": trial.status, "score": trial.score, "worker": workers.get(trial_id),
             "hyperparameters": trial.hyperparameters.values}
            for trial_id, trial in sorted(search.oracle.trials.items())]


def _fixed_part(ready, train, load, what: str):
    """A search's fixed part (the autoencoder, the teacher), trained once before the search and kept in
    the search folder: by a single process or the chief (or loaded, when an earlier run left it);
    a worker waits for the chief's and loads it, so every process tunes on the same one."""
    if distributed.role() in (None, "chief"):
        return load() if ready() else train()
    wait = distributed.timeout(distributed.STARTUP_TIMEOUT_ENV, distributed.STARTUP_S)
    deadline = time.monotonic() + wait
    while not ready():
        if time.monotonic() > deadline:
            raise ValueError(f"worker {distributed.role()}: {what} was not in the search folder after {wait:.0f} s; "
                             "the chief trains it first — is the chief running with the same --output?")
        time.sleep(1.0)
    return load()


def _worker_summary(search) -> dict:
    return {"worker": distributed.role(), "chief": distributed.address()}


@contextlib.contextmanager
def _search_folder(output):
    """The search folder's lock: held by a single-process search or the chief; a worker joins its chief's."""
    part = distributed.role()
    if part is None:
        with locked(output):
            yield
    elif part == "chief":
        with locked(output, label=distributed.chief_label()):
            yield
    else:
        check_joinable(output, distributed.chief_label())
        yield


def _start_search(output: Path, config, overwrite: bool, max_trials: int, **settings) -> None:
    """Records the search's settings in ``output/config.json``; a resumed search with other settings is
    refused (`check_config`), and ``overwrite`` starts the folder over (only one this package marked).

    ``max_trials`` is not among them: raising it continues the same search. Workers leave it to their chief.
    """
    _check_search(settings["tuner"], max_trials)
    if distributed.role() in (None, "chief"):
        check_config(output, config, resume=not overwrite, search=settings)


def _best_model(search):
    """The best trial's model with its checkpointed weights.

    Keras Tuner's own ``get_best_models`` leaves the restore status unchecked, and TensorFlow
    then warns, at interpreter exit, about every optimizer slot the fresh model does not have.
    Only the weights matter for a finished model, so the restore is marked partial.
    """
    best = search.oracle.get_best_trials(1)
    if not best:
        failed = [t for t in search.oracle.trials.values() if t.status != "COMPLETED"]
        reason = (failed[-1].message or "").strip().splitlines()[-1:] if failed else []
        raise ValueError(f"No trial of the search in {search.project_dir!r} completed ({len(failed)} failed)"
                         + (f"; the last one: {reason[0]}" if reason else ""))
    trial = best[0]
    with warnings.catch_warnings():  # the checkpoint's optimizer slots are not wanted: only the weights
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return search.load_model(trial)


def _search_run(fn):
    """A tune entry point runs holding its search folder (``output_dir``): see `_search_folder`."""
    @functools.wraps(fn)
    def run(*args, output_dir, **kwargs):
        with _search_folder(Path(output_dir)):
            return fn(*args, output_dir=output_dir, **kwargs)
    return run


@_search_run
def tune_experiment(
    config: ExperimentConfig,
    model: str | None = None,
    *,
    output_dir,
    tuner: str = "random",
    max_trials: int = 10,
    epochs: int | None = None,
    overwrite: bool = False,
    verbose: int = 1,
) -> dict:
    """Keras Tuner search for one model of an experiment config; exports the best model.

    Args:
        config: An experiment config (its data settings and batch size are used).
        model: The model to tune (default: the config's first model); one of
            ``hybridkeras.tuning.HYPERMODELS``.
        output_dir: The tuner's state lives in ``<output_dir>/tuner`` (an interrupted search
            resumes unless ``overwrite``); the best model goes to ``<output_dir>/best``.
        epochs: Epochs per trial (default: the config's).

    Returns:
        {"best_hyperparameters", "test_accuracy", "export"}.
    """
    from hybridkeras.training.experiments import experiment_dataset
    from hybridkeras.tuning.registry import HYPERMODELS

    config = resolved(config)
    model = model or config.models[0]
    if model not in HYPERMODELS:
        raise ValueError(f"No HyperModel for {model!r}. Expected one of {tuple(HYPERMODELS)}")
    output = Path(output_dir)
    epochs = epochs or config.epochs
    seed = config.seeds[0]
    _start_search(output, config, overwrite, max_trials, model=model, tuner=tuner, epochs=epochs, seed=seed)
    data = experiment_dataset(config, config.split_seed(seed))
    hypermodel = HYPERMODELS[model](data.input_shape, data.num_classes, backend=config.backend)
    search = make_tuner(hypermodel, tuner, max_trials=max_trials, epochs=epochs, directory=output / "tuner",
                        project_name=f"{config.name}-{model}", seed=seed, overwrite=overwrite)
    if not run_search(search, data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                      batch_size=config.batch_size, verbose=verbose):
        return _worker_summary(search)
    best_hp = search.get_best_hyperparameters(1)[0]
    best = _best_model(search)
    test_accuracy = float(best.evaluate(data.x_test, data.y_test, verbose=0)[1])
    meta = {"experiment": config.name, "model": model, "tuner": tuner, "best_hyperparameters": best_hp.values,
            "metrics": {"test_accuracy": test_accuracy},
            "data": config.data_spec(seed).record(data)}
    export = save_model(best, output / "best", metadata=meta)
    summary = {"best_hyperparameters": best_hp.values, "test_accuracy": test_accuracy, "export": str(export),
               "trials": trials_record(search)}
    write_json_atomic(output / "tuning.json", summary)
    return summary


@_search_run
def tune_autoencoder_qfm(
    config: AutoencoderQFMConfig,
    *,
    output_dir,
    tuner: str = "random",
    max_trials: int = 10,
    epochs: int | None = None,
    shots=None,
    overwrite: bool = False,
    verbose: int = 1,
) -> dict:
    """Searches feature-map and head hyperparameters; exports the best end-to-end model.

    The autoencoder is trained once with the config's settings; each trial trains a head on
    the quantum features of its choices. The tuner's state lives in ``<output_dir>/tuner``
    (an interrupted search resumes unless ``overwrite``); the best model is exported to
    ``<output_dir>/best`` with its hyperparameters and test accuracy. ``shots`` lists the
    candidate shot counts (0 = exact); by default exact and the config's shots (or 1000).

    Returns:
        {"best_hyperparameters", "test_accuracy", "export"}.
    """
    config = resolved(config)
    output = Path(output_dir)
    epochs = epochs or config.head_epochs
    if shots is None:
        shots = (0, config.repetitions or 1000)
    _start_search(output, config, overwrite, max_trials, tuner=tuner, epochs=epochs, shots=list(shots), seed=config.seed)
    data = load_dataset(config)
    weights = output / "autoencoder.weights.h5"
    if overwrite and distributed.role() in (None, "chief"):
        weights.unlink(missing_ok=True)  # a new search trains its own

    def train():
        keras.utils.set_random_seed(config.seed)
        autoencoder, _ = fit_autoencoder(config, data, verbose=verbose)
        tmp = weights.with_name(".autoencoder.tmp.weights.h5")
        autoencoder.save_weights(str(tmp))
        os.replace(tmp, weights)  # whole or absent: workers wait for it
        return autoencoder

    def load():
        autoencoder = build_autoencoder(data.input_shape, latent_dim=config.latent_dim, hidden_units=config.hidden_units)
        autoencoder.load_weights(str(weights))
        return autoencoder

    autoencoder = _fixed_part(weights.is_file, train, load, "the autoencoder")
    encoder = autoencoder.get_layer("encoder")
    codes = {split: encoder.predict(getattr(data, f"x_{split}"), batch_size=512, verbose=0) for split in ("train", "val")}

    hypermodel = AutoencoderQFMHyperModel(codes["train"], data.num_classes, qubits=config.qubits, shots=shots,
                                          backend=config.backend)
    search = make_tuner(
        hypermodel, tuner, max_trials=max_trials, epochs=epochs, directory=output / "tuner",
        project_name=config.name, seed=config.seed, overwrite=overwrite,
    )
    if not run_search(search, codes["train"], data.y_train, validation_data=(codes["val"], data.y_val),
                      epochs=epochs, batch_size=config.head_batch_size, verbose=verbose):
        return _worker_summary(search)
    best_hp = search.get_best_hyperparameters(1)[0]
    best_head = _best_model(search)
    best = hypermodel.export(best_hp, best_head, encoder, data.input_shape)
    test_accuracy = float(best.evaluate(data.x_test, data.y_test, verbose=0)[1])
    meta = {
        "role": "hybrid",
        "data": config.data_spec().record(data),
        "config": config.to_dict(),
        "tuner": tuner,
        "best_hyperparameters": best_hp.values,
        "metrics": {"hybrid_test_accuracy": test_accuracy},
    }
    export = save_model(best, output / "best", metadata=meta)
    summary = {"best_hyperparameters": best_hp.values, "test_accuracy": test_accuracy, "export": str(export),
               "trials": trials_record(search)}
    write_json_atomic(output / "tuning.json", summary)
    return summary


@_search_run
def tune_distillation(
    config,
    *,
    teacher: str = "lenet",
    student: str | None = None,
    output_dir,
    tuner: str = "random",
    max_trials: int = 10,
    epochs: int | None = None,
    overwrite: bool = False,
    verbose: int = 1,
) -> dict:
    """Searches the Distiller's T and λ (and learning rate) for one teacher → student pair.

    The teacher (a registered name, trained once with the config's settings, or the path of
    a saved classifier) is kept fixed; every trial distils a fresh student. The best student
    is exported alone to ``<output_dir>/best``.

    Returns:
        {"best_hyperparameters", "test_accuracy", "teacher_test_accuracy", "export"}.
    """
    from hybridkeras.training.distillation import build_student, distillation_dataset, load_teacher
    from hybridkeras.tuning.distillation import DistillerHyperModel

    config = resolved(config)
    output = Path(output_dir)
    student = student or config.students[0]
    epochs = epochs or config.epochs
    seed = config.seeds[0]
    _start_search(output, config, overwrite, max_trials, teacher=str(teacher), student=student, tuner=tuner, epochs=epochs,
                  seed=seed)
    data = distillation_dataset(config, config.split_seed(seed))
    from hybridkeras.models import MODELS

    names = config.teachers if teacher == "ensemble" else [teacher] if teacher in MODELS else []
    folder = output / "teacher"
    if overwrite and distributed.role() in (None, "chief"):
        shutil.rmtree(folder, ignore_errors=True)  # a new search trains its own teacher
    trained = _fixed_part(lambda: all((folder / name / "metrics.json").is_file() for name in names),
                          lambda: load_teacher(config, teacher, data, seed, folder, verbose=verbose),
                          lambda: load_teacher(config, teacher, data, seed, folder, verbose=verbose),
                          f"the teacher {teacher!r}")
    teacher_accuracy = float(trained.evaluate(data.x_test, data.y_test, verbose=0)[1])
    hypermodel = DistillerHyperModel(lambda: build_student(config, student, data, seed), trained,
                                     ce_weight=config.ce_weight)
    search = make_tuner(hypermodel, tuner, max_trials=max_trials, epochs=epochs, directory=output / "tuner",
                        project_name=f"{config.name}-{student}", seed=seed, overwrite=overwrite)
    if not run_search(search, data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                      batch_size=config.batch_size, verbose=verbose):
        return _worker_summary(search)
    best_hp = search.get_best_hyperparameters(1)[0]
    best = _best_model(search).student
    from hybridkeras.models import compile_for

    compile_for(best, learning_rate=best_hp.values["learning_rate"])
    test_accuracy = float(best.evaluate(data.x_test, data.y_test, verbose=0)[1])
    meta = {"experiment": config.name, "model": student, "teacher": str(teacher), "tuner": tuner,
            "best_hyperparameters": best_hp.values, "metrics": {"test_accuracy": test_accuracy},
            "data": config.data_spec(seed).record(data)}
    export = save_model(best, output / "best", metadata=meta)
    summary = {"best_hyperparameters": best_hp.values, "test_accuracy": test_accuracy,
               "teacher_test_accuracy": teacher_accuracy, "export": str(export), "trials": trials_record(search)}
    write_json_atomic(output / "tuning.json", summary)
    return summary
