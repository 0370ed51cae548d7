"""Higher-order and concurrent semantics of ad.Tensor against PyTorch: create_graph with
in-place writes, views, retain_grad and hooks; .grad with history; grad mode per thread and
as a decorator; version counters; dtypes; what a graph keeps alive. Each program runs on
ad and on torch side by side (`run`), and the two must agree on values or on refusing."""

import gc
import threading
import weakref

import numpy as np
import pytest

import ad

torch = pytest.importorskip("torch")


class Lib:
    """What a program needs from ad or torch, by the same names."""

    def __init__(self, name):
        self.name = name
        self.torch = name == "torch"
        self.no_grad = torch.no_grad if self.torch else ad.no_grad
        self.enable_grad = torch.enable_grad if self.torch else ad.enable_grad
        self.is_grad_enabled = torch.is_grad_enabled if self.torch else ad.is_grad_enabled
        self.grad = torch.autograd.grad if self.torch else ad.autograd.grad
        self.exp = torch.exp if self.torch else np.exp
        self.sin = torch.sin if self.torch else np.sin

    def leaf(self, values, dtype=np.float64):
        a = np.array(values, dtype=dtype)
        return torch.tensor(a, requires_grad=True) if self.torch else ad.tensor(a, requires_grad=True)

    def const(self, values, dtype=np.float64):
        a = np.array(values, dtype=dtype)
        return torch.tensor(a) if self.torch else ad.tensor(a)


def value(t):
    """A Tensor's values as a NumPy array (None for None)."""
    if t is None:
        return None
    return np.asarray(t.detach().numpy())


def run(program):
    """program(lib) on both libraries: the values it returns, or the error's type if it raised."""
    out = []
    for name in ("ad", "torch"):
        try:
            out.append(program(Lib(name)))
        except RuntimeError:
            out.append(RuntimeError)
    return out


def assert_same(program):
    got, want = run(program)
    if want is RuntimeError or got is RuntimeError:
        assert got is want, f"ad gave {got}, torch {want}"
        return
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)


# -- a value saved for the second backward is guarded by its Tensor's version counter ------


def _power_then_write(lib):
    x = lib.leaf([1.0, 2.0])
    y = x * 2
    (y**3).sum().backward(create_graph=True)  # x.grad = 6 y^2 * 2, which reads y
    g = x.grad
    x.grad = None
    y.add_(1)
    g.sum().backward()
    return (value(x.grad),)


def _sin_then_write(lib):
    x = lib.leaf([1.0, 2.0])
    y = x * 2
    (g,) = lib.grad(lib.sin(y).sum(), x, create_graph=True)
    y.mul_(3)
    return lib.grad(g.sum(), x)


def _view_then_write_base(lib):
    x = lib.leaf([1.0, 2.0])
    y = x * 1
    v = y[0:1]
    (g,) = lib.grad((v**3).sum(), x, create_graph=True)
    y.mul_(3)  # v's memory too
    return lib.grad(g.sum(), x)


def _leaf_written_under_no_grad(lib):
    x = lib.leaf([1.0, 2.0])
    (g,) = lib.grad((x**3).sum(), x, create_graph=True)
    with lib.no_grad():
        x.mul_(3)
    return lib.grad(g.sum(), x)


def _non_leaf_input_then_write(lib):
    x = lib.leaf([1.0, 2.0])
    y = x * 2
    (g,) = lib.grad((y**3).sum(), y, create_graph=True)
    y.add_(1)
    return lib.grad(g.sum(), x)


@pytest.mark.parametrize(
    "program",
    [
        _power_then_write,
        _sin_then_write,
        _view_then_write_base,
        _leaf_written_under_no_grad,
        _non_leaf_input_then_write,
    ],
)
def test_a_write_after_create_graph_makes_the_second_backward_raise(program):
    """The first backward (create_graph) reads y and records nodes that read it again; writing
    y in place afterwards makes the second backward raise, as in PyTorch, not return the
    derivative at the overwritten value."""
    assert run(program) == [RuntimeError, RuntimeError]


def test_the_second_backward_without_a_write_is_unchanged():
    def program(lib):
        x = lib.leaf([1.0, 2.0])
        y = x * 2
        (g,) = lib.grad(lib.sin(y).sum() + (y**3).sum(), x, create_graph=True)
        (h,) = lib.grad(g.sum(), x, create_graph=True)
        return (value(g), value(h), value(lib.grad(h.sum(), x)[0]))

    assert_same(program)


# -- .grad: its dtype, and a .grad with history meeting a later backward -------------------


