"""Keras layers (tf_keras) that wrap TensorFlow Quantum, plus fitted feature transforms."""
from hybridkeras.layers.feature_map import QuantumFeatureMap
from hybridkeras.layers.lcqhnn import LCQHNNBlock
from hybridkeras.layers.parallel_pqc import ParallelPQC
from hybridkeras.layers.preprocessing import MinMaxScaling, PadFeatures, PCAProjection
from hybridkeras.layers.quanvolution import Quanvolution2D

CUSTOM_OBJECTS = {
    "hybridkeras>QuantumFeatureMap": QuantumFeatureMap,
    "hybridkeras>ParallelPQC": ParallelPQC,
    "hybridkeras>LCQHNNBlock": LCQHNNBlock,
    "hybridkeras>Quanvolution2D": Quanvolution2D,
    "hybridkeras>PCAProjection": PCAProjection,
    "hybridkeras>MinMaxScaling": MinMaxScaling,
    "hybridkeras>PadFeatures": PadFeatures,
}

__all__ = [
    "CUSTOM_OBJECTS", "LCQHNNBlock", "MinMaxScaling", "PCAProjection", "PadFeatures", "ParallelPQC", "QuantumFeatureMap",
    "Quanvolution2D",
]
