"""The state-vector engine side by side with TFQ, PennyLane and TensorCircuit-NG, in one process.

Workload (as in the engine issue): one n-qubit circuit — RX angle embedding of the row's n
features, `depth` strongly entangling layers (Rot = RZ·RY·RZ per qubit, CNOT ring of range
l mod (n−1) + 1), ⟨Y⟩ on every qubit — for a batch of rows, forward + backward (gradients of
sum(outputs · mix) with respect to the inputs and the weights). Plus HQNN-Parallel's 4 × 5:
four such 5-qubit circuits with their own weights on consecutive features.

* engine: `ParallelPQC(..., backend='statevector')` in a `tf.function`, timed in two modes: as
  a plain TensorFlow graph, and compiled whole (forward + backward) by XLA
  (``jit_compile=True``), as the JAX peers are by ``jax.jit``. With ``KERAS_BACKEND=jax`` (or
  ``torch``) the engine runs on that Keras 3 backend instead: the same circuit through
  `StateVectorCircuit`, its step ``jax.jit(jax.value_and_grad(...))`` as the JAX peers' (PyTorch:
  eager forward + ``backward()``), the row "engine (jax)" (or "engine (torch)"); TFQ and the
  JAX peers run beside it in the same process, interleaved as always; beside it the column
  "PQC layer (jax)" runs the same circuit as a user writes it on Keras 3: the general layer
  `hybridkeras.layers.general.PQC` (weights as its variables, the embedding as its
  ``input_template``) through ``layer.stateless_call`` in the same ``jax.jit(jax.value_and_grad(...))``
  step, with its own ratio column, and again with ``check_inputs=False`` (no NaN check);
* tfq: `tfq.layers.Expectation` (qsim, adjoint differentiator) on the same Cirq circuit (its
  custom ops cannot be compiled by XLA);
* pennylane: `default.qubit` with the JAX interface, parameter broadcasting over the rows,
  `jax.jit(jax.value_and_grad(...))` (backprop);
* tensorcircuit: TensorCircuit-NG on its JAX backend, `jax.vmap` over rows, `jax.jit(value_and_grad)`.

Every TensorFlow step is traced once into a `ConcreteFunction` and, by default (``--call concrete``),
called as user code calls it, ``concrete(x)``. ``--call flat`` instead calls its `AtomicFunction`'s
flat call (``concrete.inference_fn.call_flat(*inputs, *concrete.captured_inputs)``): the same
compiled function without TensorFlow's Python argument binding (0.05–0.2 ms a call on these
machines) — a private path, never the headline; the floor line below times both. Steps return when their outputs are computed (TensorFlow executes
synchronously; JAX steps end in ``block_until_ready``).

Rounds are interleaved: each round times every simulator once, in a fresh random order, as
the mean of 3 back-to-back steps after one untimed step (so every simulator's worker threads
are awake, as in a training loop, whoever ran before it); the table shows median ms per
step, the ratio of the fastest peer to the engine's faster mode, and the engine's plan +
trace time (graph; XLA: plan + trace + compile): building the layer, tracing the step and
its first call, less the one step that call ran (graph: the lesser of two builds). Outputs are cross-checked against
the engine before timing. A line under the table gives the same ratio paired round by round (the fastest
peer's and the engine's times from one round), its median and quartiles over rounds: how far noise moves it.
A last line times each framework's cheapest possible step (one
matmul), the floor under every simulator built on it, and up to 6 qubits the same circuit
written out by hand in TensorFlow (`handwritten_step`, timed in the same rounds; ``--no-handwritten``
skips it): what plain TensorFlow costs for this circuit with no engine at all. Peers are optional:
``pip install -e ".[bench]"``; a missing one is skipped.

    python benchmarks/simulators.py
    python benchmarks/simulators.py --qubits 2 4 5 6 8 10 12 14 16 --output benchmarks/results/simulators.md
    python benchmarks/simulators.py --call flat    # every TensorFlow step through its private flat call
    KERAS_BACKEND=jax python benchmarks/simulators.py    # the engine on JAX, beside the same peers
"""
from __future__ import annotations

import argparse
import gc
import platform
import time

import keras
import numpy as np

from hybridkeras.circuits import entangling_range, make_symbols, parallel_pqc_circuit, pauli_readout
from hybridkeras.io import write_text_atomic
from hybridkeras.engines import StateVectorCircuit

import tensorflow as tf

