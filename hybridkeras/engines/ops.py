"""TensorFlow helpers the engine's modules share: selections and permutations along axis 1 whose
gradients are gathers or matrix products, never scatters (a scatter's gradient path is a loop
over the indices when XLA compiles a step on CPU).
"""
from __future__ import annotations

import numpy as np

from hybridkeras._compat import tf


ONE_HOT_LIMIT = 2**15  # entries of a selection's one-hot matrix; larger selections stay gathers


def take(params, index):
    """``tf.gather(params, index, axis=1)`` for a constant NumPy ``index``, as a contraction with a
    one-hot matrix: exact, and its gradient is a matrix product too (a gather's is a scatter, which
    XLA runs on CPU as a loop over the indices). A selection whose one-hot matrix would exceed
    `ONE_HOT_LIMIT` entries (long circuits) stays a gather, so its cost stays linear."""
    index = np.asarray(index)
    size = int(params.shape[1])
    if index.size * size > ONE_HOT_LIMIT:
        picked = tf.gather(params, tf.constant(index.reshape(-1), tf.int32), axis=1)
        return tf.reshape(picked, [tf.shape(params)[0], *index.shape, *params.shape[2:]])
    onehot = np.zeros((index.size, size), np.float32)
    onehot[np.arange(index.size), index.reshape(-1)] = 1.0
    rest = params.shape[2:]
    flat = tf.reshape(params, [tf.shape(params)[0], size, int(np.prod(rest, dtype=np.int64))])
    picked = tf.einsum("ir,xrm->xim", tf.constant(onehot, dtype=params.dtype), flat)
    return tf.reshape(picked, [tf.shape(params)[0], *index.shape, *rest])


def permute_rows(matrix, source, phases=None):
    """phases[i] · matrix[:, source[i]] for [X, d, …] ``matrix`` (a permutation ``source``; no phases:
    all ones); its gradient is the inverse permutation (a gather's generic gradient is a scatter)."""
    inverse = np.argsort(source)
    plain = phases is None or np.allclose(phases, 1.0)
    phases = None if plain else np.asarray(phases).astype(np.complex64)
    if plain and np.array_equal(source, np.arange(len(source))):
        return matrix

    @tf.custom_gradient
    def permute(x):
        def grad(g):
            if not plain:
                g = g * tf.constant(np.conj(phases).reshape([-1] + [1] * (g.shape.rank - 2)))
            return tf.gather(g, tf.constant(inverse, tf.int32), axis=1)

        out = tf.gather(x, tf.constant(source, tf.int32), axis=1)
        if not plain:
            out = out * tf.constant(phases.reshape([-1] + [1] * (x.shape.rank - 2)))
        return out, grad

    return permute(matrix)


def flip_bits(state, mask: int):
    """``state[:, i XOR mask]`` for [rows, 2^n] ``state``. The map is its own inverse, so its
    gradient is the same gather (the index is computed, not stored: no 2^n constant)."""
    index = tf.bitwise.bitwise_xor(tf.range(tf.shape(state)[1], dtype=tf.int64), tf.constant(mask, tf.int64))

    @tf.custom_gradient
    def flip(x):
        def grad(g):
            return tf.gather(g, index, axis=1)

        return tf.gather(x, index, axis=1), grad

    return flip(state)