def _through(op):
    def program(lib):
        x = lib.leaf([1.0, 2.0, 0.5, 3.0], dtype=np.float32)
        op(lib, x).backward(create_graph=True)
        g = x.grad
        x.grad = None
        g.sum().backward()
        return g, x.grad

    return program


def _write_then_square(lib, x):
    y = x * 1
    y *= x
    y[1:3] = x[0:2] ** 2
    return (y**2).sum()


@pytest.mark.parametrize(
    "op",
    [
        lambda lib, x: (x[[0, 0, 3]] ** 3).sum(),
        lambda lib, x: (x * x).max(),
        lambda lib, x: x.prod() if lib.torch else np.prod(x),
        _write_then_square,
    ],
    ids=["index", "max", "prod", "in-place and setitem"],
)
def test_a_float32_leaf_gets_a_float32_grad_under_create_graph(op):
    program = _through(op)
    (g, h), (tg, th) = program(Lib("ad")), program(Lib("torch"))
    assert (g.dtype, h.dtype) == (np.float32, np.float32)
    np.testing.assert_allclose(value(g), value(tg), rtol=1e-6)
    np.testing.assert_allclose(value(h), value(th), rtol=1e-6)


def test_mixed_float32_and_float64_leaves_keep_their_dtypes_at_every_order():
    def program(lib):
        a = lib.leaf([1.0, 2.0], dtype=np.float32)
        b = lib.leaf([3.0, 4.0])
        y = (a * a * b).sum()
        y.backward(create_graph=True)
        ga, gb = a.grad, b.grad
        a.grad = b.grad = None
        (ga.sum() + gb.sum()).backward()
        return y, ga, gb, a.grad, b.grad

    got, want = program(Lib("ad")), program(Lib("torch"))
    assert [t.dtype for t in got] == [np.float64, np.float32, np.float64, np.float32, np.float64]
    for g, w in zip(got, want, strict=True):
        assert str(w.dtype) == "torch." + str(g.dtype)
        np.testing.assert_allclose(value(g), value(w), rtol=1e-6)


def test_a_plain_backward_adds_into_a_grad_with_history_in_place_keeping_it():
    """x.grad from a create_graph backward, then a plain backward: PyTorch adds in place (grad
    mode is off), so x.grad is the same Tensor and keeps its history; a backward through it
    then differentiates the first term."""

    def program(lib):
        x = lib.leaf([1.0, 2.0])
        (x**3).sum().backward(create_graph=True)
        g = x.grad
        (x**2).sum().backward()
        same, has_history = x.grad is g, x.grad.grad_fn is not None
        x.grad.sum().backward()
        return same, has_history, value(g), value(x.grad)

    got, want = program(Lib("ad")), program(Lib("torch"))
    assert got[:2] == want[:2] == (True, True)
    for g, w in zip(got[2:], want[2:], strict=True):
        np.testing.assert_allclose(g, w)


def test_scaling_a_grad_with_history_under_no_grad_then_differentiating_it():
    def program(lib):
        x = lib.leaf([1.0, 2.0])
        (x**2).sum().backward(create_graph=True)
        g = x.grad
        with lib.no_grad():
            x.grad.mul_(0.5)
        x.grad.sum().backward()
        return value(x.grad), value(g)

    assert_same(program)


def test_a_retained_grad_with_history_is_replaced_by_a_plain_backward():
    """PyTorch's retain_grad stores grad + new out of place: a .grad with history read before
    a plain backward keeps its value and history. (Without history ad adds in place, where
    PyTorch makes a new Tensor: docs/reverse.md.)"""
    create_graph = True

    def program(lib):
        x = lib.leaf([1.0, 2.0])
        y = x * 3
        y.retain_grad()
        (y**3).sum().backward(create_graph=create_graph, retain_graph=True)
        first = y.grad
        (y * y).sum().backward()
        return y.grad is first, y.grad.grad_fn is None, value(first), value(y.grad)

    got, want = program(Lib("ad")), program(Lib("torch"))
    assert got[:2] == want[:2] == (False, True)
    for g, w in zip(got[2:], want[2:], strict=True):
        np.testing.assert_allclose(g, w)


# -- grad mode: contexts, decorators, generators, threads ----------------------------------


def test_grad_mode_nests_as_contexts_and_decorators():
    def program(lib):
        x = lib.leaf([1.0])

        @lib.no_grad()
        def off(x):
            return x * 2

        @lib.enable_grad()
        def on(x):
            return x * 2

        with lib.no_grad():
            a = on(x)
            with lib.enable_grad():
                c = x * 2
            d = x * 2
        b = off(x)
        try:
            with lib.no_grad():
                raise KeyError
        except KeyError:
            pass
        return [t.requires_grad for t in (a, b, c, d, x * 2)] + [lib.is_grad_enabled()]

    got, want = run(program)
    assert got == want == [True, False, True, False, True, True]


