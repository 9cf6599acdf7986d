"""Shared fixtures: seeds, the local MNIST folder, tiny data."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import hybridkeras  # noqa: F401
from hybridkeras import keras

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("HYBRIDKERAS_TEST_MNIST", REPO.parent / "shared" / "data" / "mnist"))


SLOW_TIMEOUT = 3600  # seconds: a paper-sized test marked slow gets an hour unless it names its own limit


def pytest_collection_modifyitems(config, items):
    """Slow tests get `SLOW_TIMEOUT` instead of setup.cfg's per-test limit (pytest-timeout). A case run on TFQ's ops
    (a ``backend`` or ``simulator`` parameter 'tfq') is skipped, with the reason, where they cannot run: Keras on
    another backend than TensorFlow, or TFQ not installed (Python 3.13)."""
    from tests.backends import TFQ_USABLE

    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if not TFQ_USABLE and "tfq" in (params.get("backend"), params.get("simulator")):
            item.add_marker(pytest.mark.skip(reason="runs TFQ's ops: Keras' TensorFlow backend with TensorFlow Quantum "
                                                    "installed (the [tfq] extra, Python 3.11/3.12)"))


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
