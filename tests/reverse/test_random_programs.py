"""Random programs with views and in-place writes, run on ad.Tensor and on PyTorch.

A program is one to three leaves (float64 or complex128, shapes (3,), (2, 3), (1, 3)) and
a list of steps: out-of-place ops (sin, exp, tanh, +, -, *, @, sum over an axis, clone),
views (basic indexing, .T, reshape, expand_dims, squeeze, .real, .imag, detach), in-place
writes into values or through views (+=, -=, *=, /=, t[i] = v, zero_, copy_) and
retain_grad; then a loss, the sum of |v|^2 over a few values, and backward, sometimes with
create_graph=True and a second backward through a leaf's gradient. Both libraries run the
same program step by step, and:

- a step, or a backward, raises in both or in neither, for the same reason;
- every value, and how many times each was written in place (its version counter), agrees
  after every step; every leaf's and retained gradient agrees after backward;
- where PyTorch refuses and ad does not, for a reason in `TORCH_ONLY`, ad's gradient must
  equal central finite differences of the program.

Programs never index down to a single element (a copy in NumPy, a 0-d view in PyTorch),
take views of 0-d values, or store complex values into real ones (PyTorch keeps the real
part, ad refuses): the documented differences (docs/reverse.md).
"""

import operator
import warnings
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import ad

torch = pytest.importorskip("torch")

LEAF_SHAPES = [(3,), (2, 3), (1, 3)]
CONSTANTS = [-1.5, 0.5, 2.0, 3.0]
COMPLEX_CONSTANTS = [1j, 0.5 - 1j]
IOPS = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv}
RESHAPES = {
    2: [(2,), (1, 2), (2, 1)],
    3: [(3,), (1, 3), (3, 1)],
    6: [(6,), (2, 3), (3, 2), (1, 6), (3, 1, 2)],
}


# -- the two libraries, behind one small adapter -------------------------------------------
class OnAd:
    @staticmethod
    def leaf(data, requires_grad):
        return ad.tensor(np.array(data), requires_grad=requires_grad)

    sin, exp, tanh = np.sin, np.exp, np.tanh

    @staticmethod
    def sum(x, axis=None):
        return np.sum(x, axis=axis)

    @staticmethod
    def reshape(x, shape):
        return np.reshape(x, shape)

    @staticmethod
    def expand_dims(x, axis):
        return np.expand_dims(x, axis)

    @staticmethod
    def squeeze(x, axis):
        return np.squeeze(x, axis=axis)

    @staticmethod
    def array(t):
        return np.array(t.detach().numpy())

    @staticmethod
    def before_write(t):
        pass


class OnTorch:
    @staticmethod
    def leaf(data, requires_grad):
        return torch.tensor(np.array(data), requires_grad=requires_grad)

    sin, exp, tanh = torch.sin, torch.exp, torch.tanh

    @staticmethod
    def sum(x, axis=None):
        return x.sum() if axis is None else torch.sum(x, dim=axis)

    @staticmethod
    def reshape(x, shape):
        return x.reshape(shape)

    @staticmethod
    def expand_dims(x, axis):
        return torch.unsqueeze(x, axis)

    @staticmethod
    def squeeze(x, axis):
        return torch.squeeze(x, axis)

    @staticmethod
    def array(t):
        return np.array(t.detach().resolve_conj().numpy())

    @staticmethod
    def before_write(t):
        # A view taken before its base came to require grad (plain b, v = b[1:], then
        # b.copy_(x)) is refused as "a leaf that requires grad" by an in-place op, unless its
        # grad_fn was read first, which brings its history up to date (PyTorch 2.x). ad
        # always does the latter; so do we, here.
        t.grad_fn  # noqa: B018 - read for its effect


# -- programs --------------------------------------------------------------------------------
def _index_source(idx) -> str:
    def one(i):
        if isinstance(i, slice):
            s = f"{'' if i.start is None else i.start}:{'' if i.stop is None else i.stop}"
            return s + (f":{i.step}" if i.step not in (None, 1) else "")
        return "None" if i is None else repr(i)

    return ", ".join(one(i) for i in idx)


def _operand_source(o) -> str:
    kind, x = o
    return repr(x) if kind == "c" else f"v{x}"


