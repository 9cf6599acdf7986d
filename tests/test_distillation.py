"""Paper 4: amplitude encoding, quantum students, teachers, the Distiller and the runner."""
import json

import cirq
import numpy as np
import pytest

import keras

import hybridkeras as hk
from hybridkeras._stack import tf
from hybridkeras.circuits import amplitude_angles, amplitude_encoding, make_symbols
from hybridkeras.layers import ClassProbabilities, EncodedPQC
from hybridkeras.layers.student import amplitude_angles_tf, amplitude_encoded_state
from hybridkeras.models import (
    build_alexnet,
    build_ensemble,
    build_lenet,
    build_quantum_student,
    build_student_3q,
    build_student_4q,
    compile_for,
)
from hybridkeras.training import Distiller
from hybridkeras.io import is_export
from hybridkeras.training.distillation import distill
from tests.backends import needs_tfq, tensorflow_only
from tests.helpers import (
    assert_gradients_match_finite_differences, assert_fresh_process_reload_identical, reference_student_probs, trainable,
)


def _prepared_state(angles, n):
    qubits = cirq.LineQubit.range(n)
    symbols = make_symbols("a", 2**n - 1)
    circuit = amplitude_encoding(qubits, symbols)
    resolver = cirq.ParamResolver({s: float(a) for s, a in zip(symbols, angles)})
    return cirq.Simulator(dtype=np.complex128).simulate(circuit, resolver, qubit_order=qubits).final_state_vector


# ---------------------------------------------------------------- amplitude encoding


@pytest.mark.parametrize("n", [2, 3, 4])
def test_amplitude_encoding_prepares_the_normalised_target_state(rng, n):
    cases = [rng.normal(size=2**n) for _ in range(6)]
    cases.append(np.tanh(rng.normal(size=2**n)))  # what the students feed it
    zeros = rng.normal(size=2**n)
    zeros[: 2 ** (n - 1)] = 0.0  # a whole half of the vector empty
    cases.append(zeros)
    for x in cases:
        target = x / np.linalg.norm(x)
        for angles in (amplitude_angles(x), np.asarray(amplitude_angles_tf(x[None].astype(np.float32), n))[0]):
            state = _prepared_state(angles, n)
            assert abs(np.vdot(target, state)) ** 2 >= 0.9999
            np.testing.assert_allclose(state.real, target, atol=1e-5)  # signs included, no phase


@pytest.mark.parametrize("n", [2, 3, 4])
def test_the_engine_start_state_is_the_state_the_encoding_gates_prepare(rng, n):
    """`amplitude_encoded_state` (the engine's start for amplitude students: the normalised features in a few
    operations) equals Cirq running the encoding's gates at `amplitude_angles_tf`'s angles, blank features
    included (the angles' fallback state, not a zero vector), and passes zero gradients for those."""
    cases = [rng.normal(size=2**n), np.tanh(rng.normal(size=2**n)), np.zeros(2**n)]
    cases[1][: 2 ** (n - 1)] = 0.0  # a whole half empty
    x = np.stack(cases).astype(np.float32)
    got = keras.ops.convert_to_numpy(amplitude_encoded_state(x, n))
    angles = keras.ops.convert_to_numpy(amplitude_angles_tf(x, n))
    for row in range(len(x)):
        np.testing.assert_allclose(got[row], _prepared_state(angles[row], n).real, atol=1e-5)
    from hybridkeras.engines.ops import gradient
    weights = keras.ops.convert_to_tensor(np.arange(2**n, dtype=np.float32))
    blank = gradient(lambda v: keras.ops.sum(amplitude_encoded_state(v, n) * weights), x[2:3])
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(blank), 0.0)


def test_amplitude_encoding_validates_its_arguments():
    with pytest.raises(ValueError, match="2\\^n − 1 = 7"):
        amplitude_encoding(cirq.LineQubit.range(3), make_symbols("a", 8))
    with pytest.raises(ValueError, match="2\\^n"):
        amplitude_angles(np.ones(6))


