"""`LogitAverage`: the head of an ensemble whose members are trained together (a body in `keras.ops`; the
tf_keras layer here, the Keras 3 one in `layers.keras3`)."""
from __future__ import annotations

from keras import ops as K

from hybridkeras.layers.base import TF_KERAS, tf_keras_layer

_EPS = 1e-7


class LogitAverageBody:
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


if TF_KERAS:
    LogitAverage = tf_keras_layer(LogitAverageBody, plain=True)
