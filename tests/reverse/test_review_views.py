"""Views and in-place writes of ad.Tensor, reviewed against PyTorch.

Directed cases: views made under no_grad and written later, retained gradients on views,
gradients handed to backward, float32 through writes. Random programs: chains of views
(slices with negative steps, transposes, ravel, reshape, expand_dims, squeeze, diagonal)
and writes through them (operators, item assignment with slices, masks and integer
arrays), checked against the same program written out of place in PyTorch.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import ad
from ad.trace import apply, raw

torch = pytest.importorskip("torch")

X0 = np.arange(1.0, 7.0)


def _leaf(lib, data=X0):
    if lib == "ad":
        return ad.tensor(np.array(data), requires_grad=True)
    return torch.tensor(np.array(data), requires_grad=True)


def _no_grad(lib):
    return ad.no_grad() if lib == "ad" else torch.no_grad()


def _array(t):
    return np.array(t.detach().numpy())


# -- views made under no_grad ----------------------------------------------------------
# PyTorch refuses an in-place write, with grad mode on, through a view made under no_grad
# of a value that requires grad: the view is not connected to its base's history, so the
# write cannot be recorded correctly. Recording it as if the view's old value were a
# constant would give y[1:4] *= 2 the gradient 4x there instead of 8x; ad refuses too.


def _write_through_no_grad_view(lib):
    x = _leaf(lib)
    y = x * 1
    with _no_grad(lib):
        v = y[1:4]
    v *= 2
    (y * y).sum().backward()
    return _array(x.grad)


def test_a_write_through_a_no_grad_view_is_refused_by_pytorch():
    with pytest.raises(RuntimeError, match="view was created in no_grad mode"):
        _write_through_no_grad_view("torch")


def test_a_write_through_a_no_grad_view_raises():
    with pytest.raises(RuntimeError, match="no_grad"):
        _write_through_no_grad_view("ad")


def test_a_write_through_a_view_of_a_no_grad_view_raises():
    x = _leaf("ad")
    y = x * 1
    with ad.no_grad():
        v = y[1:5]
    w = v[1:]
    with pytest.raises(RuntimeError, match="no_grad"):
        w *= 2
        (y * y).sum().backward()


def test_a_no_grad_view_stays_cut_from_the_graph_after_its_base_is_written():
    x = _leaf("ad")
    y = x * 1
    with ad.no_grad():
        v = y[1:5]
    assert not v.requires_grad
    y *= 2
    try:
        cut = not v.requires_grad and v.grad_fn is None
    except RuntimeError:
        cut = True  # refusing, as PyTorch does, is fine too
    assert cut


def test_a_write_through_a_no_grad_view_under_no_grad_is_not_recorded_in_either():
    for lib in ("ad", "torch"):
        x = _leaf(lib)
        y = x * 1
        with _no_grad(lib):
            v = y[1:4]
            v *= 2
        (y * y).sum().backward()
        expected = 2 * X0 * np.where((np.arange(6) >= 1) & (np.arange(6) < 4), 2.0, 1.0)
        np.testing.assert_allclose(_array(x.grad), expected, rtol=1e-12)


# -- random programs of views and writes, against the same program out of place ------------
# Each value of the ad program is (memory, positions): positions is an integer array, shaped
# like the value, of the elements of the memory it reads. A view's positions are the view op
# applied by NumPy to its source's positions, so every view NumPy makes (negative steps,
# transposes, diagonals) is covered without a rule of its own. The PyTorch side keeps each
# memory as a flat tensor and writes out of place (index_put), so its gradient is the
# derivative of the program, whatever views were taken.

LEAF_SHAPES = [(3, 4), (2, 3, 2), (6,), (4, 1, 3)]
CONSTANTS = [-1.5, 0.5, 2.0, 3.0]
COMPLEX_CONSTANTS = [1j, 0.5 - 1j]
IOPS = ["+=", "-=", "*=", "/=", "**="]


class Reference:
    """The program out of place in PyTorch: memories as flat tensors."""

    def __init__(self):
        self.memories = []

    def new(self, value):
        self.memories.append(value.reshape(-1))
        return len(self.memories) - 1, np.arange(value.numel()).reshape(tuple(value.shape))

    def read(self, memory, positions, part=None):
        flat = self.memories[memory][torch.as_tensor(np.array(positions).reshape(-1), dtype=torch.long)]
        flat = flat.reshape(positions.shape)
        return flat if part is None else getattr(flat, part)

    def write(self, memory, positions, value, part=None):
        """memory[positions] = value, into one part of complex memory if part names it; where
        a position repeats, the last write stays (NumPy)."""
        m = self.memories[memory]
        if not isinstance(value, torch.Tensor):
            value = torch.tensor(value)
        value = torch.broadcast_to(value, positions.shape).reshape(-1)
        flat = np.array(positions).reshape(-1)
        last = {p: k for k, p in enumerate(flat.tolist())}
        keep = torch.as_tensor(sorted(last.values()), dtype=torch.long)
        where = torch.as_tensor(flat, dtype=torch.long)[keep]
        value = value[keep]
        if part is not None:
            event("a write through .real or .imag")
        if part == "real":
            value = torch.complex(value.to(m.real.dtype), m[where].imag)
        elif part == "imag":
            value = torch.complex(m[where].real, value.to(m.real.dtype))
        self.memories[memory] = m.index_put((where,), value.to(m.dtype))


@st.composite
def _basic_index(draw, shape):
    items = []
    for n in shape:
        kind = draw(st.integers(0, 4))
        if kind == 0 and n > 0:
            items.append(draw(st.integers(-n, n - 1)))
        else:
            step = draw(st.sampled_from([1, 2, -1, -2, 3, -3]))
            start = draw(st.none() | st.integers(-n, n - 1))
            stop = draw(st.none() | st.integers(-n - 1, n))
            items.append(slice(start, stop, step))
    if items and draw(st.booleans()):
        items = items[: draw(st.integers(0, len(items)))]
    if draw(st.integers(0, 3)) == 0:
        items.insert(draw(st.integers(0, len(items))), None)
    if draw(st.integers(0, 3)) == 0:
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return tuple(items)


@st.composite
def _view(draw, shape):
    """(source, a function taking an array to a view of it) for an array of this shape."""
    nd = len(shape)
    kinds = ["index", "index", "index", "ravel", "reshape", "expand_dims", "flip", "atleast", "broadcast_to"]
    if nd >= 2:
        kinds += ["T", "transpose", "swapaxes", "diagonal"]
    if 1 in shape:
        kinds.append("squeeze")
    kind = draw(st.sampled_from(kinds))
    if kind == "index":
        idx = draw(_basic_index(shape))
        return f"v[{idx!r}]", lambda a: a[idx]
    if kind == "ravel":
        return "v.ravel()", np.ravel
    if kind == "reshape":
        size = int(np.prod(shape))
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        d = draw(st.sampled_from(divisors))
        new = draw(st.sampled_from([(d, size // d), (size // d, d), (size,), (1, size)]))
        return f"v.reshape({new})", lambda a: np.reshape(a, new)
    if kind == "expand_dims":
        axis = draw(st.integers(-nd - 1, nd))
        return f"np.expand_dims(v, {axis})", lambda a: np.expand_dims(a, axis)
    if kind == "flip":
        axis = draw(st.none() | st.integers(-nd, nd - 1))
        return f"np.flip(v, {axis})", lambda a: np.flip(a, axis)
    if kind == "atleast":
        name = draw(st.sampled_from(["atleast_1d", "atleast_2d", "atleast_3d"]))
        return f"np.{name}(v)", getattr(np, name)
    if kind == "broadcast_to":
        new = draw(st.sampled_from([(2, *shape), (1, 2, *shape)]))
        return f"np.broadcast_to(v, {new})", lambda a: np.broadcast_to(a, new)
    if kind == "T":
        return "v.T", lambda a: a.T
    if kind == "transpose":
        perm = tuple(draw(st.permutations(range(nd))))
        return f"v.transpose({perm})", lambda a: a.transpose(perm)
    if kind == "swapaxes":
        i, j = draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1))
        return f"np.swapaxes(v, {i}, {j})", lambda a: np.swapaxes(a, i, j)
    if kind == "diagonal":
        offset = draw(st.integers(-1, 1))
        return f"np.diagonal(v, {offset})", lambda a: np.diagonal(a, offset)
    axis = draw(st.sampled_from([k for k, n in enumerate(shape) if n == 1]))
    return f"np.squeeze(v, {axis})", lambda a: np.squeeze(a, axis)


@st.composite
def _write_index(draw, shape):
    """An index for item assignment: basic, a boolean mask, or integer arrays."""
    kind = draw(st.sampled_from(["basic", "basic", "mask", "rows", "rows+slice", "mask0"]))
    if kind == "basic":
        return draw(_basic_index(shape))
    if kind == "mask":
        bits = draw(st.lists(st.booleans(), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        return np.array(bits).reshape(shape)
    if kind == "mask0":
        return np.array(draw(st.lists(st.booleans(), min_size=shape[0], max_size=shape[0])))
    # distinct rows: a repeated one is a separate case (test_a_repeated_row_...)
    rows = np.array(draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=4, unique=True)))
    rows = np.where(
        np.array(draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows)))), rows - shape[0], rows
    )
    if kind == "rows" or len(shape) < 2:
        return rows
    return (rows, slice(None, None, draw(st.sampled_from([1, -1, 2]))))


def _broadcasts_to(shape, target) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == tuple(target)
    except ValueError:
        return False


def _unary(name, v):
    if name == "sin":
        return np.sin(v) if isinstance(v, ad.Tensor) else torch.sin(v)
    if name == "tanh":
        return np.tanh(v) if isinstance(v, ad.Tensor) else torch.tanh(v)
    return v * 1.5


class Program:
    """An ad program built step by step, with its reference alongside."""

    def __init__(self, data, dtype, leaves=None):
        self.dtype = dtype
        self.nested = leaves is not None  # traced by a transform: values of lower levels inside
        self.ref = Reference()
        self.xa = leaves or [ad.tensor(d.astype(dtype), requires_grad=True) for d in data]
        self.xt = [torch.tensor(d.astype(dtype), requires_grad=True) for d in data]
        self.values = []  # ad Tensors
        self.where = []  # per value: (memory, positions, writable)
        self.arrays = []  # per memory: ad's array, to tell a view from a copy
        self.lines = [f"x{k} = ad.tensor({d.tolist()!r}, requires_grad=True)" for k, d in enumerate(data)]
        for k in range(len(data)):
            self.add(self.xa[k] * 1, self.xt[k] * 1, f"x{k} * 1")

    def add(self, value, reference, source):
        memory, positions = self.ref.new(reference)
        self.arrays.append(raw(value))
        self.values.append(value)
        self.where.append((memory, positions, True, None))
        self.lines.append(f"v{len(self.values) - 1} = {source}")

    def reference(self, i):
        memory, positions, _, part = self.where[i]
        return self.ref.read(memory, positions, part)

    def real(self, k) -> bool:
        return self.values[k].dtype.kind != "c"

    def part(self, i, name):
        """v.real or v.imag of a complex value: a view of one part of its memory."""
        memory, positions, writable, _ = self.where[i]
        out = getattr(self.values[i], name)
        assert np.shares_memory(raw(out), self.arrays[memory])
        self.values.append(out)
        self.where.append((memory, positions, writable, name))
        self.lines.append(f"v{len(self.values) - 1} = v{i}.{name}")

    def view(self, i, source, f):
        v = self.values[i]
        memory, positions, writable, part = self.where[i]
        try:
            f(positions)
        except IndexError:  # out of range for this shape: ad raises NumPy's error too
            with pytest.raises(IndexError):
                f(v)
            return
        out = f(v)
        self.lines.append(f"v{len(self.values)} = {source.replace('v', f'v{i}', 1)}")
        data = raw(out)
        if isinstance(data, np.ndarray) and np.shares_memory(data, self.arrays[memory]):
            self.values.append(out)
            self.where.append((memory, f(positions), writable and data.flags.writeable, part))
        else:  # NumPy copied: a new memory
            self.lines.pop()
            self.add(
                out, self.ref.read(memory, f(positions), part), source.replace("v", f"v{i}", 1) + "  # a copy"
            )

    def check_values(self):
        for k, v in enumerate(self.values):
            expected = self.reference(k).detach().numpy()
            got = np.asarray(raw(v))
            assert got.shape == expected.shape, (k, got.shape, expected.shape, self.source())
            np.testing.assert_allclose(got, expected, rtol=self.rtol, atol=self.atol, err_msg=self.source())

    @property
    def rtol(self):
        return 1e-4 if self.dtype == np.float32 else 1e-12

    @property
    def atol(self):
        return 1e-4 if self.dtype == np.float32 else 1e-12

    def source(self):
        return "\n" + "\n".join(self.lines)


def _run_step(draw, p: Program):
    kind = draw(
        st.sampled_from(["view"] * 4 + ["new"] + ["iop"] * 3 + ["setitem"] * 3 + ["fill", "part", "part"])
    )
    n = len(p.values)
    nd = [k for k in range(n) if p.values[k].ndim > 0 and p.values[k].size > 0]
    if kind == "new" or not nd:
        i = draw(st.integers(0, n - 1))
        name = draw(st.sampled_from(["sin", "tanh", "scale"]))
        p.add(_unary(name, p.values[i]), _unary(name, p.reference(i)), f"{name}(v{i})")
        return
    i = draw(st.sampled_from(nd))
    v = p.values[i]
    memory, positions, writable, part = p.where[i]
    # a complex value is written into a complex one only (PyTorch would keep the real part)
    fits = [k for k in range(n) if p.real(k) or not p.real(i)]
    constants = CONSTANTS if p.real(i) else CONSTANTS + COMPLEX_CONSTANTS
    if kind == "part":
        if p.real(i):
            return
        p.part(i, draw(st.sampled_from(["real", "imag"])))
        return
    if kind == "view":
        source, f = draw(_view(v.shape))
        p.view(i, source, f)
        return
    if kind == "iop":
        # float32: no powers, whose growth makes sin of the result ill-conditioned
        op = draw(st.sampled_from(IOPS[:-1] if p.dtype == np.float32 else IOPS))
        if op == "**=":
            rhs_a = rhs_t = draw(st.sampled_from([2, 3, 2.0]))
            text = repr(rhs_a)
        else:
            others = [k for k in fits if _broadcasts_to(p.values[k].shape, v.shape)]
            if op == "/=":  # 1 + w * w is away from zero for a real w only
                others = [k for k in others if p.real(k)]
            if others and draw(st.booleans()):
                j = draw(st.sampled_from(others))
                rhs_a, rhs_t, text = p.values[j], p.reference(j), f"v{j}"
                if op == "/=":
                    rhs_a, rhs_t, text = 1.0 + rhs_a * rhs_a, 1.0 + rhs_t * rhs_t, f"(1 + v{j} * v{j})"
            else:
                rhs_a = rhs_t = draw(st.sampled_from(constants))
                text = repr(rhs_a)
        p.lines.append(f"v{i} {op} {text}")
        old = p.reference(i)
        new = {"+=": old + rhs_t, "-=": old - rhs_t, "*=": old * rhs_t, "/=": old / rhs_t, "**=": old**rhs_t}[
            op
        ]
        target = p.values[i]
        if not writable:
            with pytest.raises(ValueError, match="read-only"):
                _iop(target, op, rhs_a)
            p.lines.pop()
            return
        # through a detached alias or under no_grad, the write changes the memory but no
        # history: what read it before or after differentiates as if it had not happened
        # (not under a transform: detach and no_grad act on the outer level alone)
        how = "tracked" if p.nested else draw(st.sampled_from(["tracked", "tracked", "detach", "no_grad"]))
        if how == "detach":
            p.lines[-1] = f"v{i}.detach() {op} {text}"
            assert _iop(target.detach(), op, rhs_a)._vc is target._vc
            new = old + (new - old).detach()
        elif how == "no_grad":
            p.lines[-1] = f"with no_grad(): v{i} {op} {text}"
            with ad.no_grad():
                assert _iop(target, op, rhs_a) is target
            new = old + (new - old).detach()
        else:
            assert _iop(target, op, rhs_a) is target
        p.ref.write(memory, positions, new, part)
        return
    if kind == "fill":
        others = [k for k in fits if _broadcasts_to(p.values[k].shape, v.shape)]
        call = draw(st.sampled_from(["zero_", "fill_", "copy_"]))
        if call == "copy_" and others:
            j = draw(st.sampled_from(others))
            arg_a, arg_t, text = p.values[j], p.reference(j), f"v{j}"
        else:
            call = "fill_" if call == "copy_" else call
            arg_a = arg_t = draw(st.sampled_from(constants)) if call == "fill_" else 0.0
            text = "" if call == "zero_" else repr(arg_a)
        p.lines.append(f"v{i}.{call}({text})")
        if not writable:
            with pytest.raises(ValueError, match="read-only"):
                getattr(v, call)(*([] if call == "zero_" else [arg_a]))
            p.lines.pop()
            return
        assert getattr(v, call)(*([] if call == "zero_" else [arg_a])) is v
        p.ref.write(memory, positions, arg_t, part)
        return
    index = draw(_write_index(v.shape))
    try:
        selected = positions[index]
    except IndexError:
        return  # out of range for this shape: NumPy's error, not ours
    others = [k for k in fits if _broadcasts_to(p.values[k].shape, selected.shape)]
    if others and draw(st.booleans()):
        j = draw(st.sampled_from(others))
        value_a, value_t, text = p.values[j], p.reference(j), f"v{j}"
        if draw(st.booleans()):
            value_a, value_t, text = np.sin(value_a), torch.sin(value_t), f"np.sin(v{j})"
    else:
        value_a = value_t = draw(st.sampled_from(constants))
        text = repr(value_a)
    p.lines.append(f"v{i}[{index!r}] = {text}")
    if not writable:
        with pytest.raises(ValueError, match="read-only"):
            v[index] = value_a
        p.lines.pop()
        return
    v[index] = value_a
    p.ref.write(memory, selected, value_t, part)


def _iop(t, op, rhs):
    if op == "+=":
        t += rhs
    elif op == "-=":
        t -= rhs
    elif op == "*=":
        t *= rhs
    elif op == "/=":
        t /= rhs
    else:
        t **= rhs
    return t


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_views_and_writes_match_the_program_out_of_place(data):
    draw = data.draw
    shape = draw(st.sampled_from(LEAF_SHAPES))
    dtype = draw(
        st.sampled_from([np.float64, np.float64, np.float64, np.float32, np.complex128, np.complex128])
    )
    parts = 2 if dtype == np.complex128 else 1
    leaves = []
    for n in (int(np.prod(shape)), shape[-1]):
        values = np.array(
            draw(st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=parts * n, max_size=parts * n))
        )
        leaves.append(values[:n] + 1j * values[n:] if parts == 2 else values)
    p = Program([leaves[0].reshape(shape), leaves[1]], dtype)
    event(f"leaves of {np.dtype(dtype).name}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(draw(st.integers(1, 8))):
            _run_step(draw, p)
            p.check_values()
        loss_at = draw(st.lists(st.integers(0, len(p.values) - 1), min_size=1, max_size=3, unique=True))
        p.lines.append(f"loss = {' + '.join(f'squares(v{k})' for k in loss_at)}; loss.backward()")
        loss_a = sum((_squares(p.values[k]) for k in loss_at[1:]), _squares(p.values[loss_at[0]]))
        loss_t = sum((_squares(p.reference(k)) for k in loss_at[1:]), _squares(p.reference(loss_at[0])))
        second = dtype != np.float32 and draw(st.booleans())  # then through x0.grad again
        expected = torch.autograd.grad(loss_t, p.xt, allow_unused=True, create_graph=second)
        try:
            loss_a.backward(create_graph=second)
        except RuntimeError as e:
            # a value a VJP reads was overwritten: refusing is right, a wrong number is not
            assert "modified by an in-place operation" in str(e), p.source()
            event("backward refused: a saved value was overwritten")
            return
        _same_gradients(p, expected)
        event("gradient compared")
        if not second or expected[0] is None or not expected[0].requires_grad:
            return
        p.lines.append("g = x0.grad; x0.grad = x1.grad = None; squares(g).backward()")
        g = p.xa[0].grad
        for x in p.xa:
            x.grad = None
        expected = torch.autograd.grad(_squares(expected[0]), p.xt, allow_unused=True)
        try:
            _squares(g).backward()
        except RuntimeError as e:
            assert "modified by an in-place operation" in str(e), p.source()
            event("second backward refused: a saved value was overwritten")
            return
        _same_gradients(p, expected)
        event("second-order gradient compared")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_views_and_writes_under_hvp_rev_rev_match_the_program_out_of_place(data):
    """The same programs traced by hvp(mode="rev-rev"): two reverse levels, each Tensor's
    value a Tensor of the level below. Each starts with a write through a view of v0
    (v = view of v0; v *= 2), which v0's squares in the loss read."""
    shape = data.draw(st.sampled_from(LEAF_SHAPES))
    leaves, tangents = [], []
    for n in (int(np.prod(shape)), shape[-1]):
        values = data.draw(st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=2 * n, max_size=2 * n))
        leaves.append(np.array(values[:n]))
        tangents.append(np.array(values[n:]))
    leaves[0], tangents[0] = leaves[0].reshape(shape), tangents[0].reshape(shape)
    traced, draw = [], _Replay(data)

    def f(xs):
        draw.start()
        p = Program(leaves, np.float64, leaves=[x if isinstance(x, ad.Tensor) else ad.tensor(x) for x in xs])
        traced.append(p)
        source, view = draw(_view(shape))
        p.view(0, source, view)
        if len(p.values) == 3 and p.where[2][0] == 0 and p.where[2][2] and p.values[2].size:
            p.values[2] *= 2.0
            memory, positions, _, _ = p.where[2]
            p.ref.write(memory, positions, p.reference(2) * 2.0)
            p.lines.append("v2 *= 2.0")
        for _ in range(draw(st.integers(0, 5))):
            _run_step(draw, p)
            p.check_values()
        loss_at = draw(st.lists(st.integers(1, len(p.values) - 1), max_size=2, unique=True))
        loss_at = [0, *loss_at]
        p.lines.append(f"loss = {' + '.join(f'squares(v{k})' for k in loss_at)}; hvp rev-rev")
        p.loss_t = sum((_squares(p.reference(k)) for k in loss_at[1:]), _squares(p.reference(loss_at[0])))
        return sum((_squares(p.values[k]) for k in loss_at[1:]), _squares(p.values[loss_at[0]]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _, hv = ad.hvp(f, (tuple(leaves),), (tuple(tangents),), mode="rev-rev")
        except RuntimeError as e:
            assert "modified by an in-place operation" in str(e), traced[-1].source()
            event("refused: a saved value was overwritten")
            return
    p = traced[-1]
    grads = torch.autograd.grad(p.loss_t, p.xt, create_graph=True, allow_unused=True)
    inner = sum(
        (g * torch.tensor(t)).sum() for g, t in zip(grads, tangents) if g is not None and g.requires_grad
    )
    want = [None, None] if type(inner) is int else torch.autograd.grad(inner, p.xt, allow_unused=True)
    for got, w, x in zip(hv, want, leaves):
        w = np.zeros(x.shape) if w is None else w.numpy()
        np.testing.assert_allclose(np.asarray(got), w, rtol=1e-10, atol=1e-10, err_msg=p.source())
    event("Hessian-vector product compared")


class _Replay:
    """A draw for programs run by a transform: the first run's draws, replayed in the later
    ones (hvp calls f more than once), so that every run is the same program."""

    def __init__(self, data):
        self.data, self.drawn, self.k = data, [], 0

    def start(self):
        self.k = 0

    def __call__(self, strategy):
        if self.k < len(self.drawn):
            value = self.drawn[self.k]
        else:
            value = self.data.draw(strategy)
            self.drawn.append(value)
        self.k += 1
        return value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_views_and_writes_under_jacrev_match_the_program_out_of_place(data):
    """The same programs traced by jacrev, whose sweeps carry a batch of cotangents through
    every write (chunk=1 is one sweep a row)."""
    shape = data.draw(st.sampled_from(LEAF_SHAPES))
    leaves = [
        np.array(data.draw(st.lists(st.floats(-2, 2, allow_subnormal=False), min_size=n, max_size=n)))
        for n in (int(np.prod(shape)), shape[-1])
    ]
    leaves[0] = leaves[0].reshape(shape)
    chunk = data.draw(st.sampled_from([None, 1, 3]))
    traced, draw = [], _Replay(data)

    def f(xs):
        draw.start()
        p = Program(leaves, np.float64, leaves=[x if isinstance(x, ad.Tensor) else ad.tensor(x) for x in xs])
        traced.append(p)
        for _ in range(draw(st.integers(1, 6))):
            _run_step(draw, p)
            p.check_values()
        out_at = draw(st.lists(st.integers(0, len(p.values) - 1), min_size=1, max_size=3, unique=True))
        p.lines.append(f"out = concatenate({', '.join(f'v{k}.ravel()' for k in out_at)}); jacrev")
        p.out_t = torch.cat([p.reference(k).reshape(-1) for k in out_at])
        return np.concatenate([np.reshape(p.values[k], (-1,)) for k in out_at])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            jac = ad.jacrev(f, chunk=chunk)(tuple(leaves))
        except RuntimeError as e:
            assert "modified by an in-place operation" in str(e), traced[-1].source()
            event("refused: a saved value was overwritten")
            return
    p = traced[-1]
    rows = [torch.autograd.grad(o, p.xt, retain_graph=True, allow_unused=True) for o in p.out_t]
    for k, (got, x) in enumerate(zip(jac, leaves)):
        want = np.array([np.zeros(x.shape) if r[k] is None else r[k].numpy() for r in rows]).reshape(
            -1, *x.shape
        )
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12, atol=1e-12, err_msg=p.source())
    event("Jacobian compared")


def _squares(v):
    """The sum of |v|^2, in either library."""
    if v.dtype.is_complex if isinstance(v, torch.Tensor) else v.dtype.kind == "c":
        v = v.real * v.real + v.imag * v.imag
    else:
        v = v * v
    return v.sum()


def _same_gradients(p, expected):
    for x, g in zip(p.xa, expected):
        want = np.zeros(x.shape, p.dtype) if g is None else g.detach().numpy()
        got = np.zeros(x.shape, p.dtype) if x.grad is None else x.grad.detach().numpy()
        assert got.dtype == p.dtype, p.source()
        np.testing.assert_allclose(got, want, rtol=p.rtol, atol=p.atol, err_msg=p.source())


# -- item assignment that writes a position twice -------------------------------------------
# NumPy keeps the last write (np.put and ad's docs say so too); the value written first is
# overwritten and has no influence on the result, so it gets no cotangent.


def _twice(x, w, xp=np):
    index = np.array([0, 2, 0])  # w[0] is overwritten by w[2]
    if xp is np:
        y = x * 1.0
        y[index] = w
    else:
        y = x.at[index].set(w)
    return xp.sum(xp.sin(y) * xp.arange(1.0, 5.0))


def test_a_repeated_position_keeps_the_last_write_in_value():
    x, w = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.6, 0.7])
    y = x.copy()
    y[[0, 2, 0]] = w
    assert ad.tensor(y).numpy()[0] == 0.7
    assert np.isclose(
        float(_twice(ad.tensor(x), ad.tensor(w))), np.sum(np.sin(y) * np.arange(1.0, 5.0)), rtol=1e-15
    )


