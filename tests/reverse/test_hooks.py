"""Tensor.register_hook: what a hook sees, what its return value replaces, the order hooks
run in, and where a hook stays when its Tensor is written in place (PyTorch's rules; the
torch tests run the same programs on torch.Tensor)."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import ad


def t(v, requires_grad=True, dtype=float):
    return ad.tensor(np.array(v, dtype=dtype), requires_grad=requires_grad)


def logged(log, name, scale=None):
    """A hook that records (name, a copy of the gradient) and returns gradient * scale."""

    def hook(g):
        log.append((name, None if g is None else np.array(g.detach().numpy())))
        return None if scale is None else g * scale

    return hook


def values(log):
    return [(name, None if g is None else g.tolist()) for name, g in log]


# -- what a hook sees and replaces ----------------------------------------------------------------
def test_a_leaf_hook_sees_the_gradient_and_its_result_is_accumulated():
    x = t([1.0, 2.0])
    log = []
    x.register_hook(logged(log, "x", 2.0))
    (x * 3.0).sum().backward()
    assert values(log) == [("x", [3.0, 3.0])]
    assert x.grad.tolist() == [6.0, 6.0]


def test_hooks_run_in_registration_order_each_seeing_what_the_last_returned():
    x = t([1.0, 2.0])
    log = []
    x.register_hook(logged(log, "first", 2.0))
    x.register_hook(logged(log, "second"))  # returns None: leaves the gradient as it is
    x.register_hook(logged(log, "third", 10.0))
    (x * 3.0).sum().backward()
    assert values(log) == [("first", [3.0, 3.0]), ("second", [6.0, 6.0]), ("third", [6.0, 6.0])]
    assert x.grad.tolist() == [60.0, 60.0]


def test_a_non_leaf_hook_runs_once_on_the_sum_of_all_uses_and_its_result_flows_on():
    x = t([1.0, 2.0])
    y = x * 2.0
    log = []
    y.register_hook(logged(log, "y", 10.0))
    ((y * y).sum() + y.sum()).backward()
    # d/dy (y.y + sum y) = 2y + 1 = [5, 9]; times 10, times dy/dx = 2
    assert values(log) == [("y", [5.0, 9.0])]
    assert x.grad.tolist() == [100.0, 180.0]


@pytest.mark.parametrize("retain_first", [True, False], ids=["retain-then-hook", "hook-then-retain"])
def test_retain_grad_keeps_the_hooked_gradient_whichever_came_first(retain_first):
    x = t([1.0, 2.0])
    y = x * 2.0
    if retain_first:
        y.retain_grad()
    y.register_hook(lambda g: g * 10.0)
    if not retain_first:
        y.retain_grad()
    y.sum().backward()
    assert y.grad.tolist() == [10.0, 10.0]
    assert x.grad.tolist() == [20.0, 20.0]


def test_the_root_s_own_hook_sees_the_seed():
    x = t([1.0, 2.0])
    y = x * 2.0
    log = []
    y.register_hook(logged(log, "y", 3.0))
    y.backward(gradient=np.array([1.0, -1.0]))
    assert values(log) == [("y", [1.0, -1.0])]
    assert x.grad.tolist() == [6.0, -6.0]


def test_a_hook_on_an_output_no_use_reached_sees_none():
    # a node with several outputs runs; the output nothing used has no gradient (PyTorch: None)
    x = t([1.0, 2.0])
    a, b = np.split(x * 1.0, 2)
    log = []
    b.register_hook(logged(log, "b"))
    a.sum().backward()
    assert values(log) == [("b", None)]
    assert x.grad.tolist() == [1.0, 0.0]


def test_a_hook_runs_on_every_backward_and_on_every_new_graph():
    x = t(2.0)
    calls = []
    x.register_hook(lambda g: calls.append(float(g.item())))
    y = x * 3.0
    y.backward(retain_graph=True)
    y.backward()
    for _ in range(2):  # a new graph each time, with a new AccumulateGrad behind x
        (x * 5.0).backward()
        gc.collect()
    assert calls == [3.0, 3.0, 5.0, 5.0]
    assert x.grad.item() == 16.0


def test_a_leaf_hook_registered_after_the_leaf_was_used_still_runs():
    x = t(2.0)
    y = x * 3.0  # x's AccumulateGrad exists already
    x.register_hook(lambda g: g * 2.0)
    y.backward()
    assert x.grad.item() == 6.0


# -- handles ----------------------------------------------------------------------------------------
def test_remove_takes_the_hook_out_and_twice_is_harmless():
    x = t(1.0)
    h = x.register_hook(lambda g: g * 5.0)
    kept = x.register_hook(lambda g: g + 1.0)
    h.remove()
    h.remove()
    (x * 2.0).backward()
    assert x.grad.item() == 3.0
    kept.remove()
    x.grad = None
    (x * 2.0).backward()
    assert x.grad.item() == 2.0


def test_a_hook_may_remove_itself_while_it_runs():
    x = t(1.0)
    calls = []

    def once(g):
        calls.append(1)
        handle.remove()
        return g * 10.0

    handle = x.register_hook(once)
    y = x * 2.0
    y.backward(retain_graph=True)
    y.backward()
    assert calls == [1]
    assert x.grad.item() == 22.0


# -- what is refused ------------------------------------------------------------------------------
def test_a_tensor_that_does_not_require_grad_refuses_a_hook():
    with pytest.raises(
        RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"
    ):
        t(1.0, requires_grad=False).register_hook(lambda g: g)
    x = t(1.0)
    with ad.no_grad():
        y = x * 2.0
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        y.register_hook(lambda g: g)


def test_a_hook_that_is_not_callable_is_refused():
    with pytest.raises(TypeError, match="function of the gradient"):
        t(1.0).register_hook(3.0)


@pytest.mark.parametrize(
    "hook, error, words",
    [
        (lambda g: g.sum(), RuntimeError, "changed the size of value: it returned shape \\(\\)"),
        (
            lambda g: g.astype(np.float32),
            RuntimeError,
            "changed the type of value: it returned dtype float32",
        ),
        (lambda g: 3.0, TypeError, "returned a float"),
    ],
    ids=["shape", "dtype", "not-a-tensor"],
)
def test_a_hook_must_return_the_gradient_s_shape_and_dtype(hook, error, words):
    x = t([1.0, 2.0])
    x.register_hook(hook)
    with pytest.raises(error, match=words):
        (x * 2.0).sum().backward()
    assert x.grad is None


def test_a_hook_may_return_a_numpy_array():
    x = t([1.0, 2.0])
    x.register_hook(lambda g: np.array([7.0, 8.0]))
    (x * 2.0).sum().backward()
    assert x.grad.tolist() == [7.0, 8.0]


READ_ONLY = r"a hook's gradient is read-only.*\(return g \* 2, not g \*= 2\)"


def doubles_in_place(g):
    g *= 2.0


def test_a_hook_cannot_change_its_argument_in_place():
    # add hands one array to both operands: a write into x's would change w's gradient too
    x = t([1.0, 2.0])
    w = t([3.0, 4.0])
    x.register_hook(doubles_in_place)
    with pytest.raises(RuntimeError, match=READ_ONLY):
        (x + w).sum().backward()
    assert x.grad is None
    x2, w2 = t([1.0, 2.0]), t([3.0, 4.0])
    x2.register_hook(lambda g: g * 2.0)  # the way to do it
    (x2 + w2).sum().backward()
    assert x2.grad.tolist() == [2.0, 2.0] and w2.grad.tolist() == [1.0, 1.0]


@pytest.mark.parametrize(
    "write",
    [
        lambda g: g.__iadd__(1.0),
        lambda g: g.__setitem__(0, 5.0),
        lambda g: g.zero_(),
        lambda g: g.fill_(1.0),
        lambda g: g.copy_(np.zeros(2)),
        lambda g: g.mul_(2.0),
        lambda g: g[0:1].__imul__(2.0),  # a view of it shares its memory
        lambda g: g.detach().__imul__(2.0),
        lambda g: g.sort(),
    ],
    ids=["+=", "setitem", "zero_", "fill_", "copy_", "mul_", "view", "detach", "sort"],
)
def test_every_in_place_write_into_a_hook_s_gradient_names_the_fix(write):
    x = t([1.0, 2.0])
    x.register_hook(write)
    with pytest.raises(RuntimeError, match=READ_ONLY):
        (x * 3.0).sum().backward()


def test_a_hook_may_write_into_a_copy_of_its_gradient():
    x = t([1.0, 2.0])
    w = t([3.0, 4.0])

    def doubles_a_copy(g):
        g = g.clone()
        g *= 2.0
        return g

    x.register_hook(doubles_a_copy)
    (x + w).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0] and w.grad.tolist() == [1.0, 1.0]


def test_a_hook_s_scalar_gradient_is_read_only_too():
    # along a chain of scalars the cotangents are NumPy scalars, which have no memory to
    # protect: g *= 2 rebound the hook's own Tensor and left the gradient as it was
    x = t(2.0)
    y = x * 3.0
    y.register_hook(doubles_in_place)
    with pytest.raises(RuntimeError, match=READ_ONLY):
        (y * y).backward()


def test_a_hook_s_gradient_is_read_only_under_create_graph():
    # the gradient carries history there; writing into it changed what flowed on (and what
    # another use of the same Tensor received), unlike the same hook without create_graph
    x = t([2.0, 3.0])
    y = x * 3.0
    y.register_hook(doubles_in_place)
    with pytest.raises(RuntimeError, match=READ_ONLY):
        (y * y).sum().backward(create_graph=True)


def test_a_hook_returning_its_gradient_under_create_graph_keeps_its_history():
    def run(hook):
        x = t([2.0, 3.0])
        y = x**3
        if hook is not None:
            y.register_hook(hook)
        (g,) = ad.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = ad.autograd.grad(g.sum(), x)
        return g.tolist(), h.tolist()

    assert run(lambda g: g) == run(None) == ([12.0, 27.0], [12.0, 18.0])


def test_a_hook_s_gradient_is_read_only_inside_transforms():
    def f(x):
        y = np.sin(x)
        y.register_hook(doubles_in_place)
        return np.sum(y * y)

    x = np.array([0.1, 0.2])
    with pytest.raises(RuntimeError, match=READ_ONLY):
        ad.grad(f)(x)
    with pytest.raises(RuntimeError, match=READ_ONLY):
        ad.grad(lambda x: f(x) * 1.0)(0.3)  # scalars
    with pytest.raises(RuntimeError, match=READ_ONLY):  # a gradient of another level: a Dual
        ad.hessian(f)(x)
    with pytest.raises(RuntimeError, match=READ_ONLY):  # a Tensor of the outer level
        ad.grad(lambda x: np.sum(ad.grad(f)(x)))(x)


def test_the_array_under_a_hook_s_gradient_refuses_writes_as_numpy_does():
    x = t([1.0, 2.0])
    x.register_hook(lambda g: g.detach().numpy().__setitem__(0, 9.0))
    with pytest.raises(ValueError, match="read-only"):
        (x * 3.0).sum().backward()


def test_a_read_only_array_that_is_no_hook_s_gradient_keeps_numpy_s_error():
    a = np.array([1.0, 2.0])
    a.flags.writeable = False
    with pytest.raises(ValueError, match="assignment destination is read-only"):
        ad.from_numpy(a).__imul__(2.0)


def test_a_hooked_gradient_kept_by_the_hook_is_not_changed_by_later_accumulation():
    x = t([1.0, 2.0])
    kept = []
    x.register_hook(lambda g: kept.append(g) or g * 1.0)
    y = x * 2.0
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert [k.tolist() for k in kept] == [[2.0, 2.0], [2.0, 2.0]]
    assert x.grad.tolist() == [4.0, 4.0]


# -- in-place writes and views ---------------------------------------------------------------------
def test_a_hook_stays_with_the_value_it_was_registered_on_after_an_in_place_write():
    x = t([1.0, 2.0])
    y = x * 2.0
    log = []
    y.register_hook(logged(log, "old", 10.0))
    z = y * 5.0
    y *= 3.0
    y.register_hook(logged(log, "new"))
    (z.sum() + y.sum()).backward()
    # the new y's gradient is 1; the old y's is 5 (through z) + 3 * 1 (through the write)
    assert values(log) == [("new", [1.0, 1.0]), ("old", [8.0, 8.0])]
    assert x.grad.tolist() == [160.0, 160.0]


def test_retain_grad_moves_with_the_tensor_while_its_hooks_stay():
    x = t([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    y.register_hook(lambda g: g * 10.0)
    z = y * 5.0
    y *= 3.0
    (z.sum() + y.sum()).backward()
    assert y.grad.tolist() == [1.0, 1.0]  # the new value's gradient, no hook on it
    assert x.grad.tolist() == [160.0, 160.0]


def test_a_hook_on_a_view_stays_with_it_when_its_base_is_written():
    x = t([1.0, 2.0, 3.0])
    y = x * 1.0
    v = y[0:2]
    log = []
    v.register_hook(logged(log, "v", 10.0))
    w = v * 5.0
    y *= 2.0  # v's value changes: v now reads the new y
    v.register_hook(logged(log, "v2"))
    (w.sum() + v.sum() + y.sum()).backward()
    # new y: 1 + [1, 1, 0] from v; old y: 2 * that + [50, 50, 0] from w's hooked use
    assert values(log) == [("v2", [1.0, 1.0]), ("v", [5.0, 5.0])]
    assert x.grad.tolist() == [54.0, 54.0, 2.0]


def test_a_hook_on_a_view_written_through_stays_with_the_old_value():
    x = t([1.0, 2.0, 3.0])
    y = x * 1.0
    v = y[1:]
    log = []
    v.register_hook(logged(log, "v", 10.0))
    w = v * 1.0
    v *= 3.0
    (w.sum() + y.sum()).backward()
    # y's new value: v's old value times 3 at [1:]; w used the old v
    assert values(log) == [("v", [4.0, 4.0])]
    assert x.grad.tolist() == [1.0, 40.0, 40.0]


# -- create_graph, the functional transforms, complex values --------------------------------------
def test_under_create_graph_a_hook_sees_a_gradient_with_history():
    x = t(2.0)
    y = x**2
    seen = []
    y.register_hook(lambda g: seen.append(g.requires_grad) or g * 3.0)
    (y * x).backward(create_graph=True)
    # y's gradient is x (recorded); hooked, 3x; x.grad = 3x * 2x + y = 7x^2
    assert seen == [True]
    assert x.grad.item() == 28.0
    # differentiating x.grad = 6 g x + y (g = x, y's gradient) passes through y's node again,
    # so the hook triples y's share once more: 6x + 6g + 3 * 2x = 36 at x = 2 (as PyTorch)
    (second,) = ad.autograd.grad(x.grad, x)
    assert second.item() == 36.0


def test_a_hook_inside_a_transform_changes_the_transform_s_gradient():
    def f(x):
        y = np.sin(x)
        y.register_hook(lambda g: g * 2.0)
        return np.sum(y)

    x = np.array([0.1, 0.2])
    np.testing.assert_allclose(ad.grad(f)(x), 2.0 * np.cos(x))


def test_a_hook_in_a_batched_sweep_sees_one_direction_at_a_time():
    shapes = []

    def f(x):
        y = x * 1.0
        y.register_hook(lambda g: shapes.append(g.shape) or g * np.array([1.0, 2.0, 3.0]))
        return y * 2.0

    J = ad.jacrev(f)(np.zeros(3))
    np.testing.assert_array_equal(J, np.diag([2.0, 4.0, 6.0]))
    assert shapes == [(3,)] * 3


def test_a_complex_leaf_s_hook_sees_the_gradient_pytorch_stores():
    z = ad.tensor(np.array([3 + 4j]), requires_grad=True)
    seen = []
    z.register_hook(lambda g: seen.append(g.detach().numpy().copy()) or g * 1j)
    np.sum(np.abs(z * z)).backward()  # |z|^2: the gradient 2z
    np.testing.assert_allclose(seen[0], [6 + 8j])
    np.testing.assert_allclose(z.grad.numpy(), [(6 + 8j) * 1j])


# -- the same programs on PyTorch -------------------------------------------------------------------
def _run(lib, program, seed):
    """Run program on ad or torch; returns the hook log and the leaves' gradients."""
    torch = lib == "torch" and pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    xv = rng.standard_normal(4)
    if torch:
        x = torch.tensor(xv, requires_grad=True)
    else:
        x = ad.tensor(xv, requires_grad=True)
    log = []

    def hook(name, scale):
        def h(g):
            log.append((name, None if g is None else np.array(g.detach().numpy())))
            return None if scale is None else g * scale

        return h

    program(x, hook, torch)
    return log, x.grad.detach().numpy() if torch else x.grad.numpy()


