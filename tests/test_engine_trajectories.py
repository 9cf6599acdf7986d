"""Noise by trajectories (`engines.trajectories`, ``noise={..., "trajectories": N}``) on whichever Keras backend runs
the suite: the mean of N trajectories within 4σ of the exact density-matrix values (and of closed forms at 14
qubits, beyond density matrices), seeded and independent across rows and calls, gradients near the exact ones, and
the errors where the mode stops.
"""
import cirq
import numpy as np
import pytest
import sympy
from keras import ops as K

from hybridkeras.circuits.noise import as_noise
from hybridkeras.engines.density import DensityMatrixCircuit
from hybridkeras.engines.ops import gradient
from hybridkeras.engines.simulators import make_simulation
from hybridkeras.engines.trajectories import TrajectoryCircuit
from hybridkeras.layers import PQC

T = 3000


def _circuit():
    q = cirq.LineQubit.range(4)
    a, w = sympy.symbols("a w")
    circuit = cirq.Circuit(cirq.ry(a).on_each(*q), cirq.CNOT(q[0], q[1]), cirq.rx(w).on(q[2]), cirq.CZ(q[2], q[3]),
                           cirq.H(q[1]))
    noisy = as_noise({"depolarize": 0.05, "phase_damp": 0.2, "bit_flip": 0.03}).apply(circuit)
    noisy += cirq.depolarize(0.2, n_qubits=2).on(q[0], q[3])
    noisy += cirq.asymmetric_depolarize(0.1, 0.05, 0.02).on(q[2])
    operators = [cirq.Z(q[0]), cirq.X(q[1]) * cirq.Z(q[2]), 0.5 * cirq.Z(q[3]) - 0.25 * cirq.Y(q[2])]
    return q, (a, w), noisy, operators


def _bound(operators, trajectories):
    """4σ of a mean of ``trajectories`` values each within ±Σ|c| of the operator."""
    scale = np.array([sum(abs(complex(t.coefficient)) for t in (o if isinstance(o, cirq.PauliSum) else [o]))
                      for o in operators])
    return 4 * scale / np.sqrt(trajectories)


def test_trajectory_means_lie_within_four_sigma_of_the_density_matrix():
    q, (a, w), noisy, operators = _circuit()
    x = np.array([[0.3, 1.1], [1.7, -0.4], [2.5, 0.9], [0.3, 1.1]], np.float32)
    exact = K.convert_to_numpy(DensityMatrixCircuit(noisy, [a, w], operators)(x))
    engine = TrajectoryCircuit(noisy, [a, w], operators, trajectories=T, seed=5)
    first, second = K.convert_to_numpy(engine(x)), K.convert_to_numpy(engine(x))
    for estimate in (first, second):
        assert np.all(np.abs(estimate - exact) <= _bound(operators, T)[None])
    assert not np.array_equal(first, second)  # new draws at every call
    assert not np.array_equal(first[0], first[3])  # equal rows draw independently
    again = K.convert_to_numpy(TrajectoryCircuit(noisy, [a, w], operators, trajectories=T, seed=5)(x))
    np.testing.assert_array_equal(again, first)  # the seed fixes the draws
    shared = TrajectoryCircuit(noisy, [a, w], operators, trajectories=T, seed=6, shared=1)
    split = K.convert_to_numpy(shared(x[:, :1], np.array([[1.1]], np.float32)))
    exact_split = K.convert_to_numpy(DensityMatrixCircuit(noisy, [a, w], operators, shared=1)(
        x[:, :1], np.array([[1.1]], np.float32)))
    assert np.all(np.abs(split - exact_split) <= _bound(operators, T)[None])


