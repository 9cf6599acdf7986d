"""Training time of HQNN-Parallel vs its CNN counterpart, and where the hybrid's time goes.

One process, the same batches for every model: seconds per 1,000 training images (Keras
`train_on_batch`, batch 64, after warm-up) of HQNN-Parallel and its CNN counterpart at paper
settings (4 circuits × 5 qubits, depth 3), their ratio, and the forward / forward+backward time
of the quantum layer alone on each simulator this process has (the state-vector engine, and TFQ's ops where
TFQ is installed and Keras runs on TensorFlow).

    python benchmarks/epoch_time.py                # prints a Markdown table
    python benchmarks/epoch_time.py --batches 30 --output benchmarks/results/epoch_time.md
"""
from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

import hybridkeras  # noqa: F401
from hybridkeras._stack import tf  # TensorFlow: Keras on its TensorFlow backend
from hybridkeras.io import write_text_atomic
from hybridkeras.layers import ParallelPQC
from hybridkeras.models import build_hqnn_parallel, build_hqnn_parallel_cnn, compile_for


def per_1000_images(model, batches, repeats: int) -> float:
    x, y = batches[0]
    model.train_on_batch(x, y)  # trace and warm up
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x, y in batches:
            model.train_on_batch(x, y)
        best.append(time.perf_counter() - start)
    images = sum(len(x) for x, _ in batches)
    return min(best) / images * 1000


def step_ms(layer, x, *, jit: bool = False, repeats: int = 10) -> tuple[float, float]:
    """Median forward and forward+backward (input and weight gradients) time of ``layer`` on ``x``, in ms."""
    @tf.function(jit_compile=jit)
    def forward(x):
        return layer(x)

    @tf.function(jit_compile=jit)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = tf.reduce_sum(layer(x) ** 2)
        return tape.gradient(value, [x, layer.trainable_weights[0]])

    out = []
    for fn in (forward, step):
        fn(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - start)
        out.append(float(np.median(times)) * 1000)
    return out[0], out[1]


def quantum_step_ms(simulator: str, batch: int, repeats: int = 10) -> tuple[float, float]:
    layer = ParallelPQC(4, 5, depth=3, backend=simulator)
    x = tf.random.normal((batch, 20))
    layer(x)
    return step_ms(layer, x, repeats=repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", help="also write the Markdown table here")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    batches = [(rng.uniform(0, 1, (args.batch_size, 28, 28, 1)).astype(np.float32),
                rng.integers(0, 10, args.batch_size)) for _ in range(args.batches)]
    tf.keras.utils.set_random_seed(0)
    hybrid = per_1000_images(compile_for(build_hqnn_parallel()), batches, args.repeats)
    cnn = per_1000_images(compile_for(build_hqnn_parallel_cnn()), batches, args.repeats)
    rows = [
        "| measurement | value |",
        "|---|---|",
        f"| HQNN-Parallel training, s / 1,000 images | {hybrid:.2f} |",
        f"| CNN counterpart training, s / 1,000 images | {cnn:.2f} |",
        f"| ratio hybrid / CNN | {hybrid / cnn:.1f} |",
    ]
    simulators = ("statevector", "tfq") if importlib.util.find_spec("tensorflow_quantum") else ("statevector",)
    for simulator in simulators:
        fwd, both = quantum_step_ms(simulator, args.batch_size)
        rows.append(f"| ParallelPQC alone on {simulator}: forward / forward+backward, ms per batch of "
                    f"{args.batch_size} ({4 * args.batch_size} circuits) | {fwd:.1f} / {both:.1f} |")
    header = (f"{tf.config.threading.get_intra_op_parallelism_threads() or 'all'} intra-op threads, "
              f"{len(tf.config.list_physical_devices('CPU'))} CPU device(s); batch {args.batch_size}, "
              f"{args.batches} batches, best of {args.repeats}.")
    text = header + "\n\n" + "\n".join(rows) + "\n"
    print(text)
    if args.output:
        write_text_atomic(args.output, text)


if __name__ == "__main__":
    main()
