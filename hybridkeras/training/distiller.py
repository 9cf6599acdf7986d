"""`Distiller`: knowledge distillation from any trained Keras classifier into a (quantum) student.

Total loss (Hinton et al. 2015; paper 4):

    (1 − λ) · CE(y, student) + λ · T² · KL( softmax(z_teacher / T) ‖ softmax(z_student / T) )

with T the temperature and λ (``alpha``) the weight of the soft term; ``ce_weight`` and
``kd_weight`` set the two weights explicitly instead (the distillation authors' notebooks use
1 · CE + λ · T² · KL). A student with more outputs than the teacher has classes (the authors'
2^(n+1) logits) is distilled on its first k outputs, k the teacher's classes. Models that output
probabilities (every hybridkeras model, and most saved classifiers) have their logits taken
as log p, which changes no softmax; pass ``teacher_outputs="logits"`` for a teacher whose
last layer has no softmax. Only the student's weights train; the teacher runs in inference
mode, so its outputs on a fixed dataset never change: pass ``y=(labels, teacher_outputs)``
to use outputs computed once (``distill(..., cache_teacher=True)`` does it) instead of
running a large teacher at every step. ``train_step`` reports ``loss``, ``student_loss`` (the CE term) and
``distillation_loss`` (the KL term, before weighting) plus the compiled metrics.

The Distiller overrides `compute_loss` and `compute_metrics`, as keras-io's distillation example does, and
Keras' own `train_step` runs it on every backend (under `tf.distribute` each replica's loss is scaled so the
summed gradients are the global batch's; `engines.ops.scale_for_replicas`).
"""
from __future__ import annotations

import math

import keras
from keras import ops as K

from hybridkeras.engines.ops import scale_for_replicas

OUTPUTS = ("probabilities", "logits")
_EPS = 1e-7


def _logits(values, kind: str):
    """Logits from a model's outputs (probabilities are taken as log p); in `keras.ops`."""
    if kind == "logits":
        return values
    return K.log(K.clip(values, _EPS, 1.0))


