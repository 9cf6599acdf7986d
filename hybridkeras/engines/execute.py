"""Running a plan: TensorFlow constants of a `Plan` and the ops that evolve a batch of states.

States are complex64 [rows, 2^n] (qubit 0 most significant, as in Cirq). Rows come in
(sample, group) order: row r uses group r mod groups for the weights (``shared=``), so a
per-group matrix meets its rows through a [samples, groups, …] view, never a copy.
Matrices act through flattened views — [rows·2^a, 2^k, 2^b] for a block on qubits a … a+k−1 —
so no tensor has more than five axes whatever n is.
"""
from __future__ import annotations

import numpy as np

from keras import ops as K

from hybridkeras.engines.ops import complex_, constant, matmul, permute_rows, rank, static_size, take, tile_rows, unstack
from hybridkeras.engines.plan import Block, Perm, Plan, Run, Wide, phased_permutation



# real weight tables up to this many entries are one dense (block-diagonal) matrix, larger ones a product per
# record: per-row tables (one evaluation per row) stay small, per-group ones (evaluated once) may be larger
_DENSE_WEIGHTS = {"row": 2**15, "group": 2**19}


def _table(records, n_symbols, kind="group", real=False):
    """NumPy constants to evaluate many records of one size at once (see `evaluate`).

    Each unitary is base + Σ_t (cos a_t + i sin a_t) · M_t with angles a = values · coeffs +
    consts, so its real and imaginary parts are [cos a, sin a] times a real weight table: one
    real matrix product per table (or one per record when a dense table would be large).
    Nothing here is a TensorFlow tensor: constants are made inside each traced call, so one
    engine serves any number of graphs (Keras traces a layer several times).

    ``real``: the records are real matrices written with complex terms (a density matrix's Pauli-transfer
    form, `density.pauli_transfer`): `evaluate` returns their real part, float32, and never builds the
    imaginary one.
    """
    bases = np.stack([r.base for r in records])
    width = max((len(r.terms) for r in records), default=0)
    if width == 0:
        return {"base": bases, "terms": None, "real": real}
    count, d = bases.shape[0], bases.shape[-1]
    matrices = np.zeros((count, width, d, d), np.complex128)
    coeffs = np.zeros((n_symbols, count * width))
    consts = np.zeros(count * width)
    for i, r in enumerate(records):
        for t, term in enumerate(r.terms):
            matrices[i, t] = term.matrix
            coeffs[:, i * width + t] = term.coeffs
            consts[i * width + t] = term.const
    # per record: rows (cos | sin, term), columns (real | imaginary, i, j); padded terms have zero matrices
    per_record = np.zeros((count, 2, width, 2, d, d))
    per_record[:, 0, :, 0], per_record[:, 0, :, 1] = matrices.real, matrices.imag
    per_record[:, 1, :, 0], per_record[:, 1, :, 1] = -matrices.imag, matrices.real
    used = np.flatnonzero(np.any(coeffs != 0, axis=1))
    used = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)  # the span of symbols the records use
    return {"base": bases, "terms": matrices, "width": width, "count": count, "d": d, "used": used,
            "coeffs": coeffs.astype(np.float32), "consts": consts.astype(np.float32), "weights": per_record,
            "dense_limit": _DENSE_WEIGHTS["row" if kind == "row" else "group"], "real": real}


def dense_affine(table, column=None):
    """(weight [2·R·T, 2·R·cell], bias [2·R·cell]) float32 NumPy constants when the records' real and imaginary
    parts are one matrix product away from their trigonometric terms, else None:
    [real | imag] = `trig_terms` @ weight + bias. Only for small tables
    (see ``_DENSE_WEIGHTS``) with parameterised terms."""
    if table["terms"] is None:
        return None
    count, width = table["count"], table["width"]
    weights = table["weights"] if column is None else table["weights"][..., column]  # [R, 2, T, 2, d(, d)]
    cell = int(np.prod(weights.shape[4:]))
    if (2 * count * width) * (count * cell) > table["dense_limit"]:
        return None
    key = ("affine", column)
    if key not in table:  # block diagonal: record r's terms make record r's entries
        dense = np.zeros((2, count, width, 2, count, cell), np.float32)
        for r in range(count):
            dense[:, r, :, :, r] = weights[r].reshape(2, width, 2, cell)
        base = table["base"] if column is None else table["base"][..., column]
        flat = base.reshape(count * cell)
        table[key] = (dense.reshape(2 * count * width, 2 * count * cell),
                      np.concatenate([flat.real, flat.imag]).astype(np.float32))
    return table[key]


def trig_terms(table, values):
    """[X, 2·R·T] float32: [cos a | sin a] of the angles a of the records' terms at the symbol rows ``values`` (only
    the columns the records use are read, so ``values`` may end after the last symbol they use)."""
    low, high = table["used"]
    if low or static_size(values.shape[1]) != high:
        values = values[:, low:high]
    angles = matmul(values, K.convert_to_tensor(table["coeffs"][low:high]))
    if table["consts"].any():
        angles = angles + K.convert_to_tensor(table["consts"])
    return K.concatenate([K.cos(angles), K.sin(angles)], axis=1)


