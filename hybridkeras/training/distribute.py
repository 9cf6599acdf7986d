"""Training on several devices or machines: `tf.distribute` on TensorFlow, `keras.distribution` on JAX.

* ``default``: the current strategy (one device);
* ``mirrored``: `tf.distribute.MirroredStrategy`, every GPU of this machine (one replica on a
  machine without GPUs);
* ``multi-worker``: `tf.distribute.MultiWorkerMirroredStrategy`, configured from ``TF_CONFIG``
  (every worker runs the same command; worker 0 — or the ``chief`` task — is the chief).

On Keras 3 (`hybridkeras._stack.KERAS_VERSION`) ``mirrored`` is `tf.distribute.MirroredStrategy` on
the TensorFlow backend and `keras.distribution.DataParallel` over every local device on JAX (its
``scope()`` sets the distribution while the model is built and trained); PyTorch has only
``default``. ``multi-worker`` stays a tf_keras feature: Keras 3 does not run `fit` under
`tf.distribute.MultiWorkerMirroredStrategy` (keras-team/keras#20585), and a multi-host JAX
`DataParallel` is not offered here yet; on Keras 3 it is refused with that reason.

Models are built and compiled inside ``strategy.scope()`` (quantum layers on either backend:
TFQ's ops and the state-vector engine are ordinary TensorFlow ops in each replica), batch norms
are synchronised across replicas (so a step on a global batch is one process's step on it),
input is a `tf.data` pipeline of global batches that the strategy splits the tf.data way
(``AutoShardPolicy.DATA``), and `BackupAndRestore` lets a restarted worker resume. Only the
chief writes the run's records and exports; the other workers write into their own scratch
folder inside the run folder (`worker_folder`).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

STRATEGIES = ("default", "mirrored", "multi-worker")


def make_strategy(name: str = "default"):
    """The `tf.distribute.Strategy` ``name`` (one of `STRATEGIES`).

    Create a multi-worker strategy at the start of the program, before other TensorFlow work
    (TensorFlow's rule for collective ops).
    """
    if name not in STRATEGIES:
        raise ValueError(f"`strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")
    from hybridkeras._stack import KERAS_VERSION

    if KERAS_VERSION == 3:
        return _keras3_strategy(name)
    from hybridkeras._compat import tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if not os.environ.get("TF_CONFIG"):
        raise ValueError("strategy='multi-worker' is configured from the TF_CONFIG environment variable (the cluster's "
                         "workers and this process's task); set it in every worker (see docs/scaling.md)")
    return tf.distribute.MultiWorkerMirroredStrategy()


class OneDevice:
    """``strategy='default'`` where Keras has no strategy object (JAX, PyTorch): one replica, Keras' own placement."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


def _keras3_strategy(name: str):
    import keras

    from hybridkeras._stack import keras_backend

    backend = keras_backend()
    if name == "multi-worker":
        raise ValueError(
            "strategy='multi-worker' is not available on Keras 3: Keras 3 does not train under "
            "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585), and hybridkeras does not offer a multi-host "
            "JAX DataParallel yet. Use strategy='mirrored' (every device of this machine), or scale a search out with "
            "`hybridkeras tune ... --workers N` (Keras Tuner's chief/worker protocol; docs/scaling.md)")
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


def is_multi_worker(strategy) -> bool:
    """Whether ``strategy`` is a `tf.distribute.MultiWorkerMirroredStrategy` (tf_keras only; see `make_strategy`)."""
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


def global_batches(x, y, batch_size: int, *, shuffle: bool = False, seed: int = 0):
    """``(x, y)`` as a `tf.data.Dataset` of global batches, split across replicas and workers the tf.data way."""
    from hybridkeras._compat import tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.batch(batch_size).with_options(options).prefetch(tf.data.AUTOTUNE)
