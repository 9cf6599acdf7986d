"""Distributed search on Keras Tuner's own chief / worker mode (keras-tuner 1.3.5).

Every process runs the same ``hybridkeras tune ...`` command; Keras Tuner's environment
variables decide its part:

* ``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``: where the chief serves its oracle;
* ``KERASTUNER_TUNER_ID``: ``chief`` for the chief, ``tuner0``, ``tuner1``, … for the workers.

All processes share the search folder (``--output``). The chief serves the oracle with Keras
Tuner's `OracleServicer` over gRPC and runs no trial; workers ask it for trials, train them and
report back, writing their checkpoints into the shared project folder; once the search is done
the chief exports the best model, as a single-process search does. What this module adds to
Keras Tuner 1.3.5 is fault handling:

* a worker sends a heartbeat (a `GetTrial` of its running trial, or `GetSpace`) every
  ``HEARTBEAT_S``; a trial whose worker fell silent for ``lost_after`` seconds (killed, its
  machine gone) is ended as INVALID by the chief, so the oracle retries it on another worker
  (``MAX_RETRIES``) and records it as FAILED after that — never silently lost, and the search
  still finishes on the other workers;
* a worker whose chief stops answering exits with `CHIEF_LOST` and a clear message after
  ``chief_deadline`` seconds (1.3.5's client would wait forever);
* the chief's oracle state lives in the project folder, so restarting the same commands resumes
  the search where it stopped (a restarted worker gets its unfinished trial back).

`launch` runs a chief and N workers as local processes on 127.0.0.1 (``--workers N``).
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time

ID_ENV, IP_ENV, PORT_ENV = "KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"
HEARTBEAT_S = 2.0
# Fault timeouts (seconds), each overridable per process by an environment variable, like Keras
# Tuner's own settings: they decide when a fault is declared, never a result.
WORKER_TIMEOUT_ENV, CHIEF_TIMEOUT_ENV, STARTUP_TIMEOUT_ENV = (
    "HYBRIDKERAS_WORKER_TIMEOUT", "HYBRIDKERAS_CHIEF_TIMEOUT", "HYBRIDKERAS_STARTUP_TIMEOUT")
LOST_AFTER_S = 60.0  # chief: a running trial's worker silent this long is lost; the trial is retried
CHIEF_DEADLINE_S = 30.0  # worker: a chief silent this long is gone; the worker exits
STARTUP_S = 900.0  # worker: how long it waits for a chief that has not answered yet (it trains fixed parts first)
MAX_RETRIES = 1
CHIEF_LOST = 75  # exit status of a worker whose chief stopped answering


def role() -> str | None:
    """None for a single-process search, 'chief', or the worker's tuner id (from the environment).

    Raises:
        ValueError: the environment names an oracle address without a port or tuner id.
    """
    if IP_ENV not in os.environ:
        return None
    missing = [name for name in (PORT_ENV, ID_ENV) if not os.environ.get(name)]
    if missing:
        raise ValueError(f"{IP_ENV} is set, so this is a distributed search, but {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not; set {PORT_ENV} (the chief's port) and "
                         f"{ID_ENV} ('chief' or tuner0, tuner1, ...) in every process")
    tuner_id = os.environ[ID_ENV]
    return "chief" if "chief" in tuner_id else tuner_id


def timeout(env: str, default: float) -> float:
    """The timeout ``env`` sets (seconds > 0), else ``default``."""
    value = os.environ.get(env)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"{env} must be a number of seconds > 0. Received: {env}={value!r}")
    return seconds


def address() -> str:
    return f"{os.environ[IP_ENV]}:{os.environ[PORT_ENV]}"


def chief_label() -> str:
    """How the chief names itself in the search folder's lock; its workers look for it there."""
    return f"chief of the search at {address()}"


