"""An adversarial review of the eager reverse engine's hot path, against PyTorch and finite
differences: the sweep in decreasing sequence order, kept partials on scalar nodes, the
elementwise fast path's eligibility, cotangent sums written in place, and which gradients
a .grad may keep without a copy. Every check asks for a number; a wrong one fails."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import ad
from ad import registry

torch = pytest.importorskip("torch")


def _t(a, requires_grad=True, dtype=torch.float64):
    return torch.tensor(np.asarray(a), dtype=dtype, requires_grad=requires_grad)


def _close(ours, theirs, rtol=1e-13):
    ours = None if ours is None else np.asarray(ours.detach().numpy() if hasattr(ours, "detach") else ours)
    theirs = None if theirs is None else theirs.detach().numpy()
    if ours is None or theirs is None:
        return ours is None and theirs is None
    return ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=rtol, atol=1e-15)


# -- the sequence-order invariant ------------------------------------------------------------
def _edges_go_down(roots) -> int:
    """Walk every node reachable from roots; assert each edge leads to a lower sequence
    number (what lets the sweep run in decreasing order without dependency counts)."""
    seen, stack = set(), [r for r in roots if r is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for e in node.next_edges:
            if e is not None:
                assert e[0].seq < node.seq, (node, e[0])
                stack.append(e[0])
    return len(seen)


def test_every_edge_leads_to_an_older_node_through_views_writes_and_create_graph():
    x = ad.tensor(np.arange(1.0, 7.0), requires_grad=True)
    h = x * 1.0
    a, b = h[0:4], h[2:6]  # overlapping views of one base
    a *= 2.0  # CopySlices on h; b is now stale
    c = b * b  # b's history refreshed from h's new node
    h.retain_grad()
    late = ad.tensor(3.0, requires_grad=True)  # a leaf first used after everything above
    y = (c * late).sum() + (h * h).sum()
    assert _edges_go_down([y.grad_fn]) > 8
    y.backward(create_graph=True)
    g = (x.grad * x.grad).sum() + late.grad
    _edges_go_down([g.grad_fn])  # the recorded backward pass keeps the order too
    x.grad = late.grad = None
    g.backward()
    tx = _t(np.arange(1.0, 7.0))
    tlate = _t(3.0)
    th = tx * 1.0
    ta, tb = th[0:4], th[2:6]
    ta *= 2.0
    tc = tb * tb
    ty = (tc * tlate).sum() + (th * th).sum()
    ty.backward(create_graph=True)
    tg = (tx.grad * tx.grad).sum() + tlate.grad
    tx.grad = tlate.grad = None
    tg.backward()
    assert _close(x.grad, tx.grad) and _close(late.grad, tlate.grad)


def test_a_node_receiving_from_many_later_consumers_runs_once_with_their_sum():
    # h feeds consumers made in an order unrelated to the graph's depth; with retain_grad
    # on h, a second run of h's node would double h.grad
    x = ad.tensor(np.array([0.3, -0.7]), requires_grad=True)
    tx = _t([0.3, -0.7])
    outs = []
    for lib, xx in ((np, x), (torch, tx)):
        h = xx * 2.0
        h.retain_grad()
        u = lib.sin(h)
        v = h * u
        w = lib.exp(v) + h
        y = (w * u + v * h).sum()
        y.backward()
        outs.append(h)
    assert _close(x.grad, tx.grad) and _close(outs[0].grad, outs[1].grad)


# -- scalar nodes: kept partials, 0-d arrays and NumPy scalars --------------------------------
def _scalar_program(lib, x, w, c):
    """Fan-out, diamonds and identity-passing ops over scalars (add and subtract pass their
    cotangent on unchanged)."""
    a = x * w
    b = a + x
    d = lib.exp(a) - b
    e = d * d + a * c
    f = (e + 0.0) * x - w
    return f * f + b


@pytest.mark.parametrize(
    "make",
    [lambda v: ad.tensor(v, requires_grad=True), lambda v: ad.Tensor(np.float64(v), requires_grad=True)],
    ids=["0-d array leaves", "numpy scalar leaves"],
)
@pytest.mark.parametrize("c", [1.5, np.float64(1.5), np.array(1.5)], ids=["float", "np.float64", "0-d array"])
def test_scalar_programs_match_pytorch_over_two_retained_backwards(make, c):
    x, w = make(0.4), make(-0.9)
    tx, tw = _t(0.4), _t(-0.9)
    y = _scalar_program(np, x, w, c)
    ty = _scalar_program(torch, tx, tw, float(c))
    assert float(y) == pytest.approx(float(ty), rel=1e-14)
    y.backward(retain_graph=True)
    ty.backward(retain_graph=True)
    assert _close(x.grad, tx.grad) and _close(w.grad, tw.grad)
    y.backward()  # accumulates: the kept partials are read again, unchanged
    ty.backward()
    assert _close(x.grad, tx.grad) and _close(w.grad, tw.grad)


def test_retained_scalar_gradients_match_pytorch_and_stay_apart():
    vals = {}
    for lib, mk in ((np, lambda v: ad.tensor(v, requires_grad=True)), (torch, _t)):
        x, w = mk(0.7), mk(1.3)
        a = x + w  # add hands one cotangent to x, w and whoever uses a
        a.retain_grad()
        b = a + 0.0
        b.retain_grad()
        y = b * b + a
        y.backward()
        vals[lib] = (x, w, a, b)
    (x, w, a, b), (tx, tw, ta, tb) = vals[np], vals[torch]
    for ours, theirs in zip((x, w, a, b), (tx, tw, ta, tb)):
        assert _close(ours.grad, theirs.grad)
    grads = [t.grad.numpy() for t in (x, w, a, b)]
    for i in range(4):
        for j in range(i):
            assert not np.shares_memory(grads[i], grads[j])


def test_float32_scalar_leaves_keep_their_dtype_and_pytorchs_gradient():
    x = ad.tensor(np.float32(0.3), requires_grad=True)
    tx = _t(0.3, dtype=torch.float32)
    for lib, xx in ((np, x), (torch, tx)):
        y = lib.exp(xx * xx) * xx - xx
        y.backward()
    assert x.grad.dtype == np.float32
    assert np.allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_a_kept_partial_of_a_leaf_updated_under_no_grad_raises_as_in_pytorch():
    x = ad.tensor(2.0, requires_grad=True)
    y = x * x  # keeps x for both partials: a 0-d array, x's own memory
    with ad.no_grad():
        x += 1.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()
    tx = _t(2.0)
    ty = tx * tx
    with torch.no_grad():
        tx += 1.0
    with pytest.raises(RuntimeError):
        ty.backward()


def test_a_kept_partial_seen_through_a_0d_view_is_guarded():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 1.0
    s = h[1:2].reshape(())  # a 0-d view of h's memory (h[1] would be a copy)
    y = s * s  # a scalar node keeping s's memory as its partial
    h[1] = 5.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_an_sgd_step_between_forward_and_backward_raises_instead_of_using_new_weights():
    w = ad.tensor(1.5, requires_grad=True)
    opt = ad.SGD([w], lr=0.1)
    y = w * w
    y.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_create_graph_through_scalar_nodes_then_plain_backward_matches_pytorch():
    x = ad.tensor(0.6, requires_grad=True)
    w = ad.tensor(-1.1, requires_grad=True)
    tx, tw = _t(0.6), _t(-1.1)
    for lib, a, b in ((np, x, w), (torch, tx, tw)):
        y = lib.exp(a * b) * a + b * b * a
        y.backward(create_graph=True)
        gx = a.grad
        a.grad = b.grad = None
        z = gx * gx + gx * b
        z.backward(retain_graph=True)
        z.backward()  # kept partials of the recorded backward pass, read twice
    assert _close(x.grad, tx.grad) and _close(w.grad, tw.grad)


# -- functional transforms and levels over scalar code ----------------------------------------
def _f(x):
    return np.exp(x[0] * x[1]) * x[0] - x[1] * x[1] * x[0] + x[0] / x[1]


def _hessian_fd(f, x, h=1e-5):
    n = len(x)
    H = np.zeros((n, n))
    g = ad.grad(f)
    for i in range(n):
        e = np.zeros(n)
        e[i] = h
        H[:, i] = (g(x + e) - g(x - e)) / (2 * h)
    return H


@pytest.mark.parametrize("mode", ["fwd-rev", "rev-fwd", "rev-rev", "fwd-fwd"])
def test_hvp_of_scalar_code_matches_pytorch_in_every_mode(mode):
    x = np.array([0.4, -1.3])
    v = np.array([0.7, 0.2])
    _, hv = ad.hvp(_f, (x,), (v,), mode=mode)
    tx = _t(x)
    g = torch.autograd.grad(
        torch.exp(tx[0] * tx[1]) * tx[0] - tx[1] * tx[1] * tx[0] + tx[0] / tx[1], tx, create_graph=True
    )[0]
    want = torch.autograd.grad(g, tx, _t(v, requires_grad=False))[0].numpy()
    assert np.allclose(hv, want, rtol=1e-12)
    assert np.allclose(hv, _hessian_fd(_f, x) @ v, rtol=1e-6)


def test_grad_of_grad_of_scalars_and_an_eager_tensor_inside():
    w = ad.tensor(1.7, requires_grad=True)

    def f(x):
        return x * x * x * w + np.sin(x * w)

    d2 = ad.grad(ad.grad(f))(0.3)
    wv = 1.7
    assert float(d2) == pytest.approx(6 * 0.3 * wv - wv * wv * np.sin(0.3 * wv), rel=1e-13)
    assert w.grad is None  # the eager Tensor was a constant to both transforms


def test_jacrev_batches_through_kept_partials_of_0d_array_constants():
    c = np.array(2.5)

    def f(x):
        a = x[0] * c + x[1]
        b = np.exp(a) * x[1] - c
        return np.stack([a * b, b - a, a * a])

    x = np.array([0.2, -0.4])
    assert np.allclose(ad.jacrev(f)(x), ad.jacfwd(f)(x), rtol=1e-13, atol=0)


def test_vjp_fn_results_are_independent_of_each_other_and_of_the_cotangent():
    out, vjp_fn = ad.vjp(lambda x, w: (x + w) + 0.0, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    ct = np.array([1.0, -1.0])
    gx, gw = vjp_fn(ct)
    gx2, _ = vjp_fn(ct)
    gx[...] = 7.0
    assert np.array_equal(gw, [1.0, -1.0]) and np.array_equal(gx2, [1.0, -1.0])
    assert np.array_equal(ct, [1.0, -1.0])


def test_checkpoint_under_create_graph_gives_the_uncheckpointed_second_derivative():
    def layer(h):
        return np.sin(h) * h + h * h

    got, want = [], []
    for f, out in ((ad.checkpoint(layer), got), (layer, want)):
        x = ad.tensor(np.array([0.3, -0.8]), requires_grad=True)
        y = f(f(x)).sum()
        y.backward(create_graph=True)
        g = x.grad
        x.grad = None
        (g * g).sum().backward()
        out.append(x.grad.numpy())
    assert np.allclose(got[0], want[0], rtol=1e-13)


# -- the fast path's eligibility -----------------------------------------------------------
@pytest.mark.parametrize(
    "const",
    [1.0 + 2.0j, np.complex128(1.0 - 0.5j), np.array(0.5 + 1.0j), True, np.True_, 3, np.int64(-2)],
    ids=["complex", "np.complex128", "complex 0-d", "bool", "np.bool_", "int", "np.int64"],
)
def test_constants_of_other_kinds_give_pytorchs_gradient(const):
    x = ad.tensor(np.array([0.5, -1.5]), requires_grad=True)
    tx = _t([0.5, -1.5])
    tconst = torch.tensor(np.asarray(const))
    y = x * const + np.exp(x) * const
    ty = tx * tconst + torch.exp(tx) * tconst
    if np.iscomplexobj(const):
        y, ty = np.abs(y) ** 2, ty.abs() ** 2
    y.sum().backward()
    ty.sum().backward()
    assert _close(x.grad, tx.grad)


@pytest.mark.xfail(
    strict=True,
    reason="Tensor._elementwise computes the primal with op.scalar (operator.mul) for any "
    "operands, not only NumPy scalars: with an np.matrix operand, operator.mul is matrix.__rmul__, "
    "a matrix product, so np.multiply(x, M) returns x @ M while the VJP is elementwise",
)
def test_a_matrix_constant_is_multiplied_elementwise_by_np_multiply():
    # an ndarray subclass whose * is a matrix product: np.multiply must stay elementwise
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        M = np.matrix([[1.0, 2.0], [3.0, 4.0]])
        x0 = np.array([[0.5, -1.0], [2.0, 0.25]])
        y = np.multiply(ad.tensor(x0, requires_grad=True), M)
        assert np.array_equal(np.asarray(y.detach().numpy()), np.asarray(np.multiply(x0, M)))


def test_grad_mode_is_per_thread_on_the_fast_path():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    seen = {}
    ready, done = threading.Event(), threading.Event()

    def other():
        ready.wait()
        seen["other"] = (x * x).requires_grad  # this thread's grad mode: on
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with ad.no_grad():
        ready.set()
        done.wait()
        seen["here"] = (x * x).requires_grad
    t.join()
    assert seen == {"other": True, "here": False}


def test_forward_over_reverse_of_scalar_code():
    # forward over reverse: d/dt of the gradient of x -> x^3 at x = 2 + t
    _, t = ad.jvp(lambda x0: ad.grad(lambda x: x * x * x)(x0), (2.0,), (1.0,))
    assert float(t) == pytest.approx(12.0, rel=1e-14)


# -- cotangent sums in place and gradients kept without a copy ---------------------------------
def test_a_gradient_kept_without_copy_is_never_the_array_another_node_sums_into():
    # a is used by a leaf's AccumulateGrad (made late: w is first used after z) and by a
    # non-storing node; both get the one array add hands to its operands
    res = {}
    for lib, mk in ((np, lambda v: ad.tensor(np.array(v), requires_grad=True)), (torch, _t)):
        w = mk([1.0, 2.0, 3.0])
        x = mk([0.5, -0.5, 2.0])
        z = w + 0.0
        y = x + z  # AccumulateGrad(x) is newer than z's node: it runs first
        s = (y * 1.0).sum() + (z * z).sum()
        s.backward(retain_graph=True)
        first = (x.grad.numpy().copy(), w.grad.numpy().copy()) if lib is np else None
        s.backward()  # .grad updated in place: each alone
        res[lib] = (x, w, first)
    (x, w, first), (tx, tw, _) = res[np], res[torch]
    assert _close(x.grad, tx.grad) and _close(w.grad, tw.grad)
    assert np.allclose(x.grad.numpy(), 2 * first[0]) and np.allclose(w.grad.numpy(), 2 * first[1])


def test_gradients_stay_apart_from_each_other_and_from_the_callers_gradient():
    v = np.array([1.0, -2.0, 0.5])
    kept = v.copy()
    x = ad.tensor(np.array([0.1, 0.2, 0.3]), requires_grad=True)
    w = ad.tensor(np.array([1.0, 1.0, 1.0]), requires_grad=True)
    h = x + w
    h.retain_grad()
    y = (h + 0.0).reshape(3) - 0.0
    y.retain_grad()
    y.backward(gradient=v)
    grads = [x.grad, w.grad, h.grad, y.grad]
    for g in grads:
        assert np.array_equal(g.numpy(), v)
        assert not np.shares_memory(g.numpy(), v)
    for g in grads:
        g.numpy()[...] += 1.0
    assert np.array_equal(v, kept)
    for g in grads:
        assert np.array_equal(g.numpy(), v + 1.0)


def test_a_fan_out_sum_in_place_leaves_a_retained_gradient_alone():
    res = {}
    for lib, mk in ((np, lambda v: ad.tensor(np.array(v), requires_grad=True)), (torch, _t)):
        x = mk([0.2, 0.4])
        a = x * 3.0
        b = a + 1.0
        b.retain_grad()  # b's cotangent passes on unchanged into a's buffer first ...
        c = lib.sin(a)  # ... which later sums c's contribution: never into b.grad
        y = (b * 2.0).sum() + (c * a).sum() + (a * 1.0).sum()
        y.backward()
        res[lib] = (x, b)
    assert _close(res[np][0].grad, res[torch][0].grad) and _close(res[np][1].grad, res[torch][1].grad)


# -- caches keyed by an op's name ------------------------------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason="graph.stored_partials caches an elementwise op's kept partials by op.name: an op "
    "registered again under a name that was unregistered gets the old op's partials (the old "
    "constant 2.0 instead of 3x^2), a silently wrong gradient on scalar nodes",
)
def test_an_op_registered_again_under_a_freed_name_uses_its_own_partial_on_scalars():
    first = ad.defop("engine_review_op", lambda x: 2.0 * x, derivs=(2.0,))
    try:
        x = ad.tensor(1.5, requires_grad=True)
        first(x).backward()
        assert float(x.grad) == 2.0
    finally:
        registry.unregister("engine_review_op")
    second = ad.defop("engine_review_op", lambda x: x**3, derivs=(lambda x, y: 3 * x * x,))
    try:
        x = ad.tensor(1.5, requires_grad=True)
        second(x).backward()
        assert float(x.grad) == pytest.approx(3 * 1.5**2, rel=1e-14)
    finally:
        registry.unregister("engine_review_op")


@pytest.mark.xfail(
    strict=True,
    reason="graph.reads caches what an op's VJP reads by op.name: an op registered again under "
    "a freed name keeps stand-ins for the operands its partial reads (NaN gradient) and sets "
    "no version guard on them",
)
def test_an_op_registered_again_under_a_freed_name_reads_its_own_operands():
    first = ad.defop("engine_review_reads", lambda x: 2.0 * x, derivs=(2.0,))
    try:
        first(ad.tensor(np.ones(2), requires_grad=True)).sum().backward()
    finally:
        registry.unregister("engine_review_reads")
    second = ad.defop("engine_review_reads", lambda x: x**3, derivs=(lambda x, y: 3 * x * x,))
    try:
        x = ad.tensor(np.array([1.5, 2.0]), requires_grad=True)
        second(x).sum().backward()
        assert np.allclose(x.grad.numpy(), 3 * np.array([1.5, 2.0]) ** 2, rtol=1e-14)
    finally:
        registry.unregister("engine_review_reads")


# -- create_graph: a graph-carrying gradient shared by two leaves -----------------------------
@pytest.mark.xfail(
    strict=True,
    reason="graph.accumulate stores a graph-carrying cotangent as .grad without a clone: with "
    "create_graph, x.grad and w.grad of x + w are one Tensor, so an in-place change of one "
    "changes the other (PyTorch clones)",
)
def test_create_graph_gradients_of_two_leaves_sharing_a_cotangent_are_separate():
    x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w = ad.tensor(np.array([3.0, 4.0]), requires_grad=True)
    ((x + w) ** 2).sum().backward(create_graph=True)
    tx, tw = _t([1.0, 2.0]), _t([3.0, 4.0])
    ((tx + tw) ** 2).sum().backward(create_graph=True)
    gx, tgx = x.grad, tx.grad
    gx *= 0.5
    tgx *= 0.5
    assert _close(w.grad, tw.grad)


# -- an array a rule keeps, handed out as a cotangent ----------------------------------------
@pytest.mark.xfail(
    strict=True,
    reason="Sweep.owns decides that a .grad may keep a cotangent without a copy from how often "
    "the sweep delivered it, which cannot see a holder outside the sweep: a custom VJP that "
    "returns an array it keeps (a cached zero) has that array become x.grad, and the next "
    "backward's in-place accumulation writes into the rule's array (PyTorch reads the "
    "reference count and clones)",
)
def test_an_array_a_custom_vjp_keeps_never_becomes_a_gradient_updated_in_place():
    zero = np.zeros(2)
    stop = ad.defop(
        "engine_review_stop",
        lambda x: x.copy(),
        jvp=lambda ts, ps, out, params, batched: None if ts[0] is None else ts[0] * 0.0,
        vjp=lambda ct, ps, out, params, batched: (zero,),
    )
    tzero = torch.zeros(2, dtype=torch.float64)

    class Stop(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            return tzero

    try:
        x = ad.tensor(np.array([1.0, 2.0]), requires_grad=True)
        stop(x).sum().backward()
        (x * 2.0).sum().backward()  # accumulates into x.grad in place
        z = ad.tensor(np.array([5.0, 6.0]), requires_grad=True)
        stop(z).sum().backward()
        tx = _t([1.0, 2.0])
        Stop.apply(tx).sum().backward()
        (tx * 2.0).sum().backward()
        tz = _t([5.0, 6.0])
        Stop.apply(tz).sum().backward()
        assert np.array_equal(tzero.numpy(), [0.0, 0.0])  # PyTorch never wrote it
        assert _close(z.grad, tz.grad) and np.array_equal(zero, [0.0, 0.0])
    finally:
        registry.unregister("engine_review_stop")