class Distiller(keras.Model):
    """Trains ``student`` on labels and on ``teacher``'s softened outputs.

    Args:
        student: The model to train (its output: class probabilities, or logits with
            ``student_outputs="logits"``).
        teacher: Any trained Keras classifier with the same input and class count, for example
            one loaded with ``hybridkeras.load_model`` or ``keras.models.load_model``.
        temperature: T > 0 (paper: 3).
        alpha: λ in [0, 1], the weight of the distillation term (paper: 0.9).
        teacher_outputs, student_outputs: 'probabilities' (default) or 'logits'.
        ce_weight, kd_weight: The weights of the cross-entropy and of the T²·KL term; None (default)
            means 1 − λ and λ. Setting them overrides ``alpha``; ``kd_weight=0`` leaves plain
            cross-entropy training.

    Example:
        >>> distiller = Distiller(student, teacher, temperature=3.0, alpha=0.9)
        >>> distiller.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"])
        >>> distiller.fit(x, y, epochs=10)
        >>> hybridkeras.save_model(distiller.student, "saved_models/student")
    """

    def __init__(self, student, teacher, *, temperature: float = 3.0, alpha: float = 0.9,
                 teacher_outputs: str = "probabilities", student_outputs: str = "probabilities",
                 ce_weight: float | None = None, kd_weight: float | None = None, **kwargs):
        kwargs.setdefault("name", "distiller")
        super().__init__(**kwargs)
        if not isinstance(student, keras.Model) or not isinstance(teacher, keras.Model):
            raise TypeError(
                "`student` and `teacher` must be Keras models (build them "
                "with hybridkeras or load them with hybridkeras.load_model). Received: "
                f"student={type(student).__name__}, teacher={type(teacher).__name__}"
            )
        if not float(temperature) > 0:
            raise ValueError(f"`temperature` must be positive. Received: temperature={temperature!r}")
        if not 0.0 <= float(alpha) <= 1.0:
            raise ValueError(f"`alpha` (λ) must be in [0, 1]. Received: alpha={alpha!r}")
        for name, value in (("teacher_outputs", teacher_outputs), ("student_outputs", student_outputs)):
            if value not in OUTPUTS:
                raise ValueError(f"`{name}` must be one of {OUTPUTS}. Received: {name}={value!r}")
        for name, value in (("ce_weight", ce_weight), ("kd_weight", kd_weight)):
            if value is not None and not (float(value) >= 0 and math.isfinite(float(value))):
                raise ValueError(f"`{name}` must be a finite number ≥ 0 or None. Received: {name}={value!r}")
        s_out, t_out = student.outputs[0].shape[-1], teacher.outputs[0].shape[-1]
        if s_out < t_out:
            raise ValueError(
                f"The teacher predicts {t_out} classes and the student has {s_out} outputs; the student needs at "
                "least as many (it is distilled on its first outputs)"
            )
        student_in, teacher_in = tuple(student.inputs[0].shape[1:]), tuple(teacher.inputs[0].shape[1:])
        if student_in != teacher_in:
            raise ValueError(f"The teacher's input shape {teacher_in} differs from the student's {student_in}")
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.built = True  # its student and teacher are built models (Keras refuses to restore unbuilt ones)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.teacher_outputs = teacher_outputs
        self.student_outputs = student_outputs
        self.ce_weight = 1.0 - self.alpha if ce_weight is None else float(ce_weight)
        self.kd_weight = self.alpha if kd_weight is None else float(kd_weight)
        self.classes = int(t_out)  # the student's outputs the KD term sees
        # per-example losses, averaged in `compute_loss`
        self._student_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=student_outputs == "logits",
                                                                        reduction=None)
        self._kl = keras.losses.KLDivergence(reduction=None)
        # Keras tracks the total loss itself ("loss") and finds these two as the model's own metrics
        self._trackers = {name: keras.metrics.Mean(name=name) for name in ("student_loss", "distillation_loss")}

    def call(self, inputs, training=False):
        return self.student(inputs, training=training)

    def _loss_terms(self, y, student_out, teacher_out):
        """Per-example (total, CE, KL) of a batch (of one replica's share of it)."""
        student_loss = self._student_loss(y, student_out)
        t = self.temperature
        soft_teacher = K.softmax(_logits(teacher_out, self.teacher_outputs) / t, axis=-1)
        soft_student = K.softmax(_logits(student_out[..., : self.classes], self.student_outputs) / t, axis=-1)
        distillation_loss = self._kl(soft_teacher, soft_student)
        total = self.ce_weight * student_loss + self.kd_weight * t**2 * distillation_loss
        return total, student_loss, distillation_loss

    def _probabilities(self, predictions):
        return K.softmax(predictions) if self.student_outputs == "logits" else predictions

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The mean of the distillation loss over the batch, plus the student's regularization losses (Keras 3's
        `train_step` and `test_step` call it; ``y`` may be (labels, teacher outputs))."""
        labels, teacher_out = self._labels(y), self._teacher_out(x, y)
        total, student_loss, distillation_loss = self._loss_terms(labels, y_pred, teacher_out)
        self._trackers["student_loss"].update_state(student_loss)
        self._trackers["distillation_loss"].update_state(distillation_loss)
        loss = K.mean(total)
        if self.losses:
            loss = loss + K.sum(K.stack([K.cast(term, loss.dtype) for term in self.losses]))
        return scale_for_replicas(loss)  # tf.distribute sums the replicas' gradients

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        return super().compute_metrics(x, self._labels(y), self._probabilities(y_pred), sample_weight)

    @staticmethod
    def _labels(y):
        return y[0] if isinstance(y, (tuple, list)) else y

    def _teacher_out(self, x, y):
        if isinstance(y, (tuple, list)):
            return y[1]
        return K.stop_gradient(self.teacher(x, training=False))

    def get_config(self):
        return {"temperature": self.temperature, "alpha": self.alpha, "teacher_outputs": self.teacher_outputs,
                "student_outputs": self.student_outputs, "ce_weight": self.ce_weight, "kd_weight": self.kd_weight,
                "name": self.name}