def evaluate(table, values, column=None, parts=False, records_first=False):
    """[X, records, d, d] unitaries at the symbol rows ``values`` [X, symbols] (or [1, …] constants);
    with ``column`` = j, only their column j: [X, records, d]; with ``parts``, their real and
    imaginary parts as float32 [X, records · entries] each; with ``records_first``, a list of the
    records' [X, d, d] unitaries (taken apart without a copy)."""
    base = table["base"] if column is None else table["base"][..., column]
    real_only = table.get("real", False)
    if table["terms"] is None:
        if records_first:
            return [K.convert_to_tensor(_numeric(b, real_only))[None] for b in base]
        if parts:
            flat = base.reshape(1, -1)
            return K.convert_to_tensor(flat.real.astype(np.float32)), K.convert_to_tensor(flat.imag.astype(np.float32))
        return K.convert_to_tensor(_numeric(base, real_only))[None]
    count, width, d = table["count"], table["width"], table["d"]
    weights = table["weights"] if column is None else table["weights"][..., column]  # [R, 2, T, 2, d(, d)]
    cell = int(np.prod(weights.shape[4:]))  # entries per matrix (or column)
    trig = trig_terms(table, values)  # [X, (cos | sin), R, T]: only the symbols the records use
    rows = K.shape(values)[0]
    affine = None if records_first else dense_affine(table, column)
    if affine is not None:  # one product: [cos | sin] @ weight + bias = [real | imag]
        weight, bias = affine
        both = matmul(trig, K.convert_to_tensor(weight))
        both = both + K.convert_to_tensor(bias) if bias.any() else both
        if parts:
            return both[:, :count * cell], both[:, count * cell:]
        if real_only:
            return K.reshape(both[:, :count * cell], [rows, count] + list(weights.shape[4:]))
        return K.reshape(complex_(both[:, :count * cell], both[:, count * cell:]), [rows, count] + list(weights.shape[4:]))
    # one product per record: [R, X, 2T] @ [R, 2T, 2·cell] (a batched matmul; einsum is slower here)
    grouped = K.reshape(K.transpose(K.reshape(trig, [rows, 2, count, width]), [2, 0, 1, 3]),
                        [count, rows, 2 * width])
    both = matmul(grouped, K.convert_to_tensor(weights.reshape(count, 2 * width, 2 * cell).astype(np.float32)))
    real, imag = K.split(both, 2, axis=2)  # [R, X, cell] each
    if records_first:
        flat_base = base.reshape(count, 1, cell)
        matrices = real + K.convert_to_tensor(flat_base.real.astype(np.float32))
        if not real_only:
            matrices = complex_(matrices, imag + K.convert_to_tensor(flat_base.imag.astype(np.float32)))
        return unstack(K.reshape(matrices, [count, rows] + list(weights.shape[4:])), axis=0)
    real, imag = (K.reshape(K.transpose(part, [1, 0, 2]), [rows, -1]) for part in (real, imag))
    flat_base = base.reshape(count * cell)
    real = real + K.convert_to_tensor(flat_base.real.astype(np.float32))
    imag = imag + K.convert_to_tensor(flat_base.imag.astype(np.float32))
    if parts:
        return real, imag
    return K.reshape(real if real_only else complex_(real, imag), [rows, count] + list(weights.shape[4:]))


def _numeric(matrix: np.ndarray, real: bool) -> np.ndarray:
    """A NumPy matrix as the executor's dtype: complex64, or (``real``) its real part as float32."""
    return matrix.real.astype(np.float32) if real else matrix.astype(np.complex64)


def _chain(factors):
    """Product F_last · … · F_first of [..., 2, 2] factors listed in order (elementwise: cheaper than tiny matmuls)."""
    product = factors[0]
    for factor in factors[1:]:
        product = K.sum(K.expand_dims(factor, -1) * K.expand_dims(product, -3), axis=-2)
    return product


def _kron(factors):
    """Kronecker product over the second-to-last pair of axes of [X, L, 2, 2] factors (first most significant)."""
    out = factors[0]
    for factor in factors[1:]:
        side = out.shape[-1] * 2
        out = K.reshape(K.einsum("xlac,xlbd->xlabcd", out, factor), [-1, out.shape[1], side, side])
    return out


_PAULIS = (np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0]))