@pytest.mark.parametrize("backend", ["tfq", "statevector"])
@pytest.mark.parametrize("encoding, n", [("amplitude", 3), ("amplitude", 4), ("angle", 3), ("angle", 4)])
def test_student_circuit_matches_an_independent_simulation(rng, encoding, n, backend):
    layer = EncodedPQC(n, encoding=encoding, depth=2, backend=backend)
    x = np.tanh(rng.normal(size=(4, layer.features))).astype(np.float32)
    out = np.asarray(layer(x))
    weights = np.asarray(layer.circuit_weights).astype(np.float64)
    for row in range(len(x)):
        np.testing.assert_allclose(out[row], reference_student_probs(x[row], weights, encoding), atol=1e-5)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)


@tensorflow_only
@pytest.mark.parametrize("backend", ["tfq", "statevector"])
@pytest.mark.parametrize("encoding", ["amplitude", "angle"])
def test_student_circuit_gradients_match_finite_differences(rng, encoding, backend):
    layer = EncodedPQC(3, encoding=encoding, depth=1, backend=backend)
    x0 = np.tanh(rng.normal(size=(2, layer.features))).astype(np.float32)
    layer(x0)
    mix = tf.constant(rng.normal(size=(1, 8)).astype(np.float32))
    assert_gradients_match_finite_differences(layer, layer.circuit_weights, x0, mix)


@tensorflow_only
@pytest.mark.parametrize("backend", ["tfq", "statevector"])
def test_a_blank_image_trains_the_amplitude_students(backend):
    """A blank image gives all-zero features through the zero-bias front (tanh(0) = 0): the encoding's
    last-level atan2(0, 0) had a NaN gradient, so the first training step on such a batch failed."""
    student = build_student_3q(backend=backend)
    images = np.zeros((4, 28, 28, 1), np.float32)
    images[1:] = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(np.arange(4), student(images)))
    grads = tape.gradient(loss, student.trainable_weights)
    assert np.isfinite(np.asarray(loss)) and all(np.isfinite(np.asarray(g)).all() for g in grads)
    assert np.abs(np.asarray(grads[0])).max() > 0  # the front still learns


@tensorflow_only
def test_gradients_flow_from_the_loss_to_the_classical_front(mnist_dir):
    data = hk.data.load("mnist", mnist_dir, classes=tuple(range(6)), train_size=60, test_size=30)
    student = build_student_4q(data.input_shape, 6)
    with tf.GradientTape() as tape:
        probabilities = student(data.x_train[:16])
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(data.y_train[:16], probabilities))
    front = student.get_layer("features").kernel
    grad = tape.gradient(loss, [front, student.get_layer("circuit").circuit_weights])
    assert all(g is not None and np.isfinite(np.asarray(g)).all() and np.abs(np.asarray(g)).max() > 1e-5 for g in grad)


@pytest.mark.parametrize("backend", ["tfq", "statevector"])
def test_sampled_probabilities_are_within_shot_noise(rng, backend):
    exact = EncodedPQC(3, backend=backend)
    sampled = EncodedPQC(3, repetitions=5000, backend=backend,
                         differentiator="parameter_shift" if backend == "tfq" else None)
    x = rng.normal(size=(3, 8)).astype(np.float32)
    expected = np.asarray(exact(x))
    sampled(x)
    sampled.circuit_weights.assign(exact.circuit_weights)
    # TFQ: each probability is a Walsh combination of 7 ⟨Z_S⟩ estimates, each with σ ≤ 1/√5000; the engine: a
    # frequency of 5000 shots (σ ≤ 1/(2√5000), well inside the same bound)
    got = np.asarray(sampled(x))
    assert np.abs(got - expected).max() < 4 * np.sqrt(7) / 8 / np.sqrt(5000) * 2
    assert np.abs(got - expected).max() > 0  # really sampled


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(qubits=0), ValueError, "qubits"),
        (dict(encoding="basis"), ValueError, "encoding"),
        (dict(depth=0), ValueError, "depth"),
        (dict(repetitions=100), ValueError, "differentiator"),
    ],
)
def test_student_layer_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        EncodedPQC(**kwargs)