def test_a_repeated_position_sends_no_gradient_to_the_overwritten_value():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    x, w = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.6, 0.7])
    gx, gw = ad.grad(_twice, argnums=(0, 1))(x, w)
    jx, jw = jax.grad(lambda x, w: _twice(x, w, jax.numpy), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, np.asarray(jx), rtol=1e-12)
    np.testing.assert_allclose(gw, np.asarray(jw), rtol=1e-12)


def test_np_put_with_a_repeated_position_matches_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)

    def put(x, w):
        y = x * 1.0
        np.put(y, [0, 2, 0], w)
        return np.sum(np.sin(y) * np.arange(1.0, 5.0))

    x, w = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.5, 0.6, 0.7])
    got = ad.grad(put, argnums=(0, 1))(x, w)
    want = jax.grad(lambda x, w: _twice(x, w, jax.numpy), argnums=(0, 1))(x, w)
    for g, j in zip(got, want):
        np.testing.assert_allclose(g, np.asarray(j), rtol=1e-12)


# -- directed scenarios, ad against PyTorch ------------------------------------------------
# Each takes a leaf x and the library's pieces (T builds a tensor, no_grad), runs a program,
# and returns values to compare; x.grad is compared too. Both must raise, or neither.


def _read(t):
    return None if t is None else np.array(t.detach().numpy())