def pair_terms(record) -> dict | None:
    """A two-qubit record as U(values) = Σ_m c_m(values) · P_m ⊗ Q_m over Pauli pairs (P_m, Q_m), or None.

    c_m = base_m + Σ_t exp(i·(coeffs_t · values + const_t)) · term_{t,m}, with the constant
    coefficients found here (tr((P ⊗ Q)† M) / 4 of the base and of each term's matrix). Only the
    pairs some matrix uses are kept: XX**t, ZZ**t and CZ**t take two (I⊗I and the coupling), CNOT four.
    Applying a pair is two 2×2 products on free reshapes of the state, where a wide gate through a
    transposed view would copy the whole state twice.
    """
    if record.width != 2:
        return None
    matrices = [record.base] + [t.matrix for t in record.terms]
    pairs = [(a, b) for a in range(4) for b in range(4)]
    coefficients = np.array([[np.trace(np.kron(_PAULIS[a], _PAULIS[b]).conj().T @ m) / 4 for a, b in pairs]
                             for m in matrices])  # [1 + terms, 16]
    used = np.flatnonzero(np.abs(coefficients).max(axis=0) > 1e-12)
    return {"pairs": [pairs[i] for i in used], "base": coefficients[0, used],
            "terms": coefficients[1:, used],
            "coeffs": np.stack([t.coeffs for t in record.terms], axis=1) if record.terms else None,
            "consts": np.array([t.const for t in record.terms])}


def _pauli_on(state, pauli: int, qubit: int, n: int):
    """Pauli I, X, Y or Z (0–3) on one qubit of a [rows, 2^n] state: a reversal and/or a sign on a free reshape
    (no matrix product: a batch of millions of 2×2 products is far slower than one pass)."""
    if pauli == 0:
        return state
    view = K.reshape(state, [-1, 2, 2 ** (n - 1 - qubit)])
    if pauli == 3:
        return view * K.convert_to_tensor(np.array([1, -1], np.complex64)[None, :, None])
    if pauli == 2:
        view = view * K.convert_to_tensor(np.array([1j, -1j], np.complex64)[None, :, None])
    return K.flip(view, axis=1)


