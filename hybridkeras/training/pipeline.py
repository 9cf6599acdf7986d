"""The first paper's two-stage training, resumable, ending in exported end-to-end models.

Stages: (1) autoencoder on images (MSE, Adam); (2) classical head on the 64-d codes;
(3) quantum features: the fixed feature map (under ``config.noise``, if any) applied once to every code, with a
progress bar;
(4) hybrid head on those features. Each finished stage leaves its weights under
``<output>/checkpoints``, and an unfinished ``fit`` leaves an `EpochBackup` folder, so
running the same command again resumes instead of starting over. The trained parts are then
composed into end-to-end models (image → prediction) and exported.
"""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from tqdm.auto import tqdm

from hybridkeras import data as hkdata
from hybridkeras.io import load_model, read_history, save_model, write_json_atomic
from hybridkeras.layers import noise_scope
from hybridkeras.models.common import compile_for, runner_steps_per_execution
from hybridkeras.models.autoencoder_qfm import (
    adapt_front,
    build_autoencoder,
    build_head,
    build_quantum_front,
    compose,
)
from hybridkeras.training.callbacks import EpochRecorder, make_callbacks
from hybridkeras.training.configs import AutoencoderQFMConfig
from hybridkeras.training.distribute import make_strategy, worker_folder
from hybridkeras.training.feeding import array_inputs, validation_inputs
from hybridkeras.training.runs import check_config, claim, holds_lock, is_run_folder, resolved

RECORD_FILE = "record.json"
ROLES = ("autoencoder", "classical", "hybrid")


@dataclass
class PipelineResult:
    """What :func:`train_autoencoder_qfm` produced."""

    config: AutoencoderQFMConfig
    dataset: hkdata.Dataset
    models: dict
    histories: dict
    metrics: dict
    output_dir: Path | None = None
    exports: dict = field(default_factory=dict)


def load_dataset(config: AutoencoderQFMConfig) -> hkdata.Dataset:
    """The config's dataset (images (N, H, W, 1) in [0, 1])."""
    return config.data_spec().load()


def compute_features(model: keras.Model, x: np.ndarray, *, batch_size: int = 512, desc: str = "features", verbose: int = 1) -> np.ndarray:
    """Applies ``model`` batch by batch with a tqdm progress bar; returns a NumPy array."""
    outputs = []
    for start in tqdm(range(0, len(x), batch_size), desc=desc, unit="batch", disable=not verbose, leave=False):
        outputs.append(np.asarray(model.predict_on_batch(x[start : start + batch_size])))
    return np.concatenate(outputs) if outputs else np.zeros((0,) + tuple(model.output_shape[1:]), np.float32)


class _Stages:
    """Stage bookkeeping under ``<output>/checkpoints`` (None: no persistence).

    The run's settings are checked once for the whole folder (`check_config`), so the stages
    only record: per-epoch histories written after every epoch (a stage resumed mid-fit keeps
    the epochs before the interruption), weights and the history once a stage is finished.
    """

    def __init__(self, root: Path | None):
        self.root = root
        if root is not None:
            claim(root, "autoencoder-qfm checkpoints")

    def backup_dir(self, stage: str):
        return None if self.root is None else self.root / f"{stage}-backup"

    def fit(self, model, stage: str, fit_kwargs: dict, callbacks: list) -> dict:
        if self.root is None:
            history = model.fit(callbacks=callbacks, **fit_kwargs)
            return {k: [float(v) for v in vals] for k, vals in history.history.items()}
        weights, history_file = self.root / f"{stage}.weights.h5", self.root / f"{stage}.history.json"
        if weights.is_file() and history_file.is_file():
            if model.optimizer is not None and not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)  # Keras stores the optimizer's slots with the weights
            model.load_weights(str(weights))
            print(f"[{stage}] finished in an earlier run; weights restored from {weights}")
            return json.loads(history_file.read_text())
        recorder = EpochRecorder(self.root / f"{stage}.epochs.json")  # before the backup: see EpochRecorder
        model.fit(callbacks=[recorder, *callbacks], **fit_kwargs)
        values = recorder.history()
        model.save_weights(str(weights))
        write_json_atomic(history_file, values)  # the stage is finished once its history is written
        shutil.rmtree(self.backup_dir(stage), ignore_errors=True)
        return values

    def cached(self, name: str, compute):
        path = None if self.root is None else self.root / f"{name}.npz"
        if path is not None and path.is_file():
            with np.load(path) as stored:
                return {k: stored[k] for k in stored.files}
        arrays = compute()
        if path is not None:
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, **arrays)
            tmp.replace(path)
        return arrays

    def clear(self):
        if self.root is not None and is_run_folder(self.root):
            shutil.rmtree(self.root, ignore_errors=True)


