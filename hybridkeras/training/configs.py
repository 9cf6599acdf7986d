"""Named experiment configurations (the paper's settings, a default that runs here, a tiny one for tests)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from hybridkeras.data import DataSpec


class _Replaceable:
    def replace(self, **changes):
        """A copy with ``changes`` applied (None values are ignored, unknown keys rejected)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown config fields {unknown} for config {self.name!r}. Expected some of {sorted(known)}")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def data_spec(self, seed: int | None = None) -> DataSpec:
        """The data of the run with seed ``seed`` (default: the first of ``seeds``; a pipeline config's
        own ``seed``), split as `split_seed` says: the one mapping from any config to
        `hybridkeras.data.load`, shared by training, tuning and evaluation."""
        if not hasattr(self, "split_seed"):
            return DataSpec.of(self)
        return DataSpec.of(self, self.split_seed(self.seeds[0] if seed is None else seed))

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Checks every setting a config of this kind has, so a bad one is refused when the config is
        made (or replaced), before any runner writes a file or trains a model.

        Raises:
            ValueError: naming the field, the value and what was expected.
        """
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in values.items():
            rule = _RULES.get(name)
            if rule is None or (value is None and rule[0] != "seeds"):
                continue
            kind, expected = rule
            if not _CHECKS[kind](value):
                raise ValueError(f"Config {values.get('name')!r}: `{name}` must be {expected}. Received: {name}={value!r}")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value)


_CHECKS = {
    "count": lambda v: _is_int(v) and v >= 1,
    "positive": lambda v: _is_real(v) and v > 0,
    "fraction": lambda v: _is_real(v) and 0.0 <= v < 1.0,
    "weight": lambda v: _is_real(v) and 0.0 <= v <= 1.0,
    "threshold": lambda v: _is_real(v) and 0.0 < v <= 1.0,
    "schedule": lambda v: v in (None, "plateau", "step"),
    "backend": lambda v: v in ("tfq", "statevector"),
    "nonnegative": lambda v: _is_real(v) and v >= 0,
    "sampling": lambda v: v in ("random", "first"),
    "teacher_data": lambda v: v in ("student", "rest"),
    "seeds": lambda v: isinstance(v, (tuple, list)) and len(v) > 0 and all(_is_int(s) for s in v),
    "epochs": lambda v: isinstance(v, (tuple, list)) and all(_is_int(e) and e >= 0 for e in v),
    "noise": lambda v: _is_noise_spec(v),
}


def _is_noise_spec(value) -> bool:
    from hybridkeras.circuits.noise import as_noise

    if not isinstance(value, dict):
        return False
    try:
        as_noise(value)
    except (TypeError, ValueError):
        return False
    return True
_COUNT = "a positive int"
_RULES = {
    **{name: ("count", _COUNT) for name in (
        "epochs", "ae_epochs", "head_epochs", "teacher_epochs", "batch_size", "ae_batch_size", "head_batch_size",
        "latent_dim", "hidden_units", "qubits", "repetitions", "early_stopping", "train_size", "val_size",
        "test_size", "per_class", "val_per_class", "gradcam_images")},
    **{name: ("positive", "a finite number > 0") for name in (
        "learning_rate", "ae_learning_rate", "head_learning_rate", "temperature")},
    **{name: ("fraction", "a number in [0, 1)") for name in ("validation_split", "test_split", "dropout")},
    "alpha": ("weight", "a number in [0, 1]"),
    "ce_weight": ("nonnegative", "a finite number ≥ 0 or None (None: 1 − alpha)"),
    "teacher_batch_size": ("count", _COUNT + " or None (None: batch_size)"),
    "sampling": ("sampling", "one of 'random', 'first'"),
    "teacher_data": ("teacher_data", "one of 'student' (the student's training set), 'rest' (every image the "
                                     "student's splits did not take; needs sampling='first')"),
    "threshold": ("threshold", "a validation accuracy in (0, 1] or None"),
    "lr_schedule": ("schedule", "one of None, 'plateau', 'step'"),
    "backend": ("backend", "one of None, 'tfq', 'statevector'"),
    "seeds": ("seeds", "a non-empty tuple of int seeds (the config lists no seeds otherwise; CLI: --seeds 0)"),
    "report_epochs": ("epochs", "a tuple of epochs ≥ 0"),
    "gradcam_epochs": ("epochs", "a tuple of epochs ≥ 0"),
    "noise": ("noise", "None or a named noise spec such as {'depolarize': 0.01} (hybridkeras.circuits.noise)"),
}


@dataclass(frozen=True)
class AutoencoderQFMConfig(_Replaceable):
    """Settings of the autoencoder + quantum feature map experiment (paper 1)."""

    name: str = "autoencoder-qfm"
    # data
    dataset: str = "mnist_sample"
    data_dir: str | None = None
    train_size: int | None = None
    val_size: int | None = None
    test_size: int | None = None
    validation_split: float = 0.1
    test_split: float = 0.2
    augment: bool = False
    # autoencoder stage
    latent_dim: int = 64
    hidden_units: int = 256
    ae_epochs: int = 30
    ae_batch_size: int = 64
    ae_learning_rate: float = 1e-3
    # quantum feature map
    reduction: str = "groups"
    qubits: int = 5
    readout: str = "Z"
    repetitions: int | None = None
    # heads (classical and hybrid share the architecture)
    head_units: tuple = (256, 128, 64)
    dropout: float = 0.3
    head_epochs: int = 60
    head_batch_size: int = 64
    head_learning_rate: float = 1e-3
    lr_schedule: str | None = "plateau"
    early_stopping: int | None = 15
    seed: int = 0
    # simulation: None = the default of hybridkeras.set_backend, resolved and recorded when a run starts
    backend: str | None = None
    # device noise on the feature map (a `noise=` spec as JSON data; None: none): the hybrid head learns noisy features
    noise: dict | None = None
    notes: str = field(default="", compare=False)


@dataclass(frozen=True)
class ExperimentConfig(_Replaceable):
    """A named comparison: several registered models trained on the same data over several seeds.

    ``model_kwargs`` maps a model name to the hyperparameters of its builder; ``seeds`` are
    the initialisation seeds; the data split uses ``data_seed`` (None: the run's seed, so
    the split changes too). ``report_epochs`` adds validation accuracy at those epochs to the
    table (and test accuracy with ``report_test``); ``threshold`` (validation accuracy) adds convergence epochs and Q_AB.
    ``gradcam_epochs`` (0 = untrained) records Grad-CAM maps of ``gradcam_images`` test
    images at those epochs for every model with a convolution layer.
    """

    name: str
    models: tuple = ()
    model_kwargs: dict = field(default_factory=dict)
    # data
    dataset: str = "mnist_sample"
    data_dir: str | None = None
    classes: tuple | None = None
    train_size: int | None = None
    val_size: int | None = None
    test_size: int | None = None
    validation_split: float = 0.1
    test_split: float = 0.2
    resize: tuple | None = None
    data_seed: int | None = 0
    # training
    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_schedule: str | None = None
    seeds: tuple = (0,)
    # reporting
    report_epochs: tuple = ()
    report_test: bool = False
    threshold: float | None = None
    gradcam_epochs: tuple = ()
    gradcam_images: int = 4
    # simulation: None = the default of hybridkeras.set_backend, resolved and recorded when a run starts
    backend: str | None = None
    # device noise on every quantum layer the runs build (a `noise=` spec as JSON data; None: none): noise-aware training
    noise: dict | None = None
    notes: str = field(default="", compare=False)

    def split_seed(self, seed: int) -> int:
        """The seed of the data split used by the run with initialisation seed ``seed``."""
        return seed if self.data_seed is None else self.data_seed

    def with_model_kwargs(self, **hyperparameters) -> "ExperimentConfig":
        """Adds builder hyperparameters to every model of the config.

        Every builder must accept them (the CNN counterpart of HQNN-Parallel accepts and
        ignores the quantum ones).
        """
        merged = {name: {**self.model_kwargs.get(name, {}), **hyperparameters} for name in self.models}
        return dataclasses.replace(self, model_kwargs=merged)


CONFIGS = {
    # Runs anywhere, no download: 2,000 real MNIST digits shipped with the package.
    "autoencoder-qfm": AutoencoderQFMConfig(notes="default: bundled MNIST sample, 13 circuits of 5 codes, exact ⟨Z⟩"),
    # The paper's setting on full MNIST (Keras download or HYBRIDKERAS_DATA_DIR).
    "autoencoder-qfm-paper": AutoencoderQFMConfig(
        name="autoencoder-qfm-paper",
        dataset="mnist",
        ae_epochs=50,
        ae_batch_size=256,
        head_epochs=50,
        augment=True,
        notes="paper: full MNIST, 50 autoencoder epochs",
    ),
    # 64 codes → 5 principal components → one 5-qubit circuit (the paper's later revision).
    "autoencoder-qfm-pca": AutoencoderQFMConfig(
        name="autoencoder-qfm-pca", reduction="pca", notes="PCA 64→5, one circuit per image"
    ),
    # Seconds-long settings for tests and notebooks' smoke runs.
    "autoencoder-qfm-tiny": AutoencoderQFMConfig(
        name="autoencoder-qfm-tiny",
        dataset="digits",
        hidden_units=64,
        latent_dim=16,
        ae_epochs=3,
        head_epochs=3,
        head_units=(32, 16),
        early_stopping=None,
        notes="smoke test on scikit-learn digits",
    ),
}


_PARALLEL = dict(qubits=5, depth=3, circuits=4, readout="Y")
_PARALLEL_TINY = dict(qubits=2, depth=1, circuits=2, readout="Y", filters=(4, 8))

CONFIGS.update({
    # Runs here, no download: the 2,000 bundled real MNIST digits, paper model settings.
    "hqnn-parallel": ExperimentConfig(
        name="hqnn-parallel", models=("hqnn-parallel", "hqnn-parallel-cnn"),
        model_kwargs={"hqnn-parallel": _PARALLEL, "hqnn-parallel-cnn": _PARALLEL},
        epochs=10, batch_size=64, learning_rate=1e-3, seeds=(0,), report_epochs=(1, 5, 10),
        notes="reduced: bundled MNIST sample, paper model (4 circuits × 5 qubits, depth 3), 10 epochs",
    ),
    # The paper's setting on full MNIST (Keras download or HYBRIDKERAS_DATA_DIR).
    "hqnn-parallel-paper": ExperimentConfig(
        name="hqnn-parallel-paper", models=("hqnn-parallel", "hqnn-parallel-cnn"),
        model_kwargs={"hqnn-parallel": _PARALLEL, "hqnn-parallel-cnn": _PARALLEL},
        dataset="mnist", epochs=20, batch_size=64, learning_rate=1e-3, seeds=(0, 1, 2), report_epochs=(1, 5, 10, 20),
        notes="paper: full MNIST (60k/10k), 4 circuits × 5 qubits, depth 3, 20 epochs",
    ),
    "hqnn-parallel-tiny": ExperimentConfig(
        name="hqnn-parallel-tiny", models=("hqnn-parallel", "hqnn-parallel-cnn"),
        model_kwargs={"hqnn-parallel": _PARALLEL_TINY, "hqnn-parallel-cnn": _PARALLEL_TINY},
        dataset="digits", train_size=200, test_size=100, epochs=2, batch_size=32, seeds=(0,),
        notes="smoke test on scikit-learn digits",
    ),
    # The Quanv paper's protocol: 500 train / 100 test images at 14×14, 20 epochs, 10 initialisations.
    "hqnn-quanv": ExperimentConfig(
        name="hqnn-quanv", models=("hqnn-quanv", "cnn4", "cnn1"), resize=(14, 14),
        train_size=500, test_size=100, epochs=20, batch_size=32, learning_rate=1e-3, seeds=tuple(range(10)),
        report_epochs=(1, 5, 10, 20),
        notes="paper protocol: 500/100 real digits at 14×14, 20 epochs, 10 seeds (bundled sample)",
    ),
    "hqnn-quanv-tiny": ExperimentConfig(
        name="hqnn-quanv-tiny", models=("hqnn-quanv", "cnn4", "cnn1"), dataset="digits",
        train_size=100, test_size=50, epochs=2, batch_size=25, seeds=(0, 1),
        notes="smoke test on scikit-learn 8×8 digits",
    ),
})


# Paper 3 (LCQHNN): two-class tasks, balanced 2,048 / 512 / 1,024 subsets, Adam 1e-3, batch 64, 50 epochs, seed 42.
_LCQHNN_MODELS = ("lcqhnn", "lcqhnn-cnn4", "lcqhnn-cnn8", "lcqhnn-cnn16")
_LCQHNN = dict(models=_LCQHNN_MODELS, epochs=50, batch_size=64, learning_rate=1e-3, seeds=(42,), data_seed=42,
               report_epochs=(10, 25, 50), report_test=True, gradcam_epochs=(0, 25, 50))

CONFIGS.update({
    # Runs here, no download: the 0s and 1s of the bundled MNIST sample (balanced 240 / 56 / 108, the paper's 4:1:2).
    "lcqhnn": ExperimentConfig(
        name="lcqhnn", dataset="mnist_sample", classes=(0, 1), train_size=240, val_size=56, test_size=108,
        validation_split=0.2, test_split=0.28, threshold=0.99, **_LCQHNN,
        notes="reduced: MNIST 0 vs 1 from the bundled sample, LCQHNN vs CNN-4/8/16, 50 epochs",
    ),
    "lcqhnn-mnist": ExperimentConfig(
        name="lcqhnn-mnist", dataset="mnist", classes=(0, 1), train_size=2048, val_size=512, test_size=1024,
        threshold=0.99, **_LCQHNN,
        notes="paper: MNIST 0 vs 1, balanced 2,048 / 512 / 1,024, 50 epochs, threshold 99%",
    ),
    "lcqhnn-fashion": ExperimentConfig(
        name="lcqhnn-fashion", dataset="fashion_mnist", classes=(1, 6), train_size=2048, val_size=512,
        test_size=1024, threshold=0.90, **_LCQHNN,
        notes="paper: FashionMNIST trouser vs shirt, balanced 2,048 / 512 / 1,024, 50 epochs, threshold 90%",
    ),
    "lcqhnn-tiny": ExperimentConfig(
        name="lcqhnn-tiny", models=_LCQHNN_MODELS, dataset="digits", classes=(0, 1), resize=(12, 12),
        train_size=100, val_size=40, test_size=60, validation_split=0.2, test_split=0.28, epochs=2, batch_size=25,
        seeds=(0,), report_epochs=(1, 2), report_test=True,
        threshold=0.9, gradcam_epochs=(0, 2), gradcam_images=2,
        notes="smoke test on scikit-learn digits 0 vs 1 at 12×12",
    ),
})


@dataclass(frozen=True)
class DistillationConfig(_Replaceable):
    """Paper 4: teachers, quantum students and every teacher → student pair on one task.

    ``per_class`` training images per class (balanced, seeded; the split changes with the
    seed unless ``data_seed`` is set), ``val_per_class`` for validation; the test split is
    the source's own test set of those classes, or ``test_split`` of the pool. Teachers train
    ``teacher_epochs`` epochs; students (alone and distilled, from the same initial weights)
    ``epochs`` epochs. ``student_kwargs`` / ``teacher_kwargs`` map a model name to builder
    arguments.

    The distillation authors' protocol (``distill-*-authors``) differs in these settings:
    ``sampling='first'`` (per class, the first images in source order, no shuffling of the
    split), ``teacher_data='rest'`` (teachers train on every image of the classes that the
    student's training, validation and test sets did not take), ``teacher_batch_size``,
    ``ce_weight=1`` (loss CE + λ·T²·KL instead of (1 − λ)·CE + λ·T²·KL) and
    ``report_test`` (test accuracy after every epoch, so the best epoch's figure they report
    is recorded beside the final epoch's and the one at the best validation epoch).
    """

    name: str
    dataset: str = "mnist_sample"
    data_dir: str | None = None
    classes: tuple = (0, 1, 2, 3, 4, 5)
    per_class: int = 150
    val_per_class: int = 30
    test_size: int | None = None
    validation_split: float = 0.2
    test_split: float = 0.2
    resize: tuple | None = None
    data_seed: int | None = None
    sampling: str = "random"
    teacher_data: str = "student"
    students: tuple = ("student-3q", "student-4q")
    student_kwargs: dict = field(default_factory=dict)
    teachers: tuple = ("lenet", "alexnet")
    teacher_kwargs: dict = field(default_factory=dict)
    ensemble: bool = True
    temperature: float = 3.0
    alpha: float = 0.9
    ce_weight: float | None = None
    epochs: int = 10
    teacher_epochs: int = 10
    batch_size: int = 32
    teacher_batch_size: int | None = None
    learning_rate: float = 1e-3
    report_test: bool = False
    seeds: tuple = (0, 1, 2)
    # simulation: None = the default of hybridkeras.set_backend, resolved and recorded when a run starts
    backend: str | None = None
    # device noise on every quantum layer of the students (a `noise=` spec as JSON data; None: none): noise-aware
    noise: dict | None = None
    notes: str = field(default="", compare=False)

    def split_seed(self, seed: int) -> int:
        return seed if self.data_seed is None else self.data_seed

    def validate(self) -> None:
        super().validate()
        if self.teacher_data == "rest" and self.sampling != "first":
            raise ValueError(f"Config {self.name!r}: `teacher_data='rest'` (the images the student's splits did not "
                             f"take) needs sampling='first'. Received: sampling={self.sampling!r}")

    def teacher_spec(self, seed: int | None = None) -> DataSpec:
        """The teachers' data: the student's (``teacher_data='student'``), or the same splits with every image
        the student's training, validation and test sets did not take as the training set ('rest')."""
        spec = self.data_spec(seed)
        return dataclasses.replace(spec, train_part="rest") if self.teacher_data == "rest" else spec

    @property
    def train_size(self) -> int:
        return self.per_class * len(self.classes)

    @property
    def val_size(self) -> int:
        return self.val_per_class * len(self.classes)


_DISTILL = dict(per_class=150, epochs=10, teacher_epochs=10, learning_rate=1e-3, temperature=3.0, alpha=0.9,
                seeds=(0, 1, 2))

CONFIGS.update({
    # Runs here, no download: classes 0–5 of the bundled real MNIST sample.
    "distill": DistillationConfig(
        name="distill", dataset="mnist_sample", classes=tuple(range(6)),
        **{**_DISTILL, "per_class": 100, "val_per_class": 20},
        notes="reduced: MNIST 0–5 from the bundled sample (100 per class: all it holds after the test split), "
              "LeNet/AlexNet/ensemble → 3- and 4-qubit students",
    ),
    "distill-mnist-6": DistillationConfig(name="distill-mnist-6", dataset="mnist", classes=tuple(range(6)), **_DISTILL,
                                          notes="paper: MNIST 0–5, 150 per class, 10 epochs"),
    "distill-mnist-8": DistillationConfig(name="distill-mnist-8", dataset="mnist", classes=tuple(range(8)), **_DISTILL,
                                          notes="paper: MNIST 0–7, 150 per class, 10 epochs"),
    "distill-fashion-6": DistillationConfig(name="distill-fashion-6", dataset="fashion_mnist", classes=tuple(range(6)),
                                            **_DISTILL, notes="paper: FashionMNIST 0–5, 150 per class, 10 epochs"),
    "distill-fashion-8": DistillationConfig(name="distill-fashion-8", dataset="fashion_mnist", classes=tuple(range(8)),
                                            **_DISTILL, notes="paper: FashionMNIST 0–7, 150 per class, 10 epochs"),
})

# The distillation authors' protocol, read from their notebooks (see DistillationConfig): the classic
# LeNet-5, the AlexNet adaptation and their jointly trained logit-averaging ensemble as teachers, on every
# image of the classes the student's splits leave; the CNN-front students with depth-0 angle encoding and
# 2^(n+1) sigmoid-pair logits; batch 1, CE + λ·T²·KL, the first 150 images per class; test accuracy after
# every epoch (they report the best epoch's).
_CLASSIC_LENET = {"activation": "tanh", "pooling": "average", "padding": "valid"}
_AUTHORS = dict(
    per_class=150, val_per_class=30, sampling="first", teacher_data="rest",
    students=("student-authors-3q", "student-authors-4q"), teachers=("lenet", "alexnet", "ensemble-joint"),
    teacher_kwargs={"lenet": _CLASSIC_LENET, "ensemble-joint": {"member_kwargs": {"lenet": _CLASSIC_LENET}}},
    ensemble=False, temperature=3.0, alpha=0.9, ce_weight=1.0, epochs=10, teacher_epochs=10, batch_size=1,
    teacher_batch_size=128, learning_rate=1e-3, report_test=True, seeds=(0, 1, 2, 3, 4),
)

CONFIGS.update({
    "distill-mnist-6-authors": DistillationConfig(
        name="distill-mnist-6-authors", dataset="mnist", classes=tuple(range(6)), test_size=900, **_AUTHORS,
        notes="authors' protocol: MNIST 0–5, first 150 per class, batch 1, CE + λ·T²·KL, best and final epoch"),
    "distill-mnist-8-authors": DistillationConfig(
        name="distill-mnist-8-authors", dataset="mnist", classes=tuple(range(8)), test_size=1200, **_AUTHORS,
        notes="authors' protocol: MNIST 0–7, first 150 per class, batch 1, CE + λ·T²·KL, best and final epoch"),
    "distill-fashion-6-authors": DistillationConfig(
        name="distill-fashion-6-authors", dataset="fashion_mnist", classes=tuple(range(6)), test_size=900,
        **_AUTHORS, notes="authors' protocol: FashionMNIST 0–5, first 150 per class, batch 1"),
    "distill-fashion-8-authors": DistillationConfig(
        name="distill-fashion-8-authors", dataset="fashion_mnist", classes=tuple(range(8)), test_size=1200,
        **_AUTHORS, notes="authors' protocol: FashionMNIST 0–7, first 150 per class, batch 1"),
    "distill-tiny": DistillationConfig(
        name="distill-tiny", dataset="digits", classes=(0, 1, 2, 3), resize=(16, 16), per_class=20, val_per_class=5, test_size=40,
        teacher_kwargs={"alexnet": {"fc_units": 32}}, epochs=1, teacher_epochs=1, batch_size=16, seeds=(0,),
        notes="smoke test on scikit-learn digits 0–3 (AlexNet with 32-unit FC layers)",
    ),
})


def get_config(name: str, **overrides):
    """The named config with ``overrides`` applied."""
    if name not in CONFIGS:
        raise ValueError(f"Unknown config name. Expected one of {tuple(CONFIGS)}. Received: name={name!r}")
    return CONFIGS[name].replace(**overrides)
