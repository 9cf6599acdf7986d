"""Trials per hour of one Keras Tuner search run by 1 and by 2 local workers, each pinned to one core.

    python benchmarks/distributed_tuning.py [--trials 12] [--epochs 2] [--rounds 2]

Each run is the CLI's own ``hybridkeras tune ... --workers N`` (a chief and N worker processes on
127.0.0.1) started with CPU affinity {0} (1 worker) or {0, 1} (2 workers): the launcher pins each
worker to one of those cores. Runs alternate (1, 2, 1, 2, …) so load drifts on a shared machine hit
both alike. Wall time includes everything a user waits for (process start, data, the chief, the
export); trials per hour = trials / wall time. Writes benchmarks/results/distributed_tuning.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEARCH = ["tune", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--quiet"]


def run(workers: int, cores: set, trials: int, epochs: int, folder: Path) -> float:
    shutil.rmtree(folder, ignore_errors=True)
    command = [sys.executable, "-m", "hybridkeras", *SEARCH, "--trials", str(trials), "--epochs", str(epochs),
               "--output", str(folder), "--workers", str(workers)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          preexec_fn=lambda: os.sched_setaffinity(0, cores))
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"search with {workers} worker(s) failed:\n{done.stderr[-3000:]}")
    summary = json.loads((folder / "tuning.json").read_text())
    finished = [t for t in summary["trials"] if t["status"] == "COMPLETED"]
    assert len(finished) == trials, summary["trials"]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        raise SystemExit("needs two cores")
    cores = {1: {available[0]}, 2: set(available[:2])}
    seconds = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for workers in (1, 2):
                seconds[workers].append(run(workers, cores[workers], args.trials, args.epochs, Path(tmp) / "search"))
                print(f"round {round_ + 1}: {workers} worker(s): {seconds[workers][-1]:.1f} s", flush=True)
    median = {w: statistics.median(s) for w, s in seconds.items()}
    rate = {w: 3600 * args.trials / median[w] for w in median}
    speedup = median[1] / median[2]
    lines = [
        f"Search: `hybridkeras {' '.join(SEARCH)} --trials {args.trials} --epochs {args.epochs} --workers N`, "
        f"each worker pinned to one core; {args.rounds} interleaved rounds, median wall time.",
        "",
        "| workers | wall time (s), each round | median (s) | trials / hour |",
        "|---|---|---|---|",
    ]
    for w in (1, 2):
        lines.append(f"| {w} | {', '.join(f'{s:.1f}' for s in seconds[w])} | {median[w]:.1f} | {rate[w]:.0f} |")
    lines += ["", f"Speed-up with 2 workers: {speedup:.2f}×", ""]
    text = "\n".join(lines)
    print(text)
    out = Path(__file__).parent / "results" / "distributed_tuning.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(f"Command: `python benchmarks/distributed_tuning.py --trials {args.trials} --epochs {args.epochs} "
                   f"--rounds {args.rounds}`\n\n" + text)


if __name__ == "__main__":
    main()
