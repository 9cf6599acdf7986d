"""Training on several devices: `tf.distribute` on Keras' TensorFlow backend, `keras.distribution` on JAX.

* ``default``: one device (TensorFlow's default strategy; on JAX and PyTorch, Keras' own placement);
* ``mirrored``: `tf.distribute.MirroredStrategy` on TensorFlow (every GPU of this machine; one replica on a
  machine without GPUs), `keras.distribution.DataParallel` over every local device on JAX (its ``scope()`` sets
  the distribution while the model is built and trained); PyTorch has only ``default``;
* ``multi-worker``: refused, with the reason: Keras 3 does not run `fit` under
  `tf.distribute.MultiWorkerMirroredStrategy` (keras-team/keras#20585), and a multi-host JAX `DataParallel` is not
  offered here yet. A search scales out over machines with Keras Tuner's chief/worker protocol instead
  (`hybridkeras tune ... --workers N`, docs/scaling.md).

Models are built and compiled inside ``strategy.scope()`` (quantum layers on either simulator: TFQ's ops and the
state-vector engine are ordinary ops in each replica), and batch norms are synchronised across `tf.distribute`
replicas (so a step on a global batch is one process's step on it).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

STRATEGIES = ("default", "mirrored", "multi-worker")
MULTI_WORKER_REFUSAL = (
    "multi-worker training is not available on Keras 3: Keras 3 does not train under "
    "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585), and hybridkeras does not offer a multi-host "
    "JAX DataParallel yet. Use strategy='mirrored' (every device of this machine), or scale a search out with "
    "`hybridkeras tune ... --workers N` (Keras Tuner's chief/worker protocol; docs/scaling.md)")


def make_strategy(name="default"):
    """The strategy ``name`` (one of `STRATEGIES`) on this Keras backend; a strategy object is returned as it is
    (a `tf.distribute.MultiWorkerMirroredStrategy` refused, see the module's notes)."""
    if not isinstance(name, str):
        if is_multi_worker(name):
            raise ValueError(f"A {type(name).__name__} was given: {MULTI_WORKER_REFUSAL}")
        return name
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")
    import keras

    backend = keras.config.backend()
    if name == "multi-worker":
        raise ValueError(f"strategy='multi-worker': {MULTI_WORKER_REFUSAL}")
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy() if name == "default" else tf.distribute.MirroredStrategy()
    if name == "default":
        return OneDevice()
    if backend == "jax":
        return keras.distribution.DataParallel(devices=keras.distribution.list_devices())
    raise ValueError(f"strategy={name!r} needs Keras' TensorFlow backend (tf.distribute.MirroredStrategy) or JAX backend "
                     f"(keras.distribution.DataParallel); this process runs KERAS_BACKEND={backend!r}. Use "
                     "strategy='default'")


class OneDevice:
    """``strategy='default'`` where Keras has no strategy object (JAX, PyTorch): one replica, Keras' own placement."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def is_multi_worker(strategy) -> bool:
    """Whether ``strategy`` is a `tf.distribute.MultiWorkerMirroredStrategy` (refused by `make_strategy`)."""
    return type(strategy).__name__ in ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")


def _task() -> tuple[str | None, int, dict]:
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    return task.get("type"), int(task.get("index", 0)), config.get("cluster", {})


def is_chief() -> bool:
    """Whether this process writes the run's records (no TF_CONFIG, the chief task, or worker 0 without one)."""
    kind, index, cluster = _task()
    if kind is None:
        return True
    return kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)


def worker_folder(folder) -> Path:
    """Where this process writes: ``folder`` on the chief, ``folder/.workers/<task>-<index>`` on other workers."""
    if folder is None or is_chief():
        return folder if folder is None else Path(folder)
    kind, index, _ = _task()
    return Path(folder) / ".workers" / f"{kind}-{index}"
