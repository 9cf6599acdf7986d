"""Training cost of every hybrid family on the state-vector engine, on TFQ, and of its classical twin.

One process, the same batches for every model of a family: seconds per 1,000 training images
(Keras `train_on_batch`, batch 64, after a warm-up pass: Keras' own compiled train step, as
`fit` runs it), as the median of interleaved rounds (each round trains the engine model, the TFQ
model where TFQ runs, and the classical twin once over the batches), and the ratios engine /
classical and TFQ / classical. It runs on the Keras backend named by ``KERAS_BACKEND`` (jax, tensorflow or
torch); TFQ's column is there where TFQ runs (Keras' TensorFlow backend with TFQ installed). Families and
twins:

* HQNN-Parallel (4 × 5-qubit PQCs) vs its CNN counterpart (`build_hqnn_parallel_cnn`);
* HQNN-Quanv (2×2 quantum kernel, 14×14 images) vs CNN4 (`build_cnn4`);
* LCQHNN (4-qubit block) vs CNN-4 (`build_lcqhnn_cnn4`);
* the autoencoder + quantum feature map (5 qubits, groups reduction) vs the classical
  autoencoder classifier (`build_autoencoder_classical`);
* the 3- and 4-qubit distillation students vs the same front (input check, Flatten,
  Dense(2^n, tanh)) with a Dense softmax in place of the circuit.

Plus, on TensorFlow with TFQ, the ParallelPQC step alone (4 × 5 qubits, depth 3, batch 64): forward and
forward+backward ms on each simulator.

    python benchmarks/engines.py --output benchmarks/results/engines.md
    python benchmarks/engines.py --xla   # the engine models and the twins trained with jit_compile=True
"""
from __future__ import annotations

import argparse
import importlib.util
import time

import numpy as np

import hybridkeras as hk
from hybridkeras.engines.ops import backend as keras_backend
from hybridkeras.io import write_text_atomic
from hybridkeras.layers import ParallelPQC
from hybridkeras.models import (
    adapt_front, build_autoencoder_classical, build_autoencoder_qfm, build_cnn4, build_hqnn_parallel,
    build_hqnn_parallel_cnn, build_hqnn_quanv, build_lcqhnn, build_lcqhnn_cnn4, build_student_3q, build_student_4q,
    compile_for,
)
from hybridkeras.models.common import image_check

keras = hk.keras
# the simulators this process can run: TFQ on Keras' TensorFlow backend where TFQ is installed
SIMULATORS = ("statevector", "tfq") if (
    keras_backend() == "tensorflow" and importlib.util.find_spec("tensorflow_quantum") is not None) else ("statevector",)


def _student_twin(qubits):
    """The student's front (input check, Flatten, Dense(2^n, tanh)) with a Dense softmax in place of the circuit."""
    def build(input_shape, num_classes):
        inputs = keras.Input(input_shape)
        x = keras.layers.Dense(2**qubits, activation="tanh")(keras.layers.Flatten()(image_check()(inputs)))
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x), name=f"student_{qubits}q_twin")
    return build


def _autoencoder_qfm(input_shape, num_classes, **kwargs):
    model = build_autoencoder_qfm(input_shape, num_classes, reduction="groups", **kwargs)
    adapt_front(model.get_layer("quantum_front"), np.random.default_rng(0).normal(size=(256, 64)).astype(np.float32))
    return model


FAMILIES = {  # name: (hybrid builder, classical twin, image shape, classes)
    "HQNN-Parallel": (build_hqnn_parallel, build_hqnn_parallel_cnn, (28, 28, 1), 10),
    "HQNN-Quanv": (build_hqnn_quanv, build_cnn4, (14, 14, 1), 10),
    "LCQHNN": (build_lcqhnn, build_lcqhnn_cnn4, (28, 28, 1), 2),
    "autoencoder + feature map": (_autoencoder_qfm, build_autoencoder_classical, (28, 28, 1), 10),
    "student 3q": (build_student_3q, _student_twin(3), (28, 28, 1), 8),
    "student 4q": (build_student_4q, _student_twin(4), (28, 28, 1), 8),
}