def _retained_view_then_written(x, T, no_grad):
    y = x * 1
    v = y[1:4]
    v.retain_grad()
    v *= 3
    (y * y).sum().backward()
    return [_read(v.grad)]


def _retained_view_then_base_written(x, T, no_grad):
    y = x * 1
    v = y[1:4]
    v.retain_grad()
    y *= 3
    (v * v).sum().backward()
    return [_read(v.grad)]


def _retained_base_written_through_view(x, T, no_grad):
    y = x * 1
    y.retain_grad()
    v = y[1:6][::2]
    v *= 3
    (y * y).sum().backward()
    return [_read(y.grad)]


def _retained_through_add_twice(x, T, no_grad):
    y = x + 0
    y.retain_grad()
    z = y * 1
    z.retain_grad()
    s = z.sum()
    s.backward(retain_graph=True)
    s.backward()
    return [_read(y.grad), _read(z.grad)]


def _gradient_given_is_not_written(x, T, no_grad):
    g = T(np.ones(6))
    x.backward(gradient=g)
    x.backward(gradient=g)
    return [_read(g)]


def _grad_assigned_a_view_accumulates_into_it(x, T, no_grad):
    big = T(np.zeros(8))
    x.grad = big[1:7]
    (x * x).sum().backward()
    return [_read(big)]