try:  # TFQ's own Expectation layer, called as its users call it (Keras' TensorFlow backend)
    import tensorflow_quantum as tfq
except ImportError:
    tfq = None

ENGINE_BACKEND = keras.config.backend()  # the Keras 3 backend the engine runs on (KERAS_BACKEND)
# the engine and the general layers, each step taken as that backend's users take one (`engine_step`, the engine in
# a hand-built `tf.function` with and without XLA, and the hand-written TensorFlow reference stay for their tests)
KERAS3 = True
ENGINES = (f"engine ({ENGINE_BACKEND})",) if KERAS3 else ("engine", "engine XLA")
# the general layer a user writes (hybridkeras.layers.general.PQC) on the same backend, in the same rounds
LAYER = f"PQC layer ({ENGINE_BACKEND})" if KERAS3 else None
LAYER_UNCHECKED = None if LAYER is None else LAYER + ", check_inputs=False"


def tf_caller(concrete, *args, call="flat"):
    """A no-argument callable running `concrete` on `args`: ``concrete(*args)`` (``call="concrete"``), or the
    flat call of its AtomicFunction with the captured tensors (variables, constants) appended (``call="flat"``),
    which skips TensorFlow's Python argument binding and returns the flat list of outputs."""
    if call == "concrete":
        return lambda: concrete(*args)
    if call != "flat":
        raise ValueError(f"call={call!r}: expected 'flat' or 'concrete'")
    atomic, inputs = concrete.inference_fn, [*args, *concrete.captured_inputs]
    return lambda: atomic.call_flat(*inputs)


def _inputs(batch, circuits, n, depth, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (batch, circuits * n)).astype(np.float32)
    w = rng.uniform(0.0, 2 * np.pi, (circuits, depth, n, 3)).astype(np.float32)
    mix = rng.normal(size=(batch, circuits * n)).astype(np.float32)
    return x, w, mix


def engine_step(circuits, n, depth, x, w, mix, xla=False, call="flat"):
    from hybridkeras.layers import ParallelPQC

    start = time.perf_counter()
    layer = ParallelPQC(circuits, n, depth=depth, backend="statevector")
    layer.build((None, circuits * n))
    layer.set_weights([w])
    xt, mixt = tf.constant(x), tf.constant(mix)

    @tf.function(jit_compile=xla)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x)
            loss = tf.reduce_sum(out * mixt)
        gx, gw = tape.gradient(loss, [x, layer.circuit_weights])
        return out, gx, gw

    fn = tf_caller(step.get_concrete_function(xt), xt, call=call)
    out = fn()
    setup = time.perf_counter() - start
    return fn, out[0].numpy(), setup


def engine_keras3_step(circuits, n, depth, x, w, mix):
    """The engine on Keras 3's JAX or PyTorch backend, called as that backend's users call a step."""
    from keras import ops as K

    start = time.perf_counter()
    qubits = __import__("cirq").LineQubit.range(n)
    inputs, weights = make_symbols("x", n), make_symbols("w", depth * n * 3)
    grid = np.array(weights, dtype=object).reshape(depth, n, 3).tolist()
    circuit = parallel_pqc_circuit(qubits, inputs, grid, embedding="X")
    engine = StateVectorCircuit(circuit, inputs + weights, pauli_readout(qubits, "Y"), qubits=qubits,
                                shared=len(weights))

    def loss(x, w, mix):  # rows in (sample, circuit) order, circuit c's weights shared by its rows
        out = K.reshape(engine(K.reshape(x, [-1, n]), shared=K.reshape(w, [circuits, -1])), [len(x), circuits * n])
        return K.sum(out * mix), out

    step, out = keras3_step(loss, x, w, mix)
    return step, out, time.perf_counter() - start


