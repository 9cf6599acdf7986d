"""Keras layers: any Cirq circuit (`PQC`, `ControlledPQC`, `Expectation`, ...), the papers' quantum layers built
on them, and fitted feature transforms.

Where hybridkeras runs on Keras 2 (`hybridkeras._stack`) these are tf_keras layers, on TFQ or the engine.
Where it runs on Keras 3 they are the Keras 3 layers of `layers.keras3` (the same bodies, on the engine,
on Keras 3's backend, or TFQ's ops through the simulator seam), with TFQ's general layers (`layers.general`).
"""
from hybridkeras._stack import KERAS_VERSION

if KERAS_VERSION == 3:
    from hybridkeras.layers.keras3 import (LAYERS, ClassProbabilities, EncodedPQC, ImageRange, LCQHNNBlock, LogitAverage,
                                           MinMaxScaling, PadFeatures, PCAProjection, ParallelPQC, QuantumFeatureMap,
                                           Quanvolution2D, SigmoidPairLogits)

    from hybridkeras.layers.general import (GENERAL_LAYERS, AddCircuit, CircuitLayer, ControlledPQC, Expectation, PQC,
                                            Sample, SampledExpectation, State)

    CUSTOM_OBJECTS = {f"hybridkeras>{c.__name__}": c for c in LAYERS + GENERAL_LAYERS}
    __all__ = ["AddCircuit", "CUSTOM_OBJECTS", "CircuitLayer", "ClassProbabilities", "ControlledPQC", "EncodedPQC",
               "Expectation", "ImageRange", "LCQHNNBlock", "LogitAverage", "MinMaxScaling", "PCAProjection", "PQC",
               "PadFeatures", "ParallelPQC", "QuantumFeatureMap", "Quanvolution2D", "Sample", "SampledExpectation",
               "SigmoidPairLogits", "State"]

    # names of the tf_keras namespace that Keras 3 does not have, and what to use instead
    _NOT_ON_KERAS3 = {
        "QuantumLayer": "the Keras 3 base of the general circuit layers is hybridkeras.layers.CircuitLayer",
    }

    def __getattr__(name):
        if name in _NOT_ON_KERAS3:
            raise AttributeError(f"hybridkeras.layers.{name} is not available on Keras 3: {_NOT_ON_KERAS3[name]}")
        raise AttributeError(f"module 'hybridkeras.layers' has no attribute {name!r}")
else:
    from hybridkeras.layers.base import QuantumLayer
    from hybridkeras.layers.circuit_layers import AddCircuit, ControlledPQC, Expectation, PQC, Sample, SampledExpectation, State
    from hybridkeras.layers.ensemble import LogitAverage
    from hybridkeras.layers.feature_map import QuantumFeatureMap
    from hybridkeras.layers.lcqhnn import LCQHNNBlock
    from hybridkeras.layers.parallel_pqc import ParallelPQC
    from hybridkeras.layers.preprocessing import ImageRange, MinMaxScaling, PadFeatures, PCAProjection
    from hybridkeras.layers.quanvolution import Quanvolution2D
    from hybridkeras.layers.student import ClassProbabilities, EncodedPQC, SigmoidPairLogits

    CUSTOM_OBJECTS = {
        **{f"hybridkeras>{c.__name__}": c for c in (AddCircuit, ControlledPQC, Expectation, PQC, Sample, SampledExpectation,
                                                   State)},
        "hybridkeras>QuantumFeatureMap": QuantumFeatureMap,
        "hybridkeras>ParallelPQC": ParallelPQC,
        "hybridkeras>LCQHNNBlock": LCQHNNBlock,
        "hybridkeras>EncodedPQC": EncodedPQC,
        "hybridkeras>ClassProbabilities": ClassProbabilities,
        "hybridkeras>Quanvolution2D": Quanvolution2D,
        "hybridkeras>PCAProjection": PCAProjection,
        "hybridkeras>MinMaxScaling": MinMaxScaling,
        "hybridkeras>PadFeatures": PadFeatures,
        "hybridkeras>ImageRange": ImageRange,
        "hybridkeras>SigmoidPairLogits": SigmoidPairLogits,
        "hybridkeras>LogitAverage": LogitAverage,
    }

    __all__ = [
        "AddCircuit", "ControlledPQC", "Expectation", "PQC", "Sample", "SampledExpectation", "State",
        "CUSTOM_OBJECTS", "ClassProbabilities", "EncodedPQC", "ImageRange", "LCQHNNBlock", "LogitAverage", "MinMaxScaling", "PCAProjection", "PadFeatures", "ParallelPQC", "QuantumFeatureMap",
        "QuantumLayer", "Quanvolution2D", "SigmoidPairLogits",
    ]