def test_student_layer_rejects_wrong_feature_counts():
    with pytest.raises(ValueError, match=r"2\*\*qubits = 8 for amplitude"):
        EncodedPQC(3).build((None, 3))
    with pytest.raises(ValueError, match="qubits = 3 for angle"):
        EncodedPQC(3, encoding="angle").build((None, 8))


def test_class_probabilities_renormalise_the_first_states():
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.5, 0.5]], np.float32)
    out = np.asarray(ClassProbabilities(2)(p))
    np.testing.assert_allclose(out[0], [1 / 3, 2 / 3], atol=1e-6)
    np.testing.assert_allclose(out[1], [0.5, 0.5], atol=1e-6)
    with pytest.raises(ValueError, match="too few"):
        ClassProbabilities(5).build((None, 4))
    with pytest.raises(ValueError, match="2\\*\\*qubits ≥ num_classes"):
        build_quantum_student((28, 28, 1), 10, qubits=3)


# ---------------------------------------------------------------- models


@pytest.mark.parametrize(
    "build, expected",
    [
        # conv 156 + conv 2,416 + FC 400→120 48,120 + FC 120→84 10,164 + FC 84→10 850
        (lambda: build_lenet((28, 28, 1), 10), 61_706),
        # conv 640 + 110,784 + 663,936 + FC 18,816→4096 77,074,432 + FC 4096→4096 16,781,312 + FC 4096→10 40,970
        (lambda: build_alexnet((28, 28, 1), 10), 94_672_074),
        (lambda: build_student_3q((28, 28, 1), 8), 784 * 8 + 8 + 2 * 3 * 2),
        (lambda: build_student_4q((28, 28, 1), 8), 784 * 16 + 16 + 2 * 4 * 2),
        (lambda: build_student_3q((28, 28, 1), 8, encoding="angle"), 784 * 3 + 3 + 2 * 3 * 2),
    ],
)
def test_pinned_parameter_counts(build, expected):
    assert trainable(build()) == expected


def test_ensemble_averages_member_probabilities(tiny_images):
    a, b = build_lenet((28, 28, 1), 4), build_alexnet((28, 28, 1), 4, fc_units=16)
    ensemble = build_ensemble([a, b])
    expected = (a.predict(tiny_images[:5], verbose=0) + b.predict(tiny_images[:5], verbose=0)) / 2
    np.testing.assert_allclose(ensemble.predict(tiny_images[:5], verbose=0), expected, atol=1e-6)
    assert trainable(ensemble) == trainable(a) + trainable(b)
    with pytest.raises(ValueError, match="share input and output shapes"):
        build_ensemble([a, build_lenet((28, 28, 1), 5)])


# ---------------------------------------------------------------- the Distiller


@pytest.fixture(scope="module")
def digits4():
    return hk.data.load("digits", classes=(0, 1, 2, 3), resize=(16, 16), train_size=120, val_size=24, test_size=60)


@pytest.fixture(scope="module")
def lenet_teacher(digits4):
    hk.keras.utils.set_random_seed(0)
    teacher = compile_for(build_lenet(digits4.input_shape, 4))
    teacher.fit(digits4.x_train, digits4.y_train, epochs=8, batch_size=16, verbose=0)
    return teacher


@pytest.mark.parametrize("cache_teacher", [True, False])
def test_teacher_stays_fixed_and_student_learns(digits4, lenet_teacher, cache_teacher):
    student = build_student_3q(digits4.input_shape, 4)
    teacher_before = [w.copy() for w in lenet_teacher.get_weights()]
    student_before = [w.copy() for w in student.get_weights()]
    distiller = distill(student, lenet_teacher, digits4, epochs=2, batch_size=16, verbose=0,
                        cache_teacher=cache_teacher)
    for before, after in zip(teacher_before, lenet_teacher.get_weights()):
        np.testing.assert_array_equal(before, after)
    changed = [not np.array_equal(b, a) for b, a in zip(student_before, student.get_weights())]
    assert all(changed)  # every student weight, the circuit's included, moved
    assert {"loss", "student_loss", "distillation_loss", "accuracy", "val_accuracy"} <= set(distiller.history.history)