class Program:
    """Leaves, steps, and the loss; its repr is the program as code, to reproduce a failure."""

    def __init__(self, leaves, steps, makes, loss, create_graph, second):
        self.leaves = leaves  # [(data, requires_grad)]
        self.steps = steps
        self.makes = makes  # per step: whether it makes a new value (not in place)
        self.loss = loss  # indices of the values whose squares are summed
        self.create_graph = create_graph
        self.second = second  # which leaf's gradient the second backward goes through

    def __repr__(self):
        lines = [
            f"v{k} = T({np.array(d).tolist()!r}, requires_grad={r})" for k, (d, r) in enumerate(self.leaves)
        ]
        n = len(self.leaves)
        for step in self.steps:
            line, n = _step_source(step, n)
            lines.append(line)
        lines.append(f"loss = {' + '.join(f'(abs(v{i}) ** 2).sum()' for i in self.loss)}")
        lines.append(f"loss.backward(create_graph={self.create_graph})")
        if self.create_graph:
            lines.append(f"g = v{self.second}.grad; (every leaf).grad = None; (abs(g) ** 2).sum().backward()")
        return "\n" + "\n".join(lines)


def _step_source(step, n):
    kind, *a = step
    new = f"v{n} = "
    if kind == "unary":
        return new + f"{a[0]}(v{a[1]})", n + 1
    if kind == "const":
        return new + f"v{a[1]} {'+' if a[0] == 'add' else '*'} {a[2]!r}", n + 1
    if kind == "binary":
        return new + f"v{a[1]} {dict(add='+', sub='-', mul='*')[a[0]]} v{a[2]}", n + 1
    if kind == "matmul":
        return new + f"v{a[0]} @ v{a[1]}", n + 1
    if kind == "sum":
        return new + f"v{a[0]}.sum(axis={a[1]})", n + 1
    if kind == "index":
        return new + f"v{a[0]}[{_index_source(a[1])}]", n + 1
    if kind in ("T", "real", "imag", "detach", "clone"):
        return new + f"v{a[0]}.{kind}{'()' if kind in ('detach', 'clone') else ''}", n + 1
    if kind in ("reshape", "expand_dims", "squeeze"):
        return new + f"{kind}(v{a[0]}, {a[1]})", n + 1
    if kind == "iop":
        op, i, o = a
        rhs = _operand_source(o)
        if op == "/=" and o[0] == "v":
            rhs = f"(1.0 + {rhs} * {rhs})"
        return f"v{i} {op} {rhs}", n
    if kind == "setitem":
        return f"v{a[0]}[{_index_source(a[1])}] = {_operand_source(a[2])}", n
    if kind == "zero":
        return f"v{a[0]}.zero_()", n
    if kind == "copy":
        return f"v{a[0]}.copy_(v{a[1]})", n
    assert kind == "retain"
    return f"v{a[0]}.retain_grad()", n


def _broadcasts_to(shape, target) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


@st.composite
def _index(draw, shape, allow_element):
    """A basic index of shape's array: slices (step 1 or 2), integers and None, never an
    empty selection; down to a single element only if allow_element."""
    while True:
        items = []
        for n in shape:
            if draw(st.integers(0, 3)) == 0:
                items.append(draw(st.integers(-n, n - 1)))
            else:
                start = draw(st.integers(0, n - 1))
                stop = draw(st.integers(start + 1, n))
                step = draw(st.sampled_from([1, 1, 2]))
                items.append(slice(start if start else None, stop if stop < n else None, step))
        if (
            draw(st.booleans())
            and len(items) > 1
            and isinstance(items[-1], slice)
            and items[-1] == slice(None)
        ):
            items.pop()
        if draw(st.integers(0, 5)) == 0:
            items.insert(draw(st.integers(0, len(items))), None)
        picked = np.zeros(shape)[tuple(items)]
        if allow_element or np.ndim(picked) > 0:
            return tuple(items)


def _constant(draw, real_only=False):
    return draw(st.sampled_from(CONSTANTS if real_only else CONSTANTS + COMPLEX_CONSTANTS))


def _operand(draw, types, target, *, real_only):
    """A constant, or a value that broadcasts to target's shape (real if real_only)."""
    choices = [
        j for j, t in enumerate(types) if _broadcasts_to(t.shape, target) and not (real_only and t.complex)
    ]
    if choices and draw(st.booleans()):
        return ("v", draw(st.sampled_from(choices)))
    return ("c", _constant(draw, real_only))


