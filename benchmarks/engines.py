"""TFQ vs the state-vector engine: the ParallelPQC step and HQNN-Parallel training, one process, same inputs.

Rows: forward and forward+backward time of ParallelPQC(4 circuits × 5 qubits, depth 3) at
batch 64 (256 circuits) on each backend (`tf.function`, median of repeats; the engine also
under XLA, `jit_compile=True`), and seconds per 1,000 training images (Keras
`train_on_batch`, batch 64) of HQNN-Parallel on each backend and of its CNN counterpart,
with the ratios.

    python benchmarks/engines.py --output benchmarks/results/engines.md
"""
from __future__ import annotations

import argparse

import numpy as np

import hybridkeras as hk
from hybridkeras._compat import tf
from hybridkeras.io import write_text_atomic
from hybridkeras.layers import ParallelPQC
from hybridkeras.models import build_hqnn_parallel, build_hqnn_parallel_cnn, compile_for

from epoch_time import per_1000_images, step_ms  # noqa: E402  (same directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--output", help="also write the Markdown table here")
    args = parser.parse_args()

    x = tf.random.stateless_normal((args.batch_size, 20), seed=(0, 0))
    tfq_layer = ParallelPQC(4, 5, depth=3, backend="tfq")
    engine_layer = ParallelPQC(4, 5, depth=3, backend="statevector")
    tfq_layer(x)
    engine_layer(x)
    engine_layer.set_weights(tfq_layer.get_weights())
    gap = float(np.abs(tfq_layer(x).numpy() - engine_layer(x).numpy()).max())
    tfq_fwd, tfq_both = step_ms(tfq_layer, x, jit=False, repeats=args.repeats)
    eng_fwd, eng_both = step_ms(engine_layer, x, jit=False, repeats=args.repeats)
    xla_fwd, xla_both = step_ms(engine_layer, x, jit=True, repeats=args.repeats)

    rng = np.random.default_rng(0)
    batches = [(rng.uniform(0, 1, (args.batch_size, 28, 28, 1)).astype(np.float32),
                rng.integers(0, 10, args.batch_size)) for _ in range(args.batches)]
    timings = {}
    for backend in ("tfq", "statevector"):
        hk.set_backend(backend)
        tf.keras.utils.set_random_seed(0)
        timings[backend] = per_1000_images(compile_for(build_hqnn_parallel()), batches, 3)
    hk.set_backend("tfq")
    cnn = per_1000_images(compile_for(build_hqnn_parallel_cnn()), batches, 3)

    n = 4 * args.batch_size
    rows = [
        "| measurement | value |",
        "|---|---|",
        f"| ParallelPQC, TFQ (Expectation, adjoint): forward / forward+backward, ms per {n} circuits | {tfq_fwd:.1f} / {tfq_both:.1f} |",
        f"| ParallelPQC, state-vector engine: forward / forward+backward, ms | {eng_fwd:.1f} / {eng_both:.1f} |",
        f"| ParallelPQC, state-vector engine under XLA: forward / forward+backward, ms | {xla_fwd:.1f} / {xla_both:.1f} |",
        f"| speed-up of the forward+backward step, engine / engine+XLA vs TFQ | {tfq_both / eng_both:.1f}× / {tfq_both / xla_both:.1f}× |",
        f"| largest output difference engine vs TFQ | {gap:.1e} |",
        f"| HQNN-Parallel training on TFQ, s / 1,000 images | {timings['tfq']:.2f} |",
        f"| HQNN-Parallel training on the engine, s / 1,000 images | {timings['statevector']:.2f} |",
        f"| CNN counterpart training, s / 1,000 images | {cnn:.2f} |",
        f"| ratio HQNN-Parallel / CNN: TFQ, engine | {timings['tfq'] / cnn:.1f}, {timings['statevector'] / cnn:.1f} |",
    ]
    text = f"batch {args.batch_size}; steps: median of {args.repeats}; training: {args.batches} batches, best of 3.\n\n" + "\n".join(rows) + "\n"
    print(text)
    if args.output:
        write_text_atomic(args.output, text)


if __name__ == "__main__":
    main()
