"""The run folder's ownership: which folders this package wrote, and may therefore delete.

A runner marks every folder it creates (or finds empty) with ``.hybridkeras-run``; starting over
(``resume=False``, CLI ``--no-resume``) deletes a folder only when that marker is in it, and
never touches a folder that holds anything else. `locked` keeps a second run out of a folder
while one is writing it. Shared by the experiment runner, the distillation runner and the
autoencoder pipeline.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import functools
import io
import json
import math
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np

from hybridkeras.engines.ops import backend as keras_backend
from hybridkeras.io import write_json_atomic, write_text_atomic
from hybridkeras.layers import get_backend
from hybridkeras.training.distribute import worker_folder

RUN_MARKER = ".hybridkeras-run"
LOCK_FILE = ".hybridkeras-lock"


def claim(folder: Path, kind: str) -> Path:
    """Creates ``folder`` if needed and marks it as a run folder of ``kind`` when it is new or empty.

    A folder that already holds files without the marker stays unmarked: its files are the user's,
    so a later `start_over` refuses to delete it.
    """
    folder = Path(folder)
    fresh = not folder.exists() or not _contents(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fresh:
        write_json_atomic(folder / RUN_MARKER, {"kind": kind})
    return folder


def _contents(folder: Path) -> list:
    return [item for item in folder.iterdir() if item.name != LOCK_FILE]


def is_run_folder(folder: Path) -> bool:
    return (Path(folder) / RUN_MARKER).is_file()


def start_over(folder: Path) -> None:
    """Deletes the run folder ``folder`` (nothing if it does not exist or is empty).

    Raises:
        FileExistsError: ``folder`` holds files and no run marker: it was not written by
            hybridkeras (or by a version before the marker), so nothing is deleted.
    """
    folder = Path(folder)
    if not folder.exists() or not _contents(folder):
        return
    if not is_run_folder(folder):
        raise FileExistsError(
            f"{str(folder)!r} holds files but is not a run folder of hybridkeras (no {RUN_MARKER} marker), so "
            "starting over will not delete it; choose another output folder, or empty it yourself"
        )
    for item in _contents(folder):  # the lock file stays: this run holds it
        shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()


@contextlib.contextmanager
def locked(folder, *, label: str | None = None):
    """Holds the run folder's lock for the block: a second run into the same folder (another
    process, or this one) gets a clear error naming the holder instead of racing it.

    The lock is an advisory `fcntl.flock` on ``<folder>/.hybridkeras-lock``, released when the
    block ends or the process dies (a killed run leaves no stale lock behind). ``label`` is
    added to the holder's description (a distributed search's chief names its oracle there, so
    that its workers can tell they belong to it: see `check_joinable`).
    """
    if folder is None:
        yield
        return
    folder = Path(folder)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_FILE
    handle = open(path, "a+")
    try:
        for attempt in range(5):  # a worker's probe (check_joinable) holds it for microseconds
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 4:
                    raise FileExistsError(f"{str(folder)!r} is in use by {_holder(handle)}; wait for that run to "
                                          "finish or choose another output folder") from None
                time.sleep(0.2)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}" + (f" ({label})" if label else ""))
        handle.flush()
        yield
    finally:
        handle.close()
        if created and folder.is_dir() and not _contents(folder):  # a run refused before it wrote anything
            path.unlink(missing_ok=True)
            folder.rmdir()


def _holder(handle) -> str:
    handle.seek(0)
    return handle.read().strip() or "another process"


def check_joinable(folder, label: str) -> None:
    """Checks that ``folder`` is free or locked by the run ``label`` names (a distributed search's chief),
    so that a process that is part of that run (a worker) may write into it.

    Raises:
        FileExistsError: another run holds the folder.
    """
    path = Path(folder) / LOCK_FILE
    if not path.is_file():
        return
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)  # free: the chief has not started yet
            fcntl.flock(handle, fcntl.LOCK_UN)
            return
        except BlockingIOError:
            holder = _holder(handle)
    if label not in holder:
        raise FileExistsError(f"{str(folder)!r} is in use by {holder}, not by {label}; this process belongs to another "
                              "run: choose another output folder")


def holds_lock(default=None):
    """Decorator for a runner ``fn(config, output_dir=None, ...)``: it runs holding the lock of its output
    folder (``output_dir``, else ``default(config)``; none when both are None)."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(config, *args, **kwargs):
            folder = kwargs.get("output_dir", args[0] if args else None)
            if folder is None and default is not None and getattr(config, "name", None):
                folder = default(config)
            with locked(worker_folder(folder)):  # a multi-worker run's other workers write their own folder
                return fn(config, *args, **kwargs)
        return run
    return wrap


def default_output(config) -> Path:
    """``saved_models/<config.name>``: where a runner writes when no folder is given."""
    return Path(f"saved_models/{config.name}")


def check_config(output: Path, config, resume: bool, *, search: dict | None = None) -> None:
    """Starts (or resumes) the run of ``config`` in ``output``: the one check every runner makes.

    ``resume=False`` first deletes an earlier run of the folder (only one this package marked);
    a resumed run whose recorded settings differ from ``config``'s — the simulator backend
    included, since it changes results — is refused, in every runner alike. The settings are
    then recorded in ``output/config.json``, with the Keras backend the run trains on (``keras_backend``),
    which is compared as well. ``search`` (the tuners: what is searched, which
    tuner, epochs per trial, seed) is recorded and compared with them, under ``"search"``.
    """
    output = Path(output)
    if getattr(config, "backend", None) is None:
        raise ValueError("check_config needs a config whose backend is resolved (runs.resolved)")
    record = output / "config.json"
    if not resume:
        start_over(output)  # only a folder a hybridkeras run marked as its own
    # the simulator and the Keras backend are settings that change results: recorded with the config, compared
    now = json.loads(json.dumps({**config.to_dict(), "keras_backend": keras_backend(),
                                 **({"search": search} if search is not None else {})}, default=list))
    before = None
    if resume and record.is_file():
        before = json.loads(record.read_text())
    elif resume and (output / "record.json").is_file():  # a finished pipeline run of an earlier version
        before = json.loads((output / "record.json").read_text()).get("config")
    if before is not None:
        legacy = {"backend", "keras_backend"} - set(before)  # runs recorded before these were: not compared
        changed = sorted(k for k in now if k not in ("notes", "seeds", *legacy) and before.get(k) != now[k])
        if changed:
            raise ValueError(
                f"{str(output)!r} holds a run of a different config (fields {changed} differ); "
                "pass resume=False (CLI: --no-resume) to start over, or choose another output folder"
            )
    claim(output, type(config).__name__)
    write_json_atomic(record, now)


def resolved(config):
    """``config`` with its simulation settings made explicit: ``backend=None`` becomes the current
    default (`hybridkeras.set_backend`), so the run records, resumes and builds with that value
    and no later change of the default can reach it."""
    if getattr(config, "backend", "") is None:
        return dataclasses.replace(config, backend=get_backend())
    return config


def mean_std(values) -> tuple[float, float]:
    values = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))], float)
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std())


def write_csv(path: Path, rows: list) -> None:
    buffer = io.StringIO()
    keys = list(dict.fromkeys(k for r in rows for k in r))
    writer = csv.DictWriter(buffer, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buffer.getvalue())
