"""The engine's array operations: `keras.ops` on whichever backend Keras 3 runs (TensorFlow, JAX or
PyTorch), and the few things `keras.ops` lacks, each written per backend here and nowhere else.

The engine's other modules call `keras.ops` (as ``K``) and the helpers below, never a backend's
own namespace, so one engine serves the layers on every backend, with the same numbers.

What `keras.ops` lacks, and what stands in for it (`backend()` picks):

* `complex_` — a complex tensor from its real and imaginary parts: Keras has no such op, and a
  cast plus a product plus a sum would cost three passes over a state instead of one;
* `searchsorted_rows` — a search in each row of a sorted table: `keras.ops.searchsorted` takes
  one 1-D table only (TensorFlow and PyTorch search rows natively, JAX through `vmap`);
* `unstack` — `keras.ops.unstack` whose gradient is one stack of the parts' cotangents on JAX too
  (JAX differentiates each part as a slice, padding its cotangent to the whole tensor and summing
  the pads: parts × the whole tensor's bytes, which dominated per-row density-matrix steps);
* `check_finite` — a NaN/Inf check that fails the step (Keras has no run-time assertion);
* `check_rows` — a run-time check of a batch size TensorFlow knows only when the graph runs
  (JAX and PyTorch shapes are concrete when traced, so a Python check suffices there);
* `SeedStream` — a seeded stream of random keys: a `tf.random.Generator` (counter-based Philox, usable in any
  `tf.function` and replica) on TensorFlow; Keras' `keras.random.SeedGenerator` on the other backends.

Selections and permutations along axis 1 are written so their gradients are gathers or matrix
products, never scatters (a scatter's gradient path is a loop over the indices when XLA
compiles a step on CPU).
"""
from __future__ import annotations

import functools
import secrets

import numpy as np

import keras
from keras import ops as K

ONE_HOT_LIMIT = 2**15  # entries of a selection's one-hot matrix; larger selections stay gathers


def backend() -> str:
    """The array backend the engine's tensors live on: Keras 3's (``keras.config.backend()``)."""
    return keras.config.backend()


def widest_float() -> str:
    """'float64', or 'float32' on JAX without ``jax_enable_x64`` (where float64 does not exist)."""
    if backend() == "jax":
        import jax

        return "float64" if jax.config.jax_enable_x64 else "float32"
    return "float64"


def constant(value, dtype: str):
    """A tensor of the NumPy value ``value`` as ``dtype`` ('float32', 'complex64', 'int32', 'int64')."""
    return K.convert_to_tensor(np.asarray(value).astype(dtype))


def complex_(real, imag):
    """real + i·imag as complex64 (one op; see the module docstring)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.complex(real, imag)
    if name == "jax":
        import jax

        return jax.lax.complex(real, imag)
    if name == "torch":
        import torch

        return torch.complex(real, imag)
    return K.cast(real, "complex64") + 1j * K.cast(imag, "complex64")


def searchsorted_rows(sorted_rows, values):
    """[rows, k] int32: for each row, where ``values`` [rows, k] fall in ``sorted_rows`` [rows, m]
    (side='right'; see the module docstring)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.searchsorted(sorted_rows, values, side="right", out_type=tf.int32)
    if name == "jax":
        import jax
        import jax.numpy as jnp

        return jax.vmap(lambda a, v: jnp.searchsorted(a, v, side="right"))(sorted_rows, values).astype("int32")
    if name == "torch":
        import torch

        return torch.searchsorted(sorted_rows.contiguous(), values.contiguous(), right=True).to(torch.int32)
    raise NotImplementedError(f"searchsorted_rows has no implementation for the Keras backend {name!r}")


def rank(x) -> int:
    return len(x.shape)


def rows_of(x):
    """The size of axis 0: an int where known while tracing, else a scalar tensor (TensorFlow)."""
    return K.shape(x)[0]


def matmul(a, b, transpose_b: bool = False):
    return K.matmul(a, K.swapaxes(b, -1, -2) if transpose_b else b)


def tile_rows(x, times):
    """``x`` [X, …] repeated ``times`` times along axis 0 (``times`` an int or a scalar tensor)."""
    return K.tile(x, [times] + [1] * (rank(x) - 1))