def _optimizer_step_between_retained_backwards(x, T, no_grad):
    s = (x * x).sum()
    s.backward(retain_graph=True)
    with no_grad():
        x -= 0.1 * x.grad
    s.backward()


def _optimizer_step_graph_reads_no_x(x, T, no_grad):
    s = (x * 3).sum()
    s.backward(retain_graph=True)
    with no_grad():
        x -= 0.1 * x.grad
    s.backward()


def _cached_view_of_a_leaf_after_a_step(x, T, no_grad):
    v = x[1:3]
    with no_grad():
        x -= 1
    (v * v).sum().backward()
    return [_read(v)]


def _write_into_a_detached_alias_of_a_saved_value(x, T, no_grad):
    y = x * 1
    z = y * y
    d = y.detach()
    d += 1
    z.sum().backward()


def _write_into_a_detached_view(x, T, no_grad):
    y = x * 2
    d = y[1:4].detach()
    d *= 10
    (y * y).sum().backward()
    return [_read(y)]


def _write_between_retained_backwards(x, T, no_grad):
    y = x * 1
    s = (y * y).sum()
    s.backward(retain_graph=True)
    v = y[2:]
    v += 1
    s.backward()


def _tensor_mask_and_rows(x, T, no_grad):
    y = x * 1
    y[T(np.array([1, 0, 1, 0, 1, 0], bool))] = x[:3] * 2
    y[T(np.array([4, 1]))] = x[:2] ** 2
    (y * y).sum().backward()
    return [_read(y)]


