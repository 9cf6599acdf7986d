"""Paper 4's table on real digits: quantum students alone, teachers, distilled students, gains.

MNIST classes 0–5 and 0–7 from the 8,000 shared real digits (or --data-dir): 150 training
and 30 validation images per class (balanced, drawn anew for every seed), the test split is
20% of the pooled digits of those classes. LeNet and the adapted AlexNet (FC 4096, as in the
paper) train 10 epochs; the 3- and 4-qubit amplitude-encoded students train 10 epochs alone
and distilled from LeNet, AlexNet and their ensemble (T = 3, λ = 0.9, Adam 1e-3), from the
same initial weights. Mean ± std over seeds 0 1 2.

    python benchmarks/distillation.py                     # both tasks, about 40 minutes on 2 cores
    python benchmarks/distillation.py --tasks distill-mnist-6 --seeds 0
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import hybridkeras  # noqa: F401
from hybridkeras.io import write_text_atomic
from hybridkeras.training import get_config, run_distillation

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.path.relpath(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--tasks", nargs="+", default=["distill-mnist-6", "distill-mnist-8"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "results" / "distillation_mnist.md"))
    args = parser.parse_args()

    command = " ".join(["python", "benchmarks/distillation.py", *sys.argv[1:]])
    parts = [f"Command: `{command}`"]
    for task in args.tasks:
        config = get_config(task).replace(data_dir=args.data_dir, seeds=tuple(args.seeds))
        result = run_distillation(config, REPO / "saved_models" / f"{task}-local", verbose=2)
        parts.append(result.markdown)
        print(result.markdown, flush=True)
    write_text_atomic(args.results, "\n\n".join(parts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