def test_trajectory_gradients_are_near_the_exact_gradients():
    q, (a, w), noisy, operators = _circuit()
    x = K.convert_to_tensor(np.array([[0.3, 1.1], [1.7, -0.4]], np.float32))
    mix = K.convert_to_tensor(np.array([[1.0, -0.5, 2.0], [0.3, 1.0, -1.0]], np.float32))
    exact = DensityMatrixCircuit(noisy, [a, w], operators)
    sampled = TrajectoryCircuit(noisy, [a, w], operators, trajectories=8000, seed=7)
    g_exact = K.convert_to_numpy(gradient(lambda v: K.sum(exact(v) * mix), x))
    g_sampled = K.convert_to_numpy(gradient(lambda v: K.sum(sampled(v) * mix), x))
    assert np.abs(g_exact).max() > 0.1
    np.testing.assert_allclose(g_sampled, g_exact, atol=0.08)  # ~4σ of the mean of 8,000 trajectory gradients


def test_fourteen_qubits_beyond_density_matrices_match_the_closed_form():
    """RY(θ) on each of 14 qubits, depolarising p after the moment: ⟨Z_q⟩ = (1 − 4p/3) cos θ exactly."""
    qubits = cirq.LineQubit.range(14)
    theta = sympy.Symbol("theta")
    circuit = cirq.Circuit(cirq.ry(theta).on_each(*qubits))
    noise = as_noise({"depolarize": 0.3, "trajectories": 400})
    with pytest.raises(ValueError, match="at most 12 qubits"):
        make_simulation("engine", circuit, [theta], [cirq.Z(q) for q in qubits], noise=as_noise({"depolarize": 0.3}))
    engine = make_simulation("engine", circuit, [theta], [cirq.Z(q) for q in qubits], noise=noise, seed=2)
    values = np.array([[0.4], [2.0]], np.float32)
    got = K.convert_to_numpy(engine(values))
    expected = (1 - 4 * 0.3 / 3) * np.cos(values)
    assert np.all(np.abs(got - expected) <= 4 / np.sqrt(400))


def test_readout_error_with_trajectories_equals_density_matrices_within_four_sigma():
    q, (a, w), noisy, operators = _circuit()
    x = np.array([[0.3, 1.1], [1.7, -0.4]], np.float32)
    spec = {"readout": [0.03, 0.08]}
    exact = K.convert_to_numpy(make_simulation("engine", noisy, [a, w], operators, noise=as_noise(spec))(x))
    sampled = K.convert_to_numpy(make_simulation("engine", noisy, [a, w], operators, seed=3,
                                                 noise=as_noise(dict(spec, trajectories=T)))(x))
    assert np.all(np.abs(sampled - exact) <= _bound(operators, T)[None])


def test_pqc_with_trajectories_saves_them_in_its_config():
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.rx(sympy.Symbol("a")).on(q[0]), cirq.CNOT(*q))
    layer = PQC(circuit, [cirq.Z(q[1])], noise={"depolarize": 0.1, "trajectories": T})
    clean = PQC(circuit, [cirq.Z(q[1])], noise={"depolarize": 0.1})
    clean.set_weights(layer.get_weights())
    zero = np.zeros((1, 0), np.float32)
    assert abs(K.convert_to_numpy(layer(zero))[0, 0] - K.convert_to_numpy(clean(zero))[0, 0]) <= 4 / np.sqrt(T)
    assert layer.get_config()["noise"] == {"depolarize": 0.1, "trajectories": T}
    assert PQC.from_config(layer.get_config()).noise.trajectories == T


def test_where_trajectories_stop():
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.amplitude_damp(0.1).on(q[0]))
    with pytest.raises(ValueError, match="not a mixture of unitaries"):
        TrajectoryCircuit(circuit, [], [cirq.Z(q[0])], trajectories=10)
    with pytest.raises(ValueError, match="'trajectories' must be a positive int"):
        as_noise({"depolarize": 0.1, "trajectories": 0})
    with pytest.raises(ValueError, match="shots on top of them"):
        TrajectoryCircuit(cirq.Circuit(cirq.H(q[0]), cirq.depolarize(0.1).on(q[0])), [], [cirq.Z(q[0])],
                          trajectories=10, repetitions=100)
    with pytest.raises(ValueError, match="Readout error on probabilities"):
        make_simulation("engine", cirq.Circuit(cirq.H(q[0])), [], "probs",
                        noise=as_noise({"readout": 0.1, "trajectories": 10}))
