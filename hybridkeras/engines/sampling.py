"""Shots: seeded, independent samples of measurement outcomes, and their frequencies.

Outcomes are drawn by inverting each row's cumulative distribution at counter-based uniform
numbers: every (row, shot) pair gets its own random number, so rows, shots and calls are
independent. (TensorFlow's `stateless_categorical` is not used: its CPU kernel reuses random
streams between worker threads, which correlates the rows of a batch.) Each call draws fresh
numbers from a seeded stream (`engines.ops.SeedStream`: a `tf.random.Generator` on TensorFlow,
Keras' `SeedGenerator` elsewhere), so a layer gives new shots at every call and the same
sequence for the same seed.
"""
from __future__ import annotations

import numpy as np
from keras import ops as K

from hybridkeras.engines.ops import SeedStream, searchsorted_rows, widest_float


class Sampler:
    def __init__(self, repetitions: int, seed: int | None):
        self.repetitions = int(repetitions)
        if seed is None:  # the paper layers' default: reproducible under keras.utils.set_random_seed
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = int(seed)
        self._stream = SeedStream(self.seed)

    def outcomes(self, probabilities, repetitions: int | None = None):
        """[rows, shots] int32 basis-state indices drawn from each row of ``probabilities`` [rows, 2^n]
        (``repetitions`` shots per row; default: the sampler's)."""
        p = K.cast(K.stop_gradient(probabilities), widest_float())
        rows, size = K.shape(p)[0], int(p.shape[1])
        cdf = K.cumsum(p, axis=1)
        shots = self.repetitions if repetitions is None else int(repetitions)
        u = self._stream.uniform([rows, shots], widest_float()) * cdf[:, -1:]
        index = searchsorted_rows(cdf, u)
        return K.clip(index, 0, size - 1)

    def frequencies(self, probabilities):
        """[rows, 2^n] outcome frequencies of ``repetitions`` shots per row of ``probabilities`` [rows, 2^n]."""
        rows, size = K.shape(probabilities)[0], int(probabilities.shape[1])
        outcome = self.outcomes(probabilities)
        segment = K.reshape(outcome + K.arange(rows, dtype="int32")[:, None] * size, [-1])
        counts = K.segment_sum(K.ones_like(segment, "float32"), segment, num_segments=rows * size)
        return K.reshape(counts, [rows, size]) / float(self.repetitions)
