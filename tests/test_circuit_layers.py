"""The general circuit layers (hybridkeras.layers.PQC, ControlledPQC, Expectation, ...) against TFQ's layers of the
same names, on both backends: outputs, gradients, both call forms, shots, saving, refusals and errors."""
import cirq
import numpy as np
import pytest
import sympy

import hybridkeras as hk
from hybridkeras import keras
from hybridkeras._compat import tf, tfq
from hybridkeras.engines import UnsupportedGateError
from hybridkeras.io import ModelLoadError, UnknownLayerError, UnsavableModelError
from tests.engine_circuits import random_operators, register, symbols_for, tfq_random_circuit
from tests.helpers import run_python

BACKENDS = ("tfq", "statevector")
CASES = [(n, kind, seed) for seed, (n, kind) in enumerate([(1, "line"), (2, "grid"), (3, "line"), (4, "gapped"),
                                                           (5, "grid"), (6, "line")])]


def _case(n, kind, seed, symbols=3):
    rng = np.random.default_rng(100 + seed)
    qubits = register(n, kind)
    syms = symbols_for(symbols)
    circuit = tfq_random_circuit(rng, qubits, syms)
    operators = random_operators(rng, qubits, 3)
    data = [cirq.Circuit(cirq.X(qubits[int(i)]), cirq.H(qubits[-1])) for i in rng.integers(0, n, 4)]
    return rng, qubits, syms, circuit, operators, data


def _value_and_grads(fn, variables):
    with tf.GradientTape(persistent=True) as tape:
        for v in variables:
            tape.watch(v)
        out = fn()
        mix = tf.constant(np.random.default_rng(7).normal(size=out.shape[1:]).astype(np.float32))
        loss = tf.reduce_sum(out * mix)
    return out.numpy(), [tape.gradient(loss, v).numpy() for v in variables]


def _assert_same(ours, theirs):
    (out_a, grads_a), (out_b, grads_b) = ours, theirs
    np.testing.assert_allclose(out_a, out_b, atol=1e-5)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_allclose(ga, gb, atol=1e-4, rtol=1e-3)