def test_cached_teacher_outputs_give_the_same_student(digits4, lenet_teacher):
    predictions = []
    for cache in (True, False):
        hk.keras.utils.set_random_seed(3)
        student = build_student_3q(digits4.input_shape, 4)
        distill(student, lenet_teacher, digits4, epochs=2, batch_size=16, verbose=0, cache_teacher=cache)
        predictions.append(student.predict(digits4.x_test, verbose=0))
    # float32: teacher outputs computed in other batch groupings differ in the last bits, and two epochs carry that
    # (2.8e-6 seen on a loaded machine); a wrong cache would move predictions by orders of magnitude more
    np.testing.assert_allclose(predictions[0], predictions[1], atol=1e-5)


@tensorflow_only
def test_distillation_loss_follows_the_formula(digits4, lenet_teacher, rng):
    student = build_student_3q(digits4.input_shape, 4)
    distiller = Distiller(student, lenet_teacher, temperature=3.0, alpha=0.9)
    x, y = digits4.x_train[:8], digits4.y_train[:8]
    s, t = np.asarray(student(x)).astype(np.float64), np.asarray(lenet_teacher(x)).astype(np.float64)
    total, ce, kl = (float(np.mean(v)) for v in distiller._loss_terms(tf.constant(y), tf.constant(s, tf.float32),
                                                              tf.constant(t, tf.float32)))

    def soft(p):
        z = np.log(np.clip(p, 1e-7, 1.0)) / 3.0
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    expected_ce = -np.mean(np.log(s[np.arange(8), y]))
    pt, ps = soft(t), soft(s)
    expected_kl = np.mean(np.sum(pt * np.log(np.clip(pt, 1e-7, 1) / np.clip(ps, 1e-7, 1)), axis=1))
    assert ce == pytest.approx(expected_ce, rel=1e-4)
    assert kl == pytest.approx(expected_kl, rel=1e-3, abs=1e-6)
    assert total == pytest.approx(0.1 * expected_ce + 0.9 * 9 * expected_kl, rel=1e-3)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(temperature=0.0), ValueError, "temperature"),
        (dict(alpha=1.5), ValueError, "alpha"),
        (dict(teacher_outputs="scores"), ValueError, "teacher_outputs"),
    ],
)
def test_distiller_validation(digits4, lenet_teacher, kwargs, error, match):
    with pytest.raises(error, match=match):
        Distiller(build_student_3q(digits4.input_shape, 4), lenet_teacher, **kwargs)


def test_distiller_rejects_mismatched_models(digits4, lenet_teacher):
    with pytest.raises(ValueError, match="predicts 4 classes and the student has 3 outputs"):
        Distiller(build_student_3q(digits4.input_shape, 3), lenet_teacher)
    assert Distiller(build_student_3q(digits4.input_shape, 6), lenet_teacher).classes == 4  # KD on the first 4
    with pytest.raises(TypeError, match="must be Keras models"):
        Distiller(object(), lenet_teacher)


def test_students_teachers_and_ensemble_reload_in_a_fresh_process(digits4, lenet_teacher, tmp_path):
    hk.keras.utils.set_random_seed(0)
    alexnet = compile_for(build_alexnet(digits4.input_shape, 4, fc_units=32))
    alexnet.fit(digits4.x_train, digits4.y_train, epochs=1, verbose=0)
    models = {
        "lenet": lenet_teacher,
        "alexnet": alexnet,
        "ensemble": compile_for(build_ensemble([lenet_teacher, alexnet])),
        "student-3q": build_student_3q(digits4.input_shape, 4),
        "student-4q-angle-dense": build_student_4q(digits4.input_shape, 4, encoding="angle", head="dense"),
    }
    distill(models["student-3q"], models["ensemble"], digits4, epochs=1, verbose=0)
    assert_fresh_process_reload_identical(tmp_path, models, digits4.x_test[:20])