def _sin(v, torch):
    return torch.sin(v) if torch else np.sin(v)


def _program_chain(x, hook, torch):
    y = x * 2.0
    y.register_hook(hook("y", 3.0))
    z = _sin(y, torch)
    z.register_hook(hook("z", None))
    y2 = y[1:3]
    y2.register_hook(hook("y2", -1.0))
    ((z * z).sum() + (y2 * y2).sum()).backward()


def _program_writes(x, hook, torch):
    y = x * 1.5
    y.register_hook(hook("y-old", 2.0))
    v = y[0:2]
    v.register_hook(hook("v-old", None))
    a = v * 4.0
    y *= 3.0  # through the base: v reads the new y
    # PyTorch binds a Tensor's later hooks to the node its first hook went to, unless reading
    # grad_fn first gives a view its new node (ad always registers on the current one)
    assert v.grad_fn is not None
    y.register_hook(hook("y-new", 0.5))
    v.register_hook(hook("v-new", 7.0))
    b = y * y
    y.retain_grad()
    x.register_hook(hook("x", -2.0))
    (a.sum() + b.sum() + v.sum()).backward()


def _program_view_writes(x, hook, torch):
    y = x * 1.5
    y.register_hook(hook("y-old", 2.0))
    v = y[1:3]
    v *= 3.0  # through the view: y has new history
    v.register_hook(hook("v-new", 7.0))
    w = y[0:2]
    w *= 0.5  # (a hook on w before this write: see the test after these)
    w.register_hook(hook("w", -1.0))
    assert v.grad_fn is not None
    y.register_hook(hook("y-new", None))
    (v.sum() + (y * y).sum() + w.sum()).backward()


