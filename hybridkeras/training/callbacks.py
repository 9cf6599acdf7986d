"""Callbacks: learning-rate schedules, early stopping, resumable checkpoints, TensorBoard."""
from __future__ import annotations

from pathlib import Path

from hybridkeras._compat import keras

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
    tensorboard_dir=None,
) -> list:
    """The callbacks of one training stage.

    Args:
        lr_schedule: 'plateau' (ReduceLROnPlateau on ``monitor``), 'step' (multiply by
            ``lr_factor`` every ``step_every`` epochs) or None.
        early_stopping: Patience in epochs (restoring the best weights), or None.
        backup_dir: Folder for `BackupAndRestore`: an interrupted ``fit`` called again with
            the same folder resumes from its last finished epoch.
        tensorboard_dir: Folder for TensorBoard logs, or None.
    """
    if lr_schedule not in LR_SCHEDULES:
        raise ValueError(f"`lr_schedule` must be one of {LR_SCHEDULES}. Received: lr_schedule={lr_schedule!r}")
    callbacks = []
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(Path(backup_dir))))
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