@contextlib.contextmanager
def local_oracle():
    """Within the block a Keras Tuner keeps its own oracle (the chief builds its tuner so, then
    serves that oracle with `serve_oracle` instead of Keras Tuner's fixed 30-second loop)."""
    saved = {name: os.environ.pop(name) for name in (IP_ENV,) if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _keras_tuner_parts():
    """Keras Tuner's gRPC protos, oracle servicer and trial module (under ``keras_tuner.src`` since 1.4). Its
    distributed protocol has no public API beyond the environment variables, so the chief's servicer and the
    workers' heartbeat build on these."""
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.engine import trial as trial_module

    return protos, oracle_chief, trial_module


def _servicer_class():
    protos, oracle_chief, trial_module = _keras_tuner_parts()

    class Servicer(oracle_chief.OracleServicer):
        """Keras Tuner's servicer, remembering which worker runs each trial and when it was last heard."""

        def __init__(self, oracle):
            super().__init__(oracle)
            self.heard, self.workers = {}, {}

        def CreateTrial(self, request, context):
            # Keras Tuner answers STOPPED as soon as every trial has been handed out, and a worker that
            # gets it leaves; a trial still running elsewhere could then fail with nobody left to retry
            # it. While trials run, a worker without one is held (long poll, then IDLE: it asks again).
            held = time.monotonic()
            while self._should_hold(request.tuner_id):
                if time.monotonic() - held > 1.0:
                    idle = trial_module.Trial(self.oracle.get_space(), status=trial_module.TrialStatus.IDLE)
                    return protos.get_service().CreateTrialResponse(trial=idle.to_proto())
                time.sleep(0.1)
            response = super().CreateTrial(request, context)
            trial = self.oracle.ongoing_trials.get(request.tuner_id)
            if trial is not None:  # the trial this worker now runs (new, retried or resumed)
                self.heard[trial.trial_id] = time.monotonic()
                self.workers[trial.trial_id] = request.tuner_id
            return response

        def _should_hold(self, tuner_id) -> bool:
            oracle = self.oracle
            if tuner_id in oracle.ongoing_trials or _retries(oracle) or oracle.max_trials is None:
                return False  # its own trial, a retry waiting, or an oracle that decides itself (Hyperband)
            others = [t for t, _ in oracle.ongoing_trials.items() if t != tuner_id]
            return oracle.remaining_trials() == 0 and bool(others)

        def GetTrial(self, request, context):
            self.heard[request.trial_id] = time.monotonic()
            return super().GetTrial(request, context)

        def UpdateTrial(self, request, context):
            self.heard[request.trial_id] = time.monotonic()
            return super().UpdateTrial(request, context)

    return Servicer


def _retries(oracle) -> list:
    """The trials waiting for a retry (Keras Tuner's oracle state)."""
    return oracle.get_state()["retry_queue"]


def serve_oracle(oracle, *, lost_after: float | None = None, poll: float = 0.5, grace: float = 2.0,
                 log=print) -> dict:
    """Serves ``oracle`` to the workers until the search is finished; returns {trial id: worker id}.

    A trial whose worker has not been heard for ``lost_after`` seconds is ended as INVALID (the
    oracle retries it, then records it FAILED). The search is finished when the oracle has no
    trial left to give and none is running.
    """
    from concurrent import futures

    import grpc

    protos, _, trial_module = _keras_tuner_parts()
    lost_after = timeout(WORKER_TIMEOUT_ENV, LOST_AFTER_S) if lost_after is None else lost_after
    servicer = _servicer_class()(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    if server.add_insecure_port(address()) == 0:
        raise ValueError(f"The chief cannot serve on {address()} ({IP_ENV}, {PORT_ENV}): the port is taken or the "
                         "address is not this machine's")
    server.start()
    started = time.monotonic()
    log(f"[chief] serving the oracle on {address()}")
    try:
        while True:
            time.sleep(poll)
            now = time.monotonic()
            for tuner_id, trial in list(oracle.ongoing_trials.items()):
                silent = now - max(servicer.heard.get(trial.trial_id, started), started)
                if silent > lost_after:
                    trial.status = trial_module.TrialStatus.INVALID
                    trial.message = (f"worker {tuner_id} was not heard for {silent:.0f} s (killed or unreachable); "
                                     "the trial is retried or recorded as failed")
                    log(f"[chief] trial {trial.trial_id}: {trial.message}")
                    oracle.end_trial(trial)
            if servicer.stop_triggered and not oracle.ongoing_trials and not _retries(oracle):
                break
        time.sleep(grace)  # workers' last calls (their next CreateTrial gets STOPPED)
    finally:
        server.stop(grace)
    return dict(servicer.workers)


class Heartbeat(threading.Thread):
    """A worker's link to its chief: keeps its running trial alive on the chief, and ends the worker
    (exit status `CHIEF_LOST`, a clear message) when the chief stops answering."""

    def __init__(self, tuner, *, interval: float = HEARTBEAT_S, deadline: float | None = None,
                 startup: float | None = None):
        super().__init__(name="hybridkeras-heartbeat", daemon=True)
        import grpc

        protos = _keras_tuner_parts()[0]
        self.tuner, self.interval = tuner, interval
        self.deadline = timeout(CHIEF_TIMEOUT_ENV, CHIEF_DEADLINE_S) if deadline is None else deadline
        self.startup = timeout(STARTUP_TIMEOUT_ENV, STARTUP_S) if startup is None else startup
        self._stub = protos.get_service_grpc().OracleStub(grpc.insecure_channel(address()))
        self._protos, self._grpc = protos, grpc
        self._stop = threading.Event()

    def stop(self):
        self._stop.set()

    def run(self):
        service = self._protos.get_service()
        last, connected = time.monotonic(), False
        while not self._stop.wait(0 if not connected else self.interval):
            trial_id = getattr(self.tuner, "current_trial", None)
            try:
                if trial_id is not None:
                    self._stub.GetTrial(service.GetTrialRequest(trial_id=trial_id), timeout=self.interval)
                else:
                    self._stub.GetSpace(service.GetSpaceRequest(), timeout=self.interval)
                last, connected = time.monotonic(), True
            except self._grpc.RpcError:
                if self._stop.is_set():
                    return
                silent = time.monotonic() - last
                if silent > (self.deadline if connected else self.startup):
                    what = "stopped answering" if connected else "never answered"
                    sys.stderr.write(
                        f"hybridkeras tune: error: worker {os.environ.get(ID_ENV)}: the chief oracle at {address()} "
                        f"{what} for {silent:.0f} s (it was stopped, killed or is unreachable); this worker stops. "
                        "Start the chief again with the same command (it resumes the search), then the workers.\n")
                    sys.stderr.flush()
                    os._exit(CHIEF_LOST)
                time.sleep(min(self.interval, 0.5))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(argv: list, workers: int, *, run_chief, cores=None, restarts: int = 2, log=print) -> int:
    """Runs one search as a chief (this process, ``run_chief()``) and ``workers`` worker processes
    (``hybridkeras <argv>`` with Keras Tuner's variables) on 127.0.0.1; returns the chief's status.

    Each worker is pinned to its share of ``cores`` (default: the CPUs this process may use), so
    the workers' TensorFlow thread pools do not fight over them; its output is streamed with a
    ``[tunerK]`` prefix. A worker that dies before the search ends is started again (at most
    ``restarts`` times) with its tuner id: it gets its unfinished trial back.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"`workers` must be a positive int. Received: workers={workers!r}")
    cores = sorted(cores if cores is not None else os.sched_getaffinity(0))
    share = [cores[i::workers] or [cores[i % len(cores)]] for i in range(workers)]
    port = free_port()
    base = dict(os.environ, **{IP_ENV: "127.0.0.1", PORT_ENV: str(port)})
    procs, counts, done = {}, {}, threading.Event()

    def start(i):
        env = dict(base, **{ID_ENV: f"tuner{i}", "TF_CPP_MIN_LOG_LEVEL": base.get("TF_CPP_MIN_LOG_LEVEL", "2")})
        proc = subprocess.Popen([sys.executable, "-m", "hybridkeras", *argv], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1,
                                preexec_fn=lambda cpus=share[i]: os.sched_setaffinity(0, cpus))
        procs[i] = proc
        threading.Thread(target=_stream, args=(proc, f"[tuner{i}] ", log), daemon=True).start()

    def supervise():
        while not done.wait(1.0):
            for i, proc in list(procs.items()):
                code = proc.poll()
                if code not in (None, 0) and not done.is_set() and counts.get(i, 0) < restarts:
                    counts[i] = counts.get(i, 0) + 1
                    log(f"[launcher] worker tuner{i} exited with status {code}; starting it again "
                        f"({counts[i]}/{restarts}): it resumes its trial")
                    start(i)

    for i in range(workers):
        start(i)
    threading.Thread(target=supervise, daemon=True).start()
    saved = {name: os.environ.get(name) for name in (IP_ENV, PORT_ENV, ID_ENV)}
    os.environ.update({IP_ENV: "127.0.0.1", PORT_ENV: str(port), ID_ENV: "chief"})
    try:
        status = run_chief()
    finally:
        done.set()
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        deadline = time.monotonic() + 60
        for proc in procs.values():
            try:
                proc.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
    return status


def _stream(proc, prefix: str, log) -> None:
    for line in proc.stdout:
        log(prefix + line.rstrip("\n"))