def _embed_rows(matrix, kind, rows, groups):
    """A per-kind matrix [X, …] as one per row [rows, …] (groups tiled, constants broadcast)."""
    if kind == "row":
        return matrix
    if kind == "group":
        return tile_rows(matrix, rows // groups)
    return tile_rows(matrix, rows)


class Executor:
    """The constants of one plan, and `run` that evolves a batch of states through it."""

    def __init__(self, plan: Plan, n_symbols: int, real: bool = False):
        self.plan = plan
        self.real = real  # real states and matrices (a density matrix's Pauli-transfer form); needs initial states
        if real and not plan.initial:
            raise ValueError("a real executor runs from given initial states: make its plan with initial=True")
        self.n = plan.n
        self.n_symbols = n_symbols
        runs = {"row": [], "group": []}
        for run in list(plan.prefix.values()) + [m for s in plan.steps if isinstance(s, Block) for m in s.members
                                                 if isinstance(m, Run)]:
            runs[run.kind].append(run)  # each run is in the prefix or in exactly one block
        self._runs = runs
        self._run_id = {id(r): (kind, i) for kind, rs in runs.items() for i, r in enumerate(rs)}
        self._prefix_ids = {id(r) for r in plan.prefix.values()}
        self._tables, self._run_index, self._run_const = {}, {}, {}
        for kind, rs in runs.items():
            if not rs:
                continue
            members = sorted({m for r in rs for m in r.members})
            local = {m: i for i, m in enumerate(members)}
            table = _table([plan.singles[m] for m in members], n_symbols, kind, real)
            length = max(len(r.members) for r in rs)
            identity = len(members)
            index = np.array([[local[m] for m in r.members] + [identity] * (length - len(r.members)) for r in rs])
            if table["terms"] is None:  # constant runs: multiplied out here
                mats = np.concatenate([table["base"], np.eye(2)[None]])[index]  # [runs, length, 2, 2]
                product = mats[:, 0]
                for k in range(1, length):
                    product = mats[:, k] @ product
                self._run_const[kind] = np.concatenate([product, np.eye(2)[None]])  # identity last
            else:
                self._tables[kind] = table
                self._run_index[kind] = index.astype(np.int32)
        # blocks: layer gather indices and factor constants
        self._blocks = {}
        self._pairs = {}
        for step in plan.steps:
            if isinstance(step, Block):
                self._blocks[id(step)] = self._block_setup(step)
        # the run layers and the parameterised gates of all blocks of one kind and width: one gather and
        # Kronecker chain, and one table, evaluated once per run for all of them
        layers, params = {}, {}
        for step in plan.steps:
            setup = self._blocks.get(id(step))
            if setup is None or setup["constant"] is not None:
                continue
            key = (step.kind, step.width)
            if len(setup["layers"]):
                parts = layers.setdefault(key, [])
                setup["layer_key"], setup["layer_offset"] = key, sum(len(p) for p in parts)
                parts.append(setup["layers"])
            records = params.setdefault(key, [])
            for i, (f_kind, x) in enumerate(setup["factors"]):
                if f_kind == "param":
                    setup["factors"][i] = ("param", len(records))
                    records.append(x)
        self._layer_tables = {key: np.concatenate(parts) for key, parts in layers.items()}
        self._param_tables = {key: _table(records, n_symbols, key[0], real) for key, records in params.items() if records}

    def rows_read_shared(self, row_symbols: int) -> bool:
        """Whether a per-row table reads a symbol at or after column ``row_symbols`` (a shared one)."""
        tables = [self._tables.get("row")] + [t for key, t in self._param_tables.items() if key[0] == "row"]
        return any(t["used"][1] > row_symbols for t in tables if t is not None and t["terms"] is not None)

    # ------------------------------------------------------------------ run matrices
    def _one_gate_per_run(self, kind) -> bool:
        """Whether every parameterised run of ``kind`` is one gate, in member order (its matrix is the gate's)."""
        index = self._run_index.get(kind)
        return index is not None and index.shape[1] == 1 and np.array_equal(index[:, 0], np.arange(len(index)))

    def _call_cache(self, full, group_values):
        """(values, mats, columns) for one run: the symbol values a kind uses, and `run_matrices` and
        `run_columns` of a kind, each computed once."""
        cache = {}

        def values(kind):
            return full if kind == "row" else group_values

        def mats(kind):
            if kind not in cache and (kind in self._run_const or kind in self._tables):
                cache[kind] = self.run_matrices(kind, values(kind))
            return cache.get(kind)

        def columns(kind):
            return self.run_columns(kind, values(kind), mats)

        return values, mats, columns

    def run_matrices(self, kind, values):
        """[X, runs + 1, 2, 2]: every run's 2×2 product for the runs of ``kind`` (identity appended)."""
        if kind in self._run_const:
            return K.convert_to_tensor(self._run_const[kind].astype(np.complex64))[None]
        mats = evaluate(self._tables[kind], values)  # [X, members, 2, 2]
        eye = tile_rows(constant(np.eye(2)[None, None], "complex64"), K.shape(mats)[0])
        if self._one_gate_per_run(kind):
            product = mats  # nothing to multiply
        else:
            gathered = take(K.concatenate([mats, eye], axis=1), self._run_index[kind])  # [X, runs, L, 2, 2]
            product = _chain(unstack(gathered, axis=2))
        return K.concatenate([product, eye], axis=1)

    def run_columns(self, kind, values, mats):
        """[X, runs + 1, 2]: column 0 of every run's product (the state it makes from |0⟩), identity's last.

        Evaluated on its own (half the work of the matrices) when the runs of ``kind`` are single
        gates in member order and no block needs their matrices; else sliced from ``mats(kind)``.
        """
        if not (self._one_gate_per_run(kind) and all(id(run) in self._prefix_ids for run in self._runs[kind])):
            return mats(kind)[:, :, :, 0]
        columns = evaluate(self._tables[kind], values, column=0)  # [X, runs, 2]
        zero = tile_rows(constant([[[1.0, 0.0]]], "complex64"), K.shape(columns)[0])
        return K.concatenate([columns, zero], axis=1)

    def _block_setup(self, block: Block):
        kind = block.kind
        identity = len(self._runs[kind])
        layers, factors = [], []
        for seg_kind, content in block.segments:
            if seg_kind == "layer":
                layers.append([self._run_id[id(content[p])][1] if p in content else identity
                               for p in range(block.lo, block.lo + block.width)])
                factors.append(("layer", len(layers) - 1))
            else:
                for f_kind, x in content:
                    factors.append((f_kind, x))  # 'param' records are tabled per kind and width below
        constant = kind not in self._tables and all(f[0] != "param" for f in factors)
        setup = {"layers": np.array(layers, np.int64).reshape(len(layers), block.width), "factors": factors,
                 "constant": None,
                 # per factor: (source, phases) when it is a constant permutation with phases, found once here
                 "perms": [phased_permutation(x) if f_kind == "const" else None for f_kind, x in factors]}
        if constant:  # the whole block is one constant matrix
            runs = self._run_const.get(kind)
            matrix = np.eye(2**block.width, dtype=np.complex128)
            for f_kind, x in factors:
                if f_kind == "layer":
                    m = np.ones((1, 1))
                    for r in setup["layers"][x]:
                        m = np.kron(m, runs[r])
                    matrix = m @ matrix
                else:
                    matrix = x @ matrix
            setup["constant"] = matrix
        return setup

    def layer_matrices(self, key, run_mats) -> list:
        """[X, d, d] per layer of runs of every block of ``key`` = (kind, width): their Kronecker products."""
        layers = self._layer_tables[key]
        gathered = take(run_mats, layers)  # [X, layers, width, 2, 2]
        return unstack(_kron(unstack(gathered, axis=2)), axis=1)

    def block_factors(self, block: Block, values, run_mats, layer_cache=None) -> list:
        """The block's unitary as factors in circuit order: [X, 2^k, 2^k] tensors, or one [2^k, 2^k] constant.
        ``layer_cache``: a dict shared by the blocks of one run, for `layer_matrices`."""
        setup = self._blocks[id(block)]
        if setup["constant"] is not None:
            return [K.convert_to_tensor(_numeric(setup["constant"], self.real))]
        layer_cache = {} if layer_cache is None else layer_cache
        if len(setup["layers"]) and setup["layer_key"] not in layer_cache:
            layer_cache[setup["layer_key"]] = self.layer_matrices(setup["layer_key"], run_mats)
        factors = []
        for f_kind, x in setup["factors"]:
            if f_kind == "layer":
                factors.append(layer_cache[setup["layer_key"]][setup["layer_offset"] + x])
            elif f_kind == "const":
                factors.append(K.convert_to_tensor(_numeric(x, self.real))[None])
            else:
                key = ("param", block.kind, block.width)
                if key not in layer_cache:
                    layer_cache[key] = evaluate(self._param_tables[block.kind, block.width], values, records_first=True)
                factors.append(layer_cache[key][x])
        return factors

    def block_matrix(self, block: Block, values, run_mats, layer_cache=None):
        """[X, 2^k, 2^k] (or [2^k, 2^k] when constant): the block's unitary."""
        setup = self._blocks[id(block)]
        factors = self.block_factors(block, values, run_mats, layer_cache)
        if setup["constant"] is not None:
            return factors[0]
        # a constant permutation with phases (a CNOT ring) is a gather of rows, not a matrix product
        unitary = factors[0]
        for perm, factor in zip(setup["perms"][1:], factors[1:]):
            if perm is not None:
                unitary = permute_rows(unitary, *perm)
            else:
                unitary = matmul(factor, unitary)
        return unitary

    # ------------------------------------------------------------------ apply
    def _apply_block(self, state, matrix, block: Block, rows, groups):
        k, kind = block.width, block.kind
        a, b = block.lo, self.n - block.lo - block.width
        d, left, right = 2**k, 2**a, 2**b
        if rank(matrix) == 2:  # constant
            if b == 0:
                return K.reshape(matmul(K.reshape(state, [-1, d]), matrix, transpose_b=True), [rows, -1])
            return K.reshape(matmul(K.expand_dims(matrix, 0), K.reshape(state, [-1, d, right])), [rows, -1])
        # expand_dims / reshape rather than slicing: a strided slice's gradient is costly to trace
        if kind == "row":
            if b == 0:
                out = matmul(K.reshape(state, [rows, left, d]), matrix, transpose_b=True)
            else:
                out = matmul(K.expand_dims(matrix, 1), K.reshape(state, [rows, left, d, right]))
            return K.reshape(out, [rows, -1])
        if a == 0 and b == 0:  # the whole register: one batched product per group, no broadcast to reduce
            view = K.transpose(K.reshape(state, [rows // groups, groups, d]), [1, 0, 2])
            out = K.transpose(matmul(view, matrix, transpose_b=True), [1, 0, 2])
            return K.reshape(out, [rows, -1])
        if b == 0:
            view = K.reshape(state, [rows // groups, groups, left, d])
            out = matmul(view, K.expand_dims(matrix, 0), transpose_b=True)
        else:
            view = K.reshape(state, [rows // groups, groups, left, d, right])
            out = matmul(K.expand_dims(K.expand_dims(matrix, 0), 2), view)
        return K.reshape(out, [rows, -1])

    def _apply_wide(self, state, matrix, qubits, rows):
        """A [rows, 2^k, 2^k] (or constant [2^k, 2^k]) matrix on arbitrary qubits, through a transposed view."""
        n, k = self.n, len(qubits)
        if k == 0:
            return state * (matrix[:, :1, 0] if rank(matrix) == 3 else matrix[0, 0])
        others = [q for q in range(n) if q not in qubits]
        order = [0] + [q + 1 for q in others] + [q + 1 for q in qubits]
        view = K.reshape(K.transpose(K.reshape(state, [-1] + [2] * n), order), [rows, 2 ** (n - k), 2**k])
        if rank(matrix) == 2:
            out = matmul(view, matrix[None], transpose_b=True)
        else:
            out = matmul(view, matrix, transpose_b=True)
        inverse = [int(i) for i in np.argsort(order)]
        return K.reshape(K.transpose(K.reshape(out, [-1] + [2] * n), inverse), [rows, -1])

    # ------------------------------------------------------------------ run
    def run(self, full, group_values, rows, groups, static_groups=None, initial=None):
        """Final states [rows, 2^n] for per-row symbol values ``full`` and per-group values ``group_values``
        (``static_groups``: the number of groups when known while tracing), from |0…0⟩, or from the
        complex64 states ``initial`` [rows, 2^n] for a plan made with ``initial=True``."""
        if (initial is None) == self.plan.initial:
            raise ValueError("`initial` states must be given exactly when the plan was made with initial=True")
        values, mats, columns = self._call_cache(full, group_values)
        layer_cache = {}
        state = initial if self.plan.initial else self._product_state(columns, rows, groups)
        for step in self.plan.steps:
            if isinstance(step, Block) and step.kind == "row" and step.width == self.n:
                # a whole-register block that changes from row to row: applying its factors one by one
                # (rows·4^n each) is cheaper than multiplying them into one matrix per row (rows·8^n each)
                for factor in self.block_factors(step, full, mats("row"), layer_cache):
                    state = self._apply_block(state, factor, step, rows, groups)
            elif isinstance(step, Block):
                matrix = self.block_matrix(step, values(step.kind), mats(step.kind), layer_cache)
                if step.kind == "group" and static_groups == 1 and rank(matrix) == 3:
                    matrix = K.squeeze(matrix, 0)  # one group for all rows: a plain matrix product
                state = self._apply_block(state, matrix, step, rows, groups)
            elif isinstance(step, Perm):
                state = permute_rows(state, step.source, step.phases)
            elif not self.real and pair_terms(step.record) is not None:
                state = self._apply_pair(state, step, full, group_values, rows, groups)
            else:
                state = self._apply_wide(state, self._wide_matrix(step, full, group_values, rows, groups),
                                         list(step.record.qubits), rows)
        return K.reshape(state, [-1, 2**self.n])  # the static width, for Keras' shape inference

    def _apply_pair(self, state, step: Wide, full, group_values, rows, groups):
        """A two-qubit gate on distant qubits as Σ_m c_m · P_m ⊗ Q_m (see `pair_terms`)."""
        terms = self._pairs.setdefault(id(step), pair_terms(step.record))
        n = self.n
        p, q = step.record.qubits
        if p > q:  # the record's first qubit carries P: keep (P, Q) attached to (p, q)
            terms = dict(terms, pairs=[(b, a) for a, b in terms["pairs"]])
            p, q = q, p
        base = K.convert_to_tensor(terms["base"].astype(np.complex64))
        if terms["coeffs"] is None or step.kind == "const":
            coefficients = base[None]  # [1, M]
        else:
            values = full if step.kind == "row" else group_values
            angles = matmul(values, K.convert_to_tensor(terms["coeffs"].astype(np.float32))) + \
                K.convert_to_tensor(terms["consts"].astype(np.float32))
            phases = complex_(K.cos(angles), K.sin(angles))
            coefficients = base[None] + matmul(phases, K.convert_to_tensor(terms["terms"].astype(np.complex64)))
            coefficients = _embed_rows(coefficients, step.kind, rows, groups)  # [rows, M]
        out = None
        for m, (a, b) in enumerate(terms["pairs"]):
            part = _pauli_on(_pauli_on(state, a, p, n), b, q, n)
            part = K.reshape(part, [rows, -1]) * coefficients[:, m:m + 1]
            out = part if out is None else out + part
        return out

    def _wide_matrix(self, step: Wide, full, group_values, rows, groups):
        if step.kind == "const":
            return K.convert_to_tensor(_numeric(step.record.base, self.real))
        table = _table([step.record], self.n_symbols, step.kind, self.real)
        matrix = evaluate(table, full if step.kind == "row" else group_values)[:, 0]
        return _embed_rows(matrix, step.kind, rows, groups)

    def _prefix_columns(self, columns, rows, groups):
        """Per qubit, its state [rows, 2] after its prefix run (|0⟩ where none acts); ``columns(kind)``
        gives `run_columns` of a kind."""
        prefix = self.plan.prefix
        zero = constant([[1.0, 0.0]], "complex64")
        kinds = {self._run_id[id(run)][0] for run in prefix.values()}
        if len(kinds) == 1:  # one gather: each qubit's first column, |0⟩ (the identity's) where no run acts
            kind = kinds.pop()
            identity = len(self._runs[kind])
            index = [self._run_id[id(prefix[q])][1] if q in prefix else identity for q in range(self.n)]
            picked = take(columns(kind), index)  # [X, n, 2]
            return _embed_rows(picked, "const" if kind in self._run_const else kind, rows, groups)
        out, cached = [], {}
        for q in range(self.n):
            run = prefix.get(q)
            if run is None:
                out.append(tile_rows(zero, rows))
                continue
            kind, i = self._run_id[id(run)]
            if kind not in cached:
                cached[kind] = _embed_rows(columns(kind), "const" if kind in self._run_const else kind,
                                           rows, groups)  # [rows, runs + 1, 2]
            out.append(cached[kind][:, i])
        return K.stack(out, axis=1)

    def _product_state(self, columns, rows, groups):
        """The state after the prefix runs: per row, the Kronecker product of each qubit's first column."""
        if not self.plan.prefix:
            return tile_rows(constant(np.eye(1, 2**self.n), "complex64"), rows)
        return product_distribution(self._prefix_columns(columns, rows, groups))

    def real_product_state(self, full, group_values, rows, groups, one_group=False):
        """[rows, 4n]: the final product state of a `Plan.product` plan (single-qubit runs only).

        The product state is kept in real form, [rows, (real | imaginary), n, 2] flattened, so a
        layer of weight-only runs is one real [4n, 4n] matrix product and nothing is complex.
        ``one_group``: the rows share one group of weights (known while tracing). When the prefix is
        one gate per qubit on per-row symbols, the state is affine in the gates' [cos | sin] terms,
        [cos | sin] @ W + b, and the weight-only layers after it are multiplied into the small W and b
        rather than into every row's state: one row-sized product for the whole circuit.
        """
        n = self.n
        values, mats, columns = self._call_cache(full, group_values)
        state, affine = None, self._row_prefix_affine(values)  # affine: (trig [rows, 2RT], W [2RT, 4n], b [1, 4n])
        if affine is None:
            state = self._real_prefix(values, columns, rows, groups)  # [rows, 4n]
        later, trig_cache = self.plan.later_runs(), {}
        for t in range(max((len(r) for r in later.values()), default=0)):
            layer = {q: runs[t] for q, runs in later.items() if t < len(runs)}
            for kind in ("row", "group"):  # runs on distinct qubits commute: one kind after the other
                on = {q: self._run_id[id(run)][1] for q, run in layer.items() if run.kind == kind}
                if not on:
                    continue
                shared = kind in self._run_const or one_group
                if affine is not None and not (kind == "group" and shared):
                    state, affine = _affine_rows(*affine), None
                if kind == "row" and kind not in self._run_const:
                    real_form = self._real_forms(kind, on, mats)
                    view = K.reshape(K.transpose(K.reshape(state, [rows, 2, n, 2]), [0, 2, 1, 3]), [rows, n, 1, 1, 4])
                    out = K.sum(K.reshape(real_form, [rows, n, 2, 2, 4]) * view, axis=-1)  # [rows, n, part, i]
                    state = K.reshape(K.transpose(out, [0, 2, 1, 3]), [rows, 4 * n])
                    continue
                big = self._layer_real_form(kind, on, values, mats, trig_cache)  # [X, 4n, 4n]
                if shared and affine is not None:  # (trig @ W + b) @ bigᵀ = trig @ (W @ bigᵀ) + b @ bigᵀ
                    trig, weight, bias = affine
                    affine = (trig, matmul(weight, big[0], transpose_b=True),
                              None if bias is None else matmul(bias, big[0], transpose_b=True))
                elif shared:
                    state = matmul(state, big[0], transpose_b=True)
                else:
                    view = K.reshape(state, [rows // groups, groups, 1, 4 * n])
                    state = K.reshape(matmul(view, big, transpose_b=True), [rows, 4 * n])
        return state if affine is None else _affine_rows(*affine)

    def _real_forms(self, kind, on, mats):
        """[X, n, 2, 2, 2, 2]: per qubit, the real form [(re | im) out, i, (re | im) in, j] = [[A, −B], [B, A]] of
        the 2×2 matrix A + iB of run ``on[q]`` of ``kind`` (the identity where ``on`` has no run)."""
        identity = len(self._runs[kind])
        matrices = take(mats(kind), [on.get(q, identity) for q in range(self.n)])  # [X, n, 2, 2]: X = rows, groups or 1
        a, b = K.real(matrices), K.imag(matrices)
        return K.stack([K.stack([a, -b], axis=-2), K.stack([b, a], axis=-2)], axis=2)

    def _layer_real_form(self, kind, on, values, mats, trig_cache):
        """[X, 4n, 4n]: the block-diagonal real form of a layer of runs of ``kind`` (qubit q's 4×4 real form on its
        rows and columns of the [(re | im), n, 2] layout). When each run of ``kind`` is one gate on a small table,
        straight from the gates' [cos | sin] terms by one product with a constant (no complex numbers: far fewer
        operations for TensorFlow to run and differentiate); else from the run matrices."""
        n, table = self.n, self._tables.get(kind)
        affine = dense_affine(table) if table is not None and self._one_gate_per_run(kind) else None
        if affine is None:
            return K.reshape(K.einsum("xqaibj,qp->xaqibpj", self._real_forms(kind, on, mats),
                                      constant(np.eye(n), "float32")), [-1, 4 * n, 4 * n])
        key = ("layer", kind, tuple(sorted(on.items())))
        if key not in table:
            weight, bias = affine  # [2RT, 2·R·4], [2·R·4]: [real | imag] of every record's 2×2 entries
            count = table["count"]
            lift, extra = np.zeros((2 * count * 4, 16 * n * n), np.float32), np.zeros(16 * n * n, np.float32)

            def flat(a, q, i, b, j):  # entry (row (a, q, i), column (b, q, j)) of the [4n, 4n] matrix, flattened
                return ((a * n + q) * 2 + i) * 4 * n + (b * n + q) * 2 + j

            for q in range(n):
                r = on.get(q)
                for i in range(2):
                    for j in range(2):
                        if r is None:  # identity
                            extra[flat(0, q, i, 0, j)] = extra[flat(1, q, i, 1, j)] = float(i == j)
                            continue
                        real, imag = r * 4 + i * 2 + j, count * 4 + r * 4 + i * 2 + j
                        lift[real, flat(0, q, i, 0, j)] = lift[real, flat(1, q, i, 1, j)] = 1.0
                        lift[imag, flat(0, q, i, 1, j)], lift[imag, flat(1, q, i, 0, j)] = -1.0, 1.0
            table[key] = (weight @ lift, bias @ lift + extra)
        if kind not in trig_cache:
            trig_cache[kind] = trig_terms(table, values(kind))
        weight, bias = table[key]
        flat = matmul(trig_cache[kind], K.convert_to_tensor(weight))
        return K.reshape(flat + K.convert_to_tensor(bias) if bias.any() else flat, [-1, 4 * n, 4 * n])

    def _row_prefix_affine(self, values):
        """(trig, W, b) with the prefix state = trig @ W + b (see `real_product_state`) when the prefix is one
        per-row gate on every qubit in qubit order, on a small table; else None."""
        prefix, kind = self.plan.prefix, "row"
        if len(prefix) != self.n or any(self._run_id[id(run)][0] != kind for run in prefix.values()):
            return None
        index = [self._run_id[id(prefix[q])][1] for q in range(self.n)]
        if index != list(range(self.n)) or len(self._runs[kind]) != self.n or not self._one_gate_per_run(kind):
            return None
        table = self._tables[kind]
        affine = dense_affine(table, column=0)
        if affine is None:
            return None
        weight, bias = affine
        return (trig_terms(table, values(kind)), K.convert_to_tensor(weight),
                K.convert_to_tensor(bias[None]) if bias.any() else None)  # None: a zero bias

    def qubit_probabilities(self, full, group_values, rows, groups, one_group=False):
        """[rows, n, 2]: each qubit's outcome probabilities, for a `Plan.product` plan (see `real_product_state`)."""
        state = self.real_product_state(full, group_values, rows, groups, one_group)
        squares = K.reshape(state * state, [rows, 2, self.n * 2])
        return K.reshape(K.sum(squares, axis=1), [rows, self.n, 2])

    def qubit_z(self, full, group_values, rows, groups, one_group=False):
        """[rows, n]: each qubit's ⟨Z⟩, for a `Plan.product` plan (see `real_product_state`)."""
        squares, signs = self.qubit_z_parts(full, group_values, rows, groups, one_group)
        return matmul(squares, K.convert_to_tensor(signs))

    def qubit_z_parts(self, full, group_values, rows, groups, one_group=False):
        """(squares [rows, 4n], signs [4n, n] NumPy) with each qubit's ⟨Z⟩ = squares @ signs, for a `Plan.product`
        plan: a reader that applies a linear map to the ⟨Z⟩s next can fold ``signs`` into it."""
        state = self.real_product_state(full, group_values, rows, groups, one_group)
        signs = np.zeros((2, self.n, 2, self.n), np.float32)  # |re|² + |im|² of amplitude 0 minus amplitude 1
        for q in range(self.n):
            signs[:, q, 0, q], signs[:, q, 1, q] = 1.0, -1.0
        return state * state, signs.reshape(4 * self.n, self.n)

    def _real_prefix(self, values, columns, rows, groups):
        """[rows, 4n]: the product state after the prefix runs in real form (see `qubit_probabilities`)."""
        n, prefix = self.n, self.plan.prefix
        kinds = {self._run_id[id(run)][0] for run in prefix.values()}
        if len(kinds) == 1:
            kind = next(iter(kinds))
            index = [self._run_id[id(prefix[q])][1] if q in prefix else None for q in range(n)]
            if index == list(range(n)) and len(self._runs[kind]) == n and self._one_gate_per_run(kind):
                # one gate per qubit, in qubit order: the columns come straight out of one evaluation
                real, imag = evaluate(self._tables[kind], values(kind), column=0, parts=True)
                state = K.concatenate([real, imag], axis=1)  # [X, 4n]
                return state if kind == "row" else _embed_rows(state, kind, rows, groups)
        if prefix:
            columns = self._prefix_columns(columns, rows, groups)  # [rows, n, 2]
        else:
            columns = tile_rows(constant([[[1.0, 0.0]] * n], "complex64"), rows)
        return K.reshape(K.stack([K.real(columns), K.imag(columns)], axis=1), [rows, 4 * n])


def _affine_rows(trig, weight, bias):
    """trig @ weight + bias (``bias`` None: zero)."""
    out = matmul(trig, weight)
    return out if bias is None else out + bias


def product_distribution(factors):
    """[rows, 2^n]: entry i = Π_q factors[:, q, bit_q(i)] (qubit 0 most significant) of [rows, n, 2] factors,
    by outer products (cheaper to run and to differentiate than one gather of n · 2^n entries)."""
    columns = unstack(factors, axis=1)
    rows = factors.shape[0] if factors.shape[0] is not None else K.shape(factors)[0]
    out = columns[0]
    for column in columns[1:]:
        out = K.reshape(K.expand_dims(out, 2) * K.expand_dims(column, 1), [rows, -1])
    return out
