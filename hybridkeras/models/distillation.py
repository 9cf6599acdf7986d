"""Paper 4: classical teachers (LeNet, the adapted AlexNet, their ensemble) and quantum students.

* ``lenet``: Conv2D(6, 5×5, same, ReLU) → MaxPool 2 → Conv2D(16, 5×5, ReLU) → MaxPool 2 →
  Flatten → Dense(120, ReLU) → Dense(84, ReLU) → Dense(classes, softmax).
* ``alexnet``: the paper's adaptation to 28×28×1: Conv 64 3×3 s1 p1 → ReLU → MaxPool 2 →
  Conv 192 3×3 p1 → ReLU → MaxPool 2 → Conv 384 3×3 p1 → ReLU → Dropout → FC 4096 → ReLU →
  Dropout → FC 4096 → ReLU → FC classes (softmax).
* ``build_ensemble(members)``: averages the members' class probabilities.
* ``student-3q`` / ``student-4q``: Flatten → [Dense(u, ReLU) …] → Dense(features, tanh) →
  EncodedPQC(n qubits, amplitude encoding of 2^n features by default) → the first
  ``classes`` basis-state probabilities, renormalised (``head='slice'``), or Dense(classes,
  softmax) on all 2^n (``head='dense'``).

Every model outputs class probabilities; the Distiller takes logs for its temperature.
"""
from __future__ import annotations

from typing import Sequence

import keras
from hybridkeras.layers import ClassProbabilities, EncodedPQC, LogitAverage, SigmoidPairLogits
from hybridkeras.engines import MAX_ENGINE_QUBITS
from hybridkeras.layers._validation import check_choice, check_positive_int
from hybridkeras.models.common import check_classes, check_image_shape, image_check


HEADS = ("slice", "dense")
ENSEMBLE_AVERAGES = ("probabilities", "logits")


