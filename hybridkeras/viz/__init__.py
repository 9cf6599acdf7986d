"""Plots: training curves, experiment curves, confusion matrices, reconstructions, circuit diagrams, Grad-CAM."""
from hybridkeras.viz.gradcam import GradCAM, grad_cam, plot_grad_cam, plot_grad_cam_snapshots
from hybridkeras.viz.plots import (
    plot_circuit,
    plot_confusion_matrix,
    plot_experiment_curves,
    plot_history,
    plot_noise_robustness,
    plot_reconstructions,
    save_figure,
)

__all__ = [
    "GradCAM", "grad_cam", "plot_grad_cam", "plot_grad_cam_snapshots",
    "plot_circuit", "plot_confusion_matrix", "plot_experiment_curves", "plot_history", "plot_noise_robustness", "plot_reconstructions",
    "save_figure",
]
