"""What the NaN/Inf input check costs a training step on JAX (`engines.ops.check_finite` under `jax.jit`).

HQNN-Parallel's quantum block (ParallelPQC 4 × 5, depth 2) and a ControlledPQC (5 qubits) behind a Dense
layer, each trained by ``model.train_on_batch`` (batch 32; Keras compiles the step with `jax.jit`), with the
check as shipped and with it replaced by the identity, interleaved in rounds in one process:

    KERAS_BACKEND=jax python benchmarks/nan_check.py --rounds 7
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import cirq  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import sympy  # noqa: E402

from hybridkeras.engines import ops  # noqa: E402
from hybridkeras.layers import general  # noqa: E402
from hybridkeras.layers import base as layer_base  # noqa: E402
from hybridkeras.layers import ParallelPQC  # noqa: E402


def models():
    qubits = cirq.LineQubit.range(5)
    symbols = sympy.symbols("s0:10")
    circuit = cirq.Circuit([cirq.ry(symbols[i])(q) for i, q in enumerate(qubits)],
                           [cirq.CNOT(a, b) for a, b in zip(qubits, qubits[1:])],
                           [cirq.rx(symbols[5 + i])(q) for i, q in enumerate(qubits)])
    inputs = keras.Input((20,))
    parallel = keras.Model(inputs, keras.layers.Dense(10)(ParallelPQC(4, 5, depth=2)(inputs)))
    inputs = keras.Input((20,))
    controlled = general.ControlledPQC(circuit, [cirq.Z(q) for q in qubits])(keras.layers.Dense(10)(inputs))
    controlled = keras.Model(inputs, keras.layers.Dense(10)(controlled))
    return {"ParallelPQC 4x5": parallel, "ControlledPQC 5q": controlled}


def build(checked: bool):
    original = ops.check_finite
    identity = lambda x, message: keras.ops.cast(x, "float32")  # noqa: E731
    for module in (ops, general.base, layer_base):
        setattr(module, "check_finite", original if checked else identity)
    try:
        built = models()
        for model in built.values():
            model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.train_on_batch(np.zeros((32, 20), np.float32), np.zeros(32, np.int32))  # compile the step
    finally:
        for module in (ops, general.base, layer_base):
            setattr(module, "check_finite", original)
    return built


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--aa", action="store_true", help="check on both sides (the noise floor)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (32, 20)).astype(np.float32), rng.integers(0, 10, 32).astype(np.int32)
    variants = {"unchecked": build(False), "checked": build(True)}
    if args.aa:  # an A/A run: the check on both sides, to see this machine's noise floor
        variants = {"unchecked": build(True), "checked": build(True)}
    times = {(name, v): [] for v in variants for name in variants[v]}
    for _ in range(args.rounds):
        for variant, built in variants.items():
            for name, model in built.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    model.train_on_batch(x, y)
                times[name, variant].append((time.perf_counter() - start) / args.steps * 1e3)
    print(f"backend {keras.config.backend()}, batch 32, {args.rounds} interleaved rounds of {args.steps} steps")
    print("| model | checked ms / step | unchecked ms / step | cost (median of paired rounds) |")
    print("|---|---|---|---|")
    for name in variants["checked"]:
        checked, unchecked = times[name, "checked"], times[name, "unchecked"]
        ratio = statistics.median(c / u for c, u in zip(checked, unchecked))
        print(f"| {name} | {statistics.median(checked):.3f} | {statistics.median(unchecked):.3f} | {100 * (ratio - 1):+.1f}% |")


if __name__ == "__main__":
    main()
