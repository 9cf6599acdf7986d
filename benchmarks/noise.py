"""Noise on the engine: exact density matrices against the peers (issue 41), and against its own clean steps.

Peers (the default). One noisy forward + backward step, each simulator called as its users call it, interleaved
in rounds in one process. Workload (as `benchmarks/simulators.py`, made noisy): RX angle embedding of the row's n
features, ``depth`` strongly entangling layers, ⟨Y⟩ on every qubit, and ``cirq.depolarize(p)`` on every qubit after
every moment (``noise={"depolarize": p}``, what a `cirq.ConstantQubitNoiseModel` adds); the gradients of
sum(outputs · mix) with respect to the inputs and the weights; plus HQNN-Parallel's 4 × 5 (four such 5-qubit
circuits with their own weights on consecutive features).

* engine: the general layer `hybridkeras.layers.general.PQC(..., noise=...)` (exact density matrices) on this
  process's Keras backend — ``layer.stateless_call`` in ``jax.jit(jax.value_and_grad(...))`` on JAX, the layer in a
  `tf.function` with a `GradientTape` on TensorFlow (`simulators.general_layer_step`);
* pennylane: ``default.mixed`` with the JAX interface, backprop, parameter broadcasting over the rows, in
  ``jax.jit(jax.value_and_grad(...))``;
* tensorcircuit: TensorCircuit-NG's ``DMCircuit`` on its JAX backend, ``jax.vmap`` over rows, ``jax.jit``;
* tfq: TFQ's noisy expectation op (``tfq.noise.expectation``, Monte Carlo trajectories) made differentiable by
  its parameter-shift differentiator, in a `tf.function` with a `GradientTape` — what ``tfq.layers.NoisyPQC`` runs.
  Trajectories have error bars; the exact simulators do not.
* engine trajectories: the same general layer with ``noise={"depolarize": p, "trajectories": R}`` (the engine's
  Monte Carlo mode, for registers too large for a density matrix), autodiff gradients.

Both trajectory simulators run ``--trajectories`` R per row; the error σ of each is measured against the exact
values (the root mean square of its outputs' gaps to the engine's density matrix, over every call), and the
trajectories it would need for an error of ``--precision`` are R · (σ / precision)². Time grows linearly with them
(each trajectory is one simulation of the circuit), so the table gives the measured time and that time scaled to
equal precision; the last column compares TFQ there with the engine's faster mode (exact, or trajectories at the
same precision).

Each round times every exact simulator once, in a fresh order, as the mean of back-to-back steps filling about
0.1 s (at least one) after one untimed step. The trajectory simulators are timed the same way after all the exact
ones, each on its own: TFQ's trajectories occupy every core, and interleaved they slowed the step timed after
them (the engine's 4-qubit step went from 2.7 to 16.8 ms in one such run). Every peer's outputs are checked
against the engine's before timing. The peer circuits are
translated gate by gate from the same noisy Cirq circuit the engine runs (`gate_list`).

    KERAS_BACKEND=jax python benchmarks/noise.py --output benchmarks/results/noise_peers_jax.md
    KERAS_BACKEND=tensorflow python benchmarks/noise.py --output benchmarks/results/noise_peers_tensorflow.md

Self (``--self``). The engine against itself: the same model clean (state vectors) and noisy (density matrices),
trained by ``model.train_on_batch`` (batch 64; Keras compiles the step), interleaved:

    KERAS_BACKEND=jax python benchmarks/noise.py --self --rounds 5 --output benchmarks/results/noise_jax.md
"""
from __future__ import annotations

import argparse
import statistics
import time

import cirq
import keras
import numpy as np
import sympy

from hybridkeras.layers import ControlledPQC, ParallelPQC

NOISE = {"depolarize": 0.01}
BATCH = 64


def layered(n: int, depth: int = 3) -> tuple[cirq.Circuit, list]:
    qubits = cirq.LineQubit.range(n)
    data = sympy.symbols(f"x0:{n}")
    weights = sympy.symbols(f"w0:{2 * n * depth}")
    circuit = cirq.Circuit(cirq.ry(s).on(q) for s, q in zip(data, qubits))
    for layer in range(depth):
        for i, q in enumerate(qubits):
            circuit.append([cirq.rx(weights[2 * (layer * n + i)]).on(q), cirq.rz(weights[2 * (layer * n + i) + 1]).on(q)])
        circuit.append(cirq.CNOT(a, b) for a, b in zip(qubits, qubits[1:]))
    return circuit, [cirq.Z(q) for q in qubits]


