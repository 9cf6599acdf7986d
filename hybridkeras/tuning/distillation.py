"""HyperModel for paper 4: the Distiller's temperature T and weight λ (and the learning rate)."""
from __future__ import annotations

import keras_tuner as kt

import keras
from hybridkeras.models import output_kind
from hybridkeras.training.distiller import Distiller



class DistillerHyperModel(kt.HyperModel):
    """A fresh student distilled from a fixed, trained teacher.

    Hyperparameters (defaults = the paper's): ``temperature`` T (1–10, step 1; 3), ``alpha``
    λ (0.1–0.9, step 0.1; 0.9), ``learning_rate`` (1e-4–1e-2, log; 1e-3). The tuner's
    objective is the student's validation accuracy (``val_accuracy``).

    Args:
        build_student: Zero-argument function returning a new (uncompiled) student.
        teacher: The trained teacher (not modified).
        ce_weight: The weight of the cross-entropy: None for 1 − λ (the Hinton form), 1 for the
            distillation authors' CE + λ·T²·KL.
    """

    def __init__(self, build_student, teacher, *, ce_weight=None, name="distiller", tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.build_student = build_student
        self.teacher = teacher
        self.ce_weight = ce_weight

    def build(self, hp):
        student = self.build_student()
        distiller = Distiller(
            student, self.teacher,
            temperature=hp.Int("temperature", 1, 10, default=3),
            alpha=hp.Float("alpha", 0.1, 0.9, step=0.1, default=0.9),
            ce_weight=self.ce_weight,
            student_outputs=output_kind(student), teacher_outputs=output_kind(self.teacher),
        )
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        distiller.compile(optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"])
        return distiller