STEP_KINDS = (
    ["unary", "const", "binary", "matmul", "sum"]
    + ["index"] * 3
    + ["T", "reshape", "expand_dims", "squeeze", "detach", "clone"]
    + ["part"] * 3
    + ["iop"] * 4
    + ["setitem"] * 3
    + ["zero", "copy", "retain"]
)


def _draw_step(draw, types, n_leaves):
    """One step valid for the values so far, or None to draw another."""
    kind = draw(st.sampled_from(STEP_KINDS))
    every = range(len(types))
    if kind in ("iop", "setitem", "zero", "copy") and len(types) > n_leaves and draw(st.integers(0, 3)):
        every = range(n_leaves, len(types))  # mostly write into computed values: leaves refuse
    shapes = [t.shape for t in types]
    nd = [j for j in every if shapes[j] != ()]
    if kind == "unary":
        return ("unary", draw(st.sampled_from(["sin", "exp", "tanh"])), draw(st.sampled_from(every)))
    if kind == "const":
        return ("const", draw(st.sampled_from(["add", "mul"])), draw(st.sampled_from(every)), _constant(draw))
    if kind == "binary":
        pairs = [(i, j) for i in every for j in every if _compatible(shapes[i], shapes[j])]
        i, j = draw(st.sampled_from(pairs))
        return ("binary", draw(st.sampled_from(["add", "sub", "mul"])), i, j)
    if kind == "matmul":  # PyTorch's matmul does not promote: operands of one dtype
        mats = [j for j in nd if len(shapes[j]) <= 2]
        pairs = [
            (i, j)
            for i in mats
            for j in mats
            if shapes[i][-1] == shapes[j][0 if len(shapes[j]) == 1 else -2]
            and types[i].complex == types[j].complex
        ]
        return ("matmul", *draw(st.sampled_from(pairs))) if pairs else None
    if kind == "sum":
        if not nd:
            return None
        i = draw(st.sampled_from(nd))
        return ("sum", i, draw(st.integers(-len(shapes[i]), len(shapes[i]) - 1)))
    if kind == "index":
        if not nd:
            return None
        i = draw(st.sampled_from(nd))
        return ("index", i, draw(_index(shapes[i], allow_element=False)))
    if kind in ("detach", "clone"):
        return (kind, draw(st.sampled_from(every)))
    if kind == "part":
        ok = [j for j in nd if types[j].complex]
        return (draw(st.sampled_from(["real", "imag"])), draw(st.sampled_from(ok))) if ok else None
    if kind == "T":
        two = [j for j in every if len(shapes[j]) == 2]
        return ("T", draw(st.sampled_from(two))) if two else None
    if kind == "reshape":
        ok = [j for j in nd if int(np.prod(shapes[j])) in RESHAPES]
        if not ok:
            return None
        i = draw(st.sampled_from(ok))
        return ("reshape", i, draw(st.sampled_from(RESHAPES[int(np.prod(shapes[i]))])))
    if kind == "expand_dims":
        ok = [j for j in nd if len(shapes[j]) <= 2]
        if not ok:
            return None
        i = draw(st.sampled_from(ok))
        return ("expand_dims", i, draw(st.integers(0, len(shapes[i]))))
    if kind == "squeeze":
        ok = [(j, a) for j in nd for a, n in enumerate(shapes[j]) if n == 1]
        return ("squeeze", *draw(st.sampled_from(ok))) if ok else None
    if kind == "iop":
        i = draw(st.sampled_from(every))
        op = draw(st.sampled_from(sorted(IOPS)))
        # a complex operand into a real value raises in both; now and then is enough
        real_only = op == "/=" or (not types[i].complex and draw(st.integers(0, 4)) > 0)
        return ("iop", op, i, _operand(draw, types, shapes[i], real_only=real_only))
    # Writes that store a complex value into a real one are left out: PyTorch keeps the real
    # part (with a warning), ad refuses (docs/reverse.md).
    if kind == "setitem":
        if not nd:
            return None
        i = draw(st.sampled_from(nd))
        idx = draw(_index(shapes[i], allow_element=True))
        target = np.zeros(shapes[i])[idx].shape
        return ("setitem", i, idx, _operand(draw, types, target, real_only=not types[i].complex))
    if kind == "zero":
        return ("zero", draw(st.sampled_from(every)))
    if kind == "copy":
        i = draw(st.sampled_from(every))
        sources = [
            j
            for j in range(len(types))
            if _broadcasts_to(shapes[j], shapes[i]) and (types[i].complex or not types[j].complex)
        ]
        return ("copy", i, draw(st.sampled_from(sources)))
    return ("retain", draw(st.sampled_from(every)))


