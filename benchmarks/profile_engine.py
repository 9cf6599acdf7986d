"""Where the engine's time goes at 14–20 qubits (issue 42): passes over the state, bytes moved, peak memory, and how
far each step is from this machine's memory bandwidth, beside TFQ (qsim, adjoint) on the same circuits.

Each workload is a forward + backward step on Keras' TensorFlow backend, as users take it: the layer in a
`tf.function` with a `GradientTape` (gradients of sum(outputs) with respect to the trainable weights and, where
the inputs are numbers, the inputs), traced once and called through its `ConcreteFunction`.

* **Passes.** Every op of the traced graph (forward and gradient) whose output holds at least half a state's worth
  of entries (rows · 2^n / 2) is one pass over the state; the bytes it moves are its inputs' and its output's
  sizes. The table groups them by op type: where the engine's work goes.
* **Bandwidth floor.** One state-sized complex64 add (two reads, one write) is timed on this machine; the floor of a
  step is its bytes over that rate: the time the step would take if every pass ran at the speed of memory.
* **Peak memory.** Each (workload, simulator) step runs in a fresh process (``--one``); the peak resident memory
  (``ru_maxrss``) less the resident memory after building the step and before its first call.
* **TFQ.** The same circuit through ``backend='tfq'`` (qsim; TFQ's adjoint differentiator), timed interleaved with
  the engine, round by round. TFQ is needed (Python 3.11 or 3.12, ``pip install -e ".[tfq]"``).

Workloads:
* ``mnist``: TFQ's MNIST tutorial QNN (17 qubits: 16 data qubits in basis states set by X gates, a readout qubit;
  32 parameterised XX and ZZ gates, every one on the readout qubit: a hub), batch 32, input circuits as a string
  tensor (`hybridkeras.layers.PQC`);
* ``layered-N``: `simulators.py`'s workload on N qubits (RX embedding of the row's features, 3 strongly entangling
  layers, ⟨Y⟩ on every qubit), batch 32, the general `PQC` with an ``input_template``.

    python benchmarks/profile_engine.py --workloads mnist layered-14 layered-16 layered-18 \\
        --output benchmarks/results/profile_engine.md
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import hybridkeras as hk  # noqa: E402
from hybridkeras._stack import tf, tfq  # noqa: E402
from hybridkeras.circuits import angle_encoding, make_symbols, pauli_readout, strongly_entangling_layers, tutorials  # noqa: E402,E501

BATCH = 32
SIMULATORS = ("statevector", "tfq")


def mnist_step(simulator: str, batch: int = BATCH):
    """(step, n, rows) of the MNIST tutorial QNN on ``batch`` input circuits (random 4×4 binary images)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 2, size=(batch, 4, 4)).astype(np.float32)
    inputs = tfq.convert_to_tensor([tutorials.mnist_data_circuit(image) for image in images])
    circuit, readout = tutorials.mnist_model_circuit()
    layer = hk.layers.PQC(circuit, readout, backend=simulator)
    layer.build(inputs.shape)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            out = layer(x)
            loss = tf.reduce_sum(out)
        return out, tape.gradient(loss, layer.trainable_variables)

    return step.get_concrete_function(inputs), (inputs,), 17, batch


def layered_step(simulator: str, n: int, batch: int = BATCH, depth: int = 3):
    import cirq

    qubits = cirq.LineQubit.range(n)
    inputs, weights = make_symbols("x", n), make_symbols("w", depth * n * 3)
    grid = np.array(weights, dtype=object).reshape(depth, n, 3).tolist()
    layer = hk.layers.PQC(strongly_entangling_layers(qubits, grid), pauli_readout(qubits, "Y"),
                          input_template=angle_encoding(qubits, inputs, "X"), backend=simulator)
    x = tf.constant(np.random.default_rng(0).uniform(0, np.pi, size=(batch, n)).astype(np.float32))
    layer.build(x.shape)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = layer(x)
            loss = tf.reduce_sum(out)
        return out, tape.gradient(loss, [x] + list(layer.trainable_variables))

    return step.get_concrete_function(x), (x,), n, batch


def build(workload: str, simulator: str):
    if workload == "mnist":
        return mnist_step(simulator)
    if workload.startswith("layered-"):
        return layered_step(simulator, int(workload.split("-")[1]))
    raise ValueError(f"unknown workload {workload!r}: mnist or layered-N")


def passes(concrete, n: int, rows: int) -> dict:
    """{op type: [passes, bytes]} of the graph's ops whose output has at least half a state's entries."""
    threshold = rows * 2**n // 2
    table = defaultdict(lambda: [0, 0])

    def size(tensor) -> int | None:
        shape = tensor.shape
        if shape.rank is None or any(d is None for d in shape):
            return None
        return int(np.prod(shape, dtype=np.int64)) * max(tensor.dtype.size, 1)

    def entries(tensor) -> int:
        shape = tensor.shape
        return 0 if shape.rank is None or any(d is None for d in shape) else int(np.prod(shape, dtype=np.int64))

    for op in concrete.graph.get_operations():
        if not op.outputs or max(entries(t) for t in op.outputs) < threshold:
            continue
        moved = sum(s for s in (size(t) for t in list(op.inputs) + list(op.outputs)) if s is not None)
        table[op.type][0] += 1
        table[op.type][1] += moved
    return dict(table)


