"""Convergence speed: the epoch a model first reaches a validation-accuracy threshold, and Q_AB."""
from __future__ import annotations

import math
from typing import Sequence


def convergence_epoch(val_accuracy: Sequence[float], threshold: float) -> int | None:
    """The first epoch (1-based) whose validation accuracy is ≥ ``threshold``, or None if never."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"`threshold` must be in (0, 1]. Received: threshold={threshold!r}")
    for epoch, value in enumerate(val_accuracy, start=1):
        if value >= threshold:
            return epoch
    return None


def convergence_speedup(epoch_a: float | None, epoch_b: float | None) -> float | None:
    """Q_AB = (E_B − E_A) / E_B: the fraction of B's epochs that A saves (positive: A converges faster).

    None when either model never reached the threshold.
    """
    if epoch_a is None or epoch_b is None or (isinstance(epoch_a, float) and math.isnan(epoch_a)):
        return None
    if epoch_b <= 0:
        raise ValueError(f"`epoch_b` must be positive. Received: epoch_b={epoch_b!r}")
    return (epoch_b - epoch_a) / epoch_b