def _compatible(a, b) -> bool:
    try:
        np.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


class Type(NamedTuple):
    shape: tuple
    complex: bool


def _new_type(step, types):
    """Shape and complexity of the value a step makes (None for an in-place step): the step
    run by NumPy on zeros."""
    z = [np.zeros(t.shape, dtype=complex if t.complex else float) for t in types]
    out = Machine.make(OnAd, z, step)
    return None if out is None else Type(np.shape(out), np.iscomplexobj(out))


@st.composite
def programs(draw, max_steps=8, second_order=None):
    n = draw(st.integers(1, 3))
    leaves, types = [], []
    for k in range(n):
        shape = draw(st.sampled_from(LEAF_SHAPES))
        size = int(np.prod(shape))
        parts = 2 if draw(st.integers(0, 3)) == 0 else 1
        values = draw(
            st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=parts * size, max_size=parts * size)
        )
        data = np.array(values[:size]).reshape(shape)
        if parts == 2:
            data = data + 1j * np.array(values[size:]).reshape(shape)
        leaves.append((data, k == 0 or draw(st.booleans())))
        types.append(Type(shape, parts == 2))
    steps, makes = [], []
    for _ in range(draw(st.integers(1, max_steps))):
        step = None
        while step is None:
            step = _draw_step(draw, types, n)
        steps.append(step)
        new = _new_type(step, types)
        makes.append(new is not None)
        if new is not None:
            types.append(new)
    loss = draw(st.lists(st.integers(0, len(types) - 1), min_size=1, max_size=3, unique=True))
    create_graph = draw(st.booleans()) if second_order is None else second_order
    second = draw(st.sampled_from([k for k, (_, r) in enumerate(leaves) if r]))
    return Program(leaves, steps, makes, loss, create_graph, second)


# -- running a program -----------------------------------------------------------------------
class Machine:
    """One library running a program step by step; each step returns the error it raised."""

    def __init__(self, lib, program, *, record=True):
        self.lib, self.program = lib, program
        self.values = [lib.leaf(d, r and record) for d, r in program.leaves]
        self.retained = []
        self.born = [0] * len(self.values)  # each value's version when made
        self.done = []  # indices of the steps that ran without raising

    def step(self, k):
        step = self.program.steps[k]
        try:
            out = self._run(step)
        except Exception as e:  # noqa: BLE001 - any error counts: the other library must raise too
            if self.program.makes[k]:
                self.values.append(None)
                self.born.append(0)
            return e
        if out is not None:
            self.values.append(out)
            self.born.append(out._version)
        self.done.append(k)
        return None

    def _operand(self, o):
        kind, x = o
        return x if kind == "c" else self.values[x]

    def _run(self, step):
        lib, v = self.lib, self.values
        kind, *a = step
        if kind in ("iop", "setitem", "zero", "copy"):
            lib.before_write(v[a[1] if kind == "iop" else a[0]])
        if kind in ("detach", "clone"):
            return getattr(v[a[0]], kind)()
        made = Machine.make(lib, v, step)
        if made is not None:
            return made
        if kind == "iop":
            op, i, o = a
            rhs = self._operand(o)
            if op == "/=" and o[0] == "v":
                rhs = 1.0 + rhs * rhs  # a divisor away from zero
            t = v[i]
            assert IOPS[op](t, rhs) is t
            return None
        if kind == "setitem":
            v[a[0]][a[1]] = self._operand(a[2])
            return None
        if kind == "zero":
            assert v[a[0]].zero_() is v[a[0]]
            return None
        if kind == "copy":
            assert v[a[0]].copy_(v[a[1]]) is v[a[0]]
            return None
        v[a[0]].retain_grad()
        self.retained.append(a[0])
        return None

    @staticmethod
    def make(lib, v, step):
        """The value an out-of-place step or a view makes from the values v (None for the
        other steps)."""
        kind, *a = step
        if kind == "unary":
            return getattr(lib, a[0])(v[a[1]])
        if kind == "const":
            return v[a[1]] + a[2] if a[0] == "add" else v[a[1]] * a[2]
        if kind == "binary":
            return _binary(a[0], v[a[1]], v[a[2]])
        if kind == "matmul":
            return v[a[0]] @ v[a[1]]
        if kind == "sum":
            return lib.sum(v[a[0]], a[1])
        if kind == "index":
            return v[a[0]][a[1]]
        if kind in ("T", "real", "imag"):
            return getattr(v[a[0]], kind)
        if kind in ("reshape", "expand_dims", "squeeze"):
            return getattr(lib, kind)(v[a[0]], a[1])
        if kind in ("detach", "clone"):
            return v[a[0]]  # for its type; `step` runs the methods themselves
        return None

    def loss(self):
        """The sum of |v|^2 over the loss's values (real and imaginary parts, for complex v)."""
        total = None
        for i in self.program.loss:
            term = self.squares(self.values[i])
            total = term if total is None else total + term
        return total

    def squares(self, x):
        """sum |x|^2."""
        if self.lib.array(x).dtype.kind == "c":
            return self.lib.sum(x.real * x.real + x.imag * x.imag)
        return self.lib.sum(x * x)

    def backward(self):
        try:
            self.loss().backward(create_graph=self.program.create_graph)
        except Exception as e:  # noqa: BLE001
            return e
        return None

    def second_backward(self):
        leaves = self.leaves()
        g = self.values[self.program.second].grad
        for k in leaves:
            self.values[k].grad = None
        try:
            self.squares(g).backward()
        except Exception as e:  # noqa: BLE001
            return e
        return None

    def leaves(self):
        return [k for k, (_, r) in enumerate(self.program.leaves) if r]

    def grads(self):
        """Gradients of the leaves that require grad, then of the retained values."""
        out = {}
        for k in self.leaves() + self.retained:
            g = self.values[k].grad
            out[k] = None if g is None else self.lib.array(g)
        return out


