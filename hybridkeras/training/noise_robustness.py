"""The noise-robustness experiment: how a family's hybrid holds up under device noise, against its classical twin.

For one family (``hqnn-parallel``, ``hqnn-quanv``, ``lcqhnn``, ``autoencoder-qfm``, ``student-3q``, ``student-4q``),
on that family's named config:

1. the hybrid and its classical twin are trained clean (`run_experiment`, every seed); for a student family
   (`run_distillation`), the student alone and distilled from its teacher (the twin, LeNet), both clean; for
   autoencoder-qfm (`train_autoencoder_qfm`, one pipeline run per seed), the autoencoder, its classical head (the
   twin) and the hybrid head on the feature map's outputs;
2. the hybrid is trained again under noise (noise-aware: ``train_noise`` on every quantum layer; a student
   alone and distilled, from a teacher trained as in step 1; autoencoder-qfm: a whole pipeline run whose feature
   map is noisy, so its head learns the noisy features);
3. every trained hybrid is evaluated on the test split over a sweep of noise strengths p (the same
   channel), reloaded with ``load_model(..., noise=...)`` and its own weights;
4. the table gives mean ± std over seeds per p, the twin's clean accuracy as a flat reference, and
   the p at which each hybrid has lost 1 and 5 points of its own clean accuracy (linear interpolation
   of the mean curve; '>' the largest p when it never does); ``robustness.png`` draws the curves.

Layout of ``<output>`` (default ``saved_models/noise-robustness-<family>``)::

    config.json                 the settings (family, channel, sweep, training noise, seeds, data)
    clean/ noise-aware/         two experiment (or distillation) folders (`hybridkeras.training.experiments`,
                                `hybridkeras.training.distillation`); autoencoder-qfm: seed<k>/ pipeline folders
                                (`hybridkeras.training.pipeline`)
    sweep/<variant>-seed<k>.json  accuracy per p, written after each p
    robustness.md, robustness.json, robustness.png

Every stage resumes: finished trainings and evaluated p's are not redone.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import keras
from hybridkeras.circuits.noise import CHANNELS, as_noise
from hybridkeras.io import load_model, write_json_atomic, write_text_atomic
from hybridkeras.training.configs import CONFIGS, AutoencoderQFMConfig, DistillationConfig, ExperimentConfig
from hybridkeras.training.distillation import distillation_dataset, run_distillation
from hybridkeras.training.experiments import experiment_dataset, run_experiment
from hybridkeras.training.runs import check_config, mean_std, resolved

# family -> (its experiment, distillation or pipeline config, the hybrid model, the classical twin: for students, the
# teacher; for autoencoder-qfm, the same encoder's classical head)
FAMILIES = {
    "hqnn-parallel": ("hqnn-parallel", "hqnn-parallel", "hqnn-parallel-cnn"),
    "hqnn-quanv": ("hqnn-quanv", "hqnn-quanv", "cnn4"),
    "lcqhnn": ("lcqhnn", "lcqhnn", "lcqhnn-cnn16"),
    "autoencoder-qfm": ("autoencoder-qfm", "autoencoder-qfm", "autoencoder-classical"),
    "student-3q": ("distill", "student-3q", "lenet"),
    "student-4q": ("distill", "student-4q", "lenet"),
}
# the kind of config each family's runner takes
_KINDS = {"distill": DistillationConfig, "autoencoder-qfm": AutoencoderQFMConfig}
DEFAULT_SWEEP = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)


@dataclass(frozen=True)
class NoiseRobustnessConfig:
    """Settings of one noise-robustness run (see the module docstring).

    ``experiment`` overrides the family's experiment config (None: ``FAMILIES[family][0]``), e.g. a
    tiny config for tests; ``overrides`` are `ExperimentConfig.replace` changes (epochs, seeds, data_dir, …).
    ``seeds`` (None: the config's) are the initialisation seeds; autoencoder-qfm's pipeline config has one
    ``seed``, so this is where its seeds are given (one pipeline run each).
    """

    family: str = "hqnn-parallel"
    channel: str = "depolarize"
    train_noise: float = 0.01
    sweep: tuple = DEFAULT_SWEEP
    experiment: str | None = None
    overrides: dict = field(default_factory=dict)
    seeds: tuple | None = None

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"`family` must be one of {tuple(FAMILIES)}. Received: family={self.family!r}")
        if self.channel not in CHANNELS:
            raise ValueError(f"`channel` must be one of {tuple(CHANNELS)}. Received: channel={self.channel!r}")
        as_noise({self.channel: self.train_noise}, "train_noise")
        if not self.sweep:
            raise ValueError("`sweep` must list at least one noise strength. Received: sweep=()")
        for p in self.sweep:
            as_noise({self.channel: p}, "sweep")
        if self.experiment is not None and self.experiment not in CONFIGS:
            raise ValueError(f"`experiment` must name an experiment config (`hybridkeras list`). "
                             f"Received: experiment={self.experiment!r}")
        kind = _KINDS.get(FAMILIES[self.family][0], ExperimentConfig)
        if self.experiment is not None and not isinstance(CONFIGS[self.experiment], kind):
            label = {DistillationConfig: "a distillation", AutoencoderQFMConfig: "an autoencoder-qfm"}.get(
                kind, "a hybrid-vs-classical")
            raise ValueError(f"`experiment` must name {label} config for family {self.family!r}. "
                             f"Received: experiment={self.experiment!r}")
        if self.seeds is not None and (not isinstance(self.seeds, (tuple, list)) or not self.seeds
                                       or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                                  for s in self.seeds)):
            raise ValueError(f"`seeds` must be None or a non-empty tuple of ints ≥ 0. Received: seeds={self.seeds!r}")

    @property
    def name(self) -> str:
        return f"noise-robustness-{self.family}"

    def base(self):
        """The family's experiment config with the overrides (and ``seeds``, where it has them) applied, backend
        resolved."""
        config = CONFIGS[self.experiment or FAMILIES[self.family][0]].replace(**self.overrides)
        if self.seeds is not None and hasattr(config, "seeds"):
            config = config.replace(seeds=tuple(self.seeds))
        return resolved(config)

    def seeds_of(self, base) -> tuple:
        """The initialisation seeds of the run (``base``: `base()`)."""
        if hasattr(base, "seeds"):
            return tuple(base.seeds)
        return tuple(self.seeds) if self.seeds is not None else (base.seed,)

    def record(self, base=None) -> dict:
        """The settings recorded with the run (``base``: `base()`, when the caller has it already)."""
        base = self.base() if base is None else base
        return {"name": self.name, "backend": base.backend, "family": self.family, "channel": self.channel,
                "train_noise": self.train_noise, "sweep": list(self.sweep), "experiment": base.to_dict(),
                **({"seeds": list(self.seeds_of(base))} if self.seeds is not None else {})}


def _sweep(model_dir: Path, target: Path, config: NoiseRobustnessConfig, data, verbose: int) -> dict:
    """{p: test accuracy} of the model exported in ``model_dir`` under the channel at each p of the sweep (resumed)."""
    done = json.loads(target.read_text()) if target.is_file() else {}
    for p in config.sweep:
        key = repr(float(p))
        if key in done:
            continue
        model = load_model(model_dir, noise={config.channel: float(p)} if p > 0 else {})
        _, accuracy = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)[:2]
        done[key] = float(accuracy)
        write_json_atomic(target, done)
        keras.backend.clear_session()
        if verbose:
            print(f"  {target.stem}: p={p:g} accuracy {accuracy:.4f}", flush=True)
    return {float(k): v for k, v in done.items()}


def loss_point(ps, accuracies, clean: float, points: float) -> float | None:
    """The smallest p where the mean accuracy has dropped ``points`` (percentage points) below ``clean``, linearly
    interpolated between sweep values; None when it never does."""
    level = clean - points / 100.0
    previous = None
    for p, accuracy in zip(ps, accuracies):
        if accuracy <= level:
            if previous is None:
                return float(p)
            (p0, a0) = previous
            return float(p0 + (a0 - level) / (a0 - accuracy) * (p - p0)) if a0 != accuracy else float(p)
        previous = (p, accuracy)
    return None


def _experiment_variants(config, base, output: Path, verbose: int, plots: bool):
    """Trains an experiment family's hybrid and twin clean and its hybrid noise-aware; (variants {name: seed ->
    run folder}, twin accuracies, the split seed -> test data, the data line)."""
    _, hybrid, twin = FAMILIES[config.family]
    clean = dataclasses.replace(base, name=f"{base.name}-clean", models=(hybrid, twin))
    aware = dataclasses.replace(base, name=f"{base.name}-noise-aware", models=(hybrid,),
                                noise={config.channel: float(config.train_noise)})
    clean_result = run_experiment(clean, output / "clean", resume=True, verbose=verbose, plots=plots)
    run_experiment(aware, output / "noise-aware", resume=True, verbose=verbose, plots=plots)
    variants = {variant: (lambda seed, variant=variant: output / variant / hybrid / f"seed{seed}" / "model")
                for variant in ("clean", "noise-aware")}
    twins = [m["test_accuracy"] for m in clean_result.runs[twin]]
    data_line = clean_result.markdown.splitlines()[0] if clean_result.markdown else ""
    return variants, twins, lambda seed: experiment_dataset(base, base.split_seed(seed)), data_line


def _student_variants(config, base, output: Path, verbose: int):
    """Trains a student family's student alone and distilled from its teacher, clean and noise-aware (the teacher
    is classical: trained once per folder, noise-free); (variants, teacher accuracies, test data, data line)."""
    _, student, teacher = FAMILIES[config.family]
    clean = dataclasses.replace(base, name=f"{base.name}-clean", students=(student,), teachers=(teacher,),
                                ensemble=False)
    aware = dataclasses.replace(clean, name=f"{base.name}-noise-aware", noise={config.channel: float(config.train_noise)})
    run_distillation(clean, output / "clean", verbose=verbose)
    run_distillation(aware, output / "noise-aware", verbose=verbose)
    variants = {}
    for folder in ("clean", "noise-aware"):
        for kind, run in (("alone", "alone"), ("distilled", f"from-{teacher}")):
            variants[f"{kind}, {folder}"] = (lambda seed, folder=folder, run=run:
                                            output / folder / f"seed{seed}" / student / run / "model")
    twins = [json.loads((output / "clean" / f"seed{seed}" / "teachers" / teacher / "metrics.json").read_text())
             ["test_accuracy"] for seed in base.seeds]
    data = functools.lru_cache(maxsize=1)(lambda seed: distillation_dataset(clean, clean.split_seed(seed)))
    return variants, twins, data, data(base.seeds[0]).summary()  # the first seed's data: loaded once, for the sweep too


def _pipeline_variants(config, base, output: Path, seeds: tuple, verbose: int):
    """Runs autoencoder-qfm's pipeline clean and noise-aware for every seed (the noise-aware run's feature map is
    noisy, so its head is trained on noisy features); (variants, classical-head accuracies, test data, data line)."""
    from hybridkeras.training.pipeline import load_dataset, train_autoencoder_qfm

    noise = {config.channel: float(config.train_noise)}
    for seed in seeds:
        for folder, changes in (("clean", {}), ("noise-aware", {"noise": noise})):
            run = dataclasses.replace(base, name=f"{base.name}-{folder}", seed=seed, **changes)
            train_autoencoder_qfm(run, output_dir=output / folder / f"seed{seed}", verbose=verbose)
    variants = {folder: (lambda seed, folder=folder: output / folder / f"seed{seed}" / "hybrid")
                for folder in ("clean", "noise-aware")}
    twins = [json.loads((output / "clean" / f"seed{seed}" / "record.json").read_text())["metrics"]
             ["classical_test_accuracy"] for seed in seeds]
    data = functools.lru_cache(maxsize=1)(lambda seed: load_dataset(dataclasses.replace(base, seed=seed)))
    return variants, twins, data, data(seeds[0]).summary()


def run_noise_robustness(config: NoiseRobustnessConfig, output_dir=None, *, resume: bool = True, verbose: int = 1,
                         plots: bool = True) -> dict:
    """Runs (or resumes) the experiment; returns the summary written to ``robustness.json``."""
    if not isinstance(config, NoiseRobustnessConfig):
        raise TypeError(f"`config` must be a NoiseRobustnessConfig. Received: config={type(config).__name__}")
    base = config.base()
    _, hybrid, twin = FAMILIES[config.family]
    output = Path(output_dir or Path("saved_models") / config.name)
    missing = [m for m in (hybrid, twin) if m not in base.models] if isinstance(base, ExperimentConfig) else []
    if missing:
        raise ValueError(f"experiment config {base.name!r} does not train {missing}; pick one of the {config.family} "
                         "configs (`hybridkeras list`)")
    check_config(output, _Recorded(config, base), resume)
    seeds = config.seeds_of(base)
    if isinstance(base, DistillationConfig):
        variants, twins, dataset, data_line = _student_variants(config, base, output, verbose)
    elif isinstance(base, AutoencoderQFMConfig):
        variants, twins, dataset, data_line = _pipeline_variants(config, base, output, seeds, verbose)
    else:
        variants, twins, dataset, data_line = _experiment_variants(config, base, output, verbose, plots)
    curves, twin_accuracy = {}, mean_std(twins)
    ps = sorted(float(p) for p in config.sweep)
    per_seed = {variant: [] for variant in variants}
    for seed in seeds:
        data = dataset(seed)  # once per seed, for every variant
        for variant, values in per_seed.items():
            target = output / "sweep" / f"{variant.replace(', ', '-')}-seed{seed}.json"
            accuracy = _sweep(variants[variant](seed), target, config, data, verbose)
            values.append([accuracy[p] for p in ps])
    for variant, values in per_seed.items():
        values = np.array(values)
        curves[variant] = {"mean": values.mean(axis=0).tolist(), "std": values.std(axis=0).tolist()}
    rows = []
    for variant, curve in curves.items():
        clean_accuracy = curve["mean"][ps.index(0.0)] if 0.0 in ps else curve["mean"][0]
        rows.append({"variant": f"{hybrid} ({variant})", "clean_accuracy": clean_accuracy,
                     "p_minus_1": loss_point(ps, curve["mean"], clean_accuracy, 1.0),
                     "p_minus_5": loss_point(ps, curve["mean"], clean_accuracy, 5.0)})
    summary = {"family": config.family, "channel": config.channel, "train_noise": config.train_noise, "p": ps,
               "curves": curves, "twin": {"model": twin, "mean": twin_accuracy[0], "std": twin_accuracy[1]},
               "rows": rows, "seeds": list(seeds), "data": data_line}
    write_json_atomic(output / "robustness.json", summary)
    write_text_atomic(output / "robustness.md", render_markdown(config, summary, hybrid))
    if plots:
        from hybridkeras.viz import plot_noise_robustness

        plot_noise_robustness(summary, output / "robustness.png", title=f"{config.family}: test accuracy under "
                                                                           f"{config.channel}")
    return summary


def render_markdown(config: NoiseRobustnessConfig, summary: dict, hybrid: str) -> str:
    ps = summary["p"]
    head = "| model | " + " | ".join(f"p={p:g}" for p in ps) + " |"
    lines = [f"# Noise robustness: {config.family}, {config.channel}", "",
             f"Test accuracy (mean ± std over seeds {summary['seeds']}) under {config.channel}(p) on every qubit after "
             f"every moment; noise-aware: trained at p={config.train_noise:g}.", "", head,
             "|---|" + "---|" * len(ps)]
    for variant, curve in summary["curves"].items():
        cells = " | ".join(f"{m:.4f} ± {s:.4f}" for m, s in zip(curve["mean"], curve["std"]))
        lines.append(f"| {hybrid} ({variant}) | {cells} |")
    twin = summary["twin"]
    lines.append(f"| {twin['model']} (classical, no noise) | " + " | ".join(f"{twin['mean']:.4f}" for _ in ps) + " |")
    lines += ["", "| model | clean accuracy | p at −1 point | p at −5 points |", "|---|---|---|---|"]
    largest = max(ps)
    for row in summary["rows"]:
        cells = [f"{row['p_minus_1']:.4g}" if row["p_minus_1"] is not None else f"> {largest:g}",
                 f"{row['p_minus_5']:.4g}" if row["p_minus_5"] is not None else f"> {largest:g}"]
        lines.append(f"| {row['variant']} | {row['clean_accuracy']:.4f} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class _Recorded:
    """What `check_config` records and compares on resume: the settings of the run."""

    config: NoiseRobustnessConfig
    base: object

    @property
    def backend(self):
        return self.base.backend

    def to_dict(self) -> dict:
        return self.config.record(self.base)


__all__ = ["DEFAULT_SWEEP", "FAMILIES", "NoiseRobustnessConfig", "loss_point", "render_markdown",
           "run_noise_robustness"]
