"""How the runners feed NumPy arrays to ``fit``: `array_inputs` and `validation_inputs`.

On Keras' TensorFlow backend Keras 3 wraps arrays in a `tf.data` pipeline whose iterator costs about 9 ms to
create, and its epoch loop creates two per epoch for the training data and two for the validation data
(keras/src/trainers/epoch_iterator.py: one at the start of an epoch, and one more after its last batch that the
next epoch replaces). For the first paper's heads (23 batches an epoch) that is most of an epoch. The runners
therefore pass TensorFlow a plain pipeline of their own (slices → seeded shuffle, reshuffled every epoch →
batches), whose iterators cost a fraction of a millisecond; the batches hold the same rows and the shuffle is as
reproducible from the seed. JAX and PyTorch take the arrays as they are (Keras iterates them in NumPy).
"""
from __future__ import annotations

import keras


def array_inputs(x, y, *, batch_size: int, shuffle: bool = True, seed: int = 0) -> dict:
    """``fit`` keyword arguments (``x`` and, for arrays, ``y``, ``batch_size`` and ``shuffle``) that feed the arrays
    ``x``, ``y`` in batches of ``batch_size``, shuffled every epoch from ``seed`` when ``shuffle``."""
    if keras.backend.backend() != "tensorflow":
        return {"x": x, "y": y, "batch_size": int(batch_size), "shuffle": bool(shuffle)}
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=int(seed), reshuffle_each_iteration=True)
    # shuffle=False: the pipeline shuffles itself (Keras warns that it ignores fit's shuffle=True for a dataset)
    return {"x": dataset.batch(int(batch_size)), "shuffle": False}


def validation_inputs(x, y, *, batch_size: int):
    """``fit``'s ``validation_data`` for the arrays ``x``, ``y`` (in order, batches of ``batch_size``)."""
    if keras.backend.backend() != "tensorflow":
        return (x, y)
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(int(batch_size))
