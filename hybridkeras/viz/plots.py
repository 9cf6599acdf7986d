"""Plots people would rather look at: training curves, confusion matrices, reconstructions, circuits.

Every function returns the matplotlib Figure and, given ``path``, also writes a PNG atomically.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import matplotlib

if not os.environ.get("DISPLAY") and "ipykernel" not in __import__("sys").modules:
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(fig, path) -> Path:
    """Writes ``fig`` as PNG to ``path`` through a temporary file (never a half-written image)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{uuid.uuid4().hex[:8]}.png")
    try:
        fig.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_history(history, path=None, *, title: str = "Training curves"):
    """Loss and (if present) accuracy per epoch, training and validation."""
    values = history.history if hasattr(history, "history") else dict(history)
    panels = [m for m in ("loss", "accuracy") if m in values]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5 * max(len(panels), 1), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], panels):
        epochs = np.arange(1, len(values[metric]) + 1)
        ax.plot(epochs, values[metric], label="train")
        if f"val_{metric}" in values:
            ax.plot(epochs, values[f"val_{metric}"], label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_noise_robustness(summary: dict, path=None, *, title: str = "Noise robustness"):
    """Test accuracy against noise strength p: each hybrid variant's mean ± std over seeds, the classical twin as
    a flat reference line (``summary``: what `training.noise_robustness.run_noise_robustness` returns)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ps = np.array(summary["p"], dtype=float)
    # p = 0 on a log axis: drawn at a tenth of the smallest positive p, labelled as 0
    positive = ps[ps > 0]
    floor = positive.min() / 10 if positive.size else 1e-4
    xs = np.where(ps > 0, ps, floor)
    for i, (variant, curve) in enumerate(summary["curves"].items()):
        mean, std = np.array(curve["mean"]), np.array(curve["std"])
        ax.plot(xs, mean, "o-", color=f"C{i}", label=f"hybrid ({variant})")
        ax.fill_between(xs, mean - std, mean + std, color=f"C{i}", alpha=0.2)
    twin = summary["twin"]
    ax.axhline(twin["mean"], color="gray", linestyle="--", label=f"{twin['model']} (classical)")
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{p:g}" for p in ps], rotation=45, fontsize=8)
    ax.set_xlabel(f"{summary['channel']} p")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_experiment_curves(histories: dict, path=None, *, title: str = "Experiment"):
    """Validation (solid) and training (dashed) accuracy and loss per model: mean over seeds, ±std band.

    Args:
        histories: {model name: [history dict per seed]}, each history {metric: [per epoch]}.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for (ax, metric) in zip(axes, ("accuracy", "loss")):
        for i, (name, runs) in enumerate(histories.items()):
            color = f"C{i}"
            for prefix, style in (("val_", "-"), ("", "--")):
                series = [r[prefix + metric] for r in runs if r.get(prefix + metric)]
                if not series:
                    continue
                length = min(len(s) for s in series)
                values = np.array([s[:length] for s in series], dtype=float)
                epochs = np.arange(1, length + 1)
                mean, std = values.mean(axis=0), values.std(axis=0)
                label = f"{name} ({'val' if prefix else 'train'})"
                ax.plot(epochs, mean, style, color=color, label=label)
                if prefix and len(series) > 1:
                    ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_confusion_matrix(matrix, class_names=None, path=None, *, title: str = "Confusion matrix"):
    """Counts with row-normalised colour (true class per row)."""
    matrix = np.asarray(matrix)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(matrix))]
    fig, ax = plt.subplots(figsize=(0.55 * len(names) + 2.5, 0.55 * len(names) + 2))
    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_reconstructions(originals, reconstructions, path=None, *, count: int = 8, title: str = "Autoencoder reconstructions"):
    """Originals (top row) above their reconstructions (bottom row)."""
    count = min(count, len(originals))
    fig, axes = plt.subplots(2, count, figsize=(1.3 * count, 3), squeeze=False)
    for i in range(count):
        for row, images in enumerate((originals, reconstructions)):
            ax = axes[row, i]
            ax.imshow(np.squeeze(images[i]), cmap="gray", vmin=0, vmax=1)
            ax.axis("off")
    axes[0, 0].set_title("input", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_circuit(circuit, path=None, *, title: str | None = None):
    """Cirq's text diagram of ``circuit`` drawn as a figure."""
    text = str(circuit)
    lines = text.splitlines() or [""]
    fig = plt.figure(figsize=(max(4, 0.11 * max(len(line) for line in lines)), 0.32 * len(lines) + 0.6))
    fig.text(0.01, 0.98, text, family="monospace", fontsize=9, va="top")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)