def model_for(name: str, noise):
    if name.startswith("ParallelPQC"):
        inputs = keras.Input((20,))
        quantum = ParallelPQC(4, 5, depth=2, noise=noise)(inputs)
    else:
        n = int(name.split()[0])
        circuit, operators = layered(n)
        inputs = keras.Input((n,))
        # the data and weight symbols as one input: a Dense layer makes them (what a hybrid's head does)
        symbols = len(cirq.parameter_symbols(circuit))
        quantum = ControlledPQC(circuit, operators, noise=noise)(keras.layers.Dense(symbols)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10)(quantum))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def self_comparison(args):
    names = [f"{n} qubits, depth 3" for n in args.qubits] + ["ParallelPQC 4 × 5"]
    rng = np.random.default_rng(0)
    models, data = {}, {}
    for name in names:
        for noisy in (False, True):
            model = model_for(name, NOISE if noisy else None)
            width = model.inputs[0].shape[-1]
            x, y = rng.uniform(0, 1, (BATCH, width)).astype(np.float32), rng.integers(0, 10, BATCH)
            model.train_on_batch(x, y)  # compile the step
            models[name, noisy], data[name, noisy] = model, (x, y)
    times = {key: [] for key in models}
    for _ in range(args.rounds):
        for key, model in models.items():
            x, y = data[key]
            start = time.perf_counter()
            for _ in range(args.steps):
                model.train_on_batch(x, y)
            times[key].append(1000 * (time.perf_counter() - start) / args.steps)
    lines = [f"Keras {keras.__version__} on {keras.config.backend()}, batch {BATCH}, noise {NOISE}, median of "
             f"{args.rounds} interleaved rounds of {args.steps} `train_on_batch` steps (ms per step)", "",
             "| workload | clean (state vectors) | noisy (density matrices) | noisy / clean |", "|---|---|---|---|"]
    for name in names:
        clean, noisy = statistics.median(times[name, False]), statistics.median(times[name, True])
        lines.append(f"| {name} | {clean:.2f} | {noisy:.2f} | {noisy / clean:.1f} |")
    table = "\n".join(lines)
    print(table)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(f"`KERAS_BACKEND={keras.config.backend()} python benchmarks/noise.py --self --rounds {args.rounds} "
                         f"--steps {args.steps}`\n\n{table}\n")


# ---------------------------------------------------------------------------------------------- peers
HQNN = "HQNN-Parallel 4 × 5"


def noisy_workload(n: int, depth: int, p: float):
    """(noisy circuit, input symbols, weight symbols [depth, n, 3] in order, operators) of one circuit."""
    from hybridkeras.circuits import make_symbols, parallel_pqc_circuit, pauli_readout
    from hybridkeras.circuits.noise import as_noise

    qubits = cirq.LineQubit.range(n)
    inputs, weights = make_symbols("x", n), make_symbols("w", depth * n * 3)
    grid = np.array(weights, dtype=object).reshape(depth, n, 3).tolist()
    circuit = as_noise({"depolarize": p}).apply(parallel_pqc_circuit(qubits, inputs, grid, embedding="X"))
    return circuit, inputs, weights, pauli_readout(qubits, "Y")


def gate_list(circuit: cirq.Circuit, symbols) -> list:
    """The noisy circuit as [(name, qubit indices, parameter)], moment by moment, for the peers to rebuild:
    name rx | ry | rz | cnot | depolarize; parameter ('symbol', column of ``symbols``) or ('value', number)."""
    column = {str(s): i for i, s in enumerate(symbols)}
    out = []
    for moment in circuit:
        for op in moment:
            wires = tuple(q.x for q in op.qubits)
            gate = op.gate
            if isinstance(gate, (cirq.Rx, cirq.Ry, cirq.Rz)):
                angle = gate._rads
                parameter = ("symbol", column[str(angle)]) if isinstance(angle, sympy.Symbol) else ("value", float(angle))
                out.append((type(gate).__name__.lower(), wires, parameter))
            elif gate == cirq.CNOT:
                out.append(("cnot", wires, None))
            elif isinstance(gate, cirq.DepolarizingChannel) and gate.num_qubits() == 1:
                out.append(("depolarize", wires, ("value", float(gate.p))))
            else:
                raise ValueError(f"the peers' translation does not cover {op!r}")
    return out