# ---------------------------------------------------------------- the runner


def test_tiny_distillation_table_has_the_papers_shape_and_resumes(tmp_path):
    config = hk.training.get_config("distill-tiny")
    result = hk.training.run_distillation(config, tmp_path / "run", verbose=0)
    assert [(r["student"], r["teacher"]) for r in result.rows] == [
        (s, t) for s in config.students for t in ("lenet", "alexnet", "ensemble")]
    for row in result.rows:
        assert row["gain_mean"] == pytest.approx(row["distilled_mean"] - row["student_alone_mean"], abs=1e-9)
    assert "| student-3q |" in result.markdown and "gain (points)" in result.markdown
    assert is_export(tmp_path / "run" / "seed0" / "student-4q" / "from-ensemble" / "model")
    again = hk.training.run_distillation(config, tmp_path / "run", verbose=0)  # finished runs are reused
    assert again.rows == result.rows
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["rows"]) == 6


@pytest.mark.parametrize("field, value, expected", [
    ("temperature", -1.0, "a finite number > 0"), ("alpha", 1.5, r"a number in \[0, 1\]"),
    ("epochs", 0, "a positive int"), ("learning_rate", float("nan"), "a finite number > 0"),
    ("per_class", 2.5, "a positive int"), ("seeds", (), r"a non-empty tuple of int seeds \(the config lists no seeds otherwise; CLI: --seeds 0\)"),
])
def test_bad_settings_are_refused_before_any_teacher_is_trained(tmp_path, field, value, expected):
    """`run_distillation(config.replace(temperature=-1))` trained and exported the teachers before failing."""
    from hybridkeras.training import get_config, run_distillation

    with pytest.raises(ValueError, match=rf"`{field}` must be {expected}. Received: {field}="):
        run_distillation(get_config("distill-tiny", **{field: value}), tmp_path / "never", verbose=0)
    assert not (tmp_path / "never").exists()
    for name in ("hqnn-quanv-tiny", "autoencoder-qfm-tiny"):  # every kind of config checks its fields alike
        with pytest.raises(ValueError, match="`batch_size` must be a positive int|`ae_batch_size` must be"):
            get_config(name, **{"batch_size" if name.startswith("hqnn") else "ae_batch_size": -3})


# ---- the distillation authors' protocol: its pieces (issue 14) ----

@pytest.mark.parametrize("backend", ["statevector", "tfq"])
def test_depth_zero_angle_circuit_probabilities_are_the_closed_form(backend):
    """H then RY(θ_k) per qubit, nothing trainable: P(b) = ∏_k (1 + (−1)^(1−b_k) sin θ_k)/2, and a cirq.Simulator
    run of the layer's own circuit agrees."""
    layer = EncodedPQC(3, encoding="angle", depth=0, backend=backend, differentiator=None)
    x = np.random.default_rng(1).uniform(-1, 1, size=(5, 3)).astype(np.float32)
    probs = np.asarray(layer(x))
    assert layer.trainable_weights == [] and layer.count_params() == 0
    theta = np.pi * x
    bits = np.array([[(b >> (2 - k)) & 1 for k in range(3)] for b in range(8)])  # big-endian basis states
    closed = np.prod((1 + np.where(bits[None], 1, -1) * np.sin(theta)[:, None, :]) / 2, axis=-1)
    np.testing.assert_allclose(probs, closed, atol=1e-5)
    simulator = cirq.Simulator(dtype=np.complex128)
    for row in range(len(x)):
        resolver = dict(zip(layer.symbols, x[row].astype(np.float64)))
        state = simulator.simulate(layer.circuit, resolver, qubit_order=layer._qubits).final_state_vector
        np.testing.assert_allclose(probs[row], np.abs(state) ** 2, atol=1e-5)
    assert not any(isinstance(op.gate, cirq.CNotPowGate) for op in layer.circuit.all_operations())


