"""The quantum layers as Keras 3 layers: the same bodies as the tf_keras layers of `hybridkeras.layers`,
on Keras 3's `Layer`, running the state-vector engine on whichever backend Keras 3 runs (TensorFlow,
JAX or PyTorch; set ``KERAS_BACKEND`` before Python starts). They save to `.keras` files and load
with ``keras.saving.load_model(path)`` (``safe_mode=True``) once this module is imported.

    import keras
    from hybridkeras.layers import keras3 as hq

    model = keras.Sequential([keras.Input((20,)), hq.ParallelPQC(4, 5), keras.layers.Dense(10)])
"""
from __future__ import annotations

from hybridkeras.layers.base import keras3_layer
from hybridkeras.layers.ensemble import LogitAverageBody
from hybridkeras.layers.feature_map import QuantumFeatureMapBody
from hybridkeras.layers.lcqhnn import LCQHNNBlockBody
from hybridkeras.layers.parallel_pqc import ParallelPQCBody
from hybridkeras.layers.preprocessing import ImageRangeBody, MinMaxScalingBody, PadFeaturesBody, PCAProjectionBody
from hybridkeras.layers.quanvolution import Quanvolution2DBody
from hybridkeras.layers.student import ClassProbabilitiesBody, EncodedPQCBody, SigmoidPairLogitsBody


ParallelPQC = keras3_layer(ParallelPQCBody, __name__)
LCQHNNBlock = keras3_layer(LCQHNNBlockBody, __name__)
Quanvolution2D = keras3_layer(Quanvolution2DBody, __name__)
QuantumFeatureMap = keras3_layer(QuantumFeatureMapBody, __name__)
EncodedPQC = keras3_layer(EncodedPQCBody, __name__)
ClassProbabilities = keras3_layer(ClassProbabilitiesBody, __name__, plain=True)
SigmoidPairLogits = keras3_layer(SigmoidPairLogitsBody, __name__, plain=True)
PCAProjection = keras3_layer(PCAProjectionBody, __name__, plain=True)
MinMaxScaling = keras3_layer(MinMaxScalingBody, __name__, plain=True)
PadFeatures = keras3_layer(PadFeaturesBody, __name__, plain=True)
ImageRange = keras3_layer(ImageRangeBody, __name__, plain=True)
LogitAverage = keras3_layer(LogitAverageBody, __name__, plain=True)

LAYERS = (ParallelPQC, LCQHNNBlock, Quanvolution2D, QuantumFeatureMap, EncodedPQC, ClassProbabilities, SigmoidPairLogits,
          PCAProjection, MinMaxScaling, PadFeatures, ImageRange, LogitAverage)

__all__ = ["ClassProbabilities", "EncodedPQC", "ImageRange", "LAYERS", "LCQHNNBlock", "LogitAverage", "MinMaxScaling",
           "PCAProjection", "PadFeatures", "ParallelPQC", "QuantumFeatureMap", "Quanvolution2D", "SigmoidPairLogits"]