def _columns(x, w, circuits, n):
    """Per circuit c, its rows' symbol values [rows, n + weights]: its features, then its weights (every row)."""
    import jax.numpy as jnp

    flat = w.reshape(circuits, -1)
    return [jnp.concatenate([x[:, c * n:(c + 1) * n], jnp.broadcast_to(flat[c], (x.shape[0], flat.shape[1]))], axis=1)
            for c in range(circuits)]


def pennylane_noisy_step(circuits, n, depth, x, w, mix, p):
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    circuit, inputs, weights, _ = noisy_workload(n, depth, p)
    gates = gate_list(circuit, inputs + weights)
    dev = qml.device("default.mixed", wires=n)
    kinds = {"rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}

    @qml.qnode(dev, interface="jax", diff_method="backprop")
    def run(values):  # values [rows, symbols]: broadcast over the rows
        for name, wires, parameter in gates:
            if name == "cnot":
                qml.CNOT(wires=list(wires))
            elif name == "depolarize":
                qml.DepolarizingChannel(parameter[1], wires=wires[0])
            else:
                kinds[name](values[:, parameter[1]] if parameter[0] == "symbol" else parameter[1], wires=wires[0])
        return [qml.expval(qml.PauliY(i)) for i in range(n)]

    def loss(x, w, mix):
        out = jnp.concatenate([jnp.stack(run(v), axis=-1) for v in _columns(x, w, circuits, n)], axis=-1)
        return jnp.sum(out * mix), out

    return _jax_step(loss, x, w, mix)


def tensorcircuit_noisy_step(circuits, n, depth, x, w, mix, p):
    import jax
    import jax.numpy as jnp
    import tensorcircuit as tc

    backend = tc.set_backend("jax")
    tc.set_dtype("complex64")
    circuit, inputs, weights, _ = noisy_workload(n, depth, p)
    gates = gate_list(circuit, inputs + weights)

    def one(values):  # one row's symbol values
        c = tc.DMCircuit(n)
        for name, wires, parameter in gates:
            if name == "cnot":
                c.cnot(*wires)
            elif name == "depolarize":
                third = parameter[1] / 3
                c.depolarizing(wires[0], px=third, py=third, pz=third)
            else:
                getattr(c, name)(wires[0], theta=values[parameter[1]] if parameter[0] == "symbol" else parameter[1])
        return backend.stack([backend.real(c.expectation_ps(y=[i])) for i in range(n)])

    batched = jax.vmap(one)

    def loss(x, w, mix):
        out = jnp.concatenate([batched(v) for v in _columns(x, w, circuits, n)], axis=-1)
        return jnp.sum(out * mix), out

    return _jax_step(loss, x, w, mix)


def _jax_step(loss, x, w, mix):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", False)
    fn = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))
    xj, wj, mj = jnp.asarray(x), jnp.asarray(w), jnp.asarray(mix)
    (_, out), _ = fn(xj, wj, mj)
    return (lambda: np.asarray(jax.block_until_ready(fn(xj, wj, mj))[0][1])), np.asarray(out)


