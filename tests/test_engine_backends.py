"""The state-vector engine on Keras 3's three backends (TensorFlow, JAX, PyTorch): the same random
circuits, run in one subprocess per backend (`tests/engine_backend_worker.py`), against
cirq.Simulator (states, probabilities, expectations: 1e-5), central finite differences of the
Cirq reference (gradients: 1e-4), each other (outputs 1e-5, gradients 1e-4), and, for shots,
within 5σ of the exact probabilities with fresh draws at every call.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.backends import BACKENDS
from tests.engine_backend_worker import SHOTS, case
from tests.engine_circuits import reference_expectations, reference_state
from tests.helpers import numeric_gradient

CASES = [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (8, 7), (9, 9)]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """{backend: npz of every case}, each backend in a fresh process with KERAS_BACKEND set."""
    folder = tmp_path_factory.mktemp("engine_backends")
    out = {}
    for backend in BACKENDS:
        path = folder / f"{backend}.npz"
        env = dict(os.environ, KERAS_BACKEND=backend)
        done = subprocess.run([sys.executable, "-m", "tests.engine_backend_worker", str(path),
                               *[f"{seed}:{n}" for seed, n in CASES]], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        out[backend] = np.load(path)
        assert str(out[backend]["backend"]) == backend
    return out


def _reference(c):
    full = np.concatenate([c["x"], np.tile(c["w"], (c["rows"], 1))], axis=1).astype(np.float64)
    return full, [reference_state(c["circuit"], c["symbols"], row, c["qubits"]) for row in full]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed,n", CASES)
def test_each_backend_equals_cirq(results, backend, seed, n):
    c, got = case(seed, n), results[backend]
    _, states = _reference(c)
    key = f"{seed}_{n}_"
    for row, state in enumerate(states):
        np.testing.assert_allclose(got[key + "state"][row], state, atol=1e-5)
        np.testing.assert_allclose(got[key + "probs"][row], np.abs(state) ** 2, atol=1e-5)
        np.testing.assert_allclose(got[key + "values"][row], reference_expectations(state, c["operators"], c["qubits"]),
                                   atol=1e-5)
        np.testing.assert_allclose(got[key + "common"][row], reference_expectations(state, c["common"], c["qubits"]),
                                   atol=1e-5)


@pytest.mark.parametrize("seed,n", [case_ for case_ in CASES if case_[1] <= 6])
def test_each_backend_gradient_equals_finite_differences(results, seed, n):
    c = case(seed, n)
    x, w, rows = c["x"].astype(np.float64), c["w"].astype(np.float64), c["rows"]

    def loss(x, w):
        full = np.concatenate([x, np.tile(w, (rows, 1))], axis=1)
        return sum(float(reference_expectations(reference_state(c["circuit"], c["symbols"], full[r], c["qubits"]),
                                                c["operators"], c["qubits"]) @ c["mix"][r]) for r in range(len(full)))

    numeric = {"x": numeric_gradient(lambda v: loss(v, w), x, eps=1e-4),
               "w": numeric_gradient(lambda v: loss(x, v), w, eps=1e-4)}
    for backend in BACKENDS:
        for name in ("x", "w"):
            np.testing.assert_allclose(results[backend][f"{seed}_{n}_grad_{name}"], numeric[name], atol=1e-4,
                                       err_msg=f"{backend}, d/d{name}")


@pytest.mark.parametrize("seed,n", CASES)
def test_backends_agree_with_each_other(results, seed, n):
    key = f"{seed}_{n}_"
    for backend in BACKENDS[1:]:
        for part, atol in (("state", 1e-5), ("probs", 1e-5), ("values", 1e-5), ("common", 1e-5),
                           ("grad_x", 1e-4), ("grad_w", 1e-4)):
            np.testing.assert_allclose(results[backend][key + part], results["tensorflow"][key + part], atol=atol,
                                       err_msg=f"{backend} vs tensorflow: {part}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_draws_shots_from_the_exact_distribution(results, backend):
    for seed, n in CASES:
        key = f"{seed}_{n}_"
        exact, shots = results[backend][key + "probs"], results[backend][key + "shots"]
        sigma = np.sqrt(exact * (1 - exact) / SHOTS) + 1e-12
        assert np.all(np.abs(shots - exact[None]) <= 5 * sigma + 1.0 / SHOTS), (backend, seed, n)
        np.testing.assert_allclose(shots.sum(axis=-1), 1.0, atol=1e-6)
        assert not np.array_equal(shots[0], shots[1])  # each call draws new shots
        varied = exact.max(axis=1) < 0.99
        if varied.sum() >= 2:  # rows draw independently: equal distributions would not give equal counts
            assert not np.array_equal(shots[0][varied][0], shots[0][varied][1])
