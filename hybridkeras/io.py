"""Saving and loading models as TensorFlow SavedModels, atomically, with a run record.

A SavedModel directory written by :func:`save_model` also holds ``hybridkeras.json``
(versions, model name, the caller's metadata) and, when given, ``history.json``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import uuid
from pathlib import Path

from hybridkeras._compat import keras, tf

RECORD_FILE = "hybridkeras.json"
HISTORY_FILE = "history.json"


class ModelLoadError(OSError):
    """A saved model exists but cannot be read (corrupt, incomplete or foreign)."""


def write_text_atomic(path, text: str) -> Path:
    """Writes ``text`` to ``path`` (creating its folder) through a temporary file and ``os.replace``:
    readers see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_json_atomic(path, obj) -> Path:
    """Writes JSON to ``path`` atomically (see `write_text_atomic`)."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=_jsonable))


def _jsonable(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _history_dict(history) -> dict | None:
    if history is None:
        return None
    values = history.history if hasattr(history, "history") else history
    return {key: [float(v) for v in vals] for key, vals in values.items()}


def save_model(model, path, *, history=None, metadata: dict | None = None, overwrite: bool = True) -> Path:
    """Exports ``model`` as a SavedModel at ``path``, never leaving a half-written directory.

    The model is written to a temporary sibling directory and renamed into place, so a crash
    leaves either the previous export or the new one. Models are saved without traced call
    functions (``save_traces=False``): hybridkeras layers rebuild from their configs, which
    is what makes TFQ layers exportable.

    Args:
        model: A tf_keras model.
        path: Target directory.
        history: A ``keras.callbacks.History`` or dict of per-epoch metrics, saved as
            ``history.json`` in the export.
        metadata: JSON-serialisable facts about the run (dataset, config, metrics).
        overwrite: Replace an existing export at ``path``.

    Returns:
        The export's path.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a tf_keras Model. Received: model={type(model).__name__}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        model.save(str(tmp), save_format="tf", save_traces=False)
        record = {
            "format": 1,
            "model_name": model.name,
            "saved_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": _versions(),
            "metadata": metadata or {},
        }
        write_json_atomic(tmp / RECORD_FILE, record)
        if history is not None:
            write_json_atomic(tmp / HISTORY_FILE, _history_dict(history))
        if path.exists():
            old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def load_model(path, *, compile: bool = True, custom_objects: dict | None = None, backend: str | None = None):
    """Loads a model written by :func:`save_model` (or any tf_keras SavedModel).

    ``backend`` ('tfq' or 'statevector') rebuilds every quantum layer on that simulator,
    whatever it was saved with: same circuits, same weights (outputs agree within float32
    rounding, about 1e-6).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ModelLoadError: ``path`` is not a SavedModel, or it is corrupt or incomplete.
    """
    from hybridkeras.layers import CUSTOM_OBJECTS
    from hybridkeras.layers._backend import BACKENDS, backend_override

    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}. Received: backend={backend!r}")

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No saved model at {str(path)!r}")
    if not (path / "saved_model.pb").is_file():
        raise ModelLoadError(
            f"{str(path)!r} is not a SavedModel directory (saved_model.pb is missing); "
            "pass the directory that hybridkeras.save_model wrote"
        )
    objects = dict(CUSTOM_OBJECTS)
    objects.update(custom_objects or {})
    try:
        with backend_override(backend):
            return keras.models.load_model(str(path), custom_objects=objects, compile=compile)
    except Exception as exc:
        raise ModelLoadError(
            f"The SavedModel at {str(path)!r} is corrupt or incomplete and could not be loaded "
            f"({type(exc).__name__}: {str(exc)[:300]})"
        ) from exc


def read_record(path) -> dict:
    """The ``hybridkeras.json`` record of an export ({} for exports made elsewhere)."""
    record = Path(path) / RECORD_FILE
    return json.loads(record.read_text()) if record.is_file() else {}


def read_history(path) -> dict | None:
    """The per-epoch metrics saved with an export, or None."""
    history = Path(path) / HISTORY_FILE
    return json.loads(history.read_text()) if history.is_file() else None


def _versions() -> dict:
    import cirq
    import tf_keras

    from hybridkeras._compat import tfq

    return {
        "hybridkeras": "0.1.0",
        "tensorflow": tf.__version__,
        "tf_keras": tf_keras.__version__,
        "tensorflow_quantum": getattr(tfq, "__version__", "0.7.6"),
        "cirq": cirq.__version__,
    }
