"""HyperModels by model name, for `tune_experiment` and `hybridkeras tune`."""
from __future__ import annotations

from hybridkeras.tuning.hqnn import HQNNParallelHyperModel, HQNNQuanvHyperModel
from hybridkeras.tuning.lcqhnn import LCQHNNHyperModel

HYPERMODELS = {
    "hqnn-parallel": lambda shape, classes: HQNNParallelHyperModel(shape, classes, quantum=True),
    "hqnn-parallel-cnn": lambda shape, classes: HQNNParallelHyperModel(shape, classes, quantum=False),
    "hqnn-quanv": lambda shape, classes: HQNNQuanvHyperModel(shape, classes),
    "lcqhnn": lambda shape, classes: LCQHNNHyperModel(shape, classes, quantum=True),
    "lcqhnn-cnn": lambda shape, classes: LCQHNNHyperModel(shape, classes, quantum=False),
}