def static_size(dim):
    """A dimension as an int, or None while it is unknown: None itself, a TensorFlow tensor, or a symbolic dimension
    (JAX's shape polymorphism, as `model.export()` traces with a symbolic batch), whose comparisons are inconclusive."""
    return int(dim) if isinstance(dim, (int, np.integer)) else None


def _evaluated(ok):
    """``ok()`` for a lazy condition (None where a symbolic dimension makes it inconclusive), else ``ok``."""
    if not callable(ok):
        return ok
    try:
        return ok()
    except Exception as exc:  # JAX's InconclusiveDimensionOperation: checked by JAX when the export is called
        if type(exc).__name__ == "InconclusiveDimensionOperation":
            return None
        raise


def check_rows(tensors, conditions):
    """``tensors`` once every ``(ok, message)`` in ``conditions`` holds (``ok``: a bool, a boolean scalar tensor
    while TensorFlow traces, or a function giving either, skipped where a symbolic dimension makes it
    inconclusive); a failed check raises ValueError with ``message``."""
    conditions = [(_evaluated(ok), message) for ok, message in conditions]
    conditions = [(ok, message) for ok, message in conditions if ok is not None]
    static = [(ok, message) for ok, message in conditions if isinstance(ok, (bool, np.bool_))]
    for ok, message in static:
        if not ok:
            raise ValueError(message)
    dynamic = [(ok, message) for ok, message in conditions if not isinstance(ok, (bool, np.bool_))]
    if not dynamic:
        return tensors
    if backend() != "tensorflow":  # concrete while traced: JAX under jit sees tracers only for values
        for ok, message in dynamic:
            if not bool(ok):
                raise ValueError(message)
        return tensors
    import tensorflow as tf

    checks = [tf.debugging.Assert(ok, [message]) for ok, message in dynamic]
    with tf.control_dependencies(checks):  # every later op, the batch size included, waits for the checks
        return [tf.identity(t) for t in tensors]


def check_finite(x, message: str):
    """``x`` as float32, failing with ``message`` if any value is NaN or Inf, on every backend:

    * TensorFlow: a ``CheckNumerics`` op of the graph (InvalidArgumentError when it runs);
    * PyTorch: a Python check (eager);
    * JAX: a Python check outside `jax.jit`; inside it, a host callback (`jax.pure_callback`) that
      raises, placed in the branch of a `jax.lax.cond` taken only when a value is not finite, so a
      clean batch pays the reduction and the branch, not the host round trip (the ValueError
      reaches the caller of the jitted step). JAX runs a function holding a callback synchronously,
      which in a Keras `fit` loop costs about 0.1–0.2 ms a step on a CPU (the loop's Python work no
      longer overlaps the step). A `model.export()` artefact is not checked (host callbacks cannot be
      serialised).

    Not checked: TensorFlow under XLA (``jit_compile=True``, Keras' choice on a GPU), which has no
    run-time errors and drops ``CheckNumerics``; NaN inputs then reach the outputs (use
    `keras.callbacks.TerminateOnNaN`).
    """
    x = K.cast(x, "float32")
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        return tf.debugging.check_numerics(x, message)
    if name == "torch":
        import torch

        if not bool(torch.isfinite(x).all()):
            raise ValueError(message)
        return x
    import jax
    import jax.numpy as jnp

    bad = jnp.logical_not(jnp.all(jnp.isfinite(x)))
    if not isinstance(bad, jax.core.Tracer):
        if bool(bad):
            raise ValueError(message)
        return x
    if any(static_size(d) is None for d in x.shape):
        # a symbolic batch: `model.export()` is tracing, and exported artefacts cannot hold host callbacks (JAX
        # refuses to serialise them), so the served model goes unchecked; training and prediction are checked
        return x
    # a pure_callback (no side-effect token, unlike jax.debug.callback, whose ordering costs every step) whose
    # result the output depends on, so XLA keeps it; it runs only in the branch taken for a bad batch
    report = functools.partial(_raise_if_bad, message=message)
    flag = jax.lax.cond(bad, lambda b: jax.pure_callback(report, jax.ShapeDtypeStruct((), jnp.bool_), b),
                        lambda b: jnp.bool_(False), bad)
    return jnp.where(flag, jnp.nan, x)


def _raise_if_bad(bad, *, message: str):
    if bool(bad):
        raise ValueError(message)
    return np.bool_(False)


