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

On Keras 3 (TensorFlow, JAX, PyTorch) the Distiller overrides `compute_loss` and `compute_metrics`,
as keras-io's distillation example does, and Keras' own `train_step` runs it; on tf_keras it has
its own ``train_step`` (each replica's share of a `tf.distribute` global batch weighted right).
"""
from __future__ import annotations

import math

from keras import ops as K

from hybridkeras._stack import KERAS_VERSION, active_keras
from hybridkeras.engines.ops import scale_for_replicas

keras = active_keras()  # tf_keras or Keras 3: the Keras this process runs hybridkeras on

OUTPUTS = ("probabilities", "logits")
_EPS = 1e-7


def _logits(values, kind: str):
    """Logits from a model's outputs (probabilities are taken as log p); in `keras.ops`, which run on tf_keras's
    TensorFlow tensors as on every Keras 3 backend."""
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
                f"`student` and `teacher` must be {'tf_keras' if KERAS_VERSION == 2 else 'Keras 3'} models (build them "
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
        if KERAS_VERSION == 3:
            self.built = True  # its student and teacher are built models (`BackupAndRestore` refuses unbuilt ones)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.teacher_outputs = teacher_outputs
        self.student_outputs = student_outputs
        self.ce_weight = 1.0 - self.alpha if ce_weight is None else float(ce_weight)
        self.kd_weight = self.alpha if kd_weight is None else float(kd_weight)
        self.classes = int(t_out)  # the student's outputs the KD term sees
        # per-example losses, averaged over the global batch: under a tf.distribute strategy each replica's share of
        # the gradient is then right (tf_keras' automatic reduction is refused there)
        none = keras.losses.Reduction.NONE if KERAS_VERSION == 2 else None
        self._student_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=student_outputs == "logits",
                                                                        reduction=none)
        self._kl = keras.losses.KLDivergence(reduction=none)
        # Keras 3 tracks the total loss itself ("loss") and finds these two as the model's own metrics
        names = ("loss", "student_loss", "distillation_loss") if KERAS_VERSION == 2 else ("student_loss",
                                                                                           "distillation_loss")
        self._trackers = {name: keras.metrics.Mean(name=name) for name in names}

    if KERAS_VERSION == 2:
        @property
        def metrics(self):
            return list(self._trackers.values()) + super().metrics

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

    if KERAS_VERSION == 3:
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

    def _record(self, y, predictions, values):
        for tracker, value in zip(self._trackers.values(), values):
            tracker.update_state(value)  # per-example values: the mean over every replica's examples
        self.compiled_metrics.update_state(y, self._probabilities(predictions))
        return {m.name: m.result() for m in self.metrics}

    def _unpack(self, data):
        """(x, y, teacher outputs): y may carry precomputed teacher outputs as (labels, teacher_outputs)."""
        x, y = data[0], data[1]
        if isinstance(y, (tuple, list)):
            return x, y[0], y[1]
        return x, y, self.teacher(x, training=False)

    def _tf_keras_train_step(self, data):
        from hybridkeras._compat import tf

        x, y, teacher_out = self._unpack(data)
        with tf.GradientTape() as tape:
            student_out = self.student(x, training=True)
            values = self._loss_terms(y, student_out, teacher_out)
            loss = tf.nn.compute_average_loss(values[0])  # the mean over the global batch
            if self.student.losses:
                loss += tf.nn.scale_regularization_loss(tf.add_n(self.student.losses))
        variables = self.student.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._record(y, student_out, values)

    def _tf_keras_test_step(self, data):
        x, y, teacher_out = self._unpack(data)
        student_out = self.student(x, training=False)
        return self._record(y, student_out, self._loss_terms(y, student_out, teacher_out))

    if KERAS_VERSION == 2:  # Keras 3's own steps (whose signature differs per backend) run compute_loss instead
        train_step = _tf_keras_train_step
        test_step = _tf_keras_test_step

    def get_config(self):
        return {"temperature": self.temperature, "alpha": self.alpha, "teacher_outputs": self.teacher_outputs,
                "student_outputs": self.student_outputs, "ce_weight": self.ce_weight, "kd_weight": self.kd_weight,
                "name": self.name}
