"""The run folder's ownership: which folders this package wrote, and may therefore delete.

A runner marks every folder it creates (or finds empty) with ``.hybridkeras-run``; starting over
(``resume=False``, CLI ``--no-resume``) deletes a folder only when that marker is in it, and
never touches a folder that holds anything else. Shared by the experiment runner, the
distillation runner and the autoencoder pipeline.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from hybridkeras.io import write_json_atomic

RUN_MARKER = ".hybridkeras-run"


def claim(folder: Path, kind: str) -> Path:
    """Creates ``folder`` if needed and marks it as a run folder of ``kind`` when it is new or empty.

    A folder that already holds files without the marker stays unmarked: its files are the user's,
    so a later `start_over` refuses to delete it.
    """
    folder = Path(folder)
    fresh = not folder.exists() or not any(folder.iterdir())
    folder.mkdir(parents=True, exist_ok=True)
    if fresh:
        write_json_atomic(folder / RUN_MARKER, {"kind": kind})
    return folder


def is_run_folder(folder: Path) -> bool:
    return (Path(folder) / RUN_MARKER).is_file()


def start_over(folder: Path) -> None:
    """Deletes the run folder ``folder`` (nothing if it does not exist or is empty).

    Raises:
        FileExistsError: ``folder`` holds files and no run marker: it was not written by
            hybridkeras (or by a version before the marker), so nothing is deleted.
    """
    folder = Path(folder)
    if not folder.exists() or not any(folder.iterdir()):
        return
    if not is_run_folder(folder):
        raise FileExistsError(
            f"{str(folder)!r} holds files but is not a run folder of hybridkeras (no {RUN_MARKER} marker), so "
            "starting over will not delete it; choose another output folder, or empty it yourself"
        )
    shutil.rmtree(folder)