def test_sigmoid_pair_head_and_weighted_loss_equal_numpy(digits4, lenet_teacher):
    from hybridkeras.layers import SigmoidPairLogits
    from hybridkeras.models import build_authors_student
    from hybridkeras.training import Distiller

    p = np.random.default_rng(2).uniform(size=(4, 8)).astype(np.float32)
    s = 1 / (1 + np.exp(-p.astype(np.float64)))
    np.testing.assert_allclose(np.asarray(SigmoidPairLogits()(p)), np.concatenate([s, 1 - s], axis=1), atol=1e-6)

    hk.keras.utils.set_random_seed(0)
    student = build_authors_student(digits4.input_shape, 4, qubits=3, backend="statevector")
    assert student.output_shape == (None, 16)
    t, lam = 3.0, 0.9
    distiller = Distiller(student, lenet_teacher, temperature=t, ce_weight=1.0, kd_weight=lam,
                          student_outputs="logits")
    x, y = digits4.x_train[:6], digits4.y_train[:6]
    z = np.asarray(student(x, training=False)).astype(np.float64)
    teacher_p = np.asarray(lenet_teacher(x, training=False)).astype(np.float64)
    total, ce, kl = (np.mean(np.asarray(v)) for v in distiller._loss_terms(y, student(x, training=False),
                                                              lenet_teacher(x, training=False)))

    def softmax(a):
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    ce_np = np.mean(-np.log(softmax(z)[np.arange(6), y]))
    soft_t = softmax(np.log(np.clip(teacher_p, 1e-7, 1)) / t)
    soft_s = softmax(z[:, :4] / t)  # KD on the first k = 4 logits: sigmoid(p)[:k]
    kl_np = np.mean(np.sum(soft_t * np.log(np.clip(soft_t, 1e-7, 1) / np.clip(soft_s, 1e-7, 1)), axis=1))
    np.testing.assert_allclose([ce, kl, total], [ce_np, kl_np, 1.0 * ce_np + lam * t**2 * kl_np], rtol=1e-5)
    assert abs(softmax(z[:, :4] / t) - 0.25).max() < 0.04  # sigmoid(p) ∈ [0.5, 0.73]: near-uniform soft targets


def test_a_disconnected_kd_term_trains_the_student_exactly_as_cross_entropy(digits4, lenet_teacher):
    """kd_weight=0 (three of the authors' notebooks disconnect the KD term) must leave plain CE training:
    same seed, same weights after training; the teacher stays bit-equal."""
    from hybridkeras.models import build_authors_student
    from hybridkeras.training import Distiller

    before = [w.copy() for w in lenet_teacher.get_weights()]
    trained = []
    for kind in ("distiller", "ce"):
        hk.keras.utils.set_random_seed(7)
        student = build_authors_student(digits4.input_shape, 4, qubits=3, backend="statevector")
        initial = [np.asarray(w) for w in student.weights]
        if kind == "distiller":
            model = Distiller(student, lenet_teacher, temperature=3.0, ce_weight=1.0, kd_weight=0.0,
                              student_outputs="logits")
            model.compile(optimizer=hk.keras.optimizers.Adam(1e-3))
        else:
            model = student
            model.compile(optimizer=hk.keras.optimizers.Adam(1e-3),
                          loss=hk.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        hk.keras.utils.set_random_seed(11)
        model.fit(digits4.x_train[:32], digits4.y_train[:32], batch_size=8, epochs=2, shuffle=False, verbose=0)
        trained.append([np.asarray(w) for w in student.weights])
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert any(np.abs(a - b).max() > 1e-3 for a, b in zip(trained[0], initial))  # it did train
    assert all(np.array_equal(a, b) for a, b in zip(before, lenet_teacher.get_weights()))


def test_classic_lenet_has_the_authors_parameter_count():
    from hybridkeras.models import build_lenet

    model = build_lenet((28, 28, 1), 6, activation="tanh", pooling="average", padding="valid")
    assert model.count_params() == 44_086
    assert any(isinstance(layer, hk.keras.layers.AveragePooling2D) for layer in model.layers)


def test_joint_ensemble_averages_logits_and_trains_every_member(tiny_images):
    """The authors' ensemble: softmax of the members' mean logits, trained as one model."""
    from hybridkeras.models import build_joint_ensemble

    hk.keras.utils.set_random_seed(0)
    ensemble = build_joint_ensemble((28, 28, 1), 4, member_kwargs={"alexnet": {"fc_units": 16}})
    members = [ensemble.get_layer("lenet"), ensemble.get_layer("alexnet")]
    x = tiny_images[:8]
    logs = [np.log(np.clip(m.predict(x, verbose=0), 1e-7, 1.0)) for m in members]
    mean = (logs[0] + logs[1]) / 2
    expected = np.exp(mean - mean.max(1, keepdims=True))
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected / expected.sum(1, keepdims=True), atol=1e-6)
    before = [[w.copy() for w in m.get_weights()] for m in members]
    compile_for(ensemble).fit(x, np.arange(8) % 4, epochs=1, batch_size=8, verbose=0)
    for member, weights in zip(members, before):
        assert not all(np.array_equal(a, b) for a, b in zip(weights, member.get_weights())), member.name
    with pytest.raises(ValueError, match="`members` must be one of"):
        build_joint_ensemble((28, 28, 1), 4, members=("lenet", "resnet"))


