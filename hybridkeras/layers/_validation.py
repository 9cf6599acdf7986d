"""Argument checks shared by the layers, with Keras-style messages."""
from __future__ import annotations

import numbers

MAX_QUBITS = 12  # state vectors beyond this are slow in TFQ and 2^n readouts explode
MAX_DEPTH = 200  # trainable layers of one circuit: deeper circuits take minutes to build and simulate

DIFFERENTIATORS = (None, "adjoint", "parameter_shift")


def check_positive_int(name: str, value, *, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    if value < 1:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be at most {maximum}. Received: {name}={value!r}")
    return int(value)


def check_count(name: str, value, *, maximum: int | None = None) -> int:
    """A non-negative int (0 allowed, e.g. a circuit depth of 0: no trainable layer)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"`{name}` must be an int ≥ 0. Received: {name}={value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"`{name}` must be at most {maximum}. Received: {name}={value!r}")
    return int(value)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {tuple(choices)}. Received: {name}={value!r}")
    return value


def check_repetitions(value) -> int | None:
    if value is None:
        return None
    return check_positive_int("repetitions", value)


def check_differentiator(value, repetitions) -> str | None:
    check_choice("differentiator", value, DIFFERENTIATORS)
    if value == "adjoint" and repetitions is not None:
        raise ValueError(
            "`differentiator='adjoint'` needs exact expectations (repetitions=None); use "
            "'parameter_shift' with sampling. Received: differentiator='adjoint', "
            f"repetitions={repetitions}"
        )
    return value


def check_rank2(layer: str, input_shape) -> int:
    """Inputs must be (batch, features) with a known feature count; returns the count."""
    shape = tuple(input_shape)
    if len(shape) != 2 or shape[-1] is None:
        raise ValueError(
            f"{layer} expects inputs of shape (batch, features) with a known feature count. "
            f"Received input shape {shape}"
        )
    return int(shape[-1])
