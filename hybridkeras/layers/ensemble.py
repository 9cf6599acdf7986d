"""`LogitAverage`: the head of an ensemble whose members are trained together."""
from __future__ import annotations

from hybridkeras._compat import keras, tf
from hybridkeras.layers.base import serializable

_EPS = 1e-7


@serializable
class LogitAverage(keras.layers.Layer):
    """softmax of the mean of the members' logits, from the members' class probabilities.

    Each member's logits are taken as log p (the softmax of log p is p; a constant per sample
    changes no softmax), so ``softmax(mean_i log p_i)`` equals the softmax of the averaged
    logits the distillation authors train their joint LeNet + AlexNet ensemble with. No weights.

    Input: a list of (batch, classes) probability tensors. Output: (batch, classes).
    """

    def call(self, inputs):
        logs = [tf.math.log(tf.clip_by_value(tf.cast(p, self.compute_dtype), _EPS, 1.0)) for p in inputs]
        return tf.nn.softmax(tf.add_n(logs) / float(len(logs)), axis=-1)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[0])
