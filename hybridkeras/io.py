"""Saving and loading models, atomically, with a run record.

A model is written as a directory holding ``model.keras`` (Keras' own format, loaded with its ``safe_mode``),
``hybridkeras.json`` (versions, the Keras backend, the simulators, model name, the caller's metadata), when given
``history.json``, and, on Keras' TensorFlow backend, ``serving/`` (a SavedModel from ``model.export()``, served by
TensorFlow alone). Exports of the earlier Keras 2 (tf-keras) versions of hybridkeras are recognised and refused
with the versions that wrote them and what to do.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import uuid
from pathlib import Path

import keras

from hybridkeras.circuits.noise import as_noise
from hybridkeras.engines.simulators import check_tfq_available

RECORD_FILE = "hybridkeras.json"
HISTORY_FILE = "history.json"
KERAS3_FILE = "model.keras"
SERVING_DIR = "serving"  # an export's serving SavedModel (model.export()), where one is written
LEGACY_FILE = "saved_model.pb"  # what an export of the Keras 2 versions holds instead of model.keras


class ModelLoadError(OSError):
    """A saved model exists but cannot be read (corrupt, incomplete or foreign)."""


class UnknownLayerError(ModelLoadError):
    """A saved model names a layer class that is not known here, or that cannot be rebuilt from its config."""


class UnsavableModelError(ValueError):
    """A model holds a layer that could be written but never loaded (it has no config)."""


class UnsafeModelError(ModelLoadError):
    """A saved model holds stored Python code (a Lambda layer's bytecode) and safe_mode is on."""


def _stored_code(config, where: str = "model") -> list[str]:
    """Places in a Keras model config that hold Python bytecode (a Lambda's function or output shape)."""
    found = []
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":  # Keras 3's form of a serialized Python function
            found.append(f"{where} (a serialized Python lambda)")
        for key, value in config.items():
            if key.endswith("function_type") or key == "output_shape_type":
                if value == "lambda":
                    found.append(f"{where} ({key}='lambda')")
        name = config.get("config", {}).get("name") if isinstance(config.get("config"), dict) else None
        inner = f"{where} > {config.get('class_name')} {name!r}" if "class_name" in config else where
        for key, value in config.items():
            found += _stored_code(value, inner if key == "config" else where)
    elif isinstance(config, (list, tuple)):
        for value in config:
            found += _stored_code(value, where)
    return found


def _model_configs(path: Path) -> list:
    """The Keras configs stored in an .h5 file or a .keras archive (read as data; no code runs)."""
    if path.suffix == ".keras":
        import zipfile

        with zipfile.ZipFile(path) as archive:
            return [json.loads(archive.read("config.json"))] if "config.json" in archive.namelist() else []
    import h5py

    with h5py.File(path, "r") as handle:
        config = handle.attrs.get("model_config")
    if config is None:
        return []
    return [json.loads(config.decode() if isinstance(config, bytes) else config)]


def check_safe(path) -> None:
    """Raises `UnsafeModelError` when the model at ``path`` holds stored Python bytecode (read, never run)."""
    path = Path(path)
    try:
        configs = _model_configs(path)
    except Exception as exc:  # metadata that cannot be parsed: the export is corrupt
        raise ModelLoadError(f"The model at {str(path)!r} could not be read ({type(exc).__name__}: {exc})") from exc
    places = [place for config in configs for place in _stored_code(config)]
    if places:
        raise UnsafeModelError(
            f"The model at {str(path)!r} holds stored Python bytecode ({'; '.join(sorted(set(places))[:3])}); loading "
            "it would run that code. Load it with safe_mode=False (CLI: --unsafe-load) only if you trust its source"
        )


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
    """Writes JSON to ``path`` atomically (see `write_text_atomic`).

    NaN and ±Inf (a metric that was not measured, a diverged loss) are written as ``null``:
    ``NaN`` is not JSON, and strict parsers (jq, browsers) reject files that hold it.
    """
    return write_text_atomic(path, json.dumps(_strict_json(obj), indent=2, sort_keys=True, default=_jsonable,
                                              allow_nan=False))


def _strict_json(value):
    """``value`` with NumPy values as Python ones and non-finite floats as None."""
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict_json(item) for item in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _strict_json(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    """Exports ``model`` as a directory at ``path``, never leaving a half-written directory.

    The model is written to a temporary sibling directory and renamed into place, so a crash
    leaves either the previous export or the new one. The model becomes ``model.keras`` in the
    directory (any Keras backend; hybridkeras layers rebuild from their configs) and, on Keras' TensorFlow backend,
    ``serving/``: a SavedModel from ``model.export()`` that TensorFlow serves without hybridkeras
    (``tf.saved_model.load(path / "serving").serve(x)``); the record says why when there is none.

    Args:
        model: A Keras model.
        path: Target directory.
        history: A ``keras.callbacks.History`` or dict of per-epoch metrics, saved as
            ``history.json`` in the export.
        metadata: JSON-serialisable facts about the run (dataset, config, metrics).
        overwrite: Replace an existing export at ``path``.

    Returns:
        The export's path.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a Keras Model. Received: model={type(model).__name__}")
    check_savable(model)
    path = Path(path)
    recover(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()
        model.save(tmp / KERAS3_FILE)
        serving = _write_serving(model, tmp)
        record = {
            "format": 1,
            "keras": 3,
            "keras_backend": keras.config.backend(),
            "simulators": _simulators(model),
            "noise": _noise(model),
            **serving,
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


def _write_serving(model, folder: Path) -> dict:
    """A serving SavedModel of the model (``model.export()``) in ``folder/serving``, where one can be served by
    TensorFlow alone; the record's ``serving`` entry: the folder's name, or None with ``serving_note`` saying why.

    Written on Keras' TensorFlow backend. Not written for models on JAX or PyTorch (TensorFlow 2.21 cannot
    serve JAX 0.12's exports; PyTorch has no SavedModel export), nor for models with layers on TFQ's ops (a
    served SavedModel would need TFQ's op libraries: load ``model.keras`` with `load_model`)."""
    backend = keras.config.backend()
    if backend != "tensorflow":
        return {"serving": None, "serving_note": f"serving SavedModels are written on Keras' TensorFlow backend; "
                                                 f"this model runs on {backend!r}"}
    on_tfq = [layer.name for layer in _all_layers(model)
              if "tfq" in (getattr(layer, "backend", None), getattr(layer, "simulator", None))]
    if on_tfq:
        return {"serving": None, "serving_note": f"layers {on_tfq} run TFQ's ops, which plain TensorFlow cannot load; "
                                                 "load model.keras with hybridkeras.load_model"}
    try:
        model.export(str(folder / SERVING_DIR), format="tf_saved_model", verbose=False)
    except Exception as exc:  # the model itself is saved; say why it has no serving form
        shutil.rmtree(folder / SERVING_DIR, ignore_errors=True)
        return {"serving": None, "serving_note": f"model.export() failed: {type(exc).__name__}: {exc}"[:500]}
    return {"serving": SERVING_DIR}


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):  # a nested model
            yield from _all_layers(layer)


def _simulators(model) -> list:
    """The simulators the model's quantum layers run on ('statevector', 'tfq'), each once; [] for a classical model."""
    found = {getattr(layer, "backend", None) for layer in _all_layers(model)}
    return sorted(name for name in found if isinstance(name, str))


def _noise(model) -> dict:
    """{layer name: its noise spec} for the quantum layers that simulate noise ({} for none)."""
    return {layer.name: layer.noise.to_json() for layer in _all_layers(model) if getattr(layer, "noise", None) is not None}


def _replacement(layer) -> str:
    from hybridkeras import layers as ours

    name = type(layer).__name__
    if type(layer).__module__.startswith("tensorflow_quantum") and name in ours.__all__:
        return f"use hybridkeras.layers.{name} instead (same arguments, plus backend=)"
    return ("give the layer a get_config() that returns its constructor arguments and register its class with "
            "keras.utils.register_keras_serializable")


def check_savable(model) -> None:
    """Raises `UnsavableModelError` when a layer of ``model`` has no config, so its export could not be reloaded.

    Keras would write such a model, and loading it would then fail; Keras 2 layers (TFQ's own
    `tfq.layers`) are the usual case. Called by `save_model` before anything is written.
    """
    for layer in _all_layers(model):
        try:
            layer.get_config()
        except NotImplementedError as exc:
            raise UnsavableModelError(
                f"Layer {layer.name!r} ({type(layer).__module__}.{type(layer).__name__}) has no config, so the export "
                f"could be written but never loaded; nothing was written. To save it, {_replacement(layer)}"
            ) from exc


def is_export(folder) -> bool:
    """Whether ``folder`` holds a finished export of `save_model` (``model.keras``, or the SavedModel of an export of
    the Keras 2 versions, which `load_model` refuses naming them, and the record written with it)."""
    folder = Path(folder)
    return ((folder / LEGACY_FILE).is_file() or (folder / KERAS3_FILE).is_file()) and (folder / RECORD_FILE).is_file()


def recover(path) -> Path:
    """Finishes or undoes an export that a crash interrupted, and removes its leftovers.

    `save_model` writes ``.NAME.tmp-*`` completely (the record last), then renames the old
    export to ``.NAME.old-*`` and the new one into place. A crash between those two renames
    leaves no ``NAME``: the newest complete ``.tmp-*`` (else ``.old-*``) is renamed into place.
    Temporary siblings of ``NAME`` left by interrupted saves are then deleted.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return path
    leftovers = sorted((p for p in path.parent.glob(f".{path.name}.*-*")
                        if p.is_dir() and p.name.split(".")[-1].startswith(("tmp-", "old-"))),
                       key=lambda p: p.stat().st_mtime, reverse=True)
    if not path.exists():
        for kind in ("tmp-", "old-"):
            chosen = next((p for p in leftovers if p.name.split(".")[-1].startswith(kind) and is_export(p)), None)
            if chosen is not None:
                os.replace(chosen, path)
                leftovers.remove(chosen)
                break
    for leftover in leftovers:
        shutil.rmtree(leftover, ignore_errors=True)
    return path


def load_model(path, *, compile: bool = True, custom_objects: dict | None = None, backend: str | None = None,
               safe_mode: bool = True, noise=None):
    """Loads a model written by :func:`save_model` (or any Keras 3 ``.keras`` or ``.h5`` file).

    ``backend`` ('tfq' or 'statevector') rebuilds every quantum layer on that simulator,
    whatever it was saved with: same circuits, same weights (outputs agree within float32
    rounding, about 1e-6). 'tfq' runs TFQ's ops through the simulator seam and needs Keras'
    TensorFlow backend with TFQ installed (else an error naming what to change).

    ``noise`` (None: as saved) rebuilds every quantum layer with that noise instead of its own
    (any value a layer's ``noise=`` takes; ``{}`` for none): a model trained clean is evaluated
    under noise, or a noise-aware one without it, with the same weights and no retraining.

    ``safe_mode`` (default True) reads the stored model config first and refuses a model that
    holds Python bytecode (a `Lambda` layer's function), naming the layer, before Keras loads it
    (with its own ``safe_mode``). Pass False only for models whose source you trust.

    An export or model file written by the Keras 2 (tf-keras) versions of hybridkeras is refused with
    the versions that wrote it and what to do (`LegacyModelError`).

    Raises:
        FileNotFoundError: nothing at ``path``.
        UnsafeModelError: ``safe_mode`` and the model holds stored bytecode (nothing of it ran).
        ModelLoadError: ``path`` is not a model, or it is corrupt or incomplete.
    """
    from hybridkeras.layers import BACKENDS

    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}. Received: backend={backend!r}")
    if noise is not None:
        as_noise(noise)  # a bad value is refused before anything is read

    path = recover(Path(path))
    if not path.exists():
        raise FileNotFoundError(f"No saved model at {str(path)!r}")
    if path.is_dir() and (path / KERAS3_FILE).is_file():
        path = path / KERAS3_FILE
    refuse_legacy(path)
    if path.is_dir():
        raise ModelLoadError(f"{str(path)!r} holds no {KERAS3_FILE}; pass the directory that hybridkeras.save_model "
                             "wrote, or a .keras / .h5 model file")
    if path.suffix not in (".h5", ".hdf5", ".keras"):
        raise ModelLoadError(f"{str(path)!r} is neither an export directory nor an .h5 / .keras model file")
    version = _keras_file_version(path)
    if not version.startswith("3."):
        raise _legacy(path, f" (written by Keras {version or '2'})")
    if safe_mode:  # the stored config read first, so the error names the layer that holds code
        check_safe(path)
    return _load_keras3(path, compile, custom_objects, backend, safe_mode, noise)


class LegacyModelError(ModelLoadError):
    """A model written by the Keras 2 (tf-keras) versions of hybridkeras, which this version cannot read."""


def refuse_legacy(path) -> None:
    """Raises `LegacyModelError` when ``path`` is an export folder of the Keras 2 versions (a SavedModel); reads only
    the folder's listing and record."""
    path = Path(path)
    if path.is_dir() and (path / LEGACY_FILE).is_file() and not (path / KERAS3_FILE).is_file():
        raise _legacy(path, _written_by(path))


def _legacy(path: Path, written_by: str) -> LegacyModelError:
    return LegacyModelError(
        f"The model at {str(path)!r} is a Keras 2 model{written_by}: the earlier, Keras 2 (tf-keras) versions of "
        "hybridkeras wrote it, and this version runs on Keras 3, which cannot read it. Retrain it with this version "
        "(the same command or config reproduces it), or load it where the earlier version is installed and save its "
        "weights (model.save_weights('w.h5')), then build the same model here and call load_weights('w.h5')")


def _written_by(path: Path) -> str:
    """`` (written by hybridkeras X with tf-keras Y)`` from a Keras 2 export folder's record, or '' where it has
    none."""
    try:
        versions = json.loads((path / RECORD_FILE).read_text()).get("versions", {}) if path.is_dir() else {}
    except (OSError, ValueError):
        return ""
    if not versions:
        return ""
    # the record names the package by its import name; pip's name has a hyphen
    legacy = next((v for k, v in versions.items() if k.replace("_", "-") == "tf-keras"), "?")
    return f" (written by hybridkeras {versions.get('hybridkeras', '?')} with tf-keras {legacy})"


def _keras_file_version(path: Path) -> str:
    """The Keras version that wrote the model file at ``path`` (a `.keras` archive or an `.h5` file; '' where the file
    does not say). Keras 2 wrote both formats too."""
    import zipfile

    if path.suffix != ".keras":
        import h5py

        try:
            with h5py.File(path, "r") as handle:
                version = handle.attrs.get("keras_version", b"")
        except OSError as exc:
            raise ModelLoadError(f"The model file {str(path)!r} is corrupt or incomplete ({type(exc).__name__}: {exc})") from exc
        return version.decode() if isinstance(version, bytes) else str(version)
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json")) if "metadata.json" in archive.namelist() else {}
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ModelLoadError(f"The .keras file {str(path)!r} is corrupt or incomplete ({type(exc).__name__}: {exc})") from exc
    return str(metadata.get("keras_version", ""))


def _load_failure(path: Path, exc: Exception) -> ModelLoadError:
    """The error to raise for a load of ``path`` that failed with ``exc``: unknown class, or corrupt."""
    unknown = _unknown_layer(exc)
    if unknown:
        return UnknownLayerError(
            f"The model at {str(path)!r} holds {unknown}, so it cannot be rebuilt here. The export itself is "
            "readable: import the module that defines the class (or pass custom_objects=), or, for a layer saved "
            "without a config (such as tfq.layers.PQC), rebuild the model with hybridkeras.layers and save it again "
            f"({type(exc).__name__}: {str(exc)[:300]})"
        )
    return ModelLoadError(
        f"The model at {str(path)!r} is corrupt or incomplete and could not be loaded "
        f"({type(exc).__name__}: {str(exc)[:300]})"
    )


def _load_keras3(path: Path, compile: bool, custom_objects, backend, safe_mode: bool, noise=None):
    """A Keras 3 model file, loaded by Keras with its ``safe_mode`` (a Lambda's code is refused, never run)."""
    from hybridkeras.layers import CUSTOM_OBJECTS
    from hybridkeras.layers import backend_override, noise_scope

    if backend == "tfq":
        check_tfq_available(f"load_model(..., backend='tfq') of the model {str(path)!r}")
    objects = dict(CUSTOM_OBJECTS)
    objects.update(custom_objects or {})
    try:
        # ``backend`` rebuilds every paper layer on that simulator ('tfq': TFQ's ops through the simulator seam, where
        # Keras runs on TensorFlow and TFQ is installed; elsewhere the layer's error names what to change)
        with backend_override(backend), noise_scope(noise):
            return keras.saving.load_model(path, custom_objects=objects, compile=compile, safe_mode=safe_mode)
    except ValueError as exc:
        if "safe_mode" in str(exc):
            raise UnsafeModelError(f"The model at {str(path)!r} holds stored Python code (a Lambda's function); loading "
                                   "it would run that code, and Keras' safe_mode refused it (nothing of it ran). "
                                   "Load it with safe_mode=False only if you trust its source") from exc
        raise _load_failure(path, exc) from exc
    except Exception as exc:
        raise _load_failure(path, exc) from exc


def _unknown_layer(exc) -> str | None:
    """What a load error says about a layer class that is unknown or has no config, or None."""
    import re

    text = str(exc)
    match = re.search(r"Unknown (?:layer|object|class)[^'\"]*['\"]([^'\"]+)['\"]", text)
    if match:
        return f"a layer of the unknown class {match.group(1)!r}"
    match = re.search(r"Cannot call custom layer (\S+) of type (\S+?), because the call function was not serialized", text)
    if match:
        return f"the layer {match.group(1)!r} of class {match.group(2)!r}, which was saved without a config"
    if isinstance(exc, NotImplementedError) or "get_config" in text:
        return "a layer whose class has no config"
    return None


def read_record(path) -> dict:
    """The ``hybridkeras.json`` record of an export ({} for exports made elsewhere)."""
    record = Path(path) / RECORD_FILE
    return json.loads(record.read_text()) if record.is_file() else {}


def read_history(path) -> dict | None:
    """The per-epoch metrics saved with an export, or None."""
    history = Path(path) / HISTORY_FILE
    return json.loads(history.read_text()) if history.is_file() else None


def _versions() -> dict:
    """The versions a saved model was made with: hybridkeras, Cirq, Keras and its backend's array library, and TFQ
    where it is installed."""
    import importlib
    import importlib.metadata

    import cirq

    versions = {"hybridkeras": "0.1.0", "cirq": cirq.__version__, "keras": keras.__version__}
    backend = keras.config.backend()
    versions[backend] = getattr(importlib.import_module(backend), "__version__", "unknown")
    try:
        versions["tensorflow_quantum"] = importlib.metadata.version("tensorflow-quantum")
    except importlib.metadata.PackageNotFoundError:
        pass
    return versions