def test_a_decorated_generator_runs_each_step_in_the_decorator_s_mode():
    """The body of a generator runs at each next(), after the decorated call has returned;
    PyTorch's decorator sets the mode around each step, and so does ad's."""

    def program(lib):
        x = lib.leaf([1.0])

        @lib.no_grad()
        def steps(n):
            for i in range(n):
                got = yield (x * i).requires_grad, lib.is_grad_enabled()
                assert got is None
            return "done"

        seen = list(steps(3))
        after = (x * 2).requires_grad, lib.is_grad_enabled()
        return seen, after

    got, want = run(program)
    assert got == want == ([(False, False)] * 3, (True, True))


def test_a_decorated_generator_receives_sent_and_thrown_values_in_its_mode():
    x = ad.tensor(np.ones(1), requires_grad=True)

    @ad.no_grad()
    def echo():
        try:
            while True:
                sent = yield ad.is_grad_enabled()
                assert sent == "ping" and not (x * 1).requires_grad
        except ValueError:
            yield "caught without grad" if not ad.is_grad_enabled() else "caught with grad"

    g = echo()
    assert next(g) is False
    assert g.send("ping") is False
    assert g.throw(ValueError) == "caught without grad"
    g.close()
    assert ad.is_grad_enabled()


def test_the_decorators_keep_the_function_s_name_and_need_no_call():
    @ad.no_grad
    def f(x):
        """doc"""
        return x * 2

    @ad.enable_grad
    def h(x):
        return x * 2

    x = ad.tensor(np.ones(1), requires_grad=True)
    assert (f.__name__, f.__doc__) == ("f", "doc")
    assert not f(x).requires_grad
    with ad.no_grad():
        assert h(x).requires_grad


def test_requires_grad_on_a_computed_tensor_raises_where_pytorch_does_nothing():
    """ad's contract: asking requires_grad of a non-leaf raises, even when it holds already
    (PyTorch's requires_grad_() passes there, and raises for False as ad does)."""

    def program(lib):
        y = lib.leaf([1.0, 2.0]) * 2
        try:
            y.requires_grad_()
        except RuntimeError:
            return "refused"
        return "allowed"

    assert run(program) == ["refused", "allowed"]


def test_grad_mode_is_per_thread():
    x = ad.tensor(np.ones(3), requires_grad=True)
    inside, other = threading.Event(), threading.Event()
    seen = {}

    def off():
        with ad.no_grad():
            inside.set()
            other.wait()
            seen["off"] = (x * 2).requires_grad

    def on():
        inside.wait()
        seen["on"] = (x * 2).requires_grad
        other.set()

    threads = [threading.Thread(target=off), threading.Thread(target=on)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"off": False, "on": True}


