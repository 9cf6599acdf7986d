"""`LogitAverage`: the head of an ensemble whose members are trained together, in `keras.ops`."""
from __future__ import annotations

import keras
from keras import ops as K

from hybridkeras.layers.base import register

_EPS = 1e-7


@register
class LogitAverage(keras.layers.Layer):
    """softmax of the mean of the members' logits, from the members' class probabilities.

    Each member's logits are taken as log p (the softmax of log p is p; a constant per sample
    changes no softmax), so ``softmax(mean_i log p_i)`` equals the softmax of the averaged
    logits the distillation authors train their joint LeNet + AlexNet ensemble with. No weights.

    Input: a list of (batch, classes) probability tensors. Output: (batch, classes).
    """

    def call(self, inputs):
        logs = [K.log(K.clip(K.cast(p, self.compute_dtype), _EPS, 1.0)) for p in inputs]
        return K.softmax(sum(logs[1:], logs[0]) / float(len(logs)), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