def bandwidth(n: int, rows: int, rounds: int = 5) -> float:
    """Bytes per second of one state-sized complex64 add (two reads, one write)."""
    a = tf.complex(tf.random.normal([rows, 2**n]), tf.random.normal([rows, 2**n]))
    b = a * 0.5
    add = tf.function(lambda a, b: a + b).get_concrete_function(a, b)
    add(a, b)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        add(a, b)
        times.append(time.perf_counter() - start)
    return 3 * rows * 2**n * 8 / min(times)


def one(workload: str, simulator: str, calls: int = 2) -> dict:
    """Peak memory of one (workload, simulator) step in this process (run with ``--one``)."""
    concrete, args, _, _ = build(workload, simulator)
    before = _rss()
    for _ in range(calls):
        concrete(*args)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"before": before, "peak": peak}


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_memory(workload: str, simulator: str) -> float | None:
    """MB above the built step's resident memory at the peak of its first calls, in a fresh process."""
    result = subprocess.run([sys.executable, __file__, "--one", workload, simulator], capture_output=True, text=True,
                            cwd=Path(__file__).parent, timeout=1800)
    for line in result.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            record = json.loads(line)
            return max(record["peak"] - record["before"], 0) / 1e6
    print(f"  peak memory of {workload} on {simulator} failed: {result.stderr[-500:]}", flush=True)
    return None


def profile(workloads, rounds: int, memory: bool) -> str:
    steps = {}
    for workload in workloads:
        for simulator in SIMULATORS:
            start = time.perf_counter()
            concrete, args, n, rows = build(workload, simulator)
            concrete(*args)
            steps[(workload, simulator)] = (concrete, args, n, rows, time.perf_counter() - start)
    times = defaultdict(list)
    order = np.random.default_rng(0)
    for _ in range(rounds):
        for index in order.permutation(len(steps)):
            key = list(steps)[index]
            concrete, args = steps[key][:2]
            concrete(*args)  # untimed: threads awake
            start = time.perf_counter()
            concrete(*args)
            times[key].append(time.perf_counter() - start)
    lines = [f"TensorFlow {tf.__version__}, Keras {hk.keras.__version__}; batch {BATCH}; forward + backward; median of "
             f"{rounds} interleaved rounds", "",
             "| workload | engine s | TFQ s | TFQ / engine | engine passes | engine GB moved | bandwidth floor s | "
             "engine / floor | engine peak MB | TFQ peak MB |", "|---|---|---|---|---|---|---|---|---|---|"]
    details = []
    for workload in workloads:
        concrete, _, n, rows, _ = steps[(workload, "statevector")]
        table = passes(concrete, n, rows)
        count = sum(v[0] for v in table.values())
        moved = sum(v[1] for v in table.values())
        rate = bandwidth(n, rows)
        engine = statistics.median(times[(workload, "statevector")])
        tfq_time = statistics.median(times[(workload, "tfq")]) if (workload, "tfq") in times else None
        peaks = {s: peak_memory(workload, s) if memory and (workload, s) in steps else None for s in SIMULATORS}
        floor = moved / rate
        cells = [f"{engine:.3f}", f"{tfq_time:.3f}" if tfq_time else "–",
                 f"{tfq_time / engine:.2f}×" if tfq_time else "–", str(count), f"{moved / 1e9:.2f}", f"{floor:.3f}",
                 f"{engine / floor:.1f}×"] + [f"{peaks[s]:.0f}" if peaks[s] is not None else "–" for s in SIMULATORS]
        lines.append(f"| {workload} ({n} qubits) | " + " | ".join(cells) + " |")
        ranked = sorted(table.items(), key=lambda item: -item[1][1])
        details.append(f"- {workload}: state bandwidth {rate / 1e9:.1f} GB/s (one {rows} × 2^{n} complex64 add); "
                       "passes by op type (count, GB): " + ", ".join(f"{k} {v[0]} / {v[1] / 1e9:.2f}"
                                                                     for k, v in ranked[:12]))
    return "\n".join(lines + [""] + details) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["mnist", "layered-14", "layered-16", "layered-18"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "SIMULATOR"), help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    table = profile(args.workloads, args.rounds, not args.no_memory)
    print(table)
    if args.output:
        command = "python benchmarks/profile_engine.py " + " ".join(argv or sys.argv[1:])
        hk.io.write_text_atomic(args.output, f"`{command.strip()}`\n\n{table}")


if __name__ == "__main__":
    main()