def tfq_noisy_step(circuits, n, depth, x, w, mix, p, repetitions):
    import tensorflow as tf
    import tensorflow_quantum as tfq

    circuit, inputs, weights, operators = noisy_workload(n, depth, p)
    names = sorted(str(s) for s in inputs + weights)
    order = np.argsort(np.argsort([str(s) for s in inputs + weights]))  # column of each symbol among the sorted names
    gather = tf.constant(np.argsort(order), tf.int32)  # sorted position -> column of [features, weights]
    op = tfq.differentiators.ParameterShift().generate_differentiable_op(sampled_op=tfq.noise.expectation)
    batch = len(x)
    programs = tfq.convert_to_tensor([circuit] * batch)
    ops = tfq.convert_to_tensor([operators] * batch)
    counts = tf.fill([batch, len(operators)], repetitions)
    symbol_names = tf.constant(names)
    xt, wt, mixt = tf.constant(x), tf.Variable(w), tf.constant(mix)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            flat = tf.reshape(wt, [circuits, -1])
            outs = []
            for c in range(circuits):
                values = tf.concat([x[:, c * n:(c + 1) * n], tf.tile(flat[c:c + 1], [batch, 1])], axis=1)
                outs.append(op(programs, symbol_names, tf.gather(values, gather, axis=1), ops, counts))
            out = tf.concat(outs, axis=1)
            loss = tf.reduce_sum(out * mixt)
        gx, gw = tape.gradient(loss, [x, wt])
        return out, gx, gw

    concrete = step.get_concrete_function(xt)
    return (lambda: concrete(xt)[0].numpy()), concrete(xt)[0].numpy()


def engine_noisy_step(circuits, n, depth, x, w, mix, p, trajectories=None):
    """The engine's step: exact density matrices, or (``trajectories``) its Monte Carlo trajectories."""
    from simulators import general_layer_step

    noise = {"depolarize": p} if trajectories is None else {"depolarize": p, "trajectories": trajectories}
    fn, out, _ = general_layer_step(circuits, n, depth, x, w, mix, noise=noise)
    return (lambda: _outputs(fn())), out


def _outputs(result):
    """The outputs of a step's result (JAX: ((value, outputs), grads); TensorFlow: (outputs, grads))."""
    first = result[0]
    return np.asarray(first[1] if isinstance(first, tuple) else first)


NOISY_PEERS = {"pennylane": pennylane_noisy_step, "tensorcircuit": tensorcircuit_noisy_step}
TRAJECTORIES = "engine trajectories"  # the engine's own trajectory mode, timed beside TFQ's
SAMPLED = ("tfq", TRAJECTORIES)


def _workload(name, args):
    from simulators import _inputs

    circuits, n = (4, 5) if name == HQNN else (1, int(name.split()[0]))
    batch = args.batch if n < 10 else args.batch_10
    return (circuits, n, *_inputs(batch, circuits, n, args.depth))


def _build(key, name, args, workload, skip, failures):
    """(step, first outputs) of one simulator, or None where it is not installed or cannot run this size."""
    circuits, n, x, w, mix = workload
    start = time.perf_counter()
    try:
        if key == "tfq":
            fn, out = tfq_noisy_step(circuits, n, args.depth, x, w, mix, args.p, args.trajectories)
        elif key == TRAJECTORIES:
            fn, out = engine_noisy_step(circuits, n, args.depth, x, w, mix, args.p, args.trajectories)
        else:
            fn, out = NOISY_PEERS[key](circuits, n, args.depth, x, w, mix, args.p)
    except ImportError as error:
        print(f"  {key}: not installed ({error}); skipped", flush=True)
        skip.add(key)
        return None
    except Exception as error:  # a peer that cannot run this size (e.g. out of memory) is reported, not fatal
        reason = str(error).splitlines()[0][:120]
        print(f"  {key}: failed at {name} ({type(error).__name__}: {reason}); skipped from here on", flush=True)
        failures[key] = f"{type(error).__name__}: {reason}"
        skip.add(key)
        return None
    if time.perf_counter() - start > (args.tfq_budget if key in SAMPLED else args.budget):
        skip.add(key)  # too slow to build and time at the next size
    return fn, out


def _time_rounds(steps, args, engine, seed, outputs=None):
    """{key: [seconds per step]}: every step once per round, in a fresh order, as the mean of ~0.1 s of calls."""
    times = {key: [] for key in steps}
    order = np.random.default_rng(seed)
    for _ in range(args.rounds):
        for key in order.permutation(list(steps)):
            budget = args.tfq_budget if key in SAMPLED else args.budget
            if key != engine and times[key] and sum(times[key]) > budget:
                continue  # enough rounds to show how slow it is
            start = time.perf_counter()
            steps[key]()  # one untimed call: this simulator's threads are awake, as in a training loop
            calls = int(min(20, max(1, 0.1 / max(time.perf_counter() - start, 1e-6))))  # ~0.1 s of back-to-back steps
            start = time.perf_counter()
            for _ in range(calls):
                out = steps[key]()
            times[key].append((time.perf_counter() - start) / calls)
            if outputs is not None:
                outputs.append(out)
    return times