def _power_by_a_tensor_through_a_view(x, T, no_grad):
    y = x * 1
    v = y[1:4]
    v **= x[3:] * 0.5
    (y * y).sum().backward()
    return [_read(y)]


def _float32_written_with_float64(x, T, no_grad):
    w = T(np.arange(3.0), requires_grad=True)
    y = x * 1
    v = y[::2]
    v[...] = w * 3
    y += w.sum()
    (y * y).sum().backward()
    assert y.dtype == x.dtype
    return [_read(w.grad), _read(y)]


def _second_order_through_a_transposed_write(x, T, no_grad):
    y = x.reshape(2, 3) * 1
    v = y.T[1:]
    v *= x.reshape(2, 3).T[:2] ** 2
    (y**3).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    (g * g).sum().backward()


def _shared_memory_writes(x, T, no_grad):
    """from_numpy shares memory: writes through the array, a second wrapper or .numpy() are
    not counted (in either library), a write through the Tensor is."""
    from_numpy = ad.from_numpy if T is ad.tensor else torch.from_numpy
    out = []
    for write in ("array", "second wrapper", "numpy()", "tensor"):
        a = np.arange(1.0, 7.0)
        t = from_numpy(a)
        y = x * t
        if write == "array":
            a[:] = 5.0
        elif write == "second wrapper":
            t2 = from_numpy(a)
            t2 += 1.0
        elif write == "numpy()":
            t.numpy()[:] = 7.0
        else:
            t += 1.0
        x.grad = None
        try:
            y.sum().backward()
        except RuntimeError as e:
            assert "in-place" in str(e) or "inplace" in str(e)
            out.append(np.array(-1.0))
            continue
        out += [_read(x.grad), np.array(float(t._version))]
    return out


