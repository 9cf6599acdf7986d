"""Plots: training curves, experiment curves, confusion matrices, reconstructions, circuit diagrams."""
from hybridkeras.viz.plots import (
    plot_circuit,
    plot_confusion_matrix,
    plot_experiment_curves,
    plot_history,
    plot_reconstructions,
    save_figure,
)

__all__ = [
    "plot_circuit", "plot_confusion_matrix", "plot_experiment_curves", "plot_history", "plot_reconstructions",
    "save_figure",
]