def build_lenet(input_shape=(28, 28, 1), num_classes: int = 10, *, activation: str = "relu",
                pooling: str = "max", padding: str = "same") -> "keras.Model":
    """LeNet-5 for 28×28 inputs.

    The default is the usual modern variant (ReLU, max pooling, the first convolution padded);
    ``activation="tanh", pooling="average", padding="valid"`` is the classic LeNet-5 the
    distillation authors' notebooks train (44,086 parameters for 6 classes).
    """
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    check_choice("activation", activation, ("relu", "tanh"))
    pool = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}[
        check_choice("pooling", pooling, ("max", "average"))]
    check_choice("padding", padding, ("same", "valid"))
    return keras.Sequential([
        keras.Input(shape, name="image"),
        image_check(),
        keras.layers.Conv2D(6, 5, padding=padding, activation=activation, name="conv1"),
        pool(2, name="pool1"),
        keras.layers.Conv2D(16, 5, activation=activation, name="conv2"),
        pool(2, name="pool2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(120, activation=activation, name="fc1"),
        keras.layers.Dense(84, activation=activation, name="fc2"),
        keras.layers.Dense(num_classes, activation="softmax", name="classifier"),
    ], name="lenet")


def build_alexnet(input_shape=(28, 28, 1), num_classes: int = 10, *, fc_units: int = 4096,
                  dropout: float = 0.5) -> "keras.Model":
    """The paper's AlexNet adapted to small images (``fc_units`` = 4096 as in the paper)."""
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    fc_units = check_positive_int("fc_units", fc_units)
    if min(shape[0], shape[1]) < 4:
        raise ValueError(f"AlexNet pools twice; images must be at least 4×4. Received: input_shape={input_shape!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    return keras.Sequential([
        keras.Input(shape, name="image"),
        image_check(),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2, name="pool1"),
        keras.layers.Conv2D(192, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.MaxPooling2D(2, name="pool2"),
        keras.layers.Conv2D(384, 3, padding="same", activation="relu", name="conv3"),
        keras.layers.Dropout(dropout, name="dropout1"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(fc_units, activation="relu", name="fc1"),
        keras.layers.Dropout(dropout, name="dropout2"),
        keras.layers.Dense(fc_units, activation="relu", name="fc2"),
        keras.layers.Dense(num_classes, activation="softmax", name="classifier"),
    ], name="alexnet")


def build_ensemble(members: Sequence["keras.Model"], *, average: str = "probabilities",
                   name: str = "ensemble") -> "keras.Model":
    """One model over ``members`` (classifiers with the same input and class count).

    Args:
        average: 'probabilities' (default): the mean of the members' class probabilities, for
            members trained one by one (the paper's text); 'logits': the softmax of the mean of
            their logits (`LogitAverage`), the head the distillation authors train *jointly* —
            fit the returned model and every member trains on the ensemble's loss.
    """
    members = list(members)
    check_choice("average", average, ENSEMBLE_AVERAGES)
    if len(members) < 2:
        raise ValueError(f"`members` must hold at least two models. Received: {len(members)}")
    shapes = {tuple(m.inputs[0].shape[1:]) for m in members}
    outputs = {tuple(m.outputs[0].shape[1:]) for m in members}
    if len(shapes) != 1 or len(outputs) != 1:
        raise ValueError(
            f"Ensemble members must share input and output shapes. Received inputs {sorted(shapes)}, "
            f"outputs {sorted(outputs)}"
        )
    inputs = keras.Input(shapes.pop(), name="image")
    head = keras.layers.Average(name="average") if average == "probabilities" else LogitAverage(name="logit_average")
    return keras.Model(inputs, head([m(inputs) for m in members]), name=name)


def build_joint_ensemble(input_shape=(28, 28, 1), num_classes: int = 10, *, members=("lenet", "alexnet"),
                         member_kwargs: dict | None = None) -> "keras.Model":
    """Fresh ``members`` ('lenet', 'alexnet') under one logit-averaging head, to be trained together (the
    distillation authors' LeNet + AlexNet ensemble). ``member_kwargs`` maps a member to its builder's arguments."""
    builders = {"lenet": build_lenet, "alexnet": build_alexnet}
    member_kwargs = dict(member_kwargs or {})
    for member in members:
        check_choice("members", member, tuple(builders))
    unknown = sorted(set(member_kwargs) - set(members))
    if unknown:
        raise ValueError(f"`member_kwargs` names {unknown}, which are not among members={tuple(members)}")
    models = [builders[member](input_shape, num_classes, **member_kwargs.get(member, {})) for member in members]
    return build_ensemble(models, average="logits", name="ensemble_joint")


def build_quantum_student(input_shape=(28, 28, 1), num_classes: int = 8, *, qubits: int = 3,
                          encoding: str = "amplitude", depth: int = 2, front_units: Sequence[int] = (),
                          head: str = "slice", repetitions: int | None = None,
                          differentiator: str | None = "adjoint", backend: str | None = None) -> "keras.Model":
    """A quantum student: a small classical front, tanh features, the circuit, class probabilities.

    Args:
        qubits: Circuit qubits n (the paper: 3 and 4).
        encoding: 'amplitude' (2^n features) or 'angle' (n features, H + RY(π·x)).
        depth: Trainable RY/RZ + CNOT-ring layers.
        front_units: Hidden ReLU layers of the front before the tanh features (default none).
        head: 'slice' (first `num_classes` basis-state probabilities, renormalised; needs
            2^n ≥ classes) or 'dense' (Dense(classes, softmax) on all 2^n).
        repetitions, differentiator, backend: The simulation settings, see :class:`~hybridkeras.layers.EncodedPQC`.
    """
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    qubits = check_positive_int("qubits", qubits, maximum=MAX_ENGINE_QUBITS)
    head = check_choice("head", head, HEADS)
    if head == "slice" and 2**qubits < num_classes:
        raise ValueError(
            f"`head='slice'` maps classes to basis states and needs 2**qubits ≥ num_classes; "
            f"2**{qubits} = {2**qubits} < {num_classes}. Use more qubits or head='dense'"
        )
    layer = EncodedPQC(qubits, encoding=encoding, depth=depth, repetitions=repetitions,
                       differentiator=differentiator, backend=backend, name="circuit")
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Flatten(name="flatten")(image_check()(inputs))
    for i, units in enumerate(front_units):
        x = keras.layers.Dense(check_positive_int("front_units", units), activation="relu", name=f"front{i + 1}")(x)
    x = keras.layers.Dense(layer.features, activation="tanh", name="features")(x)
    x = layer(x)
    if head == "slice":
        outputs = ClassProbabilities(num_classes, name="class_probabilities")(x)
    else:
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(x)
    return keras.Model(inputs, outputs, name=f"student_{qubits}q")


def build_authors_student(input_shape=(28, 28, 1), num_classes: int = 6, *, qubits: int = 3,
                          repetitions: int | None = None, differentiator: str | None = None,
                          backend: str | None = None) -> "keras.Model":
    """The student of the distillation authors' notebooks (their protocol, not the paper's text).

    A CNN front — Conv 10@5×5 → max-pool 2 → ReLU → Conv 20@5×5 → Dropout2d(0.5) → max-pool 2 →
    ReLU → Dense 50 ReLU → Dropout 0.5 → Dense n → π·tanh — then per qubit H and RY(θ_k) with no
    trainable circuit weight and no entangler (`EncodedPQC` with ``depth=0``), and the 2^n
    basis-state probabilities p (exact, or ``repetitions`` shots) become 2^(n+1) logits
    ``concat(sigmoid(p), 1 − sigmoid(p))`` (`SigmoidPairLogits`). The output is **logits**:
    train with a from-logits cross-entropy (`compile_for(..., loss=...)`, or a `Distiller` with
    ``student_outputs="logits"``); the prediction is their argmax.
    """
    shape = check_image_shape(input_shape)
    num_classes = check_classes(num_classes)
    qubits = check_positive_int("qubits", qubits, maximum=MAX_ENGINE_QUBITS)
    if 2 ** (qubits + 1) < num_classes:
        raise ValueError(f"{qubits} qubits give 2**{qubits + 1} = {2 ** (qubits + 1)} logits, fewer than "
                         f"num_classes = {num_classes}")
    if min(shape[0], shape[1]) < 16:  # 16 → conv 12 → pool 6 → conv 2 → pool 1
        raise ValueError(f"Two 5×5 convolutions and two poolings need images of at least 16×16. "
                         f"Received: input_shape={input_shape!r}")
    inputs = keras.Input(shape, name="image")
    x = keras.layers.Conv2D(10, 5, name="conv1")(image_check()(inputs))
    x = keras.layers.ReLU(name="relu1")(keras.layers.MaxPooling2D(2, name="pool1")(x))
    x = keras.layers.SpatialDropout2D(0.5, name="dropout2d")(keras.layers.Conv2D(20, 5, name="conv2")(x))
    x = keras.layers.ReLU(name="relu2")(keras.layers.MaxPooling2D(2, name="pool2")(x))
    x = keras.layers.Dense(50, activation="relu", name="fc1")(keras.layers.Flatten(name="flatten")(x))
    x = keras.layers.Dense(qubits, activation="tanh", name="features")(keras.layers.Dropout(0.5, name="dropout")(x))
    x = EncodedPQC(qubits, encoding="angle", depth=0, repetitions=repetitions, differentiator=differentiator,
                   backend=backend, name="circuit")(x)
    outputs = SigmoidPairLogits(name="logits")(x)
    return keras.Model(inputs, outputs, name=f"student_authors_{qubits}q")


def build_authors_student_3q(input_shape=(28, 28, 1), num_classes: int = 6, **kwargs) -> "keras.Model":
    """The authors' 3-qubit student (16 logits), see `build_authors_student`."""
    return build_authors_student(input_shape, num_classes, qubits=3, **kwargs)


def build_authors_student_4q(input_shape=(28, 28, 1), num_classes: int = 6, **kwargs) -> "keras.Model":
    """The authors' 4-qubit student (32 logits), see `build_authors_student`."""
    return build_authors_student(input_shape, num_classes, qubits=4, **kwargs)


def build_student_3q(input_shape=(28, 28, 1), num_classes: int = 8, **kwargs) -> "keras.Model":
    """The 3-qubit quantum student (amplitude encoding of 8 features by default)."""
    return build_quantum_student(input_shape, num_classes, qubits=3, **kwargs)


def build_student_4q(input_shape=(28, 28, 1), num_classes: int = 8, **kwargs) -> "keras.Model":
    """The 4-qubit quantum student (amplitude encoding of 16 features by default)."""
    return build_quantum_student(input_shape, num_classes, qubits=4, **kwargs)