def _epoch(model, batches) -> float:
    start = time.perf_counter()
    for x, y in batches:
        model.train_on_batch(x, y)
    return time.perf_counter() - start


def family_times(name, batches_per_round, rounds, xla: bool = False) -> dict:
    hybrid, twin, shape, classes = FAMILIES[name]
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(0, 1, (64, *shape)).astype(np.float32), rng.integers(0, classes, 64))
               for _ in range(batches_per_round)]
    models = {}
    for simulator in SIMULATORS:
        keras.utils.set_random_seed(0)
        models[simulator] = compile_for(hybrid(shape, classes, backend=simulator),
                                        jit_compile=xla and simulator == "statevector")  # TFQ: no XLA
    models["classical"] = compile_for(twin(shape, classes), jit_compile=xla)
    for model in models.values():
        _epoch(model, batches[:2])  # trace and warm up
    times = {key: [] for key in models}
    for _ in range(rounds):
        for key, model in models.items():
            times[key].append(_epoch(model, batches))
    images = 64 * batches_per_round
    return {key: float(np.median(t)) / images * 1000 for key, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--families", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    parser.add_argument("--xla", action="store_true",
                        help="train the engine models and the twins with jit_compile=True (TFQ models cannot be)")
    parser.add_argument("--output", help="also write the Markdown table here")
    args = parser.parse_args()

    step = ""
    if "tfq" in SIMULATORS:  # the quantum layer's step alone, on each simulator (TensorFlow's tf.function)
        import tensorflow as tf

        from epoch_time import step_ms  # noqa: E402  (same directory)

        x = tf.random.stateless_normal((64, 20), seed=(0, 0))
        tfq_layer, engine_layer = (ParallelPQC(4, 5, depth=3, backend="tfq"),
                                   ParallelPQC(4, 5, depth=3, backend="statevector"))
        tfq_layer(x)
        engine_layer(x)
        engine_layer.set_weights(tfq_layer.get_weights())
        gap = float(np.abs(np.asarray(tfq_layer(x)) - np.asarray(engine_layer(x))).max())
        tfq_fwd, tfq_both = step_ms(tfq_layer, x, repeats=args.repeats)
        eng_fwd, eng_both = step_ms(engine_layer, x, repeats=args.repeats)
        step = (f"ParallelPQC 4 × 5 × 3, batch 64 (256 circuits), forward / forward+backward ms: TFQ {tfq_fwd:.1f} / "
                f"{tfq_both:.1f}, engine {eng_fwd:.1f} / {eng_both:.1f} ({tfq_both / eng_both:.0f}× faster); largest "
                f"output difference {gap:.1e}.\n\n")

    tfq = "tfq" in SIMULATORS
    rows = ["| family | engine, s / 1,000 images |" + (" TFQ |" if tfq else "") + " classical twin | engine / classical |"
            + (" TFQ / classical |" if tfq else ""),
            "|---|---|---|---|" + ("---|---|" if tfq else "")]
    for name in args.families:
        t = family_times(name, args.batches, args.rounds, args.xla)
        rows.append(f"| {name} | {t['statevector']:.3f} |" + (f" {t['tfq']:.3f} |" if tfq else "")
                    + f" {t['classical']:.3f} | {t['statevector'] / t['classical']:.2f} |"
                    + (f" {t['tfq'] / t['classical']:.1f} |" if tfq else ""))
        print(rows[-1], flush=True)
    keras_name = f"Keras {keras.__version__} on {keras_backend()}"
    text = (f"{keras_name}; batch 64; training: {args.batches} batches per round, median of {args.rounds} interleaved "
            f"rounds{'; engine models and twins compiled by XLA (jit_compile=True)' if args.xla else ''}.\n\n"
            + step + "\n".join(rows) + "\n")
    print(text)
    if args.output:
        write_text_atomic(args.output, text)


if __name__ == "__main__":
    main()