def keras3_step(loss, x, w, mix, torch_weights=None):
    """A step of ``loss(x, w, mix) -> (value, outputs)`` as users of the backend take one: ``jax.jit`` of
    ``jax.value_and_grad`` over (x, w) on JAX; on PyTorch eager ``backward()`` into x and ``w`` (or, given,
    ``torch_weights``: the variables whose gradients to reset). Returns (step, outputs as NumPy) after one warm call."""
    if ENGINE_BACKEND == "jax":
        import jax

        fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
        (_, out), _ = fn(x, w, mix)
        step = lambda: jax.block_until_ready(fn(x, w, mix))  # noqa: E731
    elif ENGINE_BACKEND == "tensorflow":  # a tf.function of the tape's gradients, called through its ConcreteFunction
        xt, wt, mt = tf.constant(x), tf.constant(w), tf.constant(mix)

        @tf.function
        def traced(x, w):
            with tf.GradientTape() as tape:
                tape.watch([x, w])
                value, out = loss(x, w, mt)
            return out, tape.gradient(value, [x, w])

        concrete = traced.get_concrete_function(xt, wt)
        step = lambda: concrete(xt, wt)  # noqa: E731
        out = step()[0].numpy()
    else:
        import torch

        xt, mt = torch.tensor(x, requires_grad=True), torch.tensor(mix)
        wt = None if torch_weights is not None else torch.tensor(w, requires_grad=True)
        resets = [xt] + (list(torch_weights) if torch_weights is not None else [wt])

        def step():
            for tensor in resets:
                tensor.grad = None
            value, out = loss(xt, wt, mt)
            value.backward()
            return out

        out = step().detach()
    step()
    return step, np.asarray(out)


def general_layer_step(circuits, n, depth, x, w, mix, check_inputs=True, noise=None):
    """The circuit as a user writes it on Keras 3: one `hybridkeras.layers.general.PQC` per circuit (its weights the
    layer's variables, the RX embedding its ``input_template``), called by ``layer.stateless_call`` inside
    ``jax.jit(jax.value_and_grad(...))`` on JAX (Keras 3's functional route to a jitted step; PyTorch: eager
    ``layer(x)`` + ``backward()``). ``noise``: the layers' ``noise=`` (`benchmarks/noise.py`)."""
    from keras import ops as K

    from hybridkeras.circuits import angle_encoding, strongly_entangling_layers
    from hybridkeras.layers.general import PQC

    start = time.perf_counter()
    qubits = __import__("cirq").LineQubit.range(n)
    inputs, weights = make_symbols("x", n), make_symbols("w", depth * n * 3)
    grid = np.array(weights, dtype=object).reshape(depth, n, 3).tolist()
    layers = [PQC(strongly_entangling_layers(qubits, grid), pauli_readout(qubits, "Y"),
                  input_template=angle_encoding(qubits, inputs, "X"), check_inputs=check_inputs, noise=noise)
              for _ in range(circuits)]
    x_order = np.argsort([str(s) for s in inputs])  # the layers' columns and weights: their symbols sorted by name
    w_order = np.argsort([str(s) for s in weights])
    for layer in layers:
        layer.build((None, n))
    wk = w.reshape(circuits, -1)[:, w_order]

    def loss(x, w, mix):
        outs = []
        for c, layer in enumerate(layers):
            rows = K.take(x[:, c * n:(c + 1) * n], x_order, axis=1)
            if ENGINE_BACKEND in ("jax", "tensorflow"):
                out, _ = layer.stateless_call([w[c]], [], rows)
            else:
                out = layer(rows)
            outs.append(out)
        out = K.concatenate(outs, axis=1)
        return K.sum(out * mix), out

    torch_weights = None
    if ENGINE_BACKEND == "torch":
        for c, layer in enumerate(layers):
            layer.set_weights([wk[c]])
        torch_weights = [layer.parameters.value for layer in layers]
    step, out = keras3_step(loss, x, wk, mix, torch_weights=torch_weights)
    return step, out, time.perf_counter() - start


def tfq_step(circuits, n, depth, x, w, mix, call="flat"):
    if tfq is None:
        raise ImportError("TensorFlow Quantum is not installed (the [tfq] extra, Python 3.11/3.12)")
    qubits = __import__("cirq").LineQubit.range(n)
    inputs, weights = make_symbols("x", n), make_symbols("w", depth * n * 3)
    grid = np.array(weights, dtype=object).reshape(depth, n, 3).tolist()
    circuit = parallel_pqc_circuit(qubits, inputs, grid, embedding="X")
    names = tf.constant(sorted(str(s) for s in inputs + weights))
    order = [sorted(str(s) for s in inputs + weights).index(str(s)) for s in inputs + weights]
    inverse = tf.constant(np.argsort(order), tf.int32)
    layer = tfq.layers.Expectation(differentiator=tfq.differentiators.Adjoint())
    batch = len(x)
    programs = tf.tile(tfq.convert_to_tensor([circuit]), [batch * circuits])
    operators = tf.tile(tfq.convert_to_tensor([pauli_readout(qubits, "Y")]), [batch * circuits, 1])
    xt, wt, mixt = tf.constant(x), tf.Variable(w), tf.constant(mix)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            rows = tf.reshape(x, [-1, n])
            weights_rows = tf.tile(tf.reshape(wt, [circuits, -1]), [batch, 1])
            values = tf.gather(tf.concat([rows, weights_rows], axis=1), inverse, axis=1)
            out = tf.reshape(layer(programs, symbol_names=names, symbol_values=values, operators=operators),
                             [batch, circuits * n])
            loss = tf.reduce_sum(out * mixt)
        gx, gw = tape.gradient(loss, [x, wt])
        return out, gx, gw

    fn = tf_caller(step.get_concrete_function(xt), xt, call=call)
    out = fn()
    return fn, out[0].numpy()