def test_authors_protocol_runs_from_the_command_line_with_best_and_final_epochs(tmp_path, mnist_dir):
    """`hybridkeras experiment distill-mnist-6-authors` (shrunk): teachers on the images the student's splits
    leave, the authors' student at batch 1 with CE + λ·T²·KL, per-epoch test accuracy, paired gains."""
    from hybridkeras.cli import main

    out = tmp_path / "authors"
    assert main(["experiment", "distill-mnist-6-authors", "--data-dir", str(mnist_dir), "--per-class", "8",
            "--test-size", "48", "--teachers", "lenet", "--students", "student-authors-3q", "--seeds", "0", "1",
            "--epochs", "2", "--teacher-epochs", "1", "--backend", "statevector", "--output", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    (row,) = summary["rows"]
    assert row["seeds"] == 2 and row["gain_positive"] + row["gain_negative"] + row["gain_zero"] == 2
    for seed in (0, 1):
        runs = {r["role"]: r for r in summary["runs"] if r["seed"] == seed}
        history = json.loads((out / f"seed{seed}" / "student-authors-3q" / "alone" / "history.json").read_text())
        tests = [e["test_accuracy"] for e in history["epochs"].values()]
        assert runs["student-authors-3q"]["best_test_accuracy"] == pytest.approx(max(tests))
        assert runs["student-authors-3q"]["test_accuracy"] == pytest.approx(tests[-1], abs=1e-6)
    record = hk.io.read_record(out / "seed0" / "teachers" / "lenet" / "model")["metadata"]
    assert record["data"]["train_part"] == "rest" and record["data"]["sampling"] == "first"
    config = json.loads((out / "config.json").read_text())
    assert config["batch_size"] == 1 and config["ce_weight"] == 1.0 and config["teacher_data"] == "rest"
    assert "best: gain" in (out / "summary.md").read_text()


@needs_tfq
def test_shots_with_parameter_shift_are_an_option_of_the_authors_configs():
    """`--shots N` makes every student sample its circuit (N shots) and train with the parameter-shift rule."""
    from hybridkeras.cli import _config_from, build_parser

    args = build_parser().parse_args(["experiment", "distill-mnist-8-authors", "--shots", "3000", "--backend", "tfq"])
    config = _config_from(args)
    assert config.student_kwargs == {name: {"repetitions": 3000, "differentiator": "parameter_shift"}
                                     for name in ("student-authors-3q", "student-authors-4q")}
    student = hk.models.build_model("student-authors-3q", (28, 28, 1), 8, backend="tfq",
                                    **config.student_kwargs["student-authors-3q"])
    assert student.get_layer("circuit").simulation == {"backend": "tfq", "repetitions": 3000,
                                                       "differentiator": "parameter_shift", "noise": None}
