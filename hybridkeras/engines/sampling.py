"""Shots: seeded, independent samples of measurement outcomes, and their frequencies.

Outcomes are drawn by inverting each row's cumulative distribution at counter-based uniform
numbers (`tf.random.stateless_uniform`, Philox): every (row, shot) pair gets its own random
number, so rows, shots and calls are independent. (`tf.random.stateless_categorical` is not
used: its CPU kernel reuses random streams between worker threads, which correlates the rows
of a batch.) Each call draws a fresh seed from a `tf.random.Generator`, so a layer gives new
shots at every call and the same sequence for the same seed.
"""
from __future__ import annotations

import numpy as np

from hybridkeras._compat import tf


class Sampler:
    def __init__(self, repetitions: int, seed: int | None):
        self.repetitions = int(repetitions)
        if seed is None:
            seed = int(np.random.randint(0, 2**31 - 1))
        self.seed = int(seed)
        self._generator = tf.random.Generator.from_seed(self.seed)

    def outcomes(self, probabilities, repetitions: int | None = None):
        """[rows, shots] int32 basis-state indices drawn from each row of ``probabilities`` [rows, 2^n]
        (``repetitions`` shots per row; default: the sampler's)."""
        p = tf.cast(tf.stop_gradient(probabilities), tf.float64)
        rows, size = tf.shape(p)[0], tf.shape(p)[1]
        cdf = tf.math.cumsum(p, axis=1)
        seed = self._generator.make_seeds(1)[:, 0]
        shots = self.repetitions if repetitions is None else int(repetitions)
        u = tf.random.stateless_uniform([rows, shots], seed=seed, dtype=tf.float64) * cdf[:, -1:]
        return tf.minimum(tf.searchsorted(cdf, u, side="right"), size - 1)

    def frequencies(self, probabilities):
        """[rows, 2^n] outcome frequencies of ``repetitions`` shots per row of ``probabilities`` [rows, 2^n]."""
        rows, size = tf.shape(probabilities)[0], tf.shape(probabilities)[1]
        outcome = self.outcomes(probabilities)
        segment = tf.reshape(outcome + tf.range(rows)[:, None] * size, [-1])
        counts = tf.math.unsorted_segment_sum(tf.ones_like(segment, tf.float32), segment, rows * size)
        return tf.reshape(counts, [rows, size]) / float(self.repetitions)
