"""The state-vector engine (backend='statevector') against TFQ and Cirq: outputs, gradients, saving across backends."""
import cirq
import numpy as np
import pytest

import hybridkeras as hk
from hybridkeras._compat import tf
from hybridkeras.circuits import feature_map_circuit, lcqhnn_circuit, make_symbols
from hybridkeras.engines import StateVectorCircuit, UnsupportedGateError
from hybridkeras.layers import EncodedPQC, LCQHNNBlock, ParallelPQC, QuantumFeatureMap, Quanvolution2D
from tests.helpers import run_python

LAYERS = {
    "parallel-Y": (lambda b: ParallelPQC(2, 5, depth=3, backend=b), (4, 10), "normal"),
    "parallel-Z-embedY": (lambda b: ParallelPQC(3, 3, depth=2, readout="Z", embedding="Y", backend=b), (4, 9), "normal"),
    "quanv": (lambda b: Quanvolution2D(2, backend=b), (2, 4, 4, 1), "uniform"),
    "quanv-3x3-Y": (lambda b: Quanvolution2D(3, rotation="Y", backend=b), (1, 6, 6, 1), "uniform"),
    "lcqhnn-Z": (lambda b: LCQHNNBlock(4, backend=b), (5, 4), "normal"),
    "lcqhnn-probs": (lambda b: LCQHNNBlock(4, readout="probs", backend=b), (5, 4), "normal"),
    "student-amplitude-3": (lambda b: EncodedPQC(3, backend=b), (5, 8), "normal"),
    "student-amplitude-4": (lambda b: EncodedPQC(4, depth=1, backend=b), (3, 16), "normal"),
    "student-angle": (lambda b: EncodedPQC(4, encoding="angle", backend=b), (5, 4), "normal"),
    "feature-map-Z": (lambda b: QuantumFeatureMap(5, backend=b), (4, 10), "uniform"),
    "feature-map-probs": (lambda b: QuantumFeatureMap(5, readout="probs", backend=b), (4, 5), "uniform"),
    "feature-map-X": (lambda b: QuantumFeatureMap(5, readout="X", backend=b), (4, 5), "uniform"),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_engine_equals_tfq_in_outputs_and_gradients(name, rng):
    make, shape, kind = LAYERS[name]
    x = (rng.uniform(0.02, 0.98, size=shape) if kind == "uniform" else rng.normal(size=shape)).astype(np.float32)
    tfq_layer, engine_layer = make("tfq"), make("statevector")
    tfq_layer(x)
    engine_layer(x)
    engine_layer.set_weights(tfq_layer.get_weights())
    assert engine_layer.backend == "statevector" and engine_layer.get_config()["backend"] == "statevector"
    inputs = tf.constant(x)
    results = []
    for layer in (tfq_layer, engine_layer):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(inputs)
            out = layer(inputs)
            mix = tf.constant(np.random.default_rng(7).normal(size=out.shape[1:]).astype(np.float32))
            loss = tf.reduce_sum(out * mix)
        grads = [tape.gradient(loss, inputs)] + [tape.gradient(loss, w) for w in layer.trainable_weights]
        results.append((out.numpy(), [g.numpy() for g in grads]))
    (out_a, grads_a), (out_b, grads_b) = results
    np.testing.assert_allclose(out_b, out_a, atol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_allclose(gb, ga, atol=1e-4, rtol=1e-3)


def test_engine_equals_cirq_for_the_builders(rng):
    qubits = cirq.LineQubit.range(4)
    x, theta = make_symbols("x", 4), make_symbols("t", 4)
    circuit = lcqhnn_circuit(qubits, x, theta)
    values = rng.normal(size=(3, 8))
    engine = StateVectorCircuit(circuit, x + theta, "probs", qubits=qubits)
    out = engine(values.astype(np.float32)).numpy()
    for row in range(3):
        resolver = cirq.ParamResolver(dict(zip(x + theta, values[row])))
        state = cirq.Simulator(dtype=np.complex128).simulate(circuit, resolver, qubit_order=qubits).final_state_vector
        np.testing.assert_allclose(out[row], np.abs(state) ** 2, atol=1e-5)
    measured = feature_map_circuit(qubits, x, measure=True)  # measurements are ignored, not an error
    assert StateVectorCircuit(measured, x, "probs", qubits=qubits)(np.zeros((1, 4), np.float32)).shape == (1, 16)


def test_engine_errors_name_the_backend_to_use():
    q = cirq.LineQubit(0)
    s = make_symbols("x", 1)[0]
    with pytest.raises(UnsupportedGateError, match="affine"):
        StateVectorCircuit(cirq.Circuit(cirq.rx(s**2).on(q)), [s], "probs")
    with pytest.raises(UnsupportedGateError, match="backend='tfq'"):
        StateVectorCircuit(cirq.Circuit(cirq.depolarize(0.1).on(q)), [s], "probs")
    with pytest.raises(ValueError, match="at most 20 qubits"):
        StateVectorCircuit(cirq.Circuit(cirq.H.on_each(*cirq.LineQubit.range(21))), [], "probs")
    with pytest.raises(ValueError, match="shot sampling .* backend='tfq'"):
        ParallelPQC(2, 2, repetitions=100, differentiator="parameter_shift", backend="statevector")
    with pytest.raises(ValueError, match="parameter-shift rule runs on backend='tfq'"):
        LCQHNNBlock(4, differentiator="parameter_shift", backend="statevector")
    with pytest.raises(ValueError, match="backend"):
        LCQHNNBlock(4, backend="qsim")


def test_global_default_backend():
    assert hk.get_backend() == "tfq"
    try:
        hk.set_backend("statevector")
        assert LCQHNNBlock(4).backend == "statevector"
        assert LCQHNNBlock(4, backend="tfq").backend == "tfq"
    finally:
        hk.set_backend("tfq")
    with pytest.raises(ValueError, match="backend"):
        hk.set_backend("gpu")


def test_saved_with_tfq_loads_on_the_engine_and_back(tmp_path, tiny_images):
    hk.keras.utils.set_random_seed(0)
    model = hk.models.build_hqnn_parallel((28, 28, 1), 10, qubits=3, depth=2, circuits=2, filters=(4, 8))
    expected = model.predict(tiny_images[:16], verbose=0)
    hk.save_model(model, tmp_path / "tfq")
    np.save(tmp_path / "x.npy", tiny_images[:16])
    out = run_python(f"""
        import numpy as np, hybridkeras as hk
        model = hk.load_model({str(tmp_path / 'tfq')!r}, backend="statevector")
        print(model.get_layer("parallel_pqc").backend)
        np.save({str(tmp_path / 'engine.npy')!r}, model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))
        hk.save_model(model, {str(tmp_path / 'engine')!r})
        back = hk.load_model({str(tmp_path / 'engine')!r}, backend="tfq")
        print(back.get_layer("parallel_pqc").backend)
        np.save({str(tmp_path / 'back.npy')!r}, back.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))
    """)
    assert out.split() == ["statevector", "tfq"]
    np.testing.assert_allclose(np.load(tmp_path / "engine.npy"), expected, atol=1e-5)
    np.testing.assert_array_equal(np.load(tmp_path / "back.npy"), expected)


def test_cli_backend_flag_builds_engine_layers(tmp_path):
    from tests.test_cli import hybridkeras as cli

    done = cli("train", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--backend", "statevector", "--epochs", "1",
               "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    export = tmp_path / "saved_models" / "hqnn-parallel-tiny" / "hqnn-parallel" / "seed0" / "model"
    assert hk.load_model(export).get_layer("parallel_pqc").backend == "statevector"
