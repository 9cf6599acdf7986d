"""Callbacks: learning-rate schedules, early stopping, resumable checkpoints, TensorBoard, Grad-CAM snapshots,
per-epoch records — on every Keras backend."""
from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
import zipfile
from pathlib import Path

import numpy as np

import keras
from hybridkeras.io import write_json_atomic


LR_SCHEDULES = (None, "plateau", "step")


def step_schedule(initial_lr: float, *, drop: float = 0.5, every: int = 10):
    """lr(epoch) = initial_lr · drop^(epoch // every)."""
    if not 0.0 < drop <= 1.0:
        raise ValueError(f"`drop` must be in (0, 1]. Received: drop={drop!r}")
    if every < 1:
        raise ValueError(f"`every` must be a positive int. Received: every={every!r}")

    def schedule(epoch, lr=None):
        return float(initial_lr * drop ** (epoch // every))

    return schedule


def make_callbacks(
    *,
    lr_schedule: str | None = "plateau",
    initial_lr: float = 1e-3,
    monitor: str = "val_loss",
    lr_patience: int = 3,
    lr_factor: float = 0.5,
    step_every: int = 10,
    min_lr: float = 1e-6,
    early_stopping: int | None = None,
    backup_dir=None,
    keep_backup: bool = False,
    tensorboard_dir=None,
) -> list:
    """The callbacks of one training stage.

    Args:
        lr_schedule: 'plateau' (ReduceLROnPlateau on ``monitor``), 'step' (multiply by
            ``lr_factor`` every ``step_every`` epochs) or None.
        early_stopping: Patience in epochs (restoring the best weights), or None.
        backup_dir: Folder for `EpochBackup`: an interrupted ``fit`` called again with
            the same folder resumes from its last finished epoch.
        keep_backup: Keep the backup when ``fit`` ends (Keras deletes it): a run killed after
            training but before its result was exported then resumes at the last epoch (``fit``
            runs no epoch again) instead of retraining; the runner deletes it once exported.
        tensorboard_dir: Folder for TensorBoard logs, or None.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}. Received: lr_schedule={lr_schedule!r}")
    callbacks = []
    if backup_dir is not None:
        callbacks.append(EpochBackup(backup_dir, delete_checkpoint=not keep_backup))
    if lr_schedule == "plateau":
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=lr_factor, patience=lr_patience, min_lr=min_lr)
        )
    elif lr_schedule == "step":
        callbacks.append(
            keras.callbacks.LearningRateScheduler(step_schedule(initial_lr, drop=lr_factor, every=step_every))
        )
    if early_stopping is not None:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor=monitor, patience=early_stopping, restore_best_weights=True)
        )
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard_dir)))
    return callbacks


BACKUP_FILE = "backup.npz"


class EpochBackup(keras.callbacks.Callback):
    """Resumable ``fit``, as `keras.callbacks.BackupAndRestore` makes it, written as one file per epoch, atomically.

    After every epoch the model's variables, its optimizer's and the count of finished epochs go to
    ``backup_dir/backup.npz`` through a temporary file and ``os.replace``: a process killed at any moment leaves
    the previous epoch's backup or this one's, each whole (Keras' callback writes the weights and the epoch count
    as two files, one after the other, so a kill between them resumes new weights at the old epoch). A ``fit``
    called again with the same folder restores them and starts at the epoch after the last one backed up. NumPy's
    format costs about a millisecond an epoch for the papers' models, where Keras' ``.weights.h5`` took about
    20 ms (3 s of the main job's 22 s on TensorFlow, over its 150 epochs).

    Args:
        backup_dir: The folder (created on the first backup).
        delete_checkpoint: Delete the folder when ``fit`` ends (as Keras' callback does); False keeps it, so a
            run killed after training but before its export resumes without training again.
    """

    def __init__(self, backup_dir, *, delete_checkpoint: bool = True):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)

    @property
    def path(self) -> Path:
        return self.backup_dir / BACKUP_FILE

    def _variables(self) -> list:
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)  # its slots exist before they are restored
        return list(self.model.variables) + (list(optimizer.variables) if optimizer is not None else [])

    def on_train_begin(self, logs=None):
        if not self.path.is_file():
            return
        try:
            with np.load(self.path) as stored:
                epoch, values = int(stored["epoch"]), [stored[f"v{i}"] for i in range(int(stored["count"]))]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise ValueError(f"The training backup {str(self.path)!r} could not be read ({type(exc).__name__}: {exc}); "
                             "delete its folder to train this stage from the start") from exc
        variables = self._variables()
        shapes = [tuple(v.shape) for v in variables]
        if [a.shape for a in values] != shapes:
            raise ValueError(f"The training backup {str(self.path)!r} holds {len(values)} variables that do not fit this "
                             f"model's {len(variables)} (another model wrote it); delete its folder or train elsewhere")
        for variable, value in zip(variables, values):
            variable.assign(value)
        # the epoch `fit` starts at: Keras' trainers read it (its own BackupAndRestore sets it the same way)
        self.model._initial_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        arrays = {f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(self._variables())}
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.backup_dir / f".{BACKUP_FILE}.tmp-{uuid.uuid4().hex[:8]}.npz"
        try:
            np.savez(tmp, epoch=epoch + 1, count=len(arrays), **arrays)
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    def on_train_end(self, logs=None):
        self.model._initial_epoch = None  # a later `fit` of the same model starts where it is asked to
        if self.delete_checkpoint:
            shutil.rmtree(self.backup_dir, ignore_errors=True)


class GradCAMSnapshots(keras.callbacks.Callback):
    """Grad-CAM heat maps of fixed images at chosen epochs (0 = before training), as in paper 3's figures.

    After training (or at every snapshot, with ``output_dir``) the maps are kept in
    ``snapshots`` ({epoch: (N, H, W)}); with ``output_dir`` each snapshot is also written to
    ``gradcam_epoch<k>.npz`` and the grid to ``gradcam.png``. A resumed run reloads the
    snapshots it has already written instead of recomputing them with later weights.

    Args:
        images: The images to explain, (N, H, W, C).
        epochs: Epochs after which to take a snapshot; 0 means the untrained model.
        layer_name: Convolution layer (default: the last Conv2D).
        class_index: Class to explain (default: each image's predicted class at that epoch).
        output_dir: Folder for the .npz files and the PNG, or None.
        labels: Row labels for the plot (for example the true classes).
    """

    def __init__(self, images, epochs=(0,), *, layer_name=None, class_index=None, output_dir=None, labels=None):
        super().__init__()
        import numpy as np

        self.images = np.asarray(images, np.float32)
        if self.images.ndim != 4:
            raise ValueError(f"`images` must have shape (N, H, W, C). Received shape {self.images.shape}")
        self.epochs = sorted({int(e) for e in epochs})
        if not self.epochs or self.epochs[0] < 0:
            raise ValueError(f"`epochs` must be non-negative ints. Received: epochs={epochs!r}")
        self.layer_name = layer_name
        self.class_index = class_index
        self.output_dir = Path(output_dir) if output_dir is not None else None
        self.labels = labels
        self.snapshots = {}
        self._cam = None

    def _path(self, epoch: int) -> Path:
        return self.output_dir / f"gradcam_epoch{epoch:03d}.npz"

    def _take(self, epoch: int) -> None:
        import numpy as np

        from hybridkeras.viz.gradcam import GradCAM

        if self._cam is None:
            self._cam = GradCAM(self.model, self.layer_name)
        heatmaps = self._cam(self.images, self.class_index)
        self.snapshots[epoch] = heatmaps
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.output_dir / f".gradcam_epoch{epoch:03d}.tmp.npz"
            np.savez(tmp, heatmaps=heatmaps, images=self.images)
            tmp.replace(self._path(epoch))

    def on_train_begin(self, logs=None):
        import numpy as np

        if self.output_dir is not None:
            for epoch in self.epochs:
                if self._path(epoch).is_file():
                    self.snapshots[epoch] = np.load(self._path(epoch))["heatmaps"]
        if 0 in self.epochs and 0 not in self.snapshots:
            self._take(0)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 in self.epochs:
            self._take(epoch + 1)

    def on_train_end(self, logs=None):
        if self.output_dir is not None and self.snapshots:
            from hybridkeras.viz.gradcam import plot_grad_cam_snapshots
            from hybridkeras.viz.plots import plt

            fig = plot_grad_cam_snapshots(self.images, self.snapshots, self.output_dir / "gradcam.png",
                                          labels=self.labels)
            plt.close(fig)


class TestAccuracy(keras.callbacks.Callback):
    """Adds ``test_accuracy`` — the argmax of the model's outputs against ``y`` — to every epoch's logs,
    so `EpochRecorder` and ``History`` keep it (list it before them).

    Some protocols (the distillation authors') report the best epoch's test accuracy; recording it
    every epoch lets a table show that figure beside the final epoch's and the one at the best
    validation epoch.
    """

    def __init__(self, x, y, *, batch_size: int = 256):
        super().__init__()
        self.x, self.y, self.batch_size = x, np.asarray(y), batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            predicted = np.argmax(self.model.predict(self.x, batch_size=self.batch_size, verbose=0), axis=-1)
            logs["test_accuracy"] = float(np.mean(predicted == self.y))


class EpochRecorder(keras.callbacks.Callback):
    """Writes the per-epoch logs (and epoch seconds) to a JSON file after every epoch.

    Keyed by epoch, so an epoch redone after an interruption overwrites its earlier entry.
    Put it before `EpochBackup` in the callback list: the record is written before the
    backup, so a crash between the two only repeats an epoch, never loses one.
    """

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)
        self.epochs = {}
        self._start = None

    def on_train_begin(self, logs=None):
        if self.path.is_file():
            self.epochs = {int(k): v for k, v in json.loads(self.path.read_text())["epochs"].items()}

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {k: float(v) for k, v in (logs or {}).items()}
        record["seconds"] = time.perf_counter() - self._start
        self.epochs[epoch + 1] = record
        self.epochs = {k: v for k, v in self.epochs.items() if k <= epoch + 1}
        write_json_atomic(self.path, {"epochs": {str(k): v for k, v in sorted(self.epochs.items())}})

    def history(self) -> dict:
        """{metric: [value per epoch]}, epochs in order."""
        return history_from_epochs(self.epochs)


def history_from_epochs(epochs: dict) -> dict:
    keys = sorted({k for record in epochs.values() for k in record})
    return {k: [epochs[e].get(k, math.nan) for e in sorted(epochs)] for k in keys}


def read_run_history(run_dir) -> dict:
    path = Path(run_dir) / "history.json"
    if not path.is_file():
        return {}
    epochs = {int(k): v for k, v in json.loads(path.read_text())["epochs"].items()}
    return history_from_epochs(epochs)