def test_threads_backward_their_own_graphs_and_share_a_leaf():
    """Each thread's gradients are its own graph's; every thread's contribution to a shared
    leaf's .grad is counted, with plain and with create_graph backwards."""
    shared = ad.tensor(np.zeros(50), requires_grad=True)
    shared_cg = ad.tensor(np.ones(3), requires_grad=True)
    wrong = []

    def work(seed):
        rng = np.random.default_rng(seed)
        for _ in range(100):
            v = rng.normal(size=5)
            x = ad.tensor(v, requires_grad=True)
            np.sum(np.sin(x) * x**2).backward()
            if not np.allclose(x.grad.numpy(), np.cos(v) * v**2 + 2 * v * np.sin(v)):
                wrong.append(seed)
            (shared * 1.0).sum().backward()
            (shared_cg**2).sum().backward(create_graph=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert np.array_equal(shared.grad.numpy(), np.full(50, 400.0))
    assert np.array_equal(value(shared_cg.grad), np.full(3, 800.0))


# -- what a graph keeps alive --------------------------------------------------------------


def _alive_without_gc(build):
    """Which of the weak references build() returns still resolve with the collector off
    (reference counting alone), and after a collection."""
    gc.disable()
    try:
        refs = build()
        counted = [r() is not None for r in refs]
    finally:
        gc.enable()
    gc.collect()
    return counted, [r() is not None for r in refs]


def test_a_graph_out_of_scope_is_freed_by_reference_counting():
    x = ad.tensor(np.ones(1000), requires_grad=True)

    def build():
        y = np.sin(x) * 2
        y.retain_grad()
        z = (y * y).sum()
        z.backward(retain_graph=True)
        return [weakref.ref(z.grad_fn), weakref.ref(y.grad_fn), weakref.ref(y)]

    assert _alive_without_gc(build) == ([False] * 3, [False] * 3)


def test_a_write_through_a_view_leaves_no_cycle_through_the_base():
    """The base's CopySlices node keeps the view ops, not the base: the base, its array and
    its graph go when the last reference does, without waiting for gc."""
    x = ad.tensor(np.ones(1000), requires_grad=True)

    def build():
        y = x * 1
        v = y[0:10]
        v *= 2
        z = (y * y).sum()
        z.backward()
        return [weakref.ref(y), weakref.ref(v), weakref.ref(y.grad_fn)]

    assert _alive_without_gc(build) == ([False] * 3, [False] * 3)


def test_create_graph_cycles_through_grad_are_collected():
    """x.grad with history leads back to x (PyTorch warns of the same cycle); gc frees it."""

    def build():
        x = ad.tensor(np.ones(1000), requires_grad=True)
        y = x * 2
        y.retain_grad()
        (y**3).sum().backward(create_graph=True)
        return [weakref.ref(x), weakref.ref(y), weakref.ref(x.grad.grad_fn)]

    assert _alive_without_gc(build)[1] == [False] * 3


# -- .data and version counters ------------------------------------------------------------


def test_a_write_through_data_bypasses_the_version_counter_as_in_pytorch():
    """.data is the array outside the graph: exp's saved output changed through it is not
    caught (PyTorch's .data gives the same gradient, at version 0); detach() shares the
    counter, so the same write through it is caught."""

    def through_data(lib):
        x = lib.leaf([1.0, 2.0])
        y = lib.exp(x)
        y.data[0] = 5.0
        y.sum().backward()
        return value(x.grad), y._version

    def through_detach(lib):
        x = lib.leaf([1.0, 2.0])
        y = lib.exp(x)
        y.detach()[0] = 5.0
        y.sum().backward()
        return (value(x.grad),)

    (got, version), (want, want_version) = run(through_data)
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(got, [5.0, np.exp(2.0)])
    assert version == want_version == 0
    assert run(through_detach) == [RuntimeError, RuntimeError]


def test_data_updated_in_place_by_augmented_assignment():
    x = ad.tensor([1.0, 2.0], requires_grad=True)
    before = x.data
    x.data -= 0.5 * np.ones(2)  # the old optimizer idiom: in place, then t.data = the same array
    assert x.data is before and x.data.tolist() == [0.5, 1.5] and x._version == 0
    with pytest.raises(AttributeError, match="write into it instead"):
        x.data = np.zeros(2)


def test_one_write_is_caught_by_every_node_that_saved_the_value():
    def program(lib):
        x = lib.leaf([1.0, 2.0])
        h = x * 1
        a, b, c = lib.sin(h), h * h, h * 3  # sin and h * h save h, h * 3 does not
        h.add_(1)
        out = []
        for r in (a, b, c):
            try:
                r.sum().backward()
                out.append("ran")
            except RuntimeError:
                out.append("raised")
        return out, h._version, value(x.grad)

    got, want = run(program)
    assert got[:2] == want[:2] == (["raised", "raised", "ran"], 1)
    np.testing.assert_allclose(got[2], want[2])


# -- values at second and third order agree with PyTorch -----------------------------------

M = np.array([[1.0, 2.0], [3.0, 4.0]])

THIRD_ORDER = {
    "matmul": (lambda lib, x: (((torch.tensor(M) if lib.torch else M) @ x) ** 3).sum(), [1.0, -1.0]),
    "prod with a zero": (lambda lib, x: x.prod() if lib.torch else np.prod(x), [0.0, 2.0, 3.0]),
    "mean": (lambda lib, x: (x**2).mean() ** 2 if lib.torch else np.mean(x**2) ** 2, [1.0, 2.0, 3.0]),
    "repeated index": (lambda lib, x: (x[[0, 0, 2]] ** 3).sum(), [1.0, 2.0, 3.0]),
    "where": (
        lambda lib, x: (torch.where if lib.torch else np.where)(x > 1, x**3, x**2).sum(),
        [1.0, 2.0, 3.0],
    ),
    "max over an axis at a tie": (
        lambda lib, x: (x * x).amax(dim=0).sum() ** 2 if lib.torch else np.max(x * x, axis=0).sum() ** 2,
        [2.0, -2.0, 1.0],
    ),
    "min at a tie": (lambda lib, x: (x**3).min() ** 2, [1.0, 1.0, 3.0]),
    "maximum at a tie": (
        lambda lib, x: (torch.maximum(x, x.flip(0)) if lib.torch else np.maximum(x, x[::-1])) ** 3,
        [1.0, 2.0, 1.0],
    ),
    "sqrt at 0": (lambda lib, x: (torch.sqrt if lib.torch else np.sqrt)(x), [0.0, 4.0]),
    "abs at 0": (lambda lib, x: (torch.abs if lib.torch else np.abs)(x) ** 3, [0.0, -2.0]),
    "cumsum": (lambda lib, x: (x.cumsum(0) if lib.torch else np.cumsum(x)) ** 3, [1.0, 2.0, 3.0]),
    "clip": (
        lambda lib, x: (x.clamp(0.5, 2.5) if lib.torch else np.clip(x, 0.5, 2.5)) ** 3,
        [0.5, 1.0, 3.0],
    ),
}


def _written(lib, x):
    y = x * 2
    y *= x
    v = y[1:3]
    v *= x[0:2] ** 2
    return y**3


THIRD_ORDER["in place, then through a view"] = (_written, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("name", list(THIRD_ORDER))
def test_three_orders_of_derivatives_agree_with_pytorch(name):
    f, at = THIRD_ORDER[name]

    def program(lib):
        x = lib.leaf(at)
        (g,) = lib.grad(f(lib, x).sum(), x, create_graph=True)
        (h,) = lib.grad(g.sum(), x, create_graph=True)
        (k,) = lib.grad(h.sum(), x, allow_unused=True) if h.requires_grad else (h * 0,)
        return value(g), value(h), value(k)

    with np.errstate(all="ignore"):
        assert_same(program)


def test_create_graph_through_retain_grad_hooks_and_inputs_agrees_with_pytorch():
    def program(lib):
        x, w = lib.leaf([1.0, 2.0]), lib.leaf([3.0, 4.0])
        y = x**2
        y.retain_grad()
        y.register_hook(lambda g: g * w)
        (y**2 * w).sum().backward(inputs=[x, y], create_graph=True)
        gx, gy = x.grad, y.grad
        x.grad = y.grad = None
        (gx.sum() + gy.sum()).backward(inputs=[w])
        return value(gx), value(gy), value(w.grad)

    assert_same(program)


def test_grad_accumulated_with_history_twice_then_differentiated():
    def program(lib):
        x = lib.leaf([1.0, 2.0])
        (x**3).sum().backward(create_graph=True)
        (lib.sin(x) * x).sum().backward(create_graph=True)
        g = x.grad
        x.grad = None
        g.sum().backward()
        return value(g), value(x.grad)

    assert_same(program)


def test_a_freed_subgraph_refuses_a_second_root():
    def program(lib):
        x = lib.leaf([1.0, 2.0])
        y = lib.exp(x)
        y.sum().backward()  # frees exp's saved output
        (y * 2).sum().backward()
        return (value(x.grad),)

    assert run(program) == [RuntimeError, RuntimeError]


def test_create_graph_without_retain_graph_frees_what_the_second_backward_needs():
    def program(lib):
        x = lib.leaf([1.0, 2.0])
        lib.exp(x).sum().backward(create_graph=True, retain_graph=False)
        g = x.grad
        x.grad = None
        g.sum().backward()
        return (value(x.grad),)

    assert run(program) == [RuntimeError, RuntimeError]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize(
    "op",
    [
        lambda lib, x: (x[[0, 0, 3]] ** 3).sum(),
        lambda lib, x: (x * x).max(),
        lambda lib, x: x.prod() if lib.torch else np.prod(x),
    ],
    ids=["index", "max", "prod"],
)
def test_a_hook_on_a_float32_tensor_sees_a_float32_gradient(op, create_graph):
    """Some VJPs promote to float64; the hook is given the gradient in its Tensor's dtype, as
    PyTorch casts each gradient to its input's, and may return that dtype."""

    def program(lib):
        x = lib.leaf([1.0, 2.0, 0.5, 3.0], dtype=np.float32)
        seen = []
        x.register_hook(lambda g: seen.append(str(g.dtype).removeprefix("torch.")) or g * 2)
        y = x * 1
        y.register_hook(lambda g: seen.append(str(g.dtype).removeprefix("torch.")) or g * 2)
        op(lib, y).backward(create_graph=create_graph)
        return seen, value(x.grad)

    (seen, g), (want_seen, want) = run(program)
    assert seen == want_seen == ["float32", "float32"]
    np.testing.assert_allclose(g, want, rtol=1e-6)