def _binary(name, x, y):
    return x + y if name == "add" else x - y if name == "sub" else x * y


# -- comparing -------------------------------------------------------------------------------
# What PyTorch refuses and ad computes (docs/reverse.md): a write into memory that the
# written operand overlaps (ad computes the result, then writes it, as NumPy does); a
# backward through a value PyTorch saved as memory where ad saved a copy of the old value;
# and two internal failures of PyTorch 2.x: replaying a chain of views through .real of a
# detached view (a storage out of bounds), and create_graph through a real value written
# into complex memory (an internal assertion on the gradient's dtype).
TORCH_ONLY = (
    "some elements of the input tensor and the written-to tensor refer to a single memory location",
    "modified by an inplace operation",
    "are out of bounds for storage of size",
    "(input_is_complex == grad_is_complex) to be true",
)


def _torch_only(e) -> bool:
    return isinstance(e, RuntimeError) and any(m in str(e) for m in TORCH_ONLY)


def _fail(program, what):
    pytest.fail(f"{what}\nprogram:{program!r}", pytrace=False)


def _same_state(program, ours, theirs, when):
    for k, (a, b) in enumerate(zip(ours.values, theirs.values)):
        if (a is None) != (b is None):
            _fail(program, f"{when}: v{k} exists in one library only")
        if a is None:
            continue
        va, vb = OnAd.array(a), OnTorch.array(b)
        if va.shape != vb.shape or not np.allclose(va, vb, rtol=1e-12, atol=1e-12):
            _fail(program, f"{when}: v{k} differs\nad:    {va!r}\ntorch: {vb!r}")
        # Counted from each value's birth: torch's matmul of a vector squeezes its fresh
        # output in place, so its counter starts at 1.
        bumps = a._version - ours.born[k], b._version - theirs.born[k]
        if bumps[0] != bumps[1]:
            _fail(program, f"{when}: v{k} written in place {bumps[0]} times in ad, {bumps[1]} in torch")


# Why a library refused, read off its message: (ad's words, PyTorch's words) per reason,
# the first that matches.
REASONS = {
    # (PyTorch's t[i] = v writes through a view, so it names a view of a leaf for t[i] = v on a leaf)
    "in-place on a leaf or a view of one": (
        "leaf Tensor that requires grad is used",
        "leaf Variable that requires grad is being used",
    ),
    "saved value modified": ("modified by an in-place operation", "modified by an inplace operation"),
    "retain_grad without grad": (
        "retain_grad() on a Tensor that does not",
        "can't retain_grad on Tensor that has",
    ),
    "nothing requires grad": ("does not require grad", "does not require grad"),
    "complex into real": ("cannot be stored in a Tensor", "can't be cast to the desired output type"),
}


