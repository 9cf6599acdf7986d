"""HyperModels by model name, for `tune_experiment` and `hybridkeras tune`."""
from __future__ import annotations

from hybridkeras.tuning.hqnn import HQNNParallelHyperModel, HQNNQuanvHyperModel
from hybridkeras.tuning.lcqhnn import LCQHNNHyperModel

# name -> f(input_shape, num_classes, *, backend=None) -> HyperModel
HYPERMODELS = {
    "hqnn-parallel": lambda shape, classes, **kw: HQNNParallelHyperModel(shape, classes, quantum=True, **kw),
    "hqnn-parallel-cnn": lambda shape, classes, **kw: HQNNParallelHyperModel(shape, classes, quantum=False, **kw),
    "hqnn-quanv": lambda shape, classes, **kw: HQNNQuanvHyperModel(shape, classes, **kw),
    "lcqhnn": lambda shape, classes, **kw: LCQHNNHyperModel(shape, classes, quantum=True, **kw),
    "lcqhnn-cnn": lambda shape, classes, **kw: LCQHNNHyperModel(shape, classes, quantum=False, **kw),
}
