"""hybridkeras: hybrid quantum-classical image classifiers on TensorFlow Quantum and tf_keras."""
from setuptools import setup

setup()