def pennylane_step(circuits, n, depth, x, w, mix, call=None):
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    jax.config.update("jax_enable_x64", False)
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="jax", diff_method="backprop")
    def circuit(features, weights):
        qml.AngleEmbedding(features, wires=range(n), rotation="X")
        qml.StronglyEntanglingLayers(weights, wires=range(n))
        return [qml.expval(qml.PauliY(i)) for i in range(n)]

    def outputs(x, w):
        parts = []
        for c in range(circuits):
            parts.append(jnp.stack(circuit(x[:, c * n:(c + 1) * n], w[c]), axis=-1))
        return jnp.concatenate(parts, axis=-1)

    def loss(x, w, mix):
        out = outputs(x, w)
        return jnp.sum(out * mix), out

    fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    xj, wj, mj = jnp.asarray(x), jnp.asarray(w), jnp.asarray(mix)
    (_, out), _ = fn(xj, wj, mj)
    return (lambda: jax.block_until_ready(fn(xj, wj, mj))), np.asarray(out)


def tensorcircuit_step(circuits, n, depth, x, w, mix, call=None):
    import jax
    import jax.numpy as jnp
    import tensorcircuit as tc

    K = tc.set_backend("jax")
    tc.set_dtype("complex64")

    def one(features, weights):
        c = tc.Circuit(n)
        for i in range(n):
            c.rx(i, theta=features[i])
        for layer in range(depth):
            for i in range(n):
                c.rz(i, theta=weights[layer, i, 0])
                c.ry(i, theta=weights[layer, i, 1])
                c.rz(i, theta=weights[layer, i, 2])
            if n > 1:
                r = entangling_range(layer, n)
                for i in range(n):
                    c.cnot(i, (i + r) % n)
        return K.stack([K.real(c.expectation_ps(y=[i])) for i in range(n)])

    batched = jax.vmap(jax.vmap(one, in_axes=(0, 0)), in_axes=(0, None))  # rows, then circuits

    def loss(x, w, mix):
        out = batched(x.reshape(len(x), circuits, n), w).reshape(len(x), circuits * n)
        return jnp.sum(out * mix), out

    fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    xj, wj, mj = jnp.asarray(x), jnp.asarray(w), jnp.asarray(mix)
    (_, out), _ = fn(xj, wj, mj)
    return (lambda: jax.block_until_ready(fn(xj, wj, mj))), np.asarray(out)


def handwritten_fits(circuits, n):
    """Whether `handwritten_step` writes this workload out: one circuit of at most 6 qubits."""
    return circuits == 1 and n <= 6


