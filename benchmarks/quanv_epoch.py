"""Seconds per epoch of HQNN-Quanv on its paper protocol (config `hqnn-quanv`: 500 real digits at 14×14, batch 32)
(the bundled sample) on the state-vector engine and on TFQ, against CNN4: interleaved epochs in one
process, median.

    python benchmarks/quanv_epoch.py
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import hybridkeras  # noqa: F401
from hybridkeras.models import build_cnn4, build_hqnn_quanv, compile_for
from hybridkeras.training import get_config
from hybridkeras.training.experiments import experiment_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per model (after one warm-up epoch)")
    args = parser.parse_args()
    config = get_config("hqnn-quanv")
    data = experiment_dataset(config, config.split_seed(0))
    shape, classes = data.x_train.shape[1:], data.num_classes
    models = {"HQNN-Quanv, engine": build_hqnn_quanv(shape, classes, backend="statevector"),
              "HQNN-Quanv, TFQ": build_hqnn_quanv(shape, classes, backend="tfq"),
              "CNN4": build_cnn4(shape, classes)}
    for model in models.values():
        compile_for(model, learning_rate=config.learning_rate)
        model.fit(data.x_train, data.y_train, epochs=1, batch_size=config.batch_size, verbose=0)
    times = {name: [] for name in models}
    for _ in range(args.epochs):
        for name, model in models.items():
            start = time.perf_counter()
            model.fit(data.x_train, data.y_train, epochs=1, batch_size=config.batch_size, verbose=0)
            times[name].append(time.perf_counter() - start)
    cnn = float(np.median(times["CNN4"]))
    print(f"{len(data.x_train)} training images, batch {config.batch_size}, median of {args.epochs} interleaved epochs:")
    for name, t in times.items():
        print(f"  {name}: {np.median(t):.3f} s per epoch ({np.median(t) / cnn:.2f}x CNN4)")


if __name__ == "__main__":
    main()
