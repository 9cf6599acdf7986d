"""Shared fixtures: seeds, the local MNIST folder, tiny data."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import hybridkeras  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from hybridkeras import keras

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("HYBRIDKERAS_TEST_MNIST", REPO.parent / "shared" / "data" / "mnist"))


SLOW_TIMEOUT = 3600  # seconds: a paper-sized test marked slow gets an hour unless it names its own limit


def pytest_collection_modifyitems(config, items):
    """Slow tests get `SLOW_TIMEOUT` instead of setup.cfg's per-test limit (pytest-timeout)."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


@pytest.fixture
def seed():
    keras.utils.set_random_seed(0)
    return 0


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST digits not found at {MNIST_DIR} (set HYBRIDKERAS_TEST_MNIST)")
    return MNIST_DIR


@pytest.fixture(scope="session")
def tiny_images():
    """32 MNIST-shaped images in [0, 1] from the bundled sample."""
    from hybridkeras.data import read_idx

    images = read_idx(hybridkeras.data.loaders.SAMPLE_DIR / "images-idx3-ubyte.gz")[:32]
    return (images[..., None] / 255.0).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