def _reason(e, library: int) -> str:
    found = [r for r, words in REASONS.items() if words[library] in str(e)]
    return found[0] if found else f"{type(e).__name__}: {e}"


def _same_errors(program, e_ours, e_theirs, when) -> str:
    """'both', 'neither' or 'torch only' (an allowed refusal); anything else fails."""
    if e_ours is not None and e_theirs is not None:
        ours, theirs = _reason(e_ours, 0), _reason(e_theirs, 1)
        if ours != theirs and (ours in REASONS or theirs in REASONS):
            _fail(program, f"{when}: both raised, for different reasons:\nad:    {ours}\ntorch: {theirs}")
        return "both"
    if e_ours is None and e_theirs is None:
        return "neither"
    if e_ours is None and _torch_only(e_theirs):
        return "torch only"
    who, e = ("ad", e_ours) if e_ours is not None else ("torch", e_theirs)
    _fail(program, f"{when}: only {who} raised: {type(e).__name__}: {e}")


def _same_grads(program, ours, theirs, when, *, leaves_only=False, none_is_zero=False):
    ga, gb = ours.grads(), theirs.grads()
    for k in ours.leaves() if leaves_only else ga:
        if none_is_zero:
            ga[k], gb[k] = (
                np.zeros(ours.program.leaves[k][0].shape) if g is None else g for g in (ga[k], gb[k])
            )
        if (ga[k] is None) != (gb[k] is None):
            _fail(program, f"{when}: v{k}.grad is None in one library only (ad {ga[k]}, torch {gb[k]})")
        if ga[k] is not None and not np.allclose(ga[k], gb[k], rtol=1e-10, atol=1e-12):
            _fail(program, f"{when}: v{k}.grad differs\nad:    {ga[k]!r}\ntorch: {gb[k]!r}")


def _finite_differences(program, done, h=1e-6):
    """Central differences of the loss in each leaf that requires grad, replaying with ad
    (nothing recorded) the steps that ran; dL/dx + i dL/dy for a complex leaf x + iy, as
    PyTorch's gradient. Also the differences' rounding error: about eps |L| / h, which for a
    loss near 1e15 is larger than the derivative itself."""
    largest = [0.0]

    def loss(datas):
        m = Machine(OnAd, Program(datas, program.steps, program.makes, program.loss, False, 0), record=False)
        for k in done:
            if program.steps[k][0] != "retain":
                assert m.step(k) is None
        value = float(m.loss().detach().numpy())
        largest[0] = max(largest[0], abs(value))
        return value

    grads = {}
    for k, (d, r) in enumerate(program.leaves):
        if not r:
            continue
        g = np.zeros(d.shape, dtype=d.dtype)
        for idx in np.ndindex(d.shape):
            for unit in (1.0, 1j) if d.dtype.kind == "c" else (1.0,):
                up = [(x.copy(), q) for x, q in program.leaves]
                down = [(x.copy(), q) for x, q in program.leaves]
                up[k][0][idx] += h * unit
                down[k][0][idx] -= h * unit
                g[idx] += unit * (loss(up) - loss(down)) / (2 * h)
        grads[k] = g
    return grads, 4 * np.finfo(float).eps * largest[0] / h


def _check_against_finite_differences(program, ours, start, reason, *, backward_done=False):
    """PyTorch refused; ad did not: run the rest on ad and check its gradient numerically.
    backward_done: ad's backward has run already (PyTorch refused at backward), and a second
    one would add its gradient into .grad again."""
    event(f"torch refused, ad checked by finite differences: {reason}")
    for k in range(start, len(program.steps)):
        ours.step(k)
    if not backward_done and ours.backward() is not None:
        return  # ad refused later on: a refusal is never a wrong number
    if any(program.steps[k][0] == "detach" for k in ours.done):
        return  # a detached value is a constant to the gradient, not to finite differences
    fd, noise = _finite_differences(program, ours.done)
    got = ours.grads()
    for k, want in fd.items():
        g = np.zeros_like(want) if got[k] is None else got[k]
        scale = 1.0 + np.max(np.abs(want), initial=0.0)
        if not np.allclose(g, want, rtol=1e-5, atol=1e-6 * scale + noise):
            _fail(program, f"torch refused ({reason}); ad's v{k}.grad {g!r} != finite differences {want!r}")


