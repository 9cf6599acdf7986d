"""Runs the state-vector engine on the Keras 3 backend named by ``KERAS_BACKEND`` and saves what it
computed, for `tests/test_engine_backends.py` to check against Cirq, finite differences and the
other backends:

    KERAS_BACKEND=jax python -m tests.engine_backend_worker OUT.npz SEED:N [SEED:N …]

Per case: final states, probabilities, Pauli expectations (any terms, and the common-basis
path), the gradient of Σ values·mix with respect to the per-row and shared values — taken the
way user code on that backend takes it (`jax.jit` of `jax.grad`, `torch.autograd`,
`tf.GradientTape` in a `tf.function`) — and shot frequencies of the probabilities.
"""
from __future__ import annotations

import sys

import cirq
import keras
import numpy as np
from keras import ops as K

from hybridkeras.engines import StateVectorCircuit
from tests.engine_circuits import random_circuit, random_operators, register, symbols_for

SHOTS = 4000


def case(seed: int, n: int) -> dict:
    """The circuit, operators and inputs of one case (the same in every process)."""
    rng = np.random.default_rng(seed)
    qubits = register(n, ["line", "gapped", "grid"][seed % 3])
    per_row, weights = 1 + int(rng.integers(0, 3)), 1 + int(rng.integers(0, 3))
    symbols = symbols_for(per_row, "x") + symbols_for(weights, "w")
    circuit = random_circuit(rng, qubits, symbols, ops=int(rng.integers(6, 24)))
    operators = random_operators(rng, qubits)
    common = [cirq.PauliString([cirq.X, cirq.Y, cirq.Z][seed % 3](q)) for q in qubits]
    rows, groups = 2, 2
    x = rng.uniform(-2, 2, (rows * groups, per_row)).astype(np.float32)
    w = rng.uniform(-2, 2, (groups, weights)).astype(np.float32)
    mix = rng.normal(size=(rows * groups, len(operators))).astype(np.float32)
    return dict(qubits=qubits, symbols=symbols, circuit=circuit, operators=operators, common=common, x=x, w=w,
                mix=mix, rows=rows, weights=weights)


def _gradient(engine, x, w, mix):
    """d(Σ engine(x, w)·mix)/d(x, w) on this backend, the way its users take gradients."""
    backend = keras.config.backend()
    if backend == "jax":
        import jax

        loss = lambda x, w: K.sum(engine(x, shared=w) * mix)  # noqa: E731
        gx, gw = jax.jit(jax.grad(loss, argnums=(0, 1)))(x, w)
        return np.asarray(gx), np.asarray(gw)
    if backend == "torch":
        import torch

        xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        torch.sum(engine(xt, shared=wt) * torch.tensor(mix)).backward()
        return xt.grad.numpy(), wt.grad.numpy()
    import tensorflow as tf

    @tf.function
    def grad(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(engine(x, shared=w) * mix)
        return tape.gradient(loss, [x, w])

    gx, gw = grad(tf.constant(x), tf.constant(w))
    return gx.numpy(), gw.numpy()


def run(seed: int, n: int) -> dict:
    c = case(seed, n)
    shared = StateVectorCircuit(c["circuit"], c["symbols"], c["operators"], qubits=c["qubits"], shared=c["weights"])
    along = StateVectorCircuit(c["circuit"], c["symbols"], c["common"], qubits=c["qubits"], shared=c["weights"])
    probs = StateVectorCircuit(c["circuit"], c["symbols"], "probs", qubits=c["qubits"], shared=c["weights"])
    shots = StateVectorCircuit(c["circuit"], c["symbols"], "probs", qubits=c["qubits"], shared=c["weights"],
                               repetitions=SHOTS, seed=seed)
    x, w = c["x"], c["w"]
    out = {"state": K.convert_to_numpy(K.reshape(shared.state(x, w), [len(x), -1])),
           "probs": K.convert_to_numpy(probs(x, w)),
           "values": K.convert_to_numpy(shared(x, w)),
           "common": K.convert_to_numpy(along(x, w)),
           "shots": np.stack([K.convert_to_numpy(shots(x, w)) for _ in range(2)])}
    out["grad_x"], out["grad_w"] = _gradient(shared, x, w, c["mix"])
    return out


def main(argv):
    path, cases = argv[0], [tuple(int(v) for v in a.split(":")) for a in argv[1:]]
    arrays = {f"{seed}_{n}_{key}": value for seed, n in cases for key, value in run(seed, n).items()}
    np.savez(path, backend=keras.config.backend(), **arrays)


if __name__ == "__main__":
    main(sys.argv[1:])
