"""Keras 3 layers: any Cirq circuit (`PQC`, `ControlledPQC`, `Expectation`, ...), the papers' quantum layers built
on them, and fitted feature transforms.

Every layer runs on Keras' TensorFlow, JAX and PyTorch backends on the state-vector engine, and on TensorFlow
Quantum's ops through the simulator seam where TFQ is installed and Keras runs on TensorFlow. Each is registered
as ``hybridkeras>Name``, so ``keras.saving.load_model`` (``safe_mode=True``) reloads a model holding them once
hybridkeras is imported.
"""
from hybridkeras.layers._backend import (BACKENDS, backend_override, get_backend, noise_override, noise_scope,
                                         set_backend)
from hybridkeras.layers.base import QuantumLayer
from hybridkeras.layers.ensemble import LogitAverage
from hybridkeras.layers.feature_map import QuantumFeatureMap
from hybridkeras.layers.general import (GENERAL_LAYERS, AddCircuit, CircuitLayer, ControlledPQC, Expectation, PQC,
                                        Sample, SampledExpectation, State)
from hybridkeras.layers.lcqhnn import LCQHNNBlock
from hybridkeras.layers.parallel_pqc import ParallelPQC
from hybridkeras.layers.preprocessing import ImageRange, MinMaxScaling, PadFeatures, PCAProjection
from hybridkeras.layers.quanvolution import Quanvolution2D
from hybridkeras.layers.student import ClassProbabilities, EncodedPQC, SigmoidPairLogits

# the papers' layers and the fitted transforms
LAYERS = (ParallelPQC, LCQHNNBlock, Quanvolution2D, QuantumFeatureMap, EncodedPQC, ClassProbabilities, SigmoidPairLogits,
          PCAProjection, MinMaxScaling, PadFeatures, ImageRange, LogitAverage)
CUSTOM_OBJECTS = {f"hybridkeras>{c.__name__}": c for c in LAYERS + GENERAL_LAYERS}

__all__ = ["AddCircuit", "BACKENDS", "CUSTOM_OBJECTS", "CircuitLayer", "ClassProbabilities", "ControlledPQC", "EncodedPQC",
           "Expectation", "GENERAL_LAYERS", "ImageRange", "LAYERS", "LCQHNNBlock", "LogitAverage", "MinMaxScaling",
           "PCAProjection", "PQC", "PadFeatures", "ParallelPQC", "QuantumFeatureMap", "QuantumLayer", "Quanvolution2D",
           "Sample", "SampledExpectation", "SigmoidPairLogits", "State", "backend_override", "get_backend", "noise_override", "noise_scope",
           "set_backend"]