def check_all(x, ok, message: str, values=()):
    """``x``, once the boolean scalar ``ok`` holds; else the call fails with ``message``, its ``{}`` filled with
    ``values`` (scalar tensors), on every backend:

    * TensorFlow: an ``Assert`` op of the graph (InvalidArgumentError when it runs, in served SavedModels too);
    * PyTorch and eager JAX: a ValueError;
    * under `jax.jit`: a `jax.pure_callback` that raises, in the branch of a `jax.lax.cond` taken only when ``ok``
      fails (as `check_finite`; a symbolic batch, as in `model.export()`, is not checked).
    """
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        parts = message.split("{}")
        data = [parts[0]]
        for value, text in zip(values, parts[1:]):
            data += [value, text]
        with tf.control_dependencies([tf.debugging.Assert(ok, [piece for piece in data if not
                                                              (isinstance(piece, str) and not piece)])]):
            return tf.identity(x)
    if name == "jax":
        import jax
        import jax.numpy as jnp

        if isinstance(ok, jax.core.Tracer):
            if any(static_size(d) is None for d in x.shape):
                return x
            report = functools.partial(_report_unless, message=message)
            flag = jax.lax.cond(ok, lambda *v: jnp.bool_(False),
                                lambda *v: jax.pure_callback(report, jax.ShapeDtypeStruct((), jnp.bool_), *v),
                                *values)
            return jnp.where(flag, jnp.asarray(jnp.nan, x.dtype), x)
    if not bool(K.convert_to_numpy(ok)):
        raise ValueError(message.format(*(float(K.convert_to_numpy(v)) for v in values)))
    return x


def _report_unless(*values, message: str):
    raise ValueError(message.format(*(float(v) for v in values)))


def gradient(fn, x):
    """d fn(x) / d x for a scalar-valued ``fn``, by the backend's own autodiff: a `tf.GradientTape`, `jax.grad`, or `torch.autograd.grad`. The one place that differentiates outside a training step
    (Grad-CAM)."""
    name = backend()
    if name == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = fn(x)
        return tape.gradient(value, x)
    if name == "jax":
        import jax

        return jax.grad(fn)(x)
    import torch

    x = torch.as_tensor(K.convert_to_numpy(x)).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(fn(x), x)
    return grad


def scale_for_replicas(loss):
    """A replica's mean loss, divided by the replicas of the `tf.distribute` strategy in sync (Keras' TensorFlow
    backend), as Keras 3's own losses scale theirs: its TensorFlow trainer sums the replicas' gradients, so a loss a
    model computes itself (`compute_loss`) must be scaled so that the step equals one device's step on the global
    batch. Other backends (and one replica) take ``loss`` as it is: JAX's `DataParallel` averages over the global batch
    already."""
    if backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            return loss / replicas
    return loss


def fresh_seed() -> int:
    """A seed from the operating system's entropy: draws from no global stream (NumPy's, Python's or Keras'), so a
    layer that takes it never shifts a user's own seeded shuffling; reproducible shots then need an explicit seed."""
    return secrets.randbelow(2**31 - 1)


class SeedStream:
    """Fresh seeds, one per call, from a seeded stream (see the module docstring)."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        if backend() == "tensorflow":
            import tensorflow as tf

            self._generator = tf.random.Generator.from_seed(self.seed)
        else:
            self._generator = keras.random.SeedGenerator(self.seed)

    def uniform(self, shape, dtype: str):
        """Uniform numbers in [0, 1) of ``shape``, counter-based (Philox on TensorFlow), new at each call."""
        if backend() == "tensorflow":
            import tensorflow as tf

            seed = self._generator.make_seeds(1)[:, 0]
            return tf.random.stateless_uniform(shape, seed=seed, dtype=dtype)
        return keras.random.uniform(shape, dtype=dtype, seed=self._generator)


def take(params, index):
    """``params[:, index]`` for a constant NumPy ``index``, as a contraction with a one-hot matrix:
    exact, and its gradient is a matrix product too (a gather's is a scatter, which XLA runs on CPU
    as a loop over the indices). A selection whose one-hot matrix would exceed `ONE_HOT_LIMIT`
    entries (long circuits) stays a gather, so its cost stays linear."""
    index = np.asarray(index)
    size = int(params.shape[1])
    rows = rows_of(params)
    rest = tuple(params.shape[2:])
    if index.size * size > ONE_HOT_LIMIT:
        picked = K.take(params, constant(index.reshape(-1), "int32"), axis=1)
        return K.reshape(picked, [rows, *index.shape, *rest])
    onehot = np.zeros((index.size, size), np.float32)
    onehot[np.arange(index.size), index.reshape(-1)] = 1.0
    flat = K.reshape(params, [rows, size, int(np.prod(rest, dtype=np.int64))])
    picked = K.einsum("ir,xrm->xim", K.cast(K.convert_to_tensor(onehot), params.dtype), flat)
    return K.reshape(picked, [rows, *index.shape, *rest])


def unstack(x, axis: int = 0) -> list:
    """The parts of ``x`` along ``axis`` (static size), as `keras.ops.unstack`; on JAX its gradient stacks
    the parts' cotangents into one tensor (see the module docstring)."""
    if backend() != "jax":
        return K.unstack(x, axis=axis)
    return list(_jax_unstack_fn()(x, axis % len(x.shape)))