def handwritten_step(circuits, n, depth, x, w, mix, xla=True, call="flat"):
    """The workload written out by hand in TensorFlow for one small circuit (dense 2^n × 2^n layers, no
    engine): the least a TensorFlow program of this circuit costs, a reference for the engine, not a
    simulator. Product state by outer products, each layer the Kronecker product of its Rot gates with
    the CNOT ring as a row gather, ⟨Y_q⟩ = 2 Im(ā0 a1) over qubit q; elementwise products and sums
    only (XLA fuses them; a tiny matmul is a kernel of its own)."""
    if not handwritten_fits(circuits, n):
        raise ValueError(f"the hand-written reference is one circuit of at most 6 qubits. Received: circuits={circuits}, n={n}")
    d = 2**n
    rings = []
    for layer in range(depth):  # each layer's CNOT ring as one permutation of basis states (qubit 0 most significant)
        order = np.arange(d)
        if n > 1:
            r = entangling_range(layer, n)
            for i in range(n):
                c, t = i, (i + r) % n
                flip = np.where((np.arange(d) >> (n - 1 - c)) & 1, np.arange(d) ^ (1 << (n - 1 - t)), np.arange(d))
                order = order[flip]  # new amplitude j = old amplitude flip[j], applied after the previous CNOTs
        rings.append(tf.constant(order.astype(np.int32)))
    xt, wt, mixt = tf.constant(x), tf.Variable(w), tf.constant(mix)
    batch = len(x)

    def phase(a):
        return tf.complex(tf.cos(a), tf.sin(a))

    def rot(a):  # Rot(φ, θ, ω) = RZ(ω)·RY(θ)·RZ(φ) of [..., 3] angles: [..., 2, 2]
        phi, theta, omega = a[..., 0], a[..., 1], a[..., 2]
        c, s = tf.complex(tf.cos(theta / 2), 0.0), tf.complex(tf.sin(theta / 2), 0.0)
        total, diff = (phi + omega) / 2, (phi - omega) / 2
        return tf.stack([tf.stack([phase(-total) * c, -phase(diff) * s], -1),
                         tf.stack([phase(-diff) * s, phase(total) * c], -1)], -2)

    def kron(a, b):
        return tf.reshape(a[:, None, :, None] * b[None, :, None, :], [a.shape[0] * b.shape[0]] * 2)

    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            half = x / 2
            zero, one = tf.complex(tf.cos(half), 0.0), tf.complex(0.0, -tf.sin(half))  # RX(x)|0⟩, per qubit
            state = tf.ones([batch, 1], tf.complex64)
            for q in range(n):
                column = tf.stack([zero[:, q], one[:, q]], 1)
                state = tf.reshape(state[:, :, None] * column[:, None, :], [batch, -1])
            gates = rot(wt[0])  # [depth, n, 2, 2]
            unitary = None
            for layer in range(depth):
                matrix = gates[layer, 0]
                for q in range(1, n):
                    matrix = kron(matrix, gates[layer, q])
                matrix = tf.gather(matrix, rings[layer])
                unitary = matrix if unitary is None else tf.reduce_sum(matrix[:, :, None] * unitary[None], axis=1)
            final = tf.reduce_sum(state[:, None, :] * unitary[None], axis=2)  # [batch, 2^n]
            out = []
            for q in range(n):
                view = tf.reshape(final, [batch, 2**q, 2, 2 ** (n - 1 - q)])
                out.append(2 * tf.reduce_sum(tf.math.imag(tf.math.conj(view[:, :, 0]) * view[:, :, 1]), axis=[1, 2]))
            out = tf.stack(out, 1)
            loss = tf.reduce_sum(out * mixt)
        return (out, *tape.gradient(loss, [x, wt]))

    fn = tf_caller(tf.function(step, jit_compile=xla).get_concrete_function(xt), xt, call=call)
    return fn, fn()[0].numpy()


PEERS = {"tfq": tfq_step, "pennylane": pennylane_step, "tensorcircuit": tensorcircuit_step}


def call_floor(batch, rounds, burst=20):
    """Median ms of the cheapest possible step in each framework, interleaved: sin(x @ w) for x [batch, 2],
    forward + backward, called as the simulators are (TensorFlow: a `tf.function`'s ConcreteFunction, as a
    graph and under XLA, through ``concrete(x)`` and through the flat call; JAX `jit(value_and_grad)`). No simulator's step can take less than its framework's floor."""
    x0 = np.random.default_rng(1).uniform(-1, 1, (batch, 2)).astype(np.float32)
    w0 = np.ones((2, 2), np.float32)
    xt, wt = tf.constant(x0), tf.Variable(w0)

    def tf_step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.sin(x @ wt)
            loss = tf.reduce_sum(out)
        return (out, *tape.gradient(loss, [x, wt]))

    graph = tf.function(tf_step).get_concrete_function(xt)
    compiled = tf.function(tf_step, jit_compile=True).get_concrete_function(xt)
    steps = {f"tensorflow{mode} ({call} call)": tf_caller(concrete, xt, call=call)
             for mode, concrete in (("", graph), (" XLA", compiled)) for call in ("concrete", "flat")}
    try:
        import jax
        import jax.numpy as jnp

        def loss(x, w):
            out = jnp.sin(x @ w)
            return jnp.sum(out), out

        jitted = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
        xj, wj = jnp.asarray(x0), jnp.asarray(w0)
        steps["jax"] = lambda: jax.block_until_ready(jitted(xj, wj))
    except ImportError:
        pass
    times = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            fn()
            start = time.perf_counter()
            for _ in range(burst):
                fn()
            times[name].append((time.perf_counter() - start) / burst)
    return {name: float(np.median(t)) * 1000 for name, t in times.items()}