def measure_exact(name, args, skip):
    """The engine and the exact peers on one workload, interleaved: {simulator: [ms]}, output gaps, failures, and the
    engine's exact outputs (the reference the trajectory simulators are measured against)."""
    import gc

    workload = _workload(name, args)
    gc.collect()
    engine = f"engine ({keras.config.backend()})"
    fn, reference = engine_noisy_step(*workload[:2], args.depth, *workload[2:], args.p)
    steps, gaps, failures = {engine: fn}, {}, {}
    for peer in (p for p in args.peers if p in NOISY_PEERS and p not in skip):
        built = _build(peer, name, args, workload, skip, failures)
        if built:
            steps[peer] = built[0]
            gaps[peer] = float(np.abs(built[1] - reference).max())
    times = _time_rounds(steps, args, engine, workload[1])
    for peer in NOISY_PEERS:
        if peer in times and np.median(times[peer]) * 16 > args.budget:
            skip.add(peer)  # 4^2 = 16× per two qubits: past the budget at the next size
    return {k: 1000 * np.array(v) for k, v in times.items()}, gaps, failures, reference


def measure_sampled(name, args, skip, reference):
    """The trajectory simulators (the engine's trajectory mode, then TFQ) on one workload, each timed on its own
    (TFQ's trajectories occupy every core; interleaved, they slowed the step timed after them): {simulator: ([ms],
    its error σ: the root mean square of its outputs' gaps to ``reference``, the exact values, over every call)},
    failures."""
    workload = _workload(name, args)  # the same seeded inputs as the exact phase's
    failures, results = {}, {}
    for key in (TRAJECTORIES, "tfq"):
        if key in skip or (key == "tfq" and "tfq" not in args.peers):
            continue
        built = _build(key, name, args, workload, skip, failures)
        if not built:
            continue
        outputs = [built[1]]
        times = _time_rounds({key: built[0]}, args, None, workload[1], outputs)[key]
        sigma = float(np.sqrt(np.mean((np.stack(outputs) - reference[None]) ** 2)))
        if np.median(times) * 4 > args.tfq_budget:
            skip.add(key)  # about 4× the work per two qubits (TFQ: 2× the symbols of its parameter shift, 2× a state)
        results[key] = (1000 * np.array(times), sigma)
    return results, failures


def _sampled_cells(runs, precision) -> tuple[list, dict]:
    """The cells of the trajectory simulators (measured ms and σ, ms scaled to ``precision``), and the scaled ms."""
    cells, scaled = [], {}
    for key in (TRAJECTORIES, "tfq"):
        if key not in runs:
            cells += ["–", "–"]
            continue
        ms, sigma = runs[key]
        scaled[key] = float(np.median(ms)) * (sigma / precision) ** 2
        cells += [f"{float(np.median(ms)):.1f} ({sigma:.4f})", f"{scaled[key]:.1f}"]
    return cells, scaled