def _same_second_backward(program, ours, theirs):
    """Leaves' gradients after a backward through a leaf's gradient.

    Two things here depend on how each library writes its VJPs, not on the math: whether a
    gradient that is constant carries a graph (so the second backward may find nothing that
    requires grad in one library and zeros in the other), and the gradient retained on a
    non-leaf (the division's VJP reads its output in ad, its saved operands in PyTorch, so
    the first gradient reaches that output along different paths). So a refusal for
    "does not require grad" must meet zeros, and only leaves are compared.
    """
    e_ours, e_theirs = ours.second_backward(), theirs.second_backward()
    constant = "does not require grad"
    if (e_ours is None) != (e_theirs is None) and constant in str(e_ours or e_theirs):
        other = ours if e_ours is None else theirs
        for k, g in other.grads().items():
            if k in other.leaves() and g is not None and np.any(g != 0):
                _fail(
                    program,
                    f"second backward: one library's leaf gradient is constant, the other's v{k}.grad is {g}",
                )
        return
    if _same_errors(program, e_ours, e_theirs, "second backward") == "neither":
        _same_grads(program, ours, theirs, "second backward", leaves_only=True, none_is_zero=True)


def _writes_overlapping_memory(machine, step) -> bool:
    """Whether an in-place step writes into memory that its operand value overlaps."""
    kind, *a = step
    if kind == "iop" and a[2][0] == "v":
        target, source = a[1], a[2][1]
    elif kind == "copy":
        target, source = a[0], a[1]
    else:
        return False
    t, o = machine.values[target], machine.values[source]
    return t is not None and o is not None and np.shares_memory(t.detach().numpy(), o.detach().numpy())


def check(program):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = Machine(OnAd, program), Machine(OnTorch, program)
        for k in range(len(program.steps)):
            aliased = _writes_overlapping_memory(ours, program.steps[k])
            e_ours, e_theirs = ours.step(k), theirs.step(k)
            outcome = _same_errors(program, e_ours, e_theirs, f"step {k}")
            if outcome == "both":
                event(f"a {program.steps[k][0]} step raised in both: {_reason(e_ours, 0)[:40]}")
            if outcome == "torch only":
                return _check_against_finite_differences(program, ours, k + 1, str(e_theirs)[:60])
            if outcome == "neither" and aliased:
                # PyTorch usually refuses such a write; where it does not (through .real of
                # a complex value), it reads what it has already written: ad writes NumPy's
                # result, computed first (docs/reverse.md)
                return _check_against_finite_differences(program, ours, k + 1, "overlapping write")
            _same_state(program, ours, theirs, f"after step {k}")
        for k, (a, b) in enumerate(zip(ours.values, theirs.values)):
            if a is not None and (a.requires_grad, a.is_leaf) != (b.requires_grad, b.is_leaf):
                _fail(
                    program,
                    f"v{k}: (requires_grad, is_leaf) ad {(a.requires_grad, a.is_leaf)}, torch "
                    f"{(b.requires_grad, b.is_leaf)}",
                )
        e_ours, e_theirs = ours.backward(), theirs.backward()
        outcome = _same_errors(program, e_ours, e_theirs, "backward")
        event(f"backward raised: {outcome}{': ' + _reason(e_ours, 0)[:40] if outcome == 'both' else ''}")
        if outcome == "torch only":
            n, reason = len(program.steps), str(e_theirs)[:60]
            return _check_against_finite_differences(program, ours, n, reason, backward_done=True)
        _same_state(program, ours, theirs, "after backward")
        if outcome == "both":
            return None
        _same_grads(program, ours, theirs, "backward")
        if not program.create_graph:
            return None
        if (ours.values[program.second].grad is None) != (theirs.values[program.second].grad is None):
            _fail(program, "second backward: the leaf's gradient is None in one library only")
        if ours.values[program.second].grad is None:
            return None
        _same_second_backward(program, ours, theirs)
        _same_state(program, ours, theirs, "after the second backward")
    return None


@settings(max_examples=100, deadline=None)
@given(programs(second_order=False))
def test_random_programs_agree_with_pytorch(program):
    check(program)


@settings(max_examples=60, deadline=None)
@given(programs(second_order=True))
def test_random_programs_differentiated_twice_agree_with_pytorch(program):
    check(program)