SCENARIOS = [
    (_retained_view_then_written, np.float64),
    (_retained_view_then_base_written, np.float64),
    (_retained_base_written_through_view, np.float64),
    (_retained_through_add_twice, np.float64),
    (_gradient_given_is_not_written, np.float64),
    (_grad_assigned_a_view_accumulates_into_it, np.float64),
    (_optimizer_step_between_retained_backwards, np.float64),
    (_optimizer_step_graph_reads_no_x, np.float64),
    (_cached_view_of_a_leaf_after_a_step, np.float64),
    (_write_into_a_detached_alias_of_a_saved_value, np.float64),
    (_write_into_a_detached_view, np.float64),
    (_write_between_retained_backwards, np.float64),
    (_tensor_mask_and_rows, np.float64),
    (_power_by_a_tensor_through_a_view, np.float64),
    (_float32_written_with_float64, np.float32),
    (_second_order_through_a_transposed_write, np.float64),
    (_shared_memory_writes, np.float64),
]


def _run_scenario(lib, program, dtype):
    x = _leaf(lib, X0.astype(dtype))
    T = ad.tensor if lib == "ad" else torch.tensor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = program(x, T, lambda: _no_grad(lib))
        except RuntimeError as e:
            return type(e), str(e)
    return [_read(x.grad)] + list(out or [])


@pytest.mark.parametrize("program, dtype", SCENARIOS, ids=[p.__name__.strip("_") for p, _ in SCENARIOS])
def test_scenario_matches_pytorch(program, dtype):
    got, want = _run_scenario("ad", program, dtype), _run_scenario("torch", program, dtype)
    if isinstance(want, tuple) or isinstance(got, tuple):
        assert isinstance(got, tuple) and isinstance(want, tuple), (got, want)
        assert "modified by an in-place operation" in got[1] and "modified by an inplace operation" in want[1]
        return
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-12 if dtype == np.float64 else 1e-6)


