"""The installed stack, checked once at import, importing nothing heavy: Keras 3 (on TensorFlow, JAX or PyTorch,
chosen by ``KERAS_BACKEND`` before Python starts), and TensorFlow and TensorFlow Quantum imported on first use.

hybridkeras runs on Keras 3 only. TFQ, where installed (``pip install "hybridkeras[tfq]"``, Python 3.11 or 3.12),
is a simulator behind the layers on Keras' TensorFlow backend (`engines.simulators`); it never brings its own
Keras. ``tf`` and ``tfq`` here are those modules, imported when an attribute is first read, so modules that need
them only on one path import nothing at load time.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys

TFQ_EXTRA = 'pip install "hybridkeras[tfq]"'
MIN_KERAS = (3, 10)
RETIRED_ENV = "HYBRIDKERAS_KERAS"  # chose Keras 2 or Keras 3 in the versions that ran on both


class StackError(ImportError):
    """The installed stack cannot run what was asked of hybridkeras."""


def _version_tuple(text: str) -> tuple:
    parts = []
    for piece in text.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_stack() -> None:
    """Raises `StackError` naming what to change when the installed Keras is not Keras ≥ 3.10, or the environment
    still asks for the retired Keras 2 mode."""
    choice = os.environ.get(RETIRED_ENV, "").strip()
    if choice not in ("", "3"):
        raise StackError(f"hybridkeras runs on Keras 3 only; the environment sets {RETIRED_ENV}={choice!r}, which chose "
                         "Keras 2 (tf-keras) in earlier versions. Unset it (TFQ, where installed, runs behind the "
                         "layers on Keras' TensorFlow backend)")
    try:
        version = importlib.metadata.version("keras")
    except importlib.metadata.PackageNotFoundError:
        raise StackError("hybridkeras needs Keras 3 (keras>=3.10), which is not installed: pip install -e .") from None
    if _version_tuple(version) < MIN_KERAS:
        raise StackError(f"hybridkeras needs keras>=3.10; found keras {version}. Upgrade it: pip install -U 'keras>=3.10'")


check_stack()
# TensorFlow's C++ start-up chatter (CUDA probing, oneDNN notices) drowns notebook output; a user's own value wins
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _LazyModule:
    """A module imported when one of its attributes is first read."""

    def __init__(self, name: str):
        self._name, self._module = name, None

    def __getattr__(self, attribute):
        if self._module is None:
            try:
                self._module = importlib.import_module(self._name)
            except ImportError as exc:  # pragma: no cover - depends on the installation
                raise StackError(f"{self._name} could not be imported ({exc}) on Python {sys.version.split()[0]}; "
                                 f"TensorFlow Quantum needs `{TFQ_EXTRA}` on Python 3.11 or 3.12.") from exc
        return getattr(self._module, attribute)


tf = _LazyModule("tensorflow")
tfq = _LazyModule("tensorflow_quantum")

__all__ = ["StackError", "TFQ_EXTRA", "check_stack", "tf", "tfq"]