def _program_leaf_many(x, hook, torch):
    x.register_hook(hook("x1", 2.0))
    x.register_hook(hook("x2", None))
    x.register_hook(hook("x3", 0.25))
    y = x * x
    y.register_hook(hook("y", 3.0))
    (y.sum() + (x * 3.0).sum()).backward()


@pytest.mark.parametrize(
    "program", [_program_chain, _program_writes, _program_view_writes, _program_leaf_many]
)
@pytest.mark.parametrize("seed", range(3))
def test_hooks_agree_with_pytorch(program, seed):
    got_log, got = _run("ad", program, seed)
    want_log, want = _run("torch", program, seed)
    assert [n for n, _ in got_log] == [n for n, _ in want_log]
    for (_, g), (_, w) in zip(got_log, want_log):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_complex_hooks_agree_with_pytorch():
    torch = pytest.importorskip("torch")
    zv = np.array([1 + 2j, -0.5 + 0.25j])

    def run(lib):
        z = lib.tensor(zv, requires_grad=True)
        log = []
        w = z * (2 - 1j)
        w.register_hook(lambda g: log.append(np.array(g.detach().numpy())) or g * (0.5 + 1j))
        z.register_hook(lambda g: log.append(np.array(g.detach().numpy())) or None)
        mod = torch.abs if lib is torch else np.abs
        (mod(w * w) + mod(z)).sum().backward()
        return log, z.grad.detach().numpy() if lib is torch else z.grad.numpy()

    got_log, got = run(ad)
    want_log, want = run(torch)
    for g, w in zip(got_log, want_log, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_hook_on_a_view_written_through_sees_what_pytorch_leaves_out():
    # ad: the hook on v's old value sees that value's whole gradient, the write's share
    # included (1 through w, 3 through v *= 3), as it does for a Tensor written in place that
    # is not a view. PyTorch sends the write's share of a view straight to the base, so the
    # view's old hook sees the direct use alone. The leaves' gradients agree.
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        y = x * 1.0
        v = y[1:]
        log = []
        v.register_hook(lambda g: log.append(g.detach().numpy().tolist()))
        w = v * 1.0
        v *= 3.0
        (w.sum() + y.sum()).backward()
        return log, x.grad.detach().numpy().tolist()

    assert run(ad) == ([[4.0, 4.0]], [1.0, 4.0, 4.0])
    assert run(torch) == ([[1.0, 1.0]], [1.0, 4.0, 4.0])


# -- what a graph without hooks looks like --------------------------------------------------------
def test_a_hook_lives_on_its_value_s_node_and_recording_is_unchanged_by_it():
    x = t([1.0, 2.0])
    y = x * 2.0
    z = y * 3.0
    assert y.grad_fn.retained is None and z.grad_fn.retained is None
    y.register_hook(lambda g: g)
    assert z.grad_fn.retained is None and set(y.grad_fn.retained) == {0}
    assert set(ad.Tensor.__slots__) == {
        "_data",
        "_requires_grad",
        "_grad_fn",
        "_output_nr",
        "_vc",
        "_grad",
        "_retains_grad",
        "_accumulator",
        "_view",
        "level",
        "__weakref__",
    }
