"""The noise-robustness experiment on a tiny HQNN-Parallel config: clean and noise-aware training, a sweep that ends
in complete depolarisation (the hybrid then answers one class for every image), the twin as a flat line, resuming
without redoing finished work (also after a real SIGKILL mid-sweep), and bad settings refused by name."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hybridkeras.training import NoiseRobustnessConfig, run_noise_robustness
from hybridkeras.training.noise_robustness import loss_point

ROOT = Path(__file__).resolve().parents[1]


def _config(**changes):
    settings = dict(family="hqnn-parallel", experiment="hqnn-parallel-tiny", sweep=(0.0, 0.75), train_noise=0.05,
                    overrides={"epochs": 1, "seeds": (0,), "train_size": 60, "val_size": 20, "test_size": 40})
    settings.update(changes)
    return NoiseRobustnessConfig(**settings)


def test_noise_robustness_runs_sweeps_and_resumes(tmp_path):
    import hybridkeras as hk
    from hybridkeras.training.experiments import experiment_dataset

    config = _config()
    summary = run_noise_robustness(config, tmp_path, verbose=0)
    assert summary["p"] == [0.0, 0.75] and set(summary["curves"]) == {"clean", "noise-aware"}
    data = experiment_dataset(config.base(), 0)
    frequencies = np.bincount(data.y_test, minlength=data.num_classes) / len(data.y_test)
    for variant, curve in summary["curves"].items():
        # depolarize(3/4) after every moment leaves I/2^n: one output for every image, so one class for all
        assert np.isclose(frequencies, curve["mean"][1], atol=1e-6).any(), (variant, curve, frequencies)
    twin = json.loads((tmp_path / "clean" / "hqnn-parallel-cnn" / "seed0" / "metrics.json").read_text())
    assert summary["twin"]["mean"] == pytest.approx(twin["test_accuracy"])
    aware = hk.load_model(tmp_path / "noise-aware" / "hqnn-parallel" / "seed0" / "model")
    assert aware.get_layer("parallel_pqc").noise.to_json() == {"depolarize": 0.05}
    assert (tmp_path / "robustness.png").stat().st_size > 10_000
    assert "p at −1 point" in (tmp_path / "robustness.md").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.json") if p.name in ("metrics.json",)
              or p.parent.name == "sweep"}
    again = run_noise_robustness(config, tmp_path, verbose=0)
    assert again["curves"] == summary["curves"]
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing trained or evaluated twice
    with pytest.raises(ValueError, match="differ"):
        run_noise_robustness(_config(train_noise=0.02), tmp_path, verbose=0)


@pytest.mark.slow
def test_noise_robustness_resumes_after_a_sigkill_mid_sweep(tmp_path):
    config = dict(family="hqnn-parallel", experiment="hqnn-parallel-tiny", sweep=[0.0, 0.01, 0.1, 0.3, 0.75],
                  train_noise=0.05, overrides={"epochs": 1, "seeds": [0], "train_size": 60, "val_size": 20,
                                               "test_size": 40})
    code = (f"from hybridkeras.training import NoiseRobustnessConfig, run_noise_robustness\n"
            f"c = {config!r}\nc['sweep'] = tuple(c['sweep']); c['overrides']['seeds'] = (0,)\n"
            f"run_noise_robustness(NoiseRobustnessConfig(**c), {str(tmp_path)!r}, verbose=0)\n")
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ))
    target = tmp_path / "sweep" / "clean-seed0.json"
    deadline = time.time() + 600
    while time.time() < deadline and not target.is_file():
        time.sleep(0.05)
    assert target.is_file(), "the sweep never started"
    process.send_signal(signal.SIGKILL)
    process.wait()
    first = json.loads(target.read_text())
    assert 1 <= len(first) < 5  # killed mid-sweep
    summary = run_noise_robustness(_config(sweep=(0.0, 0.01, 0.1, 0.3, 0.75)), tmp_path, verbose=0)
    done = json.loads(target.read_text())
    assert len(done) == 5 and all(done[k] == v for k, v in first.items())  # finished p's kept, not redone
    assert len(summary["curves"]["clean"]["mean"]) == 5
    assert not list(tmp_path.rglob("*.tmp*"))


def test_loss_point_interpolates_between_sweep_values():
    ps = [0.0, 0.01, 0.02, 0.05]
    assert loss_point(ps, [0.90, 0.895, 0.88, 0.80], 0.90, 1.0) == pytest.approx(0.01 + (0.895 - 0.89) / 0.015 * 0.01)
    assert loss_point(ps, [0.90, 0.895, 0.88, 0.80], 0.90, 5.0) == pytest.approx(0.02 + (0.88 - 0.85) / 0.08 * 0.03)
    assert loss_point(ps, [0.90, 0.90, 0.90, 0.899], 0.90, 1.0) is None


@pytest.mark.parametrize("changes,match", [
    (dict(family="autoencoder-qfm"), "must name an autoencoder-qfm config"),
    (dict(seeds=()), "`seeds` must be None or a non-empty tuple"),
    (dict(family="student-3q"), "must name a distillation config"),
    (dict(family="vqe"), "`family` must be one of"),
    (dict(channel="depolarise"), "`channel` must be one of"),
    (dict(sweep=(0.0, 1.5)), r"`sweep`: 'depolarize' must be in \[0, 1\]"),
    (dict(train_noise=-0.1), r"`train_noise`: 'depolarize' must be in \[0, 1\]"),
    (dict(experiment="nope"), "`experiment` must name an experiment config"),
])
def test_bad_noise_robustness_settings_are_refused_by_name(changes, match):
    with pytest.raises(ValueError, match=match):
        _config(**changes)


def test_noise_robustness_of_autoencoder_qfm_over_seeds(tmp_path):
    """autoencoder-qfm: one pipeline run per seed, clean and with a noisy feature map; the clean curve at p = 0 is the
    pipeline's own hybrid test accuracy and the twin its classical head's; at depolarize(3/4) every feature is 0, so
    the head answers one class for every image; the noise-aware export carries its noise."""
    import hybridkeras as hk
    from hybridkeras.training.pipeline import load_dataset

    config = NoiseRobustnessConfig(family="autoencoder-qfm", experiment="autoencoder-qfm-tiny", sweep=(0.0, 0.75),
                                   train_noise=0.05, seeds=(0, 1),
                                   overrides={"ae_epochs": 1, "head_epochs": 1, "train_size": 100, "val_size": 30,
                                              "test_size": 40})
    summary = run_noise_robustness(config, tmp_path, verbose=0, plots=False)
    assert summary["seeds"] == [0, 1] and set(summary["curves"]) == {"clean", "noise-aware"}
    records = [json.loads((tmp_path / "clean" / f"seed{s}" / "record.json").read_text())["metrics"] for s in (0, 1)]
    assert summary["curves"]["clean"]["mean"][0] == pytest.approx(
        np.mean([r["hybrid_test_accuracy"] for r in records]), abs=1e-6)
    assert summary["twin"]["mean"] == pytest.approx(np.mean([r["classical_test_accuracy"] for r in records]))
    assert summary["twin"]["std"] == pytest.approx(np.std([r["classical_test_accuracy"] for r in records]))
    for seed in (0, 1):
        data = load_dataset(config.base().replace(seed=seed))
        frequencies = np.bincount(data.y_test, minlength=data.num_classes) / len(data.y_test)
        for variant in ("clean", "noise-aware"):
            swept = json.loads((tmp_path / "sweep" / f"{variant}-seed{seed}.json").read_text())
            assert np.isclose(frequencies, swept["0.75"], atol=1e-6).any(), (variant, seed, swept, frequencies)
    aware = hk.load_model(tmp_path / "noise-aware" / "seed0" / "hybrid")
    maps = [layer for layer in aware.get_layer("quantum_front").layers if getattr(layer, "noise", None) is not None]
    assert [layer.noise.to_json() for layer in maps] == [{"depolarize": 0.05}]
    assert json.loads((tmp_path / "noise-aware" / "seed0" / "config.json").read_text())["noise"] == {"depolarize": 0.05}
    assert "autoencoder-classical (classical, no noise)" in (tmp_path / "robustness.md").read_text()


def test_noise_robustness_of_a_student_alone_and_distilled(tmp_path):
    """student-3q: the student alone and distilled from LeNet, clean and noise-aware, swept; the teacher is the flat
    line; at depolarize(3/4) nothing of the image survives the circuit, so every variant answers one class."""
    from hybridkeras.training.distillation import distillation_dataset

    config = NoiseRobustnessConfig(family="student-3q", experiment="distill-tiny", sweep=(0.0, 0.75), train_noise=0.05,
                                   overrides={"seeds": (0,)})
    summary = run_noise_robustness(config, tmp_path, verbose=0, plots=False)
    assert set(summary["curves"]) == {"alone, clean", "distilled, clean", "alone, noise-aware", "distilled, noise-aware"}
    data = distillation_dataset(config.base(), 0)
    frequencies = np.bincount(data.y_test, minlength=data.num_classes) / len(data.y_test)
    for variant, curve in summary["curves"].items():
        assert np.isclose(frequencies, curve["mean"][1], atol=1e-6).any(), (variant, curve, frequencies)
    teacher = json.loads((tmp_path / "clean" / "seed0" / "teachers" / "lenet" / "metrics.json").read_text())
    assert summary["twin"] == {"model": "lenet", "mean": pytest.approx(teacher["test_accuracy"]), "std": 0.0}
    alone = json.loads((tmp_path / "clean" / "seed0" / "student-3q" / "alone" / "metrics.json").read_text())
    assert summary["curves"]["alone, clean"]["mean"][0] == pytest.approx(alone["test_accuracy"], abs=1e-6)
    import hybridkeras as hk

    aware = hk.load_model(tmp_path / "noise-aware" / "seed0" / "student-3q" / "from-lenet" / "model")
    assert [layer.noise.to_json() for layer in aware.layers if getattr(layer, "noise", None) is not None] == \
        [{"depolarize": 0.05}]
    with pytest.raises(ValueError, match="must name a distillation config"):
        NoiseRobustnessConfig(family="student-3q", experiment="hqnn-parallel-tiny")
