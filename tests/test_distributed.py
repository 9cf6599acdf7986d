"""Distributed search on Keras Tuner's chief / worker mode: chief and workers as real processes on
127.0.0.1, faults by SIGKILL."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import hybridkeras as hk
from hybridkeras.tuning import distributed

TUNE = ["tune", "hqnn-quanv", "--config", "hqnn-quanv-tiny", "--epochs", "1", "--quiet"]

# Injected into a worker to SIGKILL it in the middle of its first trial (second batch of epoch 1).
KILL_MID_TRIAL = textwrap.dedent("""
    import os, signal, sys
    import hybridkeras as hk
    from hybridkeras.tuning import search

    class Die(hk.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 1:
                os.kill(os.getpid(), signal.SIGKILL)

    real = search._Trials.run_trial
    def run_trial(self, trial, *args, **kwargs):
        kwargs["callbacks"] = list(kwargs.get("callbacks", [])) + [Die()]
        return real(self, trial, *args, **kwargs)
    search._Trials.run_trial = run_trial
    from hybridkeras.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def start(part, port, out, *args, code=None, env=None, cwd=None):
    environ = dict(os.environ, KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=str(port),
                   KERASTUNER_TUNER_ID=part, TF_CPP_MIN_LOG_LEVEL="2", **(env or {}))
    command = [sys.executable, "-c", code, *TUNE, "--output", str(out), *args] if code else \
        [sys.executable, "-m", "hybridkeras", *TUNE, "--output", str(out), *args]
    return subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=cwd)