def test_assigning_a_gradient_of_another_dtype_raises():
    x = ad.tensor(X0.astype(np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="dtype"):
        x.grad = ad.tensor(np.ones(6))
    (x * x).sum().backward()
    assert x.grad.dtype == np.float32


# -- ops whose result is NumPy's view ------------------------------------------------------
# np.flip, np.atleast_1d (of an array already 1-D), np.split's pieces and np.broadcast_to
# return memory of their operand. Were the result given a version counter of its own, a
# write into the operand would go unseen by a node that saved the result (backward would
# read the new values), and a write into the result would change the operand without a
# trace in its history. Either must raise or give the derivative of what ran.

_X23 = np.arange(1.0, 7.0).reshape(2, 3)
_ALIASING = {
    "flip": np.flip,
    "fliplr": np.fliplr,
    "flipud": np.flipud,
    "rot90": np.rot90,
    "atleast_1d": np.atleast_1d,
    "atleast_2d": np.atleast_2d,
    "atleast_3d": np.atleast_3d,
    "split": lambda a: np.split(a, 3, axis=1)[1],
    "array_split": lambda a: np.array_split(a, 2, axis=1)[0],
    "hsplit": lambda a: np.hsplit(a, 3)[2],
    "vsplit": lambda a: np.vsplit(a, 2)[1],
    "broadcast_to": lambda a: np.broadcast_to(a, (4, 2, 3)),
    "broadcast_arrays": lambda a: np.broadcast_arrays(a, np.ones((4, 1, 1)))[0],
    "meshgrid": lambda a: np.meshgrid(a.ravel(), np.ones(2), copy=False)[0],
}
_WRITABLE = [name for name in _ALIASING if "broadcast" not in name and name != "meshgrid"]


@pytest.mark.parametrize("name", sorted(_ALIASING))
def test_numpy_returns_memory_of_the_operand(name):
    a = _X23.copy()
    assert np.shares_memory(_ALIASING[name](a), a)


@pytest.mark.parametrize("name", sorted(_ALIASING))
def test_a_write_into_the_operand_of_a_saved_alias_raises_or_is_right(name):
    f = _ALIASING[name]
    x = ad.tensor(_X23, requires_grad=True)
    y = x * 1
    w = np.sin(f(y))  # sin saves its input, which is y's memory
    y += 1
    try:
        np.sum(w).backward()
    except RuntimeError as e:
        assert "modified by an in-place operation" in str(e)
        return
    expected = ad.grad(lambda x: np.sum(np.sin(f(x * 1))))(_X23)
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(_WRITABLE))
def test_a_write_into_an_alias_reaches_the_operands_gradient(name):
    f = _ALIASING[name]
    written = np.isin(np.arange(6.0), np.ravel(f(np.arange(6.0).reshape(2, 3)))).reshape(2, 3)
    x = ad.tensor(_X23, requires_grad=True)
    y = x * 1
    z = f(y)
    try:
        z *= 2
    except RuntimeError as e:  # one output of several (split's pieces): refused, as PyTorch
        assert "cannot follow its base" in str(e)
        np.testing.assert_array_equal(y.detach().numpy(), _X23)
        return
    np.testing.assert_array_equal(y.detach().numpy(), _X23 * np.where(written, 2, 1))  # as NumPy
    np.sum(y * y).backward()
    # y = x (1 + written), so d sum(y^2)/dx = 2 x (1 + written)^2
    np.testing.assert_allclose(x.grad.numpy(), 2 * _X23 * np.where(written, 4, 1), rtol=1e-12)


# -- a write through a view under two reverse levels ---------------------------------------
# Under nested reverse transforms (hvp rev-rev, grad of grad) a Tensor's value is a Tensor of
# the level below. A view there must be recognised as one (the arrays under both share
# memory), or the write is recorded at the lower level only: the inner gradient misses it,
# and the Hessian-vector product is silently off (as it was before f0e0308).

_WRITES = {
    "whole": lambda y: y.__imul__(2.0),
    "full view": lambda y: y[:, :].__imul__(2.0),
    "reversed view": lambda y: y[:, ::-1].__imul__(2.0),
    "part view": lambda y: y[:, 1:].__imul__(2.0),
}


def _written_sin(write):
    def f(x):
        y = x * 1.0
        write(y)
        return np.sum(np.sin(y))

    return f


def _torch_hvp(name, x, v):
    xt = torch.tensor(x, requires_grad=True)
    factor = torch.ones(x.shape, dtype=torch.float64) * 2.0
    if name == "part view":
        factor[:, 0] = 1.0
    (g,) = torch.autograd.grad(torch.sin(xt * factor).sum(), xt, create_graph=True)
    (hv,) = torch.autograd.grad((g * torch.tensor(v)).sum(), xt)
    return hv.numpy()


@pytest.mark.parametrize("name", sorted(_WRITES))
def test_hvp_rev_rev_through_a_write_matches_pytorch(name):
    x, v = _X23 / 3, np.array([[1.0, -0.5, 2.0], [0.25, 1.0, -1.0]])
    _, hv = ad.hvp(_written_sin(_WRITES[name]), (x,), (v,), mode="rev-rev")
    np.testing.assert_allclose(hv, _torch_hvp(name, x, v), rtol=1e-12)


@pytest.mark.parametrize("name", sorted(_WRITES))
def test_eager_double_backward_through_a_write_matches_pytorch(name):
    x, v = _X23 / 3, np.array([[1.0, -0.5, 2.0], [0.25, 1.0, -1.0]])
    xa = ad.tensor(x, requires_grad=True)
    _written_sin(_WRITES[name])(xa).backward(create_graph=True)
    g = xa.grad
    xa.grad = None
    np.sum(g * v).backward()
    np.testing.assert_allclose(xa.grad.numpy(), _torch_hvp(name, x, v), rtol=1e-12)


# -- writes through a view under the other recorders -----------------------------------------
# ad.compile's recorder and the sparsity tracer rebind a value on x op= y (x = x op y), as a
# JAX tracer does; through a view NumPy would write into the base too. They refuse item
# assignment; an operator on a view must be refused as well, or what they record is another
# function than NumPy runs (forward mode refuses it since 093eb0c, ad.compile since 791925f).


def _write_through_a_view(x):
    y = x * 1.0
    v = y[1:]
    v *= x[:2]
    return y


def test_compile_of_a_write_through_a_view_refuses_or_is_right():
    x = np.array([1.0, 2.0, 3.0])

    def f(x):
        return np.sum(_write_through_a_view(x) ** 2)

    try:
        c = ad.compile(f, x)
        value, grad = c(x), c.grad(x)
    except TypeError as e:
        assert "shares memory" in str(e) or "not supported" in str(e)
        return
    assert np.isclose(value, f(x), rtol=1e-12)
    np.testing.assert_allclose(grad, ad.grad(f)(x), rtol=1e-12)


def test_sparsity_of_a_write_through_a_view_refuses_or_covers_the_jacobian():
    x = np.array([1.0, 2.0, 3.0])
    try:
        pattern = ad.jacobian_sparsity(_write_through_a_view, x)
    except TypeError as e:
        assert "shares memory" in str(e) or "not supported" in str(e)
        return
    pattern = pattern.toarray() if hasattr(pattern, "toarray") else np.asarray(pattern)
    jacobian = ad.jacrev(_write_through_a_view)(x)
    assert np.all(pattern[jacobian != 0])


# -- in-place operators NumPy has and the Tensor's rules ---------------------------------------
# NumPy writes x op= y into x's memory for every operator, and refuses one whose result has
# another shape than x ("non-broadcastable output operand"); so does PyTorch.