@pytest.mark.parametrize("n,kind,seed", CASES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_pqc_equals_tfq_in_outputs_and_gradients(n, kind, seed, backend):
    _, _, _, circuit, operators, data = _case(n, kind, seed)
    inputs = tfq.convert_to_tensor(data)
    ours, theirs = hk.layers.PQC(circuit, operators, backend=backend), tfq.layers.PQC(circuit, operators)
    theirs.set_weights(ours.get_weights())
    assert ours.symbols == theirs.symbols
    _assert_same(_value_and_grads(lambda: ours(inputs), [ours.parameters]),
                 _value_and_grads(lambda: theirs(inputs), [theirs.parameters]))


@pytest.mark.parametrize("n,kind,seed", CASES[1:5])
@pytest.mark.parametrize("backend", BACKENDS)
def test_controlled_pqc_equals_tfq_in_outputs_and_gradients(n, kind, seed, backend):
    rng, _, syms, circuit, operators, data = _case(n, kind, seed)
    inputs = tfq.convert_to_tensor(data)
    values = tf.constant(rng.normal(size=(4, len(syms))), tf.float32)
    ours, theirs = hk.layers.ControlledPQC(circuit, operators, backend=backend), tfq.layers.ControlledPQC(circuit, operators)
    _assert_same(_value_and_grads(lambda: ours([inputs, values]), [values]),
                 _value_and_grads(lambda: theirs([inputs, values]), [values]))


@pytest.mark.parametrize("form", ["python", "tensor"])
@pytest.mark.parametrize("n,kind,seed", CASES[1:5])
@pytest.mark.parametrize("backend", BACKENDS)
def test_expectation_equals_tfq_in_both_call_forms(n, kind, seed, backend, form):
    """A Python circuit (compiled into the graph) and a tensor of circuits with symbols (run per distinct circuit)."""
    rng, _, syms, circuit, operators, _ = _case(n, kind, seed)
    values = tf.constant(rng.normal(size=(4, len(syms))), tf.float32)
    other = tfq_random_circuit(rng, sorted(circuit.all_qubits()), syms)  # a second structure in the same batch
    inputs = circuit if form == "python" else tfq.convert_to_tensor([circuit, other, circuit, other])
    names = list(reversed(syms))  # any order, as in TFQ
    shuffled = tf.reverse(values, axis=[1])
    ours = hk.layers.Expectation(backend=backend)
    theirs = tfq.layers.Expectation()
    _assert_same(_value_and_grads(lambda: ours(inputs, symbol_names=names, symbol_values=shuffled, operators=operators),
                                  [shuffled]),
                 _value_and_grads(lambda: theirs(inputs, symbol_names=names, symbol_values=shuffled, operators=operators),
                                  [shuffled]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_expectation_with_learnable_symbols_and_tensor_operators(backend, rng):
    q = cirq.GridQubit.rect(1, 2)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(cirq.rx(a)(q[0]), cirq.CNOT(*q), cirq.ry(b)(q[1]))
    ops = tfq.convert_to_tensor([[cirq.Z(q[0]), cirq.X(q[1]) * cirq.Z(q[0])]] * 2)
    ours, theirs = hk.layers.Expectation(backend=backend), tfq.layers.Expectation()
    out = ours([circuit, circuit], symbol_names=[a, b], operators=ops)
    assert [w.name.split(":")[0].split("/")[-1] for w in ours.weights] == ["circuit_learnable_parameters"]
    theirs([circuit, circuit], symbol_names=[a, b], operators=ops)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(out.numpy(), theirs([circuit, circuit], symbol_names=[a, b], operators=ops).numpy(),
                               atol=1e-5)


@pytest.mark.parametrize("form", ["python", "tensor"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_state_equals_tfq(backend, form):
    rng, _, syms, circuit, _, _ = _case(3, "grid", 3)
    values = tf.constant(rng.normal(size=(3, len(syms))), tf.float32)
    inputs = circuit if form == "python" else tfq.convert_to_tensor([circuit] * 3)
    ours = hk.layers.State(backend=backend)(inputs, symbol_names=syms, symbol_values=values)
    theirs = tfq.layers.State()(inputs, symbol_names=syms, symbol_values=values)
    assert isinstance(ours, tf.RaggedTensor) and ours.dtype == tf.complex64
    np.testing.assert_allclose(ours.to_tensor().numpy(), theirs.to_tensor().numpy(), atol=1e-5)


def _exact_probabilities(circuit, syms, values):
    resolver = cirq.ParamResolver(dict(zip(syms, values)))
    qubits = sorted(circuit.all_qubits())
    state = cirq.Simulator(dtype=np.complex128).simulate(circuit, resolver, qubit_order=qubits).final_state_vector
    return np.abs(state) ** 2


@pytest.mark.parametrize("form", ["python", "tensor"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_sample_frequencies_match_exact_probabilities(backend, form):
    """Bitstring frequencies within 4σ of cirq's probabilities per outcome; rows and calls draw different shots."""
    rng, _, syms, circuit, _, _ = _case(3, "line", 2)
    values = rng.normal(size=(2, len(syms))).astype(np.float32)
    inputs = circuit if form == "python" else tfq.convert_to_tensor([circuit] * 2)
    layer, shots = hk.layers.Sample(backend=backend), 4000
    bits = layer(inputs, symbol_names=syms, symbol_values=tf.constant(values), repetitions=shots)
    assert isinstance(bits, tf.RaggedTensor) and bits.dtype == tf.int8 and bits.shape[:2] == (2, shots)
    bits = bits.to_tensor().numpy().astype(int)
    index = bits @ (2 ** np.arange(bits.shape[-1])[::-1])
    for row in range(2):
        p = _exact_probabilities(circuit, syms, values[row])
        freq = np.bincount(index[row], minlength=len(p)) / shots
        assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / shots) + 1e-3), (freq, p)
    again = layer(inputs, symbol_names=syms, symbol_values=tf.constant(values), repetitions=shots).to_tensor().numpy()
    assert not np.array_equal(again, bits)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_expectation_is_unbiased_within_its_error(backend):
    rng, _, syms, circuit, operators, _ = _case(3, "grid", 4)
    values = tf.constant(rng.normal(size=(6, len(syms))), tf.float32)
    shots = 3000
    exact = hk.layers.Expectation(backend="statevector")(circuit, symbol_names=syms, symbol_values=values,
                                                        operators=operators).numpy()
    layer = hk.layers.SampledExpectation(backend=backend)
    sampled = layer(circuit, symbol_names=syms, symbol_values=values, operators=operators, repetitions=shots).numpy()
    norms = np.array([sum(abs(term.coefficient) for term in cirq.PauliSum.wrap(op)) for op in operators])
    # each term is estimated from its own shots (TFQ) or jointly: |error| ≤ 4·Σ|c_k|/sqrt(N) either way
    assert np.all(np.abs(sampled - exact) <= 4 * norms / np.sqrt(shots) + 1e-6)
    assert np.abs(sampled - exact).max() > 0  # really sampled
    assert layer.get_config()["repetitions"] == shots


@pytest.mark.parametrize("backend", BACKENDS)
def test_engine_prepares_each_distinct_input_circuit_once(backend):
    q = cirq.GridQubit.rect(1, 3)
    a = sympy.Symbol("a")
    layer = hk.layers.PQC(cirq.Circuit(cirq.rx(a)(q[0]), cirq.CNOT(q[0], q[1]), cirq.I(q[2])), cirq.Z(q[1]),
                          backend=backend)
    circuits = [cirq.Circuit(cirq.X(q[i % 3])) for i in range(9)]  # three distinct circuits
    data = tfq.convert_to_tensor(circuits)
    model = keras.Sequential([keras.Input(shape=(), dtype=tf.string), layer])
    model.compile(loss="mse", optimizer="adam")
    model.fit(data, np.zeros((9, 1), np.float32), batch_size=3, epochs=3, verbose=0)
    if backend == "statevector":
        assert layer._run._cache.prepared == 3


def test_models_train_the_same_on_both_backends():
    q = cirq.GridQubit.rect(1, 2)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(cirq.ry(a)(q[0]), cirq.CNOT(*q), cirq.rx(b)(q[1]))
    data = tfq.convert_to_tensor([cirq.Circuit(cirq.X(q[0])) if i % 2 else cirq.Circuit() for i in range(8)])
    y = np.where(np.arange(8) % 2, 1.0, -1.0).astype(np.float32)
    histories = []
    for backend in BACKENDS:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input(shape=(), dtype=tf.string),
                                  hk.layers.PQC(circuit, [cirq.Z(q[1])], backend=backend)])
        model.compile(loss=keras.losses.Hinge(), optimizer=keras.optimizers.Adam(0.05))
        histories.append(model.fit(data, y, batch_size=4, epochs=8, verbose=0, shuffle=False).history["loss"])
    np.testing.assert_allclose(histories[0], histories[1], atol=1e-5)
    assert histories[0][-1] < histories[0][0]


# ------------------------------------------------------------------------------------------------- saving
def _models(backend):
    q = cirq.GridQubit.rect(1, 2)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(cirq.rx(a)(q[0]), cirq.CNOT(*q), cirq.ry(b)(q[1]))
    ops = [cirq.Z(q[0]), cirq.X(q[1]) + 0.5 * cirq.Z(q[0]) * cirq.Y(q[1])]
    sequential = keras.Sequential([keras.Input(shape=(), dtype=tf.string),
                                   hk.layers.AddCircuit(prepend=cirq.Circuit(cirq.H(q[1]))),
                                   hk.layers.PQC(circuit, ops, backend=backend, regularizer="l2"),
                                   keras.layers.Dense(1)])
    circuits, values = keras.Input(shape=(), dtype=tf.string), keras.Input(shape=(2,))
    prepended = hk.layers.AddCircuit()(circuits, prepend=cirq.Circuit(cirq.H(q[1])))
    parts = [hk.layers.ControlledPQC(circuit, ops, backend=backend)([prepended, values]),
             hk.layers.Expectation(backend=backend)(circuit, symbol_names=[a, b], symbol_values=values, operators=ops),
             hk.layers.SampledExpectation(backend=backend)(circuit, symbol_names=[a, b], symbol_values=values,
                                                          operators=ops[0], repetitions=50),
             _AbsState()(hk.layers.State(backend=backend)(circuit, symbol_names=[a, b], symbol_values=values))]
    functional = keras.Model([circuits, values], keras.layers.Concatenate()(parts))
    whole = keras.Input(shape=(), dtype=tf.string)  # circuits with symbols, the symbols' values the layer's weights
    learnable = keras.Model(whole, hk.layers.Expectation(backend=backend)(whole, symbol_names=[b, a], operators=ops))
    data = tfq.convert_to_tensor([cirq.Circuit(cirq.X(q[0])), cirq.Circuit(cirq.Y(q[1])), cirq.Circuit()])
    return sequential, functional, learnable, data, np.array([[0.1, 0.2], [0.3, -0.4], [1.0, 2.0]], np.float32)


def _whole_circuits():
    q = cirq.GridQubit.rect(1, 2)
    a, b = sympy.symbols("a b")
    model = cirq.Circuit(cirq.rx(a)(q[0]), cirq.CNOT(*q), cirq.ry(b)(q[1]))
    return tfq.convert_to_tensor([cirq.Circuit(cirq.X(q[0])) + model, cirq.Circuit(cirq.H(q[1])) + model])


@keras.utils.register_keras_serializable(package="tests")
class _AbsState(keras.layers.Layer):
    def call(self, state):
        return tf.abs(state.to_tensor() if isinstance(state, tf.RaggedTensor) else state)


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_load_in_a_fresh_process_predicts_equal_values(backend, tmp_path):
    sequential, functional, learnable, data, values = _models(backend)
    np.save(tmp_path / "values.npy", values)
    expected = {"sequential": sequential.predict(data, verbose=0),
                "functional": functional.predict([data, values], verbose=0),
                "learnable": learnable.predict(_whole_circuits(), verbose=0)}
    for name, model in (("sequential", sequential), ("functional", functional), ("learnable", learnable)):
        hk.save_model(model, tmp_path / name)
    run_python(f"""
        import numpy as np, cirq, tf_keras, hybridkeras as hk
        from hybridkeras._compat import tf, tfq
        from tests.test_circuit_layers import _whole_circuits  # also registers the test's _AbsState layer
        q = cirq.GridQubit.rect(1, 2)
        data = tfq.convert_to_tensor([cirq.Circuit(cirq.X(q[0])), cirq.Circuit(cirq.Y(q[1])), cirq.Circuit()])
        values = np.load({str(tmp_path / 'values.npy')!r})
        for tag, load in (("hk", hk.load_model), ("tfk", tf_keras.models.load_model)):
            s = load({str(tmp_path / 'sequential')!r}); f = load({str(tmp_path / 'functional')!r})
            np.save({str(tmp_path)!r} + f"/sequential_{{tag}}.npy", s.predict(data, verbose=0))
            np.save({str(tmp_path)!r} + f"/functional_{{tag}}.npy", f.predict([data, values], verbose=0))
            learnable = load({str(tmp_path / 'learnable')!r})
            np.save({str(tmp_path)!r} + f"/learnable_{{tag}}.npy", learnable.predict(_whole_circuits(), verbose=0))
    """)
    for tag in ("hk", "tfk"):
        np.testing.assert_allclose(np.load(tmp_path / f"sequential_{tag}.npy"), expected["sequential"], atol=1e-6)
        np.testing.assert_allclose(np.load(tmp_path / f"learnable_{tag}.npy"), expected["learnable"], atol=1e-6)
        loaded = np.load(tmp_path / f"functional_{tag}.npy")
        exact = np.delete(np.arange(loaded.shape[1]), [4])  # column 4: the sampled expectation (new shots)
        np.testing.assert_allclose(loaded[:, exact], expected["functional"][:, exact], atol=1e-6)
        assert np.all(np.abs(loaded[:, 4]) <= 1.0 + 1e-6) and loaded.shape == expected["functional"].shape


def test_configs_hold_cirq_json_and_rebuild_equal_layers():
    q = cirq.LineQubit.range(2)
    a = sympy.Symbol("a")
    layer = hk.layers.PQC(cirq.Circuit(cirq.rx(a)(q[0]), cirq.CZ(*q)), [cirq.X(q[1])], backend="statevector",
                          constraint="non_neg")
    config = layer.get_config()
    assert isinstance(config["model_circuit"], str) and '"cirq_type": "Circuit"' in config["model_circuit"]
    assert cirq.read_json(json_text=config["operators"]) == [cirq.PauliSum.wrap(cirq.X(q[1]))] or \
        cirq.read_json(json_text=config["operators"]) == [cirq.X(q[1])]
    rebuilt = hk.layers.PQC.from_config(config)
    rebuilt.set_weights(layer.get_weights())
    data = tfq.convert_to_tensor([cirq.Circuit(cirq.H(q[1]))])
    np.testing.assert_array_equal(rebuilt(data).numpy(), layer(data).numpy())
    assert rebuilt.backend == "statevector" and type(rebuilt.constraint).__name__ == "NonNeg"


# ------------------------------------------------------------------------------------------------ refusals
def _tfq_model():
    q = cirq.GridQubit.rect(1, 2)
    circuit = cirq.Circuit(cirq.rx(sympy.Symbol("a"))(q[0]), cirq.CNOT(*q))
    return keras.Model(*(lambda i: (i, tfq.layers.PQC(circuit, cirq.Z(q[1]))(i)))(keras.Input(shape=(), dtype=tf.string)))


def test_save_model_refuses_a_layer_without_config_before_writing(tmp_path):
    """Issue 27's report: tfq.layers.PQC in a functional model was saved, then failed to load as 'corrupt'."""
    with pytest.raises(UnsavableModelError, match=r"'pqc.*has no config.*hybridkeras\.layers\.PQC"):
        hk.save_model(_tfq_model(), tmp_path / "m1")
    assert not any(tmp_path.iterdir())


def test_loading_an_export_without_configs_says_so_not_corrupt(tmp_path):
    _tfq_model().save(str(tmp_path / "m1"), save_format="tf", save_traces=False)  # what tf_keras writes unasked
    with pytest.raises(UnknownLayerError, match="without a config") as info:
        hk.load_model(tmp_path / "m1")
    assert "corrupt" not in str(info.value)
    assert isinstance(info.value, ModelLoadError)


# ------------------------------------------------------------------------------------------------- errors
def test_bad_inputs_get_one_clear_error_each():
    q = cirq.GridQubit.rect(1, 3)
    a, b = sympy.symbols("a b")
    circuit = cirq.Circuit(cirq.rx(a)(q[0]), cirq.CNOT(q[0], q[1]))
    with pytest.raises(UnsupportedGateError, match=r"depolarize.*backend='tfq'"):
        hk.layers.PQC(circuit + cirq.depolarize(0.1)(q[1]), cirq.Z(q[0]), backend="statevector")
    with pytest.raises(ValueError, match=r"`operators` act on \[cirq.GridQubit\(0, 2\)\]"):
        hk.layers.PQC(circuit, cirq.Z(q[2]))
    with pytest.raises(ValueError, match="no sympy.Symbols"):
        hk.layers.PQC(cirq.Circuit(cirq.X(q[0])), cirq.Z(q[0]))
    with pytest.raises(TypeError, match="model_circuit must be a cirq.Circuit"):
        hk.layers.PQC("not a circuit", cirq.Z(q[0]))
    with pytest.raises(TypeError, match="`operators` must be a cirq.PauliSum"):
        hk.layers.PQC(circuit, "Z")
    with pytest.raises(TypeError, match="`differentiator` must be"):
        hk.layers.PQC(circuit, cirq.Z(q[0]), differentiator=tfq.differentiators.ForwardDifference())
    layer = hk.layers.Expectation(backend="statevector")
    with pytest.raises(ValueError, match=r"`symbol_names` holds \['c'\], which the circuit lacks"):
        layer(circuit, symbol_names=["a", "c"], symbol_values=[[0.1, 0.2]], operators=cirq.Z(q[0]))
    with pytest.raises(ValueError, match=r"\['a'\] appear more than once"):
        layer(circuit, symbol_names=["a", "a"], symbol_values=[[0.1, 0.2]], operators=cirq.Z(q[0]))
    with pytest.raises(ValueError, match=r"symbols \['a'\], which `symbol_names` does not give"):
        layer(circuit + cirq.ry(b)(q[1]), symbol_names=["b"], symbol_values=[[0.1]], operators=cirq.Z(q[0]))
    pqc = hk.layers.PQC(circuit, cirq.Z(q[1]), backend="statevector")
    with pytest.raises(TypeError, match="tf.string tensor.*dtype float32"):
        pqc(tf.zeros([2]))
    with pytest.raises(ValueError, match="of rank 1.*shape \\(2, 1\\)"):
        pqc(tf.constant([[b""], [b""]]))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match=r"outside the layer's register"):  # eager: ValueError
        pqc(tfq.convert_to_tensor([cirq.Circuit(cirq.X(cirq.GridQubit(5, 5)))]))
    mixed = tfq.convert_to_tensor([cirq.Circuit(cirq.rx(a)(q[0])), cirq.Circuit(cirq.rx(a)(q[0]), cirq.X(q[1]))])
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="one qubit set in a batch"):
        hk.layers.State(backend="statevector")(mixed, symbol_names=[a], symbol_values=[[0.1], [0.2]])
    with pytest.raises(ValueError, match="`symbol_values` must have shape \\(batch, 1\\)"):
        hk.layers.Expectation()(circuit, symbol_names=[a], symbol_values=tf.zeros([2, 3]), operators=cirq.Z(q[0]))
    with pytest.raises(ValueError, match="needs `repetitions`"):
        hk.layers.Sample()(circuit, symbol_names=[a], symbol_values=[[0.1]])
