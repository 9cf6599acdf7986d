"""`model.fit` per batch for the general circuit layers, on the Keras backend of this process.

A `PQC` (the RX embedding as its ``input_template``, strongly entangling layers of depth 3, ⟨Y⟩ on
every qubit) followed by a Dense layer, trained by ``model.fit`` (batch 64, 20 batches an epoch, one
warm-up epoch), against the same model with the circuit replaced by a Dense layer of the same width
(the classical floor of a fit step), in interleaved rounds in one process:

    KERAS_BACKEND=jax python benchmarks/general_layers_fit.py --qubits 2 4 6 8 10
    KERAS_BACKEND=tensorflow python benchmarks/general_layers_fit.py --qubits 2 4 6 8 10
"""
from __future__ import annotations

import argparse
import statistics
import time

import cirq  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from hybridkeras.circuits import angle_encoding, make_symbols, pauli_readout, strongly_entangling_layers  # noqa: E402
from hybridkeras.layers.general import PQC  # noqa: E402

BATCH, BATCHES = 64, 20


def model(n: int, quantum: bool, depth: int = 3, check_inputs: bool = True):
    qubits = cirq.LineQubit.range(n)
    inputs = keras.Input((n,))
    if quantum:
        weights = np.array(make_symbols("w", depth * n * 3), dtype=object).reshape(depth, n, 3).tolist()
        hidden = PQC(strongly_entangling_layers(qubits, weights), pauli_readout(qubits, "Y"),
                     input_template=angle_encoding(qubits, make_symbols("x", n), "X"), check_inputs=check_inputs)(inputs)
    else:
        hidden = keras.layers.Dense(n, activation="tanh")(inputs)
    built = keras.Model(inputs, keras.layers.Dense(2)(hidden))
    built.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return built


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="+", default=[2, 4, 6, 8, 10])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"backend {keras.config.backend()}, batch {BATCH}, {BATCHES} batches an epoch, median ms per batch of "
          f"{args.rounds} interleaved rounds")
    print("| qubits | PQC model | PQC model, check_inputs=False | Dense model | PQC / Dense |")
    print("|---|---|---|---|---|")
    for n in args.qubits:
        x = rng.uniform(-1, 1, (BATCH * BATCHES, n)).astype(np.float32)
        y = rng.integers(0, 2, BATCH * BATCHES).astype(np.int32)
        models = {"pqc": model(n, True), "unchecked": model(n, True, check_inputs=False), "dense": model(n, False)}
        for built in models.values():
            built.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # trace and compile
        times = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, built in models.items():
                start = time.perf_counter()
                built.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
                times[name].append((time.perf_counter() - start) / BATCHES * 1e3)
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"| {n} | {med['pqc']:.2f} | {med['unchecked']:.2f} | {med['dense']:.2f} | {med['pqc'] / med['dense']:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