@functools.lru_cache(maxsize=None)
def _jax_unstack_fn():
    import jax
    import jax.numpy as jnp

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
    def parts(x, axis):
        return tuple(jnp.moveaxis(x, axis, 0))

    def forward(x, axis):
        return parts(x, axis), None

    def backward(axis, _, cotangents):
        return (jnp.stack(cotangents, axis=axis),)

    parts.defvjp(forward, backward)
    return parts


def _upstream(args, upstream):
    return upstream if upstream is not None else args[0]


def permute_rows(matrix, source, phases=None):
    """phases[i] · matrix[:, source[i]] for [X, d, …] ``matrix`` (a permutation ``source``; no phases:
    all ones); its gradient is the inverse permutation (a gather's generic gradient is a scatter)."""
    inverse = np.argsort(source)
    plain = phases is None or np.allclose(phases, 1.0)
    # real states (the density matrices' Pauli-transfer form) take real signs; complex states complex phases
    dtype = "complex64" if "complex" in keras.backend.standardize_dtype(matrix.dtype) else "float32"
    if not plain and dtype == "float32" and not np.allclose(np.imag(phases), 0.0):
        raise ValueError("complex phases cannot permute a real tensor")
    phases = None if plain else (np.asarray(phases).astype(np.complex64) if dtype == "complex64"
                                 else np.real(phases).astype(np.float32))
    if plain and np.array_equal(source, np.arange(len(source))):
        return matrix
    shape = [-1] + [1] * (rank(matrix) - 2)
    # the cotangent of a complex tensor: TensorFlow and PyTorch pass the conjugate Wirtinger gradient
    # (so a phase comes back conjugated), JAX the transpose of the linear map (the phase itself)
    back = phases if backend() == "jax" or plain else np.conj(phases)

    @K.custom_gradient
    def permute(x):
        def grad(*args, upstream=None):
            g = _upstream(args, upstream)
            if not plain:
                g = g * constant(back.reshape(shape), dtype)
            return K.take(g, constant(inverse, "int32"), axis=1)

        out = K.take(x, constant(source, "int32"), axis=1)
        if not plain:
            out = out * constant(phases.reshape(shape), dtype)
        return out, grad

    return permute(matrix)


def flip_bits(state, mask: int):
    """``state[:, i XOR mask]`` for [rows, 2^n] ``state``. The map is its own inverse, so its
    gradient is the same gather (the index is computed, not stored: no 2^n constant)."""
    index = K.bitwise_xor(K.arange(int(state.shape[1]), dtype="int32"), int(mask))

    @K.custom_gradient
    def flip(x):
        def grad(*args, upstream=None):
            return K.take(_upstream(args, upstream), index, axis=1)

        return K.take(x, index, axis=1), grad

    return flip(state)


def parity(values, bits: int):
    """(popcount(values) mod 2) as float32, for integer ``values`` below 2^bits (Keras has no popcount:
    a fold of the bits, ``bits`` cheap passes)."""
    out = K.zeros_like(values)
    for bit in range(bits):
        out = K.bitwise_xor(out, K.bitwise_and(K.right_shift(values, bit), 1))
    return K.cast(out, "float32")
