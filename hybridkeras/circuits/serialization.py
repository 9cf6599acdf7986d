"""Circuits and operators as Cirq JSON: data in a layer's config, never code.

`cirq.read_json` rebuilds objects only from Cirq's own registry of classes (no pickle, no
eval), so a config read from a model folder cannot run code.
"""
from __future__ import annotations

import cirq


def to_json(value) -> str | None:
    """``value`` (a circuit, an operator, or a list of them) as a Cirq JSON string (None stays None)."""
    if value is None:
        return None
    return cirq.to_json(list(value) if isinstance(value, tuple) else value, indent=None)


def from_json(text, *, what: str = "value"):
    """A Cirq object (or list) from `to_json`'s output; a Cirq object given as it is passes through."""
    if text is None or not isinstance(text, str) or not text.lstrip().startswith(("{", "[")):
        return text  # not Cirq JSON: the caller's type check names it
    try:
        return cirq.read_json(json_text=text)
    except Exception as exc:  # a config edited by hand, or from another Cirq
        raise ValueError(f"`{what}` could not be read as Cirq JSON ({type(exc).__name__}: {exc}). "
                         f"Received: {what}={text[:120]!r}") from exc
