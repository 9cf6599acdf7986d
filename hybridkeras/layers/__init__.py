"""Keras layers (tf_keras) that wrap TensorFlow Quantum, plus fitted feature transforms."""
from hybridkeras.layers.feature_map import QuantumFeatureMap
from hybridkeras.layers.preprocessing import MinMaxScaling, PadFeatures, PCAProjection

CUSTOM_OBJECTS = {
    "hybridkeras>QuantumFeatureMap": QuantumFeatureMap,
    "hybridkeras>PCAProjection": PCAProjection,
    "hybridkeras>MinMaxScaling": MinMaxScaling,
    "hybridkeras>PadFeatures": PadFeatures,
}

__all__ = ["CUSTOM_OBJECTS", "MinMaxScaling", "PCAProjection", "PadFeatures", "QuantumFeatureMap"]
