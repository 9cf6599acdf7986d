"""Planning: compiled gate records → the steps a state-vector run takes (pure NumPy).

1. **Single-qubit runs.** Consecutive single-qubit gates on one qubit are fused into one
   `Run` (a 2×2 product evaluated for all runs of the circuit in one vectorised pass at run
   time). A run that depends on per-row symbols (data) is kept apart from the weight-only gates
   after it, so those stay in the cheap per-group part.
2. **Product state.** The first run on each qubit acts on |0⟩: the state after them is a product
   state, built per row from one column of each run (`Plan.prefix`). A run that starts from
   given states (``make_plan(..., initial=True)``) has no prefix: every run joins a block.
3. **Blocks.** The rest is packed greedily into `Block`s: a contiguous qubit span of at most
   ``block_qubits`` qubits (the whole register for small registers, two halves up to twice
   ``block_qubits``) whose unitary is built per
   row ('row': the block depends on per-row symbols), per group of rows sharing weights
   ('group'), or once here ('const'), then applied as one matrix on a flattened
   [rows, 2^a, 2^k, 2^b] view of the state (no rank limits). Blocks tile the register
   (spans [0, k), [k, 2k), …; a gate across a tile boundary gets a span of its own), and an
   operation moves into the
   earliest block it may join without crossing an operation on its qubits. On larger
   registers, runs of constant permutation gates (CNOT, CZ, SWAP, X, Toffoli, …) become one
   `Perm` (a gather with phases over the register); a gate wider than a block is a `Wide`
   step (applied through a transposed view).

Cost then grows like a state-vector simulator's: a few passes over the 2^n amplitudes per
layer of gates, dense 2^k blocks only where they pay, and planning time linear in the circuit.

For readouts that only need probabilities in the computational basis, `peel_permutation` first
takes off the trailing constant gates that permute basis states affinely over GF(2) with phases
(CNOT, CZ, SWAP, X, S, …, as in a closing CNOT ladder): they only relabel the outcomes, so the
readout absorbs them (`Peeled`). When what is left acts on single qubits only, the final state
is a product state and the readout needs just one 2-vector per qubit (`Plan.product`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hybridkeras.engines.compiler import GateRecord, embed

DENSE_QUBITS = 5  # up to here every block spans the whole register
BLOCK_QUBITS = 4  # block width on larger registers


@dataclass(eq=False)
class Run:
    """Fused single-qubit gates on one qubit: ``members`` index `Plan.singles`, applied in order."""

    qubit: int
    members: list[int]
    kind: str  # 'row' (uses per-row symbols) | 'group'


@dataclass(eq=False)
class Block:
    """Operations on the contiguous span [lo, lo + width), applied as one 2^width matrix."""

    lo: int
    width: int
    kind: str  # 'row' | 'group'
    members: list = field(default_factory=list)  # Run | GateRecord, in order
    segments: list = field(default_factory=list)  # filled by `_segments`: ('layer', {pos: Run}) | ('gates', [...])

    @property
    def qubits(self) -> set[int]:
        return {q for m in self.members for q in _qubits_of(m)}


@dataclass(eq=False)
class Perm:
    """new[i] = phases[i] · old[source[i]] over the whole register (constant permutation gates)."""

    source: np.ndarray
    phases: np.ndarray


@dataclass(eq=False)
class Wide:
    """One gate applied on its own (wider than a block, or acting on no qubit: a global phase)."""

    record: GateRecord
    kind: str  # 'row' | 'group' | 'const'


@dataclass(eq=False)
class Plan:
    n: int
    singles: list[GateRecord]  # every single-qubit record, indexed by Run.members
    prefix: dict[int, Run]
    steps: list
    initial: bool = False  # the run starts from given states, not from |0…0⟩

    @property
    def product(self) -> bool:
        """Whether every step acts on one qubit at a time (the final state is a product state)."""
        return not self.initial and all(isinstance(step, Block) and all(isinstance(m, Run) for m in step.members) for step in self.steps)

    def later_runs(self) -> dict[int, list[Run]]:
        """Per qubit, the runs after its prefix run, in circuit order (meaningful when `product`)."""
        runs: dict[int, list[Run]] = {}
        for step in self.steps:
            for member in step.members:
                runs.setdefault(member.qubit, []).append(member)
        return runs


@dataclass(frozen=True)
class Peeled:
    """Trailing basis-state permutations taken off a circuit: the final outcome i is the kept
    circuit's outcome ``source[i]`` (their phases do not change probabilities). The map is
    affine over GF(2), so a Z-parity read after it is a Z-parity of the kept circuit (`mask`).
    """

    source: np.ndarray  # [2^n] int64
    inverse: np.ndarray  # [2^n] int64: inverse[source[i]] = i

    def mask(self, m: int) -> tuple[int, float]:
        """(mask on the kept circuit's outcomes, sign) of the Z-parity mask ``m`` of final outcomes."""
        n = len(self.inverse).bit_length() - 1
        offset = int(self.inverse[0])
        new = 0
        for b in range(n):
            if bin(m & (int(self.inverse[1 << b]) ^ offset)).count("1") % 2:
                new |= 1 << b
        return new, -1.0 if bin(m & offset).count("1") % 2 else 1.0


def _affine(source: np.ndarray, bits: int) -> bool:
    """Whether the map i → source[i] on ``bits``-bit integers is affine over GF(2)."""
    index = np.arange(2**bits)
    offset = int(source[0])
    predicted = np.full(2**bits, offset, np.int64)
    for b in range(bits):
        predicted ^= np.where((index >> b) & 1, int(source[1 << b]) ^ offset, 0)
    return bool(np.array_equal(predicted, source))


def phased_permutation(matrix: np.ndarray):
    """(source, phases) when ``matrix`` is a permutation with phases (row i = phases[i] · basis row
    source[i]: new amplitude i = phases[i] · old amplitude source[i]), else None."""
    nonzero = np.abs(matrix) > 1e-12
    if not ((nonzero.sum(axis=1) == 1).all() and (nonzero.sum(axis=0) == 1).all()):
        return None
    source = nonzero.argmax(axis=1)
    return source, matrix[np.arange(len(matrix)), source]


def _affine_permutation(record: GateRecord) -> bool:
    """Whether ``record`` is a constant permutation with phases whose map of basis states is affine."""
    if record.terms or not record.qubits:
        return False
    perm = phased_permutation(record.base)
    return perm is not None and _affine(perm[0], record.width)


def peel_permutation(records: list[GateRecord], n: int) -> tuple[list[GateRecord], Peeled | None]:
    """(kept records, `Peeled` or None): the trailing constant affine permutations taken off.

    A record is taken when it is a constant permutation with phases, affine over GF(2) (CNOT,
    CZ, SWAP, X, S, … are; Toffoli is not), and no kept record after it touches its qubits (so
    it commutes to the end).
    """
    kept, peeled, blocked = [], [], set()
    for i in range(len(records) - 1, -1, -1):
        record = records[i]
        if len(blocked) >= n:
            kept.extend(reversed(records[: i + 1]))
            break
        if not blocked.intersection(record.qubits) and _affine_permutation(record):
            peeled.append(permutation_of(record, n)[0])
        else:
            kept.append(record)
            blocked.update(record.qubits)
    if not peeled:
        return list(records), None
    source = np.arange(2**n)
    for gate in peeled:  # from the last gate back: final outcome i comes from gate's source of the later ones'
        source = gate[source]
    inverse = np.empty_like(source)
    inverse[source] = np.arange(2**n)
    return list(reversed(kept)), Peeled(source, inverse)


def _qubits_of(item) -> tuple[int, ...]:
    return (item.qubit,) if isinstance(item, Run) else item.qubits


def record_kind(record: GateRecord, row_mask: np.ndarray) -> str:
    """'row' (depends on per-row symbols), 'shared' (on shared symbols only) or 'const'."""
    if record.uses(row_mask):
        return "row"
    return "shared" if record.terms else "const"


def permutation_of(record: GateRecord, n: int):
    """(source, phases) over the whole register when ``record`` is a constant permutation with phases, else None."""
    if record.terms or not record.qubits:
        return None
    perm = phased_permutation(record.base)
    if perm is None:
        return None
    local_source, local_phase = perm  # new local j ← old local local_source[j]
    index = np.arange(2**n)
    k = len(record.qubits)
    shifts = [n - 1 - q for q in record.qubits]
    local = np.zeros(2**n, np.int64)
    for j, s in enumerate(shifts):
        local |= ((index >> s) & 1) << (k - 1 - j)
    src_local = local_source[local]
    source = index.copy()
    for j, s in enumerate(shifts):
        bit = (src_local >> (k - 1 - j)) & 1
        source = (source & ~(1 << s)) | (bit << s)
    return source, local_phase[local]


def make_plan(records: list[GateRecord], n: int, row_mask: np.ndarray, *, initial: bool = False,
              dense_qubits: int = DENSE_QUBITS, block_qubits: int = BLOCK_QUBITS, fuse_constants: bool = False) -> Plan:
    """The plan of ``records`` on ``n`` qubits; ``initial``: the run starts from given states (no prefix).
    ``fuse_constants``: a constant record may join a per-row block (one constant factor in each row's
    product) instead of opening a block of its own, and constant permutations that fit a block stay in blocks
    rather than becoming `Perm` gathers (the density-matrix engine: its channels sit between data gates, and a
    gather over 4^n entries costs as much as a block's pass without fusing anything)."""
    dense = n <= dense_qubits
    # registers up to two block widths split into two equal halves (6 qubits: two tiles of 3, not
    # [0, 4) and [2, 6) overlapping), larger ones into tiles of ``block_qubits``
    width = n if dense else (block_qubits if n > 2 * block_qubits else -(-n // 2))
    singles, items, pending = [], [], {}
    for record in records:
        kind = record_kind(record, row_mask)
        if record.width == 1:
            q = record.qubits[0]
            run = pending.get(q)
            if run is not None and run.kind == "row" and kind != "row":
                items.append(pending.pop(q))  # per-row gates and the weight-only gates after them stay apart
                run = None
            if run is None:
                run = pending[q] = Run(q, [], "group")
            run.members.append(len(singles))
            if kind == "row":
                run.kind = "row"
            singles.append(record)
        else:
            for q in record.qubits:
                if q in pending:
                    items.append(pending.pop(q))
            items.append(record)
    items.extend(pending[q] for q in sorted(pending))

    prefix, touched, rest = {}, set(), []
    for item in items:
        qubits = _qubits_of(item)
        if isinstance(item, Run) and item.qubit not in touched and not initial:
            prefix[item.qubit] = item
        else:
            rest.append(item)
        touched.update(qubits)

    steps, last = [], {}  # last[q]: the latest step acting on qubit q

    def latest(qubits):
        return max((steps.index(last[q]) for q in qubits if q in last), default=-1)

    def place(step, qubits, new: bool):
        """``step`` now acts on ``qubits``; a new step goes right after the latest one on them."""
        if new:
            steps.insert(latest(qubits) + 1, step)
        for q in qubits:
            last[q] = step

    for item in rest:
        qubits = _qubits_of(item)
        kind = "row" if isinstance(item, Run) and item.kind == "row" else None
        if isinstance(item, GateRecord):
            kind = record_kind(item, row_mask)
            wide = not qubits or max(qubits) - min(qubits) + 1 > width
            perm = None if dense or (fuse_constants and not wide) else permutation_of(item, n)
            if perm is not None:
                target = next((s for s in steps[max(latest(qubits), 0):] if isinstance(s, Perm)), None)
                if target is not None:  # compose: this gate after the permutation so far
                    source, phases = perm
                    target.phases = phases * target.phases[source]
                    target.source = target.source[source]
                    place(target, qubits, new=False)
                else:
                    place(Perm(perm[0], perm[1].astype(np.complex128)), qubits, new=True)
                continue
            if wide:
                place(Wide(item, "row" if kind == "row" else ("group" if kind == "shared" else "const")), qubits, new=True)
                continue
        block_kind = "row" if kind == "row" else "group"
        low, high = min(qubits), max(qubits)
        joins = (block_kind, "row") if fuse_constants and kind == "const" else (block_kind,)
        target = next((step for step in steps[max(latest(qubits), 0):] if isinstance(step, Block)
                       and step.kind in joins and step.lo <= low and high < step.lo + step.width), None)
        if target is None:
            lo = (low // width) * width  # blocks tile the register, so a layer of gates packs into n / width blocks
            if high >= lo + width:  # straddles two tiles: a span of its own
                lo = low
            target = Block(min(lo, n - width), width, block_kind)
            place(target, qubits, new=True)
        else:
            place(target, qubits, new=False)
        target.members.append(item)
    for step in steps:
        if isinstance(step, Block):
            step.segments = _segments(step)
    return Plan(n, singles, prefix, steps, initial)


def _segments(block: Block) -> list:
    """The block as alternating layers of runs on distinct qubits and runs of gates.

    A run joins the last layer when that layer does not hold its qubit yet and no gate after
    the layer touches it (it commutes to there); gates keep their order. Constant gates of one
    'gates' segment are multiplied out here; parameterised ones are lifted to the block's span.
    """
    segments, layer_at = [], None
    for member in block.members:
        if isinstance(member, Run):
            q = member.qubit
            ok = layer_at is not None and q not in segments[layer_at][1] and not any(
                q in g.qubits for seg in segments[layer_at + 1:] for g in seg[1])
            if ok:
                segments[layer_at][1][q] = member
            else:
                segments.append(("layer", {q: member}))
                layer_at = len(segments) - 1
        else:
            if segments and segments[-1][0] == "gates":
                segments[-1][1].append(member)
            else:
                segments.append(("gates", [member]))
    span = tuple(range(block.lo, block.lo + block.width))
    out = []
    for kind, content in segments:
        if kind == "layer":
            out.append(("layer", content))
            continue
        factors, constant = [], None
        for record in content:
            lifted = embed(record, span)
            if lifted.terms:
                if constant is not None:
                    factors.append(("const", constant))
                    constant = None
                factors.append(("param", lifted))
            else:
                constant = lifted.base if constant is None else lifted.base @ constant
        if constant is not None:
            factors.append(("const", constant))
        out.append(("gates", factors))
    return out