def _finished(output: Path) -> bool:
    """The run in ``output`` exported everything: ``record.json`` is written after the last export."""
    return (output / RECORD_FILE).is_file() and all((output / role).is_dir() for role in ROLES)


def _load_finished(config: AutoencoderQFMConfig, data: hkdata.Dataset, output: Path) -> PipelineResult:
    record = json.loads((output / RECORD_FILE).read_text())
    return PipelineResult(
        config=config, dataset=data, models={role: load_model(output / role) for role in ROLES},
        histories={role: read_history(output / role) for role in ROLES}, metrics=record["metrics"],
        output_dir=output, exports={role: output / role for role in ROLES},
    )


def _autoencoder_inputs(config, x_train, augmenter):
    if augmenter is None:
        return array_inputs(x_train, x_train, batch_size=config.ae_batch_size, seed=config.seed)
    # any backend: NumPy batches augmented by Keras' preprocessing layers
    return {"x": AugmentedBatches(x_train, augmenter, config.ae_batch_size, seed=config.seed)}


class AugmentedBatches(keras.utils.PyDataset):
    """Shuffled batches of ``x`` (reshuffled each epoch from ``seed``), augmented, as (input, target) pairs for
    an autoencoder: the augmented image is both."""

    def __init__(self, x, augmenter, batch_size: int, *, seed: int = 0):
        super().__init__()
        self.x, self.augmenter, self.batch_size, self.seed = x, augmenter, int(batch_size), int(seed)
        self.epoch = 0
        self.order = np.random.default_rng(self.seed).permutation(len(x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = keras.ops.convert_to_numpy(self.augmenter(self.x[rows], training=True))
        return batch, batch

    def on_epoch_end(self):
        self.epoch += 1
        self.order = np.random.default_rng((self.seed, self.epoch)).permutation(len(self.x))


def fit_autoencoder(config: AutoencoderQFMConfig, data: hkdata.Dataset, *, stages=None, callbacks=None, verbose: int = 1):
    """Builds and trains the config's autoencoder on ``data`` (MSE, Adam); returns (model, history dict)."""
    stages = stages if stages is not None else _Stages(None)
    autoencoder = build_autoencoder(data.input_shape, latent_dim=config.latent_dim, hidden_units=config.hidden_units)
    autoencoder.compile(optimizer=keras.optimizers.Adam(config.ae_learning_rate), loss="mse",
                        steps_per_execution=runner_steps_per_execution())
    augmenter = hkdata.make_augmenter(seed=config.seed) if config.augment else None
    fit_kwargs = dict(
        **_autoencoder_inputs(config, data.x_train, augmenter),
        validation_data=validation_inputs(data.x_val, data.x_val, batch_size=config.ae_batch_size),
        epochs=config.ae_epochs,
        verbose=verbose,
    )
    history = stages.fit(autoencoder, "autoencoder", fit_kwargs, callbacks or [])
    return autoencoder, history


@holds_lock()
def train_autoencoder_qfm(
    config: AutoencoderQFMConfig,
    *,
    dataset: hkdata.Dataset | None = None,
    output_dir=None,
    resume: bool = True,
    tensorboard: bool = False,
    verbose: int = 1,
    strategy="default",
) -> PipelineResult:
    """Runs the whole first-paper experiment and (with ``output_dir``) exports its models.

    Exports under ``output_dir``: ``autoencoder/``, ``classical/`` and ``hybrid/`` export folders (`hybridkeras.save_model`)
    (each with its history and the data settings needed to evaluate it) and ``record.json``.

    Args:
        config: An :class:`AutoencoderQFMConfig` (see ``training.configs.CONFIGS``).
        dataset: Pre-loaded data; by default the config's dataset is loaded.
        output_dir: Where to write checkpoints and exports; None keeps everything in memory.
        resume: Continue an interrupted run found in ``output_dir``, or return a finished one without
            retraining; a folder holding a run of other settings is refused (as every runner does).
            False deletes an earlier run of the folder first (only a folder hybridkeras marked).
        tensorboard: Write TensorBoard logs under ``output_dir/logs``.
        verbose: Keras / tqdm verbosity (0 silent).
        strategy: 'default', 'mirrored' or a strategy object whose scope every model is built and compiled in
            (`hybridkeras.training.distribute`; 'multi-worker' is refused there, naming why).
    """
    started = time.time()
    config = resolved(config)  # the backend is explicit from here on, and recorded
    strategy = make_strategy(strategy)
    with strategy.scope():
        return _train(config, dataset, worker_folder(output_dir), resume, tensorboard, verbose, started)


def _train(config, dataset, output_dir, resume, tensorboard, verbose, started) -> PipelineResult:
    keras.utils.set_random_seed(config.seed)
    data = dataset if dataset is not None else load_dataset(config)
    for label, array in (("x_train", data.x_train), ("x_val", data.x_val), ("x_test", data.x_test)):
        hkdata.check_finite(array, label)
    output = Path(output_dir) if output_dir is not None else None
    if output is not None:
        check_config(output, config, resume)  # refuses other settings; resume=False starts over
        if _finished(output):
            print(f"[{config.name}] finished in an earlier run; exports loaded from {output}")
            return _load_finished(config, data, output)
    stages = _Stages(output / "checkpoints" if output is not None else None)
    logs = (output / "logs") if (output is not None and tensorboard) else None

    def callbacks(stage, lr, *, schedule=config.lr_schedule, stop=config.early_stopping):
        return make_callbacks(
            lr_schedule=schedule,
            initial_lr=lr,
            early_stopping=stop,
            backup_dir=stages.backup_dir(stage),
            keep_backup=True,
            tensorboard_dir=None if logs is None else logs / stage,
        )

    # 1. autoencoder
    autoencoder, ae_history = fit_autoencoder(
        config, data, stages=stages, callbacks=callbacks("autoencoder", config.ae_learning_rate, stop=None), verbose=verbose
    )
    encoder = autoencoder.get_layer("encoder")
    codes = {split: encoder.predict(getattr(data, f"x_{split}"), batch_size=512, verbose=0) for split in ("train", "val", "test")}

    # 2. classical head on the codes
    classical_head = compile_for(
        build_head(config.latent_dim, data.num_classes, units=config.head_units, dropout=config.dropout),
        learning_rate=config.head_learning_rate,
        steps_per_execution=runner_steps_per_execution(),
    )
    head_fit = dict(epochs=config.head_epochs, verbose=verbose)

    def head_inputs(inputs):  # the head's training and validation data
        return dict(**array_inputs(inputs["train"], data.y_train, batch_size=config.head_batch_size, seed=config.seed),
                    validation_data=validation_inputs(inputs["val"], data.y_val, batch_size=config.head_batch_size))

    classical_history = stages.fit(
        classical_head,
        "classical",
        dict(**head_inputs(codes), **head_fit),
        callbacks("classical", config.head_learning_rate),
    )

    # 3. quantum features, computed once (the feature map has no trainable weights)
    with noise_scope(config.noise or None):  # config.noise: the feature map simulates it (noise-aware head)
        front = build_quantum_front(
            config.latent_dim,
            reduction=config.reduction,
            qubits=config.qubits,
            readout=config.readout,
            repetitions=config.repetitions,
            backend=config.backend,
        )
    adapt_front(front, codes["train"])
    features = stages.cached(
        "quantum_features",
        lambda: {
            split: compute_features(front, codes[split], desc=f"quantum features ({split})", verbose=verbose)
            for split in ("train", "val", "test")
        },
    )

    # 4. hybrid head on the quantum features
    hybrid_head = compile_for(
        build_head(features["train"].shape[1], data.num_classes, units=config.head_units, dropout=config.dropout),
        learning_rate=config.head_learning_rate,
        steps_per_execution=runner_steps_per_execution(),
    )
    hybrid_history = stages.fit(
        hybrid_head,
        "hybrid",
        dict(**head_inputs(features), **head_fit),
        callbacks("hybrid", config.head_learning_rate),
    )

    # 5. end-to-end models and their scores on held-out data
    classical = compile_for(compose([encoder, classical_head], data.input_shape, name="autoencoder_classical"))
    hybrid = compile_for(compose([encoder, front, hybrid_head], data.input_shape, name="autoencoder_qfm"))
    metrics = {
        "autoencoder_train_mse": ae_history["loss"][-1],
        "autoencoder_val_mse": ae_history["val_loss"][-1],
    }
    for label, model, head, inputs in (
        ("classical", classical, classical_head, codes),
        ("hybrid", hybrid, hybrid_head, features),
    ):
        metrics[f"{label}_val_accuracy"] = float(head.evaluate(inputs["val"], data.y_val, verbose=0)[1])
        metrics[f"{label}_test_accuracy"] = float(head.evaluate(inputs["test"], data.y_test, verbose=0)[1])
    metrics["seconds"] = round(time.time() - started, 1)

    result = PipelineResult(
        config=config,
        dataset=data,
        models={"autoencoder": autoencoder, "classical": classical, "hybrid": hybrid},
        histories={"autoencoder": ae_history, "classical": classical_history, "hybrid": hybrid_history},
        metrics=metrics,
        output_dir=output,
    )
    if output is not None:
        spec = config.data_spec().record(data)
        for label, model in result.models.items():
            meta = {"role": label, "data": spec, "config": config.to_dict(), "metrics": metrics}
            result.exports[label] = save_model(model, output / label, history=result.histories[label], metadata=meta)
        write_json_atomic(output / RECORD_FILE, {"config": config.to_dict(), "metrics": metrics, "data": spec, "summary": data.summary()})
        stages.clear()
    return result
