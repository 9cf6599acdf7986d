"""What noise costs a training step on the engine: the same model clean (state vectors) and under
``noise={"depolarize": 0.01}`` (exact density matrices), on the Keras backend of this process.

Workloads: a layered circuit (RY data layer, then ``depth`` layers of RX/RZ weights and a CNOT chain) on 2–8
qubits in a `ControlledPQC` behind a Dense layer, and HQNN-Parallel's quantum block (`ParallelPQC` 4 × 5,
depth 2). Each model is trained by ``model.train_on_batch`` (batch 64; Keras compiles the step: `tf.function`
on TensorFlow, `jax.jit` on JAX), clean and noisy interleaved in rounds in one process; the table gives the
median milliseconds per step and the noisy / clean ratio:

    KERAS_BACKEND=jax python benchmarks/noise.py --rounds 5 --output benchmarks/results/noise_jax.md

This is the engine against itself; the comparison with PennyLane's default.mixed, TensorCircuit-NG's
DMCircuit and TFQ's trajectories (issue 41's benchmark) is not here yet.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="training steps per round and model")
    parser.add_argument("--qubits", type=int, nargs="+", default=[2, 4, 6, 8])
    parser.add_argument("--output", default=None, help="write the table (Markdown) here")
    args = parser.parse_args()
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
            handle.write(f"`KERAS_BACKEND={keras.config.backend()} python benchmarks/noise.py --rounds {args.rounds} "
                         f"--steps {args.steps}`\n\n{table}\n")


if __name__ == "__main__":
    main()