def test_an_in_place_result_of_another_shape_raises():
    x = ad.tensor(np.arange(1.0, 4.0), requires_grad=True)
    w = ad.tensor(np.full((1, 3), 2.0), requires_grad=True)
    y = x * 1
    with pytest.raises((ValueError, RuntimeError), match="shape"):
        y += w
        (y * np.array([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad is None or w.grad.shape == w.shape


_ROWS = np.arange(6.0).reshape(2, 3) + 0.5
_W3 = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])


def _floor_divide_in_place(v):
    v //= 2.0
    return v


def _remainder_in_place(v):
    v %= 2.0
    return v


def _matmul_in_place(v):
    v @= _W3
    return v


_OPERATORS = {  # the write, NumPy's value, the partial of the new value in the old
    "//=": (_floor_divide_in_place, lambda a: np.floor_divide(a, 2.0), np.zeros_like),
    "%=": (_remainder_in_place, lambda a: np.remainder(a, 2.0), np.ones_like),
    "@=": (_matmul_in_place, lambda a: a @ _W3, None),
}


@pytest.mark.parametrize("spelling", sorted(_OPERATORS))
def test_every_in_place_operator_writes_into_the_memory(spelling):
    write, value, _ = _OPERATORS[spelling]
    expected = _ROWS.copy()
    row = expected[1:]
    row[...] = value(row)  # NumPy's write through a view
    x = ad.tensor(_ROWS, requires_grad=True)
    y = x * 1
    v = y[1:]
    try:
        written = write(v)
    except (TypeError, RuntimeError) as e:  # refusing is fine (PyTorch refuses //= there)
        assert "in place" in str(e) or "in-place" in str(e)
        np.testing.assert_array_equal(y.detach().numpy(), _ROWS)
        return
    assert written is v
    np.testing.assert_array_equal(y.detach().numpy(), expected)
    c = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.sum(y * c).backward()
    if spelling == "@=":  # rows 1: y[1] = x[1] @ W, so d/dx[1] = c[1] @ W.T
        want = np.vstack([c[:1], c[1:] @ _W3.T])
    else:
        want = np.vstack([c[:1], c[1:] * _OPERATORS[spelling][2](_ROWS[1:])])
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


# -- every registered op: a write after recording ---------------------------------------------
# For each op's examples, a differentiated operand (y = x * 1) or the op's first output is
# written in place after the op is recorded, directly or through a view of it, and the loss
# reads both the op's outputs and the written value. Backward must refuse (the op saved what
# was written) or give the gradient of the same program written out of place.

_REFUSALS = ("modified by an in-place operation", "cannot follow its base")


def _write_after_recording(op, operands, params, idx, i, target, through_view, in_place):
    xs = {k: ad.tensor(np.array(operands[k], dtype=float), requires_grad=True) for k in idx}
    ys = {k: xs[k] * 1.0 for k in idx}
    out = apply(op, [ys.get(k, operands[k]) for k in range(len(operands))], dict(params))
    outs = list(out) if isinstance(out, tuple | list) else [out]
    t = ys[i] if target == "input" else outs[0]
    if not isinstance(t, ad.Tensor) or t.dtype.kind != "f" or not isinstance(t._data, np.ndarray):
        return None
    if through_view and (t.ndim == 0 or not np.shares_memory(t.reshape(-1)[:1]._data, t._data)):
        return None
    if in_place:
        w = t.reshape(-1)[:1] if through_view else t
        w += 0.5
        new = t
    else:
        step = np.zeros(t.shape)
        step.reshape(-1)[: 1 if through_view else None] = 0.5
        new = t + step
    rng = np.random.default_rng(5)
    loss = np.sum(new * rng.standard_normal(new.shape))
    for j, o in enumerate(outs):
        o = new if target == "output" and j == 0 else o
        if isinstance(o, ad.Tensor) and o.requires_grad and o.dtype.kind in "fc":
            loss = loss + np.sum(np.real(o) * rng.standard_normal(o.shape))
    loss.backward()
    return [None if xs[k].grad is None else xs[k].grad.numpy() for k in idx]


@pytest.mark.parametrize("op", ad.testing.differentiable_ops(), ids=lambda op: op.name)
def test_a_write_after_recording_is_refused_or_differentiated(op):
    for operands, params, idx in list(ad.testing.cases(op))[:2]:
        if any(np.iscomplexobj(operands[k]) for k in idx):
            continue
        for i in idx:
            for target in ("input", "output"):
                for through_view in (False, True):
                    args = (op, operands, params, idx, i, target, through_view)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        try:
                            want = _write_after_recording(*args, in_place=False)
                        except Exception:  # noqa: BLE001 - what the op refuses out of place is not this test's
                            continue
                        if want is None:
                            continue
                        try:
                            got = _write_after_recording(*args, in_place=True)
                        except RuntimeError as e:
                            assert any(r in str(e) for r in _REFUSALS), (op.name, i, target, through_view, e)
                            continue
                        except (TypeError, ValueError):  # a read-only or integer result: NumPy's own refusal
                            continue
                    if got is None:
                        continue
                    for g, w in zip(got, want):
                        assert (g is None) == (w is None), (op.name, i, target, through_view)
                        if g is not None:
                            np.testing.assert_allclose(
                                g, w, rtol=1e-10, atol=1e-12, err_msg=f"{op.name} {i} {target} {through_view}"
                            )


# -- item assignment of a value with leading length-1 axes ------------------------------------
# NumPy (and PyTorch's indexing) accept y[0:2] = w for w of shape (1, 2): the leading 1 is
# dropped, and setitem's VJP must put it back (summing g[index] towards (1, 2) as if it were
# broadcast gave w.grad of shape (1,), the sum).


@pytest.mark.parametrize("shape", [(1, 2), (1, 1, 2)])
def test_a_value_with_leading_ones_gets_its_gradient(shape):
    c = np.array([1.0, 2.0, 3.0, 4.0])
    x = ad.tensor(np.arange(1.0, 5.0), requires_grad=True)
    w = ad.tensor(np.array([2.0, 3.0]).reshape(shape), requires_grad=True)
    y = x * 1
    y[0:2] = w
    np.sum(y * c).backward()
    xt = torch.tensor(np.arange(1.0, 5.0), requires_grad=True)
    wt = torch.tensor(np.array([2.0, 3.0]).reshape(shape), requires_grad=True)
    yt = xt * 1
    yt[0:2] = wt
    (yt * torch.tensor(c)).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), yt.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12)
    assert w.grad.shape == shape
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12)