def peers_comparison(args):
    # HQNN-Parallel first (its five-qubit circuits are small), then the sizes in order: a peer too slow at one size
    # is skipped at the larger ones. The exact simulators are timed first, for every size; the trajectory simulators
    # after them, each alone.
    sizes = ([HQNN] if not args.no_hqnn else []) + [f"{n} qubits" for n in args.qubits]
    engine = f"engine ({keras.config.backend()})"
    exact = [p for p in NOISY_PEERS if p in args.peers]
    results, skip = {}, set()
    for name in sizes:
        print(f"{name} (exact) ...", flush=True)
        # the skips a size decides apply to the larger sizes after it; HQNN-Parallel's do not
        results[name] = measure_exact(name, args, set() if name == HQNN else skip)
        print("  " + ", ".join(f"{k} {np.median(v):.2f} ms" for k, v in results[name][0].items()), flush=True)
    sampled, skip = {}, set()
    for name in sizes:
        print(f"{name} (trajectories) ...", flush=True)
        sampled[name] = measure_sampled(name, args, set() if name == HQNN else skip, results[name][3])
    at = f"σ={args.precision:g}"
    lines = [f"Keras {keras.__version__} on {keras.config.backend()}; noisy forward + backward (depolarize({args.p:g}) on "
             f"every qubit after every moment), depth {args.depth}, batch {args.batch} (10 qubits and more: "
             f"{args.batch_10}); median ms per step of up to {args.rounds} interleaved rounds of the exact simulators; "
             f"the trajectory simulators (the engine's `noise={{'trajectories': R}}`, TFQ) timed afterwards, each on "
             f"its own, R = {args.trajectories} trajectories per row, their error σ measured against the exact values "
             f"and their time scaled to σ = {args.precision:g} (R · (σ / {args.precision:g})² trajectories)", "",
             "| workload | " + " | ".join([engine] + exact) + " | fastest exact peer / engine | engine trajectories "
             f"(σ) | engine trajectories at {at} | TFQ (σ) | TFQ at {at} | TFQ at {at} / the engine's faster mode |",
             "|---|" + "---|" * (len(exact) + 7)]
    notes = []
    for name in sizes:
        times, gaps, failures, _ = results[name]
        medians = {k: float(np.median(v)) for k, v in times.items()}
        cells = [f"{medians[engine]:.2f}"] + [f"{medians[p]:.2f}" if p in medians else "–" for p in exact]
        present = [p for p in exact if p in medians]
        cells.append(f"{min(medians[p] for p in present) / medians[engine]:.2f}×" if present else "–")
        runs, sampled_failures = sampled[name]
        more, scaled = _sampled_cells(runs, args.precision)
        fastest = min([medians[engine]] + ([scaled[TRAJECTORIES]] if TRAJECTORIES in scaled else []))
        cells += more + [f"{scaled['tfq'] / fastest:.0f}×" if "tfq" in scaled else "–"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        rounds = {k: len(v) for k, v in times.items()}
        rounds.update({k: len(v[0]) for k, v in runs.items()})
        notes.append(f"{name}: largest output gap to the engine "
                     + (", ".join(f"{k} {v:.1e}" for k, v in gaps.items()) or "–")
                     + "; rounds timed " + ", ".join(f"{k} {v}" for k, v in rounds.items())
                     + "".join(f"; {k} failed ({v})" for k, v in {**failures, **sampled_failures}.items()))
    table = "\n".join(lines + [""] + [f"- {note}" for note in notes])
    print(table)
    if args.output:
        command = (f"KERAS_BACKEND={keras.config.backend()} python benchmarks/noise.py --qubits "
                   f"{' '.join(map(str, args.qubits))} --rounds {args.rounds} --batch {args.batch} --budget "
                   f"{args.budget:g} --tfq-budget {args.tfq_budget:g} --trajectories {args.trajectories}")
        with open(args.output, "w") as handle:
            handle.write(f"`{command}`\n\n{table}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self", dest="self_", action="store_true", help="the engine clean against noisy instead")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="--self: training steps per round and model")
    parser.add_argument("--qubits", type=int, nargs="+", default=None,
                        help="sizes (default 2 4 6 8 10; --self: 2 4 6 8)")
    parser.add_argument("--depth", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--batch-10", type=int, default=16, help="the batch at 10 qubits and more")
    parser.add_argument("--p", type=float, default=0.01, help="the depolarising probability")
    parser.add_argument("--peers", nargs="*", default=["pennylane", "tensorcircuit", "tfq"],
                        choices=["pennylane", "tensorcircuit", "tfq"])
    parser.add_argument("--trajectories", "--tfq-repetitions", type=int, default=20,
                        help="trajectories per row, of TFQ and of the engine's trajectory mode")
    parser.add_argument("--tfq-budget", type=float, default=150.0,
                        help="seconds of timing per trajectory simulator (TFQ, the engine's trajectories) and size")
    parser.add_argument("--precision", type=float, default=0.01, help="the standard error trajectories are scaled to")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of timing per exact simulator and size")
    parser.add_argument("--no-hqnn", action="store_true")
    parser.add_argument("--output", default=None, help="write the table (Markdown) here")
    args = parser.parse_args()
    if args.self_:
        args.qubits = args.qubits or [2, 4, 6, 8]
        self_comparison(args)
    else:
        args.qubits = args.qubits or [2, 4, 6, 8, 10]
        peers_comparison(args)


if __name__ == "__main__":
    main()
