"""One training epoch of two TensorFlow Quantum tutorials on TFQ and on the state-vector engine, interleaved.

Both models are built with `hybridkeras.layers` (the tutorials' code with only the import changed
and ``backend=`` added) and trained with ``model.fit`` — the way user code runs them:

* MNIST: 3 vs 6 digits resized to 4×4 and binarised (contradicting patterns removed), each an
  input circuit of X gates; a 17-qubit QNN (`PQC`, 32 weights), hinge loss, batch 32.
* QCNN: excited cluster states on 8 qubits (`AddCircuit` prepends the cluster state), the
  QCNN (`PQC`, 63 weights), hinge loss, batch 16.

Each round trains one epoch of every (tutorial, backend) pair in turn, after one warm-up
epoch each; the table gives the median epoch time over the rounds, the engine/TFQ ratio paired
round by round, and the two backends' losses after the same epochs from the same weights.

    python benchmarks/tfq_tutorials.py --rounds 5 --output benchmarks/results/tfq_tutorials.md
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import hybridkeras as hk
from hybridkeras import keras
from hybridkeras._stack import tf, tfq
from hybridkeras.circuits import tutorials
from hybridkeras.data import binarise, filter_classes, read_idx, resize_images
from hybridkeras.data.loaders import SAMPLE_DIR

BACKENDS = ("tfq", "statevector")


def hinge_accuracy(y_true, y_pred):
    return tf.reduce_mean(tf.cast(tf.equal(y_true > 0.0, y_pred > 0.0), tf.float32))


def mnist_data(examples: int, data_dir: Path | None = None):
    """(input circuits tensor, ±1 labels) of up to ``examples`` 3-vs-6 digits from the bundled sample or ``data_dir``."""
    folder = Path(data_dir) if data_dir else SAMPLE_DIR
    images = read_idx(folder / "images-idx3-ubyte.gz") / 255.0
    labels = read_idx(folder / "labels-idx1-ubyte.gz")
    x, y = filter_classes(images[..., None], labels, (3, 6))
    x = binarise(resize_images(x, (4, 4))[..., 0])
    x, y = tutorials.remove_contradicting(x, y)
    x, y = x[:examples], y[:examples]
    circuits = tfq.convert_to_tensor([tutorials.mnist_data_circuit(image) for image in x])
    return circuits, np.where(y == 3, 1.0, -1.0).astype(np.float32)


def mnist_model(backend: str):
    circuit, readout = tutorials.mnist_model_circuit()
    model = keras.Sequential([keras.Input(shape=(), dtype=tf.string),
                              hk.layers.PQC(circuit, readout, simulator=backend)], name=f"mnist_qnn_{backend}")
    model.compile(loss=keras.losses.Hinge(), optimizer=keras.optimizers.Adam(), metrics=[hinge_accuracy])
    return model


def qcnn_data(examples: int, seed: int = 0):
    qubits = tutorials.cirq.GridQubit.rect(1, 8)
    circuits, labels = tutorials.cluster_excitations(qubits, examples, seed=seed)
    return tfq.convert_to_tensor(circuits), labels


def qcnn_model(backend: str):
    qubits = tutorials.cirq.GridQubit.rect(1, 8)
    circuit, readout = tutorials.qcnn_model_circuit(qubits)
    excitations = keras.Input(shape=(), dtype=tf.string)
    cluster = hk.layers.AddCircuit()(excitations, prepend=tutorials.cluster_state_circuit(qubits))
    output = hk.layers.PQC(circuit, readout, simulator=backend)(cluster)
    model = keras.Model(excitations, output, name=f"qcnn_{backend}")
    model.compile(loss=keras.losses.Hinge(), optimizer=keras.optimizers.Adam(learning_rate=0.02),
                  metrics=[hinge_accuracy])
    return model


TUTORIALS = {"MNIST (17 qubits)": (mnist_data, mnist_model, 32), "QCNN (8 qubits)": (qcnn_data, qcnn_model, 16)}


def run(rounds: int, mnist_examples: int, qcnn_examples: int, data_dir=None) -> str:
    sizes = {"MNIST (17 qubits)": mnist_examples, "QCNN (8 qubits)": qcnn_examples}
    jobs = {}
    for name, (data, build, batch) in TUTORIALS.items():
        x, y = data(sizes[name], data_dir) if data is mnist_data else data(sizes[name])
        models = {}
        for backend in BACKENDS:
            keras.utils.set_random_seed(0)
            models[backend] = build(backend)
        models["statevector"].set_weights(models["tfq"].get_weights())
        jobs[name] = (x, y, batch, models)
    times = {(name, b): [] for name in jobs for b in BACKENDS}
    losses = {}
    for r in range(rounds + 1):  # round 0 warms up (tracing, the engine's input-state cache)
        for name, (x, y, batch, models) in jobs.items():
            for backend in BACKENDS:
                start = time.perf_counter()
                history = models[backend].fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
                if r:
                    times[(name, backend)].append(time.perf_counter() - start)
                losses[(name, backend)] = (history.history["loss"][-1], history.history["hinge_accuracy"][-1])
    lines = ["| tutorial | examples / epoch | TFQ s / epoch | engine s / epoch | TFQ / engine (paired median) | "
             "loss TFQ / engine after the same epochs |", "|---|---|---|---|---|---|"]
    for name, (x, _, _, _) in jobs.items():
        tfq_t, eng_t = times[(name, "tfq")], times[(name, "statevector")]
        paired = statistics.median(a / b for a, b in zip(tfq_t, eng_t))
        lines.append(f"| {name} | {int(x.shape[0])} | {statistics.median(tfq_t):.3f} | {statistics.median(eng_t):.3f} | "
                     f"{paired:.1f}× | {losses[(name, 'tfq')][0]:.5f} / {losses[(name, 'statevector')][0]:.5f} |")
    return "\n".join(lines) + f"\n\n{rounds} timed rounds after one warm-up epoch each; `model.fit` epochs, interleaved.\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mnist-examples", type=int, default=512)
    parser.add_argument("--qcnn-examples", type=int, default=256)
    parser.add_argument("--data-dir", type=Path, default=None, help="IDX folder (default: the bundled 2,000 digits)")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    table = run(args.rounds, args.mnist_examples, args.qcnn_examples, args.data_dir)
    print(table)
    if args.output:
        command = "python benchmarks/tfq_tutorials.py " + " ".join(argv or __import__("sys").argv[1:])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(f"`{command.strip()}`\n\n{table}")


if __name__ == "__main__":
    main()
