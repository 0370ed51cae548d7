"""What the functional transforms of both engines share: argnums, input and tangent checks,
fresh results, one-hot seeding, and pushing tangents through a whole function.

Every transform differentiates g(*primals): `select` picks the arguments argnums names
(the primals, each a pytree) and holds the others fixed, and `Argnums.unpack` gives back
the result for one argument (an int argnums) or the tuple of them (a sequence), so argnums
is handled here once for grad, jacfwd, jacrev, jacobian and hessian alike.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np

from ad import rules
from ad.forward.dual import Dual
from ad.trace import Box, NoReverseSweep, matrix_error, new_level, raw
from ad.tree import flatten

DEFAULT_CHUNK = 128  # the fewest directions a default pass (jacfwd) or sweep (jacrev) carries
SEED_ENTRIES = 2**17  # a default pass carries all n directions while its n x n seed fits this


def check_chunk(chunk, who: str = "chunk"):
    """chunk= as given to a Jacobian: None (the default) or a whole number of directions per
    pass, at least 1; anything else is an error saying what to pass (0 is not "the default")."""
    if chunk is None or _is_int(chunk) and chunk >= 1:
        return chunk
    raise (ValueError if _is_int(chunk) else TypeError)(
        f"{who}: chunk= is the number of directions per pass, a whole number >= 1; got {chunk!r}: "
        "pass e.g. chunk=16, or leave it out (chunk=None) for the default"
    )


def default_chunk(directions: int) -> int:
    """Directions per pass when chunk=None: all of them while their one-hot seed (k x
    directions entries) stays within SEED_ENTRIES, as JAX's and PyTorch's vmapped Jacobians
    do (up to 362 directions: one pass), else as many as fit, never fewer than DEFAULT_CHUNK.
    One pass makes the seed's products one matrix-matrix product each; the bound keeps what
    a pass holds (k tangents of every live value) within a few times the chunked passes'."""
    if directions * directions <= SEED_ENTRIES:
        return max(directions, 1)
    return max(DEFAULT_CHUNK, SEED_ENTRIES // directions)


# -- argnums ----------------------------------------------------------------------------------
def _is_int(i) -> bool:
    return isinstance(i, int | np.integer) and not isinstance(i, bool | np.bool_)


def normalize_argnums(argnums, who: str, nargs: int | None = None) -> tuple[int, ...]:
    """argnums (an int, or a sequence of ints; negative ones count from the end) as a tuple
    of positions in 0..nargs-1, or an error saying what to pass. Without nargs, types only."""
    nums = (argnums,) if _is_int(argnums) else argnums
    if not isinstance(nums, tuple | list) or not all(_is_int(i) for i in nums):
        raise TypeError(
            f"{who}: argnums must be an int or a tuple of ints; got {argnums!r}: "
            "pass e.g. argnums=0, argnums=-1 or argnums=(0, 2)"
        )
    if not nums:
        raise ValueError(f"{who}: argnums={argnums!r} names no argument: pass at least one position")
    if nargs is None:
        return tuple(operator.index(i) for i in nums)
    out = []
    for i in nums:
        if not -nargs <= i < nargs:
            raise IndexError(
                f"{who}: argnums={argnums!r} names argument {i}, but f was called with {nargs} "
                f"argument(s): pass positions from {-nargs} to {nargs - 1}"
            )
        out.append(operator.index(i) % nargs)
    if len(set(out)) != len(out):
        raise ValueError(
            f"{who}: argnums={argnums!r} names the same argument twice (positions {tuple(out)}): "
            "list each argument once"
        )
    return tuple(out)


class Argnums:
    """A transform's argnums, checked when the transform is made; ``positions(nargs)`` is
    normalize_argnums for a call with nargs arguments, worked out once per nargs."""

    __slots__ = ("given", "who", "single", "_positions")

    def __init__(self, argnums, who: str):
        normalize_argnums(argnums, who)
        self.given, self.who = argnums, who
        self.single = _is_int(argnums)  # an int: results for that argument, not a tuple of them
        self._positions: dict[int, tuple[int, ...]] = {}

    def positions(self, nargs: int) -> tuple[int, ...]:
        found = self._positions.get(nargs)
        if found is None:
            found = self._positions[nargs] = normalize_argnums(self.given, self.who, nargs)
        return found

    def unpack(self, per_argument: tuple):
        """What a transform returns, given one result per selected argument: the one result
        for an int argnums, the tuple of them for a sequence (as JAX)."""
        return per_argument[0] if self.single else per_argument


def select(f: Callable, args: tuple, argnums: Argnums) -> tuple[tuple, Callable]:
    """(primals, g): primals is the tuple of the arguments argnums names, in its order, and
    g(*primals) is f with them put back in place, the other arguments held fixed."""
    nums = argnums.positions(len(args))
    if len(nums) == len(args) and nums == tuple(range(len(args))):
        return args, f  # every argument, in order: g is f
    primals = tuple([args[i] for i in nums])

    def g(*xs):
        full = list(args)
        for i, xi in zip(nums, xs):
            full[i] = xi
        return f(*full)

    return primals, g


# -- inputs, tangents, results ----------------------------------------------------------------
def describe(x) -> str:
    """What x is, for an error message: None, a string, an array's dtype and shape, or a number."""
    v = raw(x)
    if v is None:
        return "None"
    if isinstance(v, str | bytes):
        return f"a {type(v).__name__} ({v[:30]!r})"
    if isinstance(v, np.ndarray):
        return f"an array of dtype {v.dtype} and shape {v.shape}"
    name = type(v).__name__
    if isinstance(v, tuple | list | dict):  # a pytree: its entries may be traced
        return f"a {name} of {len(v)} entries"
    return f"{v!r} ({'an' if name[0] in 'aeiou' else 'a'} {name}, dtype {np.asarray(v).dtype})"


def float_input(x, who: str):
    """x as an array of floats or complex numbers (a traced value as it is), or a TypeError
    saying what to pass; checked before any tracing."""
    if type(x) is np.ndarray and rules.differentiable(x.dtype):  # the common case, first
        return x
    v = raw(x)
    if isinstance(v, np.matrix):
        raise matrix_error()
    if isinstance(v, np.ma.MaskedArray):  # the rules would run on the masked slots too
        raise TypeError(
            f"{who} does not differentiate masked arrays: pass x.filled(value) to choose the "
            "masked entries, or np.asarray(x) to use them as they are stored"
        )
    arr = v if isinstance(v, np.ndarray) else None if isinstance(v, str | bytes) else np.asarray(v)
    if arr is None or not rules.differentiable(arr.dtype):
        raise TypeError(
            f"{who} differentiates with respect to floating-point inputs; got {describe(x)}: "
            "pass x.astype(float) (or a float literal such as 1.0), or hold it fixed "
            "(leave it out of argnums, or close over it)"
        )
    return x if isinstance(x, Box) else arr


def numeric_outputs(values: Sequence, who: str) -> None:
    """f's output leaves must be numbers (an integer one has a zero derivative)."""
    for v in values:
        w = raw(v)
        if isinstance(w, np.ndarray | np.generic):
            kind = w.dtype.kind
        else:
            kind = "" if isinstance(w, str | bytes) else np.asarray(w).dtype.kind
        if not kind or kind not in "biufc":
            raise TypeError(f"{who}: f returned {describe(v)} among its outputs; return arrays of numbers")


def as_tangent(t, like, who: str, what: str = "tangent", of: str = "primal"):
    """t as a tangent (or cotangent) of the value `like`: its shape, in its tangent dtype."""
    want_shape = tuple(rules.shape(like))
    got_shape = tuple(rules.shape(t))
    if got_shape != want_shape:
        raise ValueError(
            f"{who}: {what} shape {got_shape} does not match {of} shape {want_shape}; "
            f"pass a {what} shaped like its {of}"
        )
    if isinstance(t, Box):
        return t
    arr = None if isinstance(t, str | bytes) else np.asarray(t)
    dt = rules.tangent_dtype(like)
    if arr is None or not np.can_cast(arr.dtype, dt, "same_kind"):
        raise TypeError(
            f"{who}: a {what} for a value of dtype {dt} must be numbers of that kind; got "
            f"{describe(t)}: pass an array of dtype {dt}"
        )
    return arr.astype(dt, copy=False)


def require_complex(values: Sequence, who: str, what: str) -> None:
    """holomorphic=True differentiates complex functions of complex inputs (as JAX)."""
    for v in values:
        dt = rules.tangent_dtype(v)
        if dt.kind != "c":
            raise TypeError(
                f"{who}(holomorphic=True) needs complex {what}s; got dtype {dt}: pass "
                "x.astype(complex) for a holomorphic f, or drop holomorphic=True"
            )


def require_real(values: Sequence, who: str, what: str) -> None:
    """Without holomorphic=True, a complex value here has no derivative this transform defines."""
    for v in values:
        dt = v.dtype if type(v) is np.ndarray else rules.tangent_dtype(v)  # the same kind
        if dt.kind == "c":
            raise TypeError(
                f"{who} needs real {what}s; got dtype {dt}: pass holomorphic=True if f is "
                "holomorphic (the result is then f'(z)), or split into real and imaginary parts"
            )


def cast_like(d, like):
    """A derivative in the tangent dtype of `like` (float32 in, float32 out), never dropping an
    imaginary part. A traced derivative (a transform nested in another) is cast by the
    differentiable astype, so that a Hessian of float32 x is float32 even where f computes
    in float64."""
    if isinstance(d, Box):
        have, dt = rules.tangent_dtype(d), rules.tangent_dtype(like)
        return d.astype(dt) if have != dt and np.can_cast(have, dt, "same_kind") else d
    if type(d) is np.ndarray and type(like) is np.ndarray and d.dtype == like.dtype:
        return d  # like is a float input here: its dtype is its tangent dtype
    dt = rules.tangent_dtype(like)
    d = np.asarray(d)
    return d.astype(dt, copy=False) if np.can_cast(d.dtype, dt, "same_kind") else d


_ONES: dict = {}


def seed_one(shape: tuple, dtype) -> np.ndarray:
    """The cotangent 1 of a one-number output, read-only and cached per shape and dtype (a
    new array costs more than the rest of a small gradient's bookkeeping). Read-only, so that
    neither a rule nor a gradient that is this seed itself can change a later one: the engine
    and `private` copy what they may not write."""
    key = (shape, dtype)
    found = _ONES.get(key)
    if found is None:
        if len(_ONES) >= 16:
            _ONES.clear()
        found = _ONES[key] = np.ones(shape, dtype)
        found.flags.writeable = False
    return found


def fresh(tree, caller: Sequence = ()):
    """tree with every array leaf writable and shared with nothing: `private` on its leaves."""
    leaves, treedef = flatten(tree)
    return treedef(private(leaves, caller))


def private(leaves: list, caller: Sequence = ()) -> list:
    """leaves, each array among them made writable and shared with nothing: a leaf that is
    read-only (a broadcast view), or shares memory with one of the caller's arrays or an
    earlier leaf, is replaced by a copy (in the list, which is returned). Results may then
    be modified in place without touching anything else. Sharing is judged by memory roots
    (what .base leads to): a few attribute reads per array, where np.shares_memory would
    compare extents, and a view of a buffer counts even where it would not overlap."""
    taken = set()
    for root in caller:
        if type(root) is np.ndarray or isinstance(root, np.ndarray):
            # an array that owns its memory is its own root: no call for the common case
            taken.add(id(root if root.base is None else _memory_root(root)))
    for i, a in enumerate(leaves):
        if type(a) is np.ndarray or isinstance(a, np.ndarray):
            root = a if a.base is None else _memory_root(a)
            if id(root) in taken or not a.flags.writeable:
                root = leaves[i] = a.copy()
            taken.add(id(root))
    return leaves


def _memory_root(a: np.ndarray) -> np.ndarray:
    """The last array on a's chain of .base: the one that owns (or wraps) the memory."""
    base = a.base
    while base is not None and isinstance(base, np.ndarray):
        a, base = base, base.base
    return a


def jacobian_block(T, start: int, stop: int, shape: tuple, axes: tuple | None = None):
    """Rows start..stop of T (T itself when they are all of it), its axes permuted by axes if
    given, as shape (reshaped only when it is not that already): one block of a Jacobian
    out of the passes' tangents or cotangents, without a view more than it needs."""
    rows = T if start == 0 and stop == len(T) else T[start:stop]
    if axes is not None:
        rows = rows.transpose(axes)
    return rows if rows.shape == shape else rows.reshape(shape)


def jacobian_tree(blocks: list, out_tree, in_tree, argnums: Argnums, caller: Sequence):
    """The Jacobian as the output pytree of input pytrees, from blocks[j][i], the block of
    output leaf j and input leaf i, every block made `private` (as jacfwd and jacrev return)."""
    if len(blocks) == 1 and len(blocks[0]) == 1:  # one output leaf, one input leaf
        return out_tree([argnums.unpack(in_tree(private(blocks[0], caller)))])
    flat = private([b for row in blocks for b in row], caller)
    width = len(blocks[0]) if blocks else 0
    rows = [flat[j * width : (j + 1) * width] for j in range(len(blocks))]
    return out_tree([argnums.unpack(in_tree(row)) for row in rows])


@contextmanager
def hooks_refused(who: str, fix: str):
    """Forward mode's refusal of register_hook and retain_grad (the NoReverseSweep a traced
    value raises), with the transform that took f's derivative in forward mode and what to
    pass it instead."""
    try:
        yield
    except NoReverseSweep as e:
        if e.mode != "forward":
            raise
        raise RuntimeError(f"{e}. Here {who} takes f's derivative in forward mode: {fix}") from None


# -- has_aux ----------------------------------------------------------------------------------
def split_aux(result, who: str) -> tuple:
    """(output, aux) of f's result under has_aux=True: a tuple or list of two, as JAX asks."""
    if isinstance(result, tuple | list) and len(result) == 2:
        return result[0], result[1]
    if isinstance(result, tuple | list):
        got = f"a {type(result).__name__} of length {len(result)}"
    else:
        got = describe(result)
    raise TypeError(
        f"{who}(has_aux=True) needs f to return a pair (output, aux); it returned {got}: "
        "return (output, aux), or drop has_aux=True"
    )


def output_and_aux(f: Callable, who: str) -> Callable:
    """f checked to return the pair (output, aux), given as a tuple: forward mode pushes
    tangents through both, and `split_pair` parts the leaves of the result."""

    def pair(*args):
        return split_aux(f(*args), who)

    return pair


def output_only(f: Callable, who: str) -> Callable:
    """f's output without its aux: what a task of an executor differentiates."""

    def out(*args):
        return split_aux(f(*args), who)[0]

    return out


def split_pair(leaves: list, tree) -> tuple:
    """(output leaves, output structure, aux leaves, aux structure) of a flattened pair."""
    out_tree, aux_tree = tree.children
    return leaves[: out_tree.size], out_tree, leaves[out_tree.size :], aux_tree


def returned_aux(leaves: list, tree):
    """The aux a transform returns, from its leaves unboxed at the transform's level: every
    array copied, so that it is the caller's to change and no value a tape saved, an input
    or another result (as JAX's arrays, which are never shared mutably). A leaf of an
    enclosing transform's level stays traced, so that derivatives flow through aux there."""
    return tree([a.copy() if isinstance(a, np.ndarray) else a for a in leaves])


# -- seeding and pushing tangents ---------------------------------------------------------------
def spans(shapes: Sequence[tuple]) -> list[tuple[tuple, int, int]]:
    """(shape, start, stop) of each leaf's entries in the concatenation of all of them."""
    out, start = [], 0
    for s in shapes:
        stop = start + math.prod(s)
        out.append((s, start, stop))
        start = stop
    return out


def one_hot_chunks(leaves: Sequence, chunk: int | None) -> Iterator[tuple[int, list]]:
    """The basis directions of the flattened leaves, k at a time: (k, seeds) with one seed per
    leaf, shaped (k,) + its shape in its tangent dtype, or None where the chunk leaves it zero.
    Up to SEED_ENTRIES directions squared, a seed is a read-only view of a cached identity
    (no new memory per call); past that each chunk's seeds are made as it is reached."""
    check_chunk(chunk)
    if len(leaves) == 1 and type(leaves[0]) is np.ndarray:  # one array, one pass: the identity
        (x,) = leaves
        n = x.size
        if n * n <= SEED_ENTRIES and (chunk is None or chunk >= n) and n:
            seed = rules.eye(n, x.dtype if x.dtype.kind in "fc" else rules.tangent_dtype(x))
            yield n, [seed if x.ndim == 1 else seed.reshape((n, *x.shape))]
            return
    leaf_spans = spans([tuple(rules.shape(x)) for x in leaves])
    dtypes = [rules.tangent_dtype(x) for x in leaves]
    n = leaf_spans[-1][2] if leaf_spans else 0
    k = max(1, min(n, chunk or default_chunk(n)))
    cached = n * n <= SEED_ENTRIES
    for start in range(0, n, k):
        end = min(start + k, n)  # this chunk's directions: start .. end - 1
        kk = end - start
        seeds = []
        for dtype, (s, off, stop) in zip(dtypes, leaf_spans):
            if stop <= start or off >= end:  # no direction of this chunk in this leaf
                seeds.append(None)
                continue
            if cached:
                seed = rules.eye(n, dtype)
                if kk < n or stop - off < n:
                    seed = seed[start:end, off:stop]
            else:
                size = stop - off
                seed = np.zeros((kk, size), dtype=dtype)
                # direction d is entry (d - start, d - off): a strided diagonal of the flat seed
                lo = max(start, off)
                first = (lo - start) * size + (lo - off)
                seed.reshape(-1)[first : first + (min(end, stop) - lo) * (size + 1) : size + 1] = 1
            seeds.append(seed.reshape((kk,) + s))
        yield kk, seeds


def push_tangents(f: Callable, primals: Sequence, tangents: Sequence, *, batch: int | None = None):
    """(output leaves, their tangents, output structure) of f(*primals) given one tangent per
    leaf of primals (None for zero), with a leading axis of `batch` directions when given.
    An output tangent is None where it is zero. The JVP of a whole function, at a fresh level."""
    leaves, treedef = flatten(tuple(primals))
    level = new_level()
    inputs = [p if t is None else Dual(p, t, level, batch) for p, t in zip(leaves, tangents)]
    out_leaves, out_tree = flatten(f(*treedef(inputs)))
    primals_out, tangents_out = [], []
    for y in out_leaves:
        traced = isinstance(y, Dual) and y.level == level
        primals_out.append(y.primal if traced else y)
        tangents_out.append(y.tangent if traced else None)
    return primals_out, tangents_out, out_tree


# -- running passes, here or on an executor ----------------------------------------------------
def run_passes(passes: Callable, f: Callable, x, seeds: Iterable, executor=None) -> list:
    """``passes(f, x, blocks)`` returns one result per block of seeds; this runs it on all of
    ``seeds`` here, or, given an executor (any ``concurrent.futures.Executor``, Dask's
    ``Client.get_executor()`` included), as one task per block, the results in block order.
    For any executor but a ThreadPoolExecutor, f and x are pickled once by cloudpickle
    (lambdas and closures included) and travel with each task; a ThreadPoolExecutor shares
    them. A task is a whole pass, so the results equal the serial ones exactly. When a task
    fails, the tasks not yet started are cancelled and its exception is raised here."""
    if executor is None:
        return passes(f, x, seeds)
    if isinstance(executor, type) or not callable(getattr(executor, "submit", None)):
        got = f"the class {executor.__name__}" if isinstance(executor, type) else repr(executor)
        raise TypeError(
            f"executor= takes a concurrent.futures.Executor (something with submit(fn, *args) "
            f"returning a future); got {got}: pass an executor, e.g. ThreadPoolExecutor(4), or "
            "a Dask client's client.get_executor()"
        )
    if any(isinstance(v, Box) for v in flatten(x)[0]):
        raise TypeError(
            "executor=: the passes run as tasks on plain arrays, but x is traced by an enclosing "
            "transform; leave executor out inside other transforms"
        )
    if isinstance(executor, ThreadPoolExecutor):
        task, args = passes, (f, x)
    else:
        task, args = _run_pickled, (_pickle_for_tasks(passes, f, x),)
    futures = []
    try:
        futures.extend(executor.submit(task, *args, [s]) for s in seeds)
        return [block for fut in futures for block in fut.result()]
    except BaseException:
        for fut in futures:
            fut.cancel()  # a task that is running finishes; the others never start
        raise


def _pickle_for_tasks(passes: Callable, f: Callable, x) -> bytes:
    """(passes, f, x) pickled by cloudpickle, refusing a traced value f closes over: unpickled
    in a task it would be a copy cut off from its transform (the derivative through it lost,
    or its level taken by another transform in the worker), so it must not travel."""
    import io
    import pickle

    import cloudpickle

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, Box):
                raise _TracedClosure
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    try:
        Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump((passes, f, x))
    except _TracedClosure:
        raise TypeError(
            "executor=: f closes over a value traced by an enclosing transform, which cannot "
            "travel to the executor's workers (its derivative would be lost there): leave "
            "executor out inside other transforms, or use a ThreadPoolExecutor, which shares f"
        ) from None
    except Exception as e:
        raise TypeError(
            f"executor=: f and x travel to the executor's workers pickled by cloudpickle, and "
            f"pickling failed ({type(e).__name__}: {e}): close f over picklable values only "
            "(open files, locks and connections inside f, not around it), or use a "
            "ThreadPoolExecutor, which shares f"
        ) from e
    return buffer.getvalue()


class _TracedClosure(Exception):
    """Raised while pickling f for a task when it meets a traced value."""


def _run_pickled(payload: bytes, blocks: list) -> list:
    """A task's body on a worker: unpickle (passes, f, x) and run them on its blocks of seeds."""
    import cloudpickle

    passes, f, x = cloudpickle.loads(payload)
    return passes(f, x, blocks)
