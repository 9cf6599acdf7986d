"""What the model builders share: argument checks, the image check, batch norm, compiling."""
from __future__ import annotations

import keras
import numpy as np

from hybridkeras._stack import tf
from hybridkeras.layers import ImageRange, SigmoidPairLogits
from hybridkeras.layers._validation import check_positive_int


# The settings of how a model's circuits are simulated: builders of quantum models take them and
# pass them to their quantum layers; builders of classical counterparts accept and ignore them.
SIMULATION_SETTINGS = ("backend", "differentiator", "repetitions")


def check_input_shape(input_shape) -> tuple:
    """A tuple of positive ints (any rank)."""
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__iter__"):
        raise TypeError(f"`input_shape` must be a tuple of positive ints such as (28, 28, 1). "
                        f"Received: input_shape={input_shape!r}")
    shape = tuple(input_shape)
    if not shape or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1 for d in shape):
        raise ValueError(f"`input_shape` must be a tuple of positive ints such as (28, 28, 1). Received: input_shape={input_shape!r}")
    return tuple(int(d) for d in shape)


def check_image_shape(input_shape) -> tuple:
    """(height, width, channels)."""
    shape = check_input_shape(input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels), e.g. (28, 28, 1). Received: input_shape={input_shape!r}"
        )
    return shape


def check_classes(num_classes) -> int:
    value = check_positive_int("num_classes", num_classes)
    if value < 2:
        raise ValueError(f"`num_classes` must be at least 2. Received: num_classes={num_classes!r}")
    return value


def batch_norm(**kwargs):
    """A BatchNormalization layer, synchronised across replicas when it is built under a
    `tf.distribute` strategy with several (a step on a global batch is then one process's step on
    it); an ordinary, fused one otherwise. (Keras 3 on JAX or PyTorch: an ordinary one; JAX's
    `keras.distribution` computes the statistics of the global batch by itself.)"""
    replicas = 1
    if keras.config.backend() == "tensorflow":
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return keras.layers.BatchNormalization(**kwargs, **({"synchronized": True} if replicas > 1 else {}))


def image_check():
    """The first layer of every image model: refuses what is not [0, 1] floats (uint8 images, NaN)
    with a clear error, in training, ``predict`` and served calls alike (`ImageRange`)."""
    return ImageRange(name="image_check")


def outputs_logits(model) -> bool:
    """Whether ``model`` outputs logits, not class probabilities: its last layer is a
    `SigmoidPairLogits` head (the distillation authors' student) or has no softmax."""
    last = model.layers[-1]
    if isinstance(last, SigmoidPairLogits):
        return True
    activation = getattr(last, "activation", None)
    return activation is not None and activation is keras.activations.linear


def output_kind(model) -> str:
    """'logits' or 'probabilities': what ``model`` outputs (see `outputs_logits`), as `Distiller` takes it."""
    return "logits" if outputs_logits(model) else "probabilities"


def runner_steps_per_execution() -> int:
    """The ``steps_per_execution`` hybridkeras' runners compile with: 32 on Keras' TensorFlow backend, whose
    trainer runs that many batches in one graph call (a `tf.while_loop`), sparing Keras 3's per-batch Python
    work, which dominates small models (the first paper's heads train in a third less time); 1 on JAX, whose
    trainer loops over batches in Python either way, and on PyTorch, where Keras allows only 1. The numbers a
    run produces do not depend on it (the same batches in the same order, the same random draws); batch-level
    callbacks then see one batch end per 32 batches, as Keras documents."""
    return 32 if keras.backend.backend() == "tensorflow" else 1


def compile_for(model, *, learning_rate: float = 1e-3, loss=None, jit_compile: bool = False,
                steps_per_execution: int = 1):
    """Compiles a classifier with Adam and accuracy (labels as integer class ids).

    ``loss`` None: sparse categorical cross-entropy, on logits when `outputs_logits` says the
    model outputs them, else on probabilities. ``jit_compile``: compile the whole train step
    with XLA (Keras' option; TFQ's ops cannot be compiled); False leaves Keras' default, 'auto', which
    compiles the step with XLA where every layer supports it (as JAX needs to be fast; a layer on TFQ's ops
    opts out). ``steps_per_execution``: Keras' option (batches per compiled call; the runners pass
    `runner_steps_per_execution`).
    """
    if loss is None:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=outputs_logits(model))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=["accuracy"],
                  jit_compile=True if jit_compile else "auto", steps_per_execution=steps_per_execution)
    return model
