"""Which simulator runs the quantum layers: TensorFlow Quantum ('tfq') or the state-vector engine ('statevector')."""
from __future__ import annotations

import contextlib
import threading

from hybridkeras.circuits.noise import as_noise
from hybridkeras.engines import MAX_ENGINE_QUBITS
from hybridkeras.layers._validation import MAX_QUBITS, check_differentiator, check_positive_int, check_repetitions

BACKENDS = ("tfq", "statevector")
_state = threading.local()
# the engine runs on every Keras backend; TFQ only on TensorFlow, where installed
_default = {"backend": "statevector"}


def set_backend(name: str) -> None:
    """Sets the backend that quantum layers built afterwards use when they are given ``backend=None``."""
    if name not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}. Received: backend={name!r}")
    _default["backend"] = name


def get_backend() -> str:
    """The default backend (see :func:`set_backend`)."""
    return _default["backend"]


@contextlib.contextmanager
def _scoped(attribute: str, value, missing):
    """Sets this thread's ``attribute`` to ``value`` within the block, then restores it (``missing``: was unset)."""
    previous = getattr(_state, attribute, missing)
    setattr(_state, attribute, value)
    try:
        yield
    finally:
        setattr(_state, attribute, previous)


def backend_override(name: str | None):
    """Within the block, every quantum layer is built with backend ``name`` (None: no override).

    ``hybridkeras.load_model(path, backend=...)`` uses it to load a model saved with one
    backend onto the other: same weights, same circuits, another simulator.
    """
    if name is not None and name not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}. Received: backend={name!r}")
    return _scoped("override", name, None)


_KEEP = object()  # no noise override active


def noise_override(noise):
    """Within the block, every quantum layer is built with ``noise`` (checked by `as_noise`; ``{}``: no noise)
    instead of its own. ``hybridkeras.load_model(path, noise=...)`` uses it to evaluate a saved model under other
    noise: same weights, same circuits."""
    return _scoped("noise", as_noise(noise), _KEEP)


def noise_scope(noise):
    """A run's noise on every quantum layer built within the block: `noise_override(noise)`, or no override for
    ``noise=None`` (each layer keeps its own). The runners build their models in it (a config's ``noise``)."""
    return contextlib.nullcontext() if noise is None else noise_override(noise)


def resolve_noise(value):
    """The noise a layer uses: an active `noise_override`, else ``value`` checked by `as_noise`."""
    override = getattr(_state, "noise", _KEEP)
    return as_noise(value) if override is _KEEP else override


def resolve_backend(value, repetitions, differentiator) -> str:
    """The backend a layer uses: an active override, else ``value``, else the default; checked against its settings."""
    override = getattr(_state, "override", None)
    backend = override or value or get_backend()
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {BACKENDS}. Received: backend={backend!r}")
    if backend == "statevector":
        if differentiator == "parameter_shift":
            raise ValueError(
                "`backend='statevector'` differentiates with TensorFlow autodiff; the hardware-style "
                "parameter-shift rule runs on backend='tfq'. Received: differentiator='parameter_shift'"
            )
    return backend


def check_simulation(repetitions, differentiator, backend) -> tuple:
    """A quantum layer's (repetitions, differentiator, backend), each checked against the others."""
    repetitions = check_repetitions(repetitions)
    differentiator = check_differentiator(differentiator, repetitions)
    return repetitions, differentiator, resolve_backend(backend, repetitions, differentiator)


def check_qubits(value, backend: str, *, name: str = "qubits") -> int:
    """A layer's qubit count: at most MAX_QUBITS (12) on TFQ, MAX_ENGINE_QUBITS (20) on the state-vector engine."""
    maximum = MAX_ENGINE_QUBITS if backend == "statevector" else MAX_QUBITS
    value = check_positive_int(name, value)
    if value > maximum:
        raise ValueError(f"`{name}` must be at most {maximum} on backend={backend!r} (the state-vector engine takes up "
                         f"to {MAX_ENGINE_QUBITS}). Received: {name}={value!r}")
    return value
