"""Classical vs hybrid accuracy of the autoencoder + quantum feature map pipeline on real digits.

Uses the 8,000 real MNIST digits in ../shared/data/mnist (or --data-dir): 25% (2,000) held
out for testing, 10% of the rest for validation, the remaining 5,400 for training. Each
variant of the quantum feature map runs for every seed; the table shows mean ± std.

    python benchmarks/autoencoder_qfm.py                  # all variants, seeds 0 1 2
    python benchmarks/autoencoder_qfm.py --seeds 0 --variants groups-Z
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

import hybridkeras  # noqa: F401
from hybridkeras.io import write_json_atomic, write_text_atomic
from hybridkeras.training import get_config, train_autoencoder_qfm

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {
    "groups-Z": dict(reduction="groups", readout="Z"),
    "pca-Z": dict(reduction="pca", readout="Z"),
    "groups-probs": dict(reduction="groups", readout="probs"),
    "groups-Z-1000shots": dict(reduction="groups", readout="Z", repetitions=1000),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.path.relpath(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--output", default=str(REPO / "benchmarks" / "results" / "autoencoder_qfm"))
    args = parser.parse_args()

    rows = {}
    started = time.time()
    for variant in args.variants:
        runs = []
        for seed in args.seeds:
            config = get_config(
                "autoencoder-qfm", dataset="mnist", data_dir=args.data_dir, test_split=0.25, seed=seed, **VARIANTS[variant]
            )
            result = train_autoencoder_qfm(config, verbose=0)
            runs.append(result.metrics)
            print(f"{variant} seed {seed}: {json.dumps({k: round(v, 4) for k, v in result.metrics.items()})}", flush=True)
        rows[variant] = {"runs": runs, "summary": result.dataset.summary()}

    def stat(runs, key):
        values = np.array([r[key] for r in runs]) * 100
        return f"{values.mean():.2f} ± {values.std():.2f}"

    lines = [
        "| feature map | classical val | classical test | hybrid val | hybrid test | AE val MSE |",
        "|---|---|---|---|---|---|",
    ]
    for variant, row in rows.items():
        runs = row["runs"]
        mse = np.array([r["autoencoder_val_mse"] for r in runs])
        lines.append(
            f"| {variant} | {stat(runs, 'classical_val_accuracy')} | {stat(runs, 'classical_test_accuracy')} | "
            f"{stat(runs, 'hybrid_val_accuracy')} | {stat(runs, 'hybrid_test_accuracy')} | {mse.mean():.4f} |"
        )
    table = "\n".join(lines)
    header = (
        f"Accuracy in % (mean ± std over seeds {args.seeds}); data: {next(iter(rows.values()))['summary']}; "
        f"{time.time() - started:.0f} s in all."
    )
    print("\n" + header + "\n\n" + table)
    out = Path(args.output)
    write_text_atomic(out.with_suffix(".md"), header + "\n\n" + table + "\n")
    write_json_atomic(out.with_suffix(".json"), rows)


if __name__ == "__main__":
    main()