def paired_ratios(times, peers, engines=ENGINES):
    """Per round, the fastest peer's time over the engine's faster mode's (each chosen by its median, as in
    the table), both timed in that round: interleaving pairs them, so a change of machine load between
    rounds cancels. ``times``: {name: [seconds per round]}; rounds a peer was not timed in are left out."""
    present = [p for p in peers if times.get(p)]
    if not present:
        return []
    peer = min(present, key=lambda p: np.median(times[p]))
    engine = min(engines, key=lambda e: np.median(times[e]))
    return [a / b for a, b in zip(times[peer], times[engine])]


def measure(circuits, n, depth, batch, rounds, peers, budget, skip, burst=3, call="flat", handwritten=False):
    """{name: median ms} for one workload (interleaved rounds), the engine's setup seconds and output gaps."""
    x, w, mix = _inputs(batch, circuits, n, depth)
    gc.collect()  # the previous size's peers' garbage is not collected inside the engine's setup
    if KERAS3:
        builds = [engine_keras3_step(circuits, n, depth, x, w, mix) for _ in range(2)]
        steps, reference, gaps = {ENGINES[0]: builds[-1][0]}, builds[-1][1], {}
        setup = setup_xla = min(b[2] for b in builds)
        for name, check in ((LAYER, True), (LAYER_UNCHECKED, False)):
            fn, out, _ = general_layer_step(circuits, n, depth, x, w, mix, check_inputs=check)
            steps[name], gaps[name] = fn, float(np.abs(out - reference).max())
    else:
        builds = [engine_step(circuits, n, depth, x, w, mix, call=call) for _ in range(2)]
        engine, reference, _ = builds[-1]
        setup = min(b[2] for b in builds)  # the lesser of two builds: setup times are noisy on a shared machine
        compiled, out, setup_xla = engine_step(circuits, n, depth, x, w, mix, xla=True, call=call)
        steps, gaps = {"engine": engine, "engine XLA": compiled}, {"engine XLA": float(np.abs(out - reference).max())}
    if handwritten and not KERAS3 and handwritten_fits(circuits, n):  # the reference: the same circuit in hand-written TensorFlow
        for mode, xla in (("", False), (" XLA", True)):
            fn, out = handwritten_step(circuits, n, depth, x, w, mix, xla=xla, call=call)
            steps["hand-written TF" + mode], gaps["hand-written TF" + mode] = fn, float(np.abs(out - reference).max())
    for name in peers:
        if name in skip:
            continue
        try:
            start = time.perf_counter()
            fn, out = PEERS[name](circuits, n, depth, x, w, mix, call=call)
            if time.perf_counter() - start > budget:
                skip.add(name)  # too slow to time in rounds at this size and beyond
        except ImportError as error:
            print(f"  {name}: not installed ({error}); skipped")
            skip.add(name)
            continue
        gaps[name] = float(np.abs(out - reference).max())
        steps[name] = fn
    times = {name: [] for name in steps}
    order = np.random.default_rng(n)
    done = set()
    for _ in range(rounds):
        for name in order.permutation(list(steps)):  # a fresh order each round
            if name in done:
                continue
            fn = steps[name]
            fn()  # one untimed call: this simulator's worker threads are awake, as in a training loop
            start = time.perf_counter()
            for _ in range(burst):
                fn()
            times[name].append((time.perf_counter() - start) / burst)
            if name in peers and times[name][-1] * (burst + 1) > budget:
                done.add(name)  # one round is enough to show how slow it is
    for name in steps:
        if name in peers and np.median(times[name]) * 8 > budget:
            skip.add(name)  # ~4x per two qubits: it would pass the budget at the next size
    medians = {name: float(np.median(t)) * 1000 for name, t in times.items()}
    # the first call also ran one step: plan + trace (+ XLA compile) is the setup less one median step
    setups = (setup - medians[ENGINES[0]] / 1000, setup_xla - medians[ENGINES[-1]] / 1000)
    return medians, setups, gaps, paired_ratios(times, peers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qubits", type=int, nargs="+", default=[2, 4, 5, 6, 8, 10, 12, 14, 16])
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds: a peer slower than this at one size is not run at larger sizes")
    parser.add_argument("--call", choices=["flat", "concrete"], default="concrete",
                        help="how every TensorFlow step is called: its AtomicFunction's flat call, or ConcreteFunction.__call__")
    parser.add_argument("--no-hqnn", action="store_true", help="skip the HQNN-Parallel 4 x 5 row")
    parser.add_argument("--no-handwritten", action="store_true",
                        help="skip the hand-written TensorFlow reference (timed beside the engine up to 6 qubits)")
    parser.add_argument("--output", help="also write the Markdown table here")
    args = parser.parse_args()

    names = list(ENGINES) + ([LAYER, LAYER_UNCHECKED] if LAYER else []) + args.peers
    header = ("| workload | " + " | ".join(names) + " | fastest peer / engine (faster mode) | "
              + (f"fastest peer / {LAYER} | " if LAYER else "") + "engine plan + trace, s (XLA: + compile) |")
    lines = [header, "|" + "---|" * (len(names) + 3 + bool(LAYER))]
    gaps_all, reference, spreads = {}, [], []
    skip: set[str] = set()
    workloads = [(1, n) for n in args.qubits] + ([] if args.no_hqnn else [(4, 5)])
    for circuits, n in workloads:
        label = f"{n} qubits" if circuits == 1 else f"HQNN-Parallel {circuits} x {n}"
        times, setup, gaps, paired = measure(circuits, n, args.depth, args.batch, args.rounds, args.peers, args.budget,
                                     skip if circuits == 1 else set(), call=args.call,
                                     handwritten=not args.no_handwritten)
        gaps_all[label] = gaps
        peers = [times[p] for p in args.peers if p in times]
        engine_best = min(times[e] for e in ENGINES)
        ratio = f"{min(peers) / engine_best:.2f}" if peers else "–"
        cells = [(f"{times[p]:.2f}" if times[p] < 10 else f"{times[p]:.1f}") if p in times else "–" for p in names]
        layer_ratio = (f" {min(peers) / times[LAYER]:.2f} |" if peers else " – |") if LAYER else ""
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |{layer_ratio} {setup[0]:.2f} ({setup[1]:.2f}) |")
        print(lines[-1], flush=True)
        if paired:
            q25, q50, q75 = np.percentile(paired, [25, 50, 75])
            spreads.append(f"{label} {q50:.2f} [{q25:.2f}–{q75:.2f}]")
        if "hand-written TF" in times:
            best = min(times["hand-written TF"], times["hand-written TF XLA"])
            reference.append(f"{label}: graph {times['hand-written TF']:.3f}, XLA {times['hand-written TF XLA']:.3f} "
                             f"(engine / hand-written {engine_best / best:.2f})")
    floor = call_floor(args.batch, args.rounds)
    paragraphs = []  # under the table, in order
    if spreads:
        paragraphs.append("Fastest peer / engine (faster mode), paired round by round (both timed in the same round), "
                     "median [quartiles] over rounds: " + "; ".join(spreads) + ".")
    paragraphs.append("Framework call floor (sin(x @ w), x [batch, 2], forward + backward, median ms, interleaved): "
                 + ", ".join(f"{k} {v:.3f}" for k, v in floor.items()) + ".")
    if reference:
        paragraphs.append("The same circuit written out by hand in TensorFlow (dense layers, elementwise products; no engine), "
                     "timed in the same rounds, median ms: " + "; ".join(reference) + ".")
    notes = "\n\n".join(paragraphs)
    print(notes)
    text = (f"{platform.processor() or platform.machine()}, {tf.config.threading.get_intra_op_parallelism_threads() or 'all'}"
            f" intra-op threads; TensorFlow steps through the {args.call} call; batch {args.batch}, depth {args.depth}, forward + backward, median ms of {args.rounds} "
            f"interleaved rounds ('–': not run; a peer slower than {args.budget:.0f} s at one size is skipped beyond it).\n\n"
            + "\n".join(lines) + "\n\n" + notes + "\n\nLargest output difference from the engine: "
            + "; ".join(f"{k}: " + ", ".join(f"{p} {v:.1e}" for p, v in g.items()) for k, g in gaps_all.items()) + "\n")
    print(text)
    if args.output:
        write_text_atomic(args.output, text)


if __name__ == "__main__":
    main()