def finish(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def wait_for(predicate, timeout=300, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def completed(folder):
    return [p for p in folder.glob("tuner/*/trial_*/trial.json") if json.loads(p.read_text())["status"] == "COMPLETED"]


def test_chief_and_two_workers_share_one_search_and_export_the_best_model(tmp_path):
    out, port = tmp_path / "search", distributed.free_port()
    chief = start("chief", port, out, "--trials", "4")
    wait_for(lambda: "chief of the search" in (out / ".hybridkeras-lock").read_text()
             if (out / ".hybridkeras-lock").is_file() else False, what="the chief's lock")
    # an unrelated search into the same folder is refused while the chief holds it; its workers are not
    intruder = subprocess.run([sys.executable, "-m", "hybridkeras", *TUNE, "--output", str(out), "--trials", "1"],
                              capture_output=True, text=True, timeout=300)
    assert intruder.returncode == 2 and "is in use by" in intruder.stderr and "chief of the search" in intruder.stderr
    workers = [start(f"tuner{i}", port, out, "--trials", "4") for i in range(2)]
    for proc in workers:
        code, stdout, stderr = finish(proc)
        assert code == 0, stderr[-3000:]
        assert json.loads(stdout[stdout.index("{"):])["worker"] in ("tuner0", "tuner1")
    code, stdout, stderr = finish(chief)
    assert code == 0, stderr[-3000:]

    summary = json.loads((out / "tuning.json").read_text())
    trials = summary["trials"]
    assert len(trials) == 4 and all(t["status"] == "COMPLETED" for t in trials)
    assert {t["worker"] for t in trials} == {"tuner0", "tuner1"}  # both workers ran trials
    best = max(trials, key=lambda t: t["score"])
    assert summary["best_hyperparameters"] == best["hyperparameters"]

    # the export reloads in a fresh process with identical predictions, and scores what the chief recorded
    from hybridkeras.training.experiments import experiment_dataset
    from hybridkeras.training import get_config

    data = experiment_dataset(get_config("hqnn-quanv-tiny"), 0)
    np.save(tmp_path / "x.npy", data.x_test)
    here = hk.load_model(out / "best").predict(data.x_test, verbose=0)
    fresh = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import numpy as np, hybridkeras as hk
        x = np.load({str(tmp_path / 'x.npy')!r})
        np.save({str(tmp_path / 'fresh.npy')!r}, hk.load_model({str(out / 'best')!r}).predict(x, verbose=0))
    """)], capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "fresh.npy"), here)
    assert np.mean(here.argmax(1) == data.y_test) == pytest.approx(summary["test_accuracy"], abs=1e-6)


@pytest.mark.slow
def test_a_worker_killed_mid_trial_leaves_no_trial_unaccounted_for(tmp_path):
    out, port = tmp_path / "search", distributed.free_port()
    chief = start("chief", port, out, "--trials", "4", env={"HYBRIDKERAS_WORKER_TIMEOUT": "8"})
    survivor = start("tuner0", port, out, "--trials", "4")
    doomed = start("tuner1", port, out, "--trials", "4", code=KILL_MID_TRIAL)
    assert finish(doomed)[0] == -signal.SIGKILL
    code, _, stderr = finish(survivor)
    assert code == 0, stderr[-3000:]
    code, stdout, stderr = finish(chief)
    assert code == 0, stderr[-3000:]
    assert "was not heard for" in stdout  # the chief noticed, and the trial went back to the oracle
    trials = json.loads((out / "tuning.json").read_text())["trials"]
    assert sorted(t["trial"] for t in trials) == ["0", "1", "2", "3"]
    assert all(t["status"] in ("COMPLETED", "FAILED") for t in trials)
    assert all(t["worker"] == "tuner0" for t in trials if t["status"] == "COMPLETED")
    assert sum(t["status"] == "COMPLETED" for t in trials) == 4  # the killed trial was retried on tuner0


@pytest.mark.slow
def test_workers_of_a_killed_chief_stop_with_a_clear_message_and_the_search_resumes(tmp_path):
    out, port = tmp_path / "search", distributed.free_port()
    chief = start("chief", port, out, "--trials", "12")
    workers = [start(f"tuner{i}", port, out, "--trials", "12") for i in range(2)]
    wait_for(lambda: len(completed(out)) >= 2, what="two finished trials")
    chief.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    for proc in workers:
        code, _, stderr = finish(proc, timeout=120)
        assert time.monotonic() - killed_at < 60
        assert code == distributed.CHIEF_LOST, stderr[-3000:]
        assert "the chief oracle at 127.0.0.1" in stderr and "stopped answering" in stderr
    finish(chief)
    done_before = {p.parent.name for p in completed(out)}

    # the same commands again: the search resumes, finished trials are not run again
    port = distributed.free_port()
    chief = start("chief", port, out, "--trials", "12", env={"HYBRIDKERAS_WORKER_TIMEOUT": "8"})  # tuner1 stays away
    worker = start("tuner0", port, out, "--trials", "12")
    assert finish(worker)[0] == 0
    code, _, stderr = finish(chief)
    assert code == 0, stderr[-3000:]
    trials = json.loads((out / "tuning.json").read_text())["trials"]
    assert len(trials) == 12 and all(t["status"] == "COMPLETED" for t in trials)
    assert not done_before & {f"trial_{t['trial']}" for t in trials if t["worker"] is not None}


@pytest.mark.slow
def test_local_workers_give_the_single_process_search(tmp_path):
    """`--workers 2` (a chief and two local worker processes) finds the same trials, scores and best model."""
    single = subprocess.run([sys.executable, "-m", "hybridkeras", *TUNE, "--trials", "4", "--output",
                             str(tmp_path / "one")], capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    spread = subprocess.run([sys.executable, "-m", "hybridkeras", *TUNE, "--trials", "4", "--output",
                             str(tmp_path / "two"), "--workers", "2"], capture_output=True, text=True, timeout=600)
    assert spread.returncode == 0, spread.stderr[-3000:]
    assert "[tuner0]" in spread.stdout and "[tuner1]" in spread.stdout
    one, two = (json.loads((tmp_path / name / "tuning.json").read_text()) for name in ("one", "two"))
    assert {t["worker"] for t in two["trials"]} == {"tuner0", "tuner1"}
    assert [t["hyperparameters"] for t in one["trials"]] == [t["hyperparameters"] for t in two["trials"]]
    np.testing.assert_allclose([t["score"] for t in one["trials"]], [t["score"] for t in two["trials"]], atol=1e-6)
    assert one["best_hyperparameters"] == two["best_hyperparameters"]
    assert one["test_accuracy"] == pytest.approx(two["test_accuracy"], abs=1e-6)
