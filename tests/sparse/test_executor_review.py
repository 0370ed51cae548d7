"""executor= under review: every Jacobian transform on threads, processes and an in-process
Dask cluster gives the serial result bit for bit (values, dtypes, structure), for chunks
that do not divide n, chunk=1, fewer passes than workers, pytrees and argnums tuples,
float32 and complex; the serial result is JAX's. A failing f, an f that cannot travel, a
traced value f closes over and what is not an executor each raise an error that says so."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

import ad

RNG = np.random.default_rng(0)
X = RNG.standard_normal(7)
A = RNG.standard_normal((5, 7))
TREE = {"a": RNG.standard_normal(3), "c": RNG.standard_normal((2, 2))}
B = RNG.standard_normal(2)
Z = RNG.standard_normal(4) + 1j * RNG.standard_normal(4)


def wide(x, np=np):
    return np.tanh(A @ x) * x[:5]


def scalar(x, np=np):
    return np.sum(np.sin(x) * x[::-1]) + np.sum(x[1:] * x[:-1]) ** 2


def tree(d, b, np=np):
    return {"y": np.sin(d["a"]) * b[0], "z": (np.sum(b) * d["a"][:2], np.cos(d["c"]))}


def tree_scalar(d, b, np=np):
    return np.sum(tree(d, b, np)["y"] ** 2)


def holomorphic(z, np=np):
    return np.sin(z) * z[::-1]


def _transforms(executor, chunk):
    """Every transform that takes executor=, at one chunk size."""
    kw = {"chunk": chunk, "executor": executor}
    x32 = X.astype(np.float32)
    return {
        "jacfwd": ad.jacfwd(wide, **kw)(X),
        "jacrev": ad.jacrev(wide, **kw)(X),
        "jacobian": ad.jacobian(wide, **kw)(X),
        "jacobian forward": ad.jacobian(wide, mode="forward", **kw)(X),
        "hessian": ad.hessian(scalar, **kw)(X),
        "float32 jacfwd": ad.jacfwd(wide, **kw)(x32),
        "float32 jacrev": ad.jacrev(wide, **kw)(x32),
        "float32 hessian": ad.hessian(scalar, **kw)(x32),
        "pytree jacfwd": ad.jacfwd(tree, argnums=(0, 1), **kw)(TREE, B),
        "pytree jacrev": ad.jacrev(tree, argnums=(0, 1), **kw)(TREE, B),
        "pytree jacrev argnums=1": ad.jacrev(tree, argnums=1, **kw)(TREE, B),
        "pytree hessian": ad.hessian(tree_scalar, argnums=(0, 1), **kw)(TREE, B),
        "holomorphic jacfwd": ad.jacfwd(holomorphic, holomorphic=True, **kw)(Z),
        "holomorphic jacrev": ad.jacrev(holomorphic, holomorphic=True, **kw)(Z),
        "sparse forward": ad.sparse_jacobian(wide, X, "forward", **kw).toarray(),
        "sparse reverse": ad.sparse_jacobian(wide, X, "reverse", **kw).toarray(),
        "sparse float32": ad.sparse_jacobian(wide, x32, **kw).toarray(),
        "sparse hessian": ad.sparse_hessian(scalar, X, **kw).toarray(),
    }


def _assert_identical(got, want, where=""):
    """Equal bit for bit, in the same structure and dtypes (np.array_equal alone ignores dtype)."""
    assert type(got) is type(want), where
    if isinstance(want, dict):
        assert got.keys() == want.keys(), where
        for k in want:
            _assert_identical(got[k], want[k], f"{where}[{k!r}]")
    elif isinstance(want, tuple | list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            _assert_identical(g, w, f"{where}[{i}]")
    else:
        assert got.dtype == want.dtype and got.shape == want.shape, where
        assert np.array_equal(got, want), where


@pytest.fixture(scope="module")
def executors():
    """A thread pool, a process pool and an in-process Dask cluster, each of 3 workers (more
    than the passes of chunk=None), made once for the module."""
    # forkserver, not fork: a forked copy of a process running JAX's threads may deadlock
    processes = ProcessPoolExecutor(3, mp_context=multiprocessing.get_context("forkserver"))
    made = {"threads": ThreadPoolExecutor(3), "processes": processes}
    distributed = None
    try:
        import distributed
    except ImportError:
        pass
    if distributed is not None:
        cluster = distributed.LocalCluster(
            n_workers=3, threads_per_worker=1, processes=False, dashboard_address=None
        )
        client = distributed.Client(cluster)
        made["dask"] = client.get_executor()
    yield made
    made["threads"].shutdown()
    made["processes"].shutdown()
    if distributed is not None:
        client.close()
        cluster.close()


@pytest.mark.parametrize("chunk", [None, 1, 3])  # one pass; one per direction; 3 not dividing 7
def test_every_transform_on_every_executor_is_the_serial_run_bit_for_bit(executors, chunk):
    serial = _transforms(None, chunk)
    for name, executor in executors.items():
        _assert_identical(_transforms(executor, chunk), serial, name)


def test_the_serial_results_are_jaxs(jax64):
    jnp, jit = jax64.numpy, jax64.jit  # JAX's derivatives compiled: op by op they take seconds
    serial = _transforms(None, 3)
    J = jit(jax64.jacfwd(lambda x: wide(x, np=jnp)))(X)
    np.testing.assert_allclose(serial["jacfwd"], J, rtol=1e-13)
    np.testing.assert_allclose(serial["jacrev"], J, rtol=1e-13)
    np.testing.assert_allclose(serial["sparse reverse"], J, rtol=1e-13)
    H = jit(jax64.hessian(lambda x: scalar(x, np=jnp)))(X)
    np.testing.assert_allclose(serial["hessian"], H, rtol=1e-13)
    np.testing.assert_allclose(serial["sparse hessian"], H, rtol=1e-13)
    want = jit(jax64.jacrev(lambda d, b: tree(d, b, np=jnp), argnums=(0, 1)))(TREE, B)
    ad.testing.assert_trees_close(serial["pytree jacrev"], want, rtol=1e-13)
    want = jit(jax64.jacfwd(lambda z: holomorphic(z, np=jnp), holomorphic=True))(Z)
    np.testing.assert_allclose(serial["holomorphic jacrev"], want, rtol=1e-13)


# -- errors -------------------------------------------------------------------------------------------
def failing(x):
    raise ValueError("f failed on purpose at the station")


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev, ad.hessian])
def test_an_exception_inside_f_on_a_worker_is_raised_with_its_message(executors, jac):
    for executor in executors.values():
        with pytest.raises(ValueError, match="f failed on purpose at the station"):
            jac(failing, chunk=2, executor=executor)(X)


def test_a_failing_task_cancels_the_tasks_not_yet_started():
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("the first pass fails")
        return np.sin(x)

    with ThreadPoolExecutor(1) as pool, pytest.raises(ValueError, match="the first pass fails"):
        ad.jacfwd(f, chunk=1, executor=pool)(X)
    assert len(calls) == 1  # not the 7 passes


def test_a_lambda_travels_to_a_process_pool(executors):
    f = lambda x: np.sin(x) * 2.0  # noqa: E731
    got = ad.jacfwd(f, chunk=2, executor=executors["processes"])(X)
    _assert_identical(got, ad.jacfwd(f, chunk=2)(X))


@pytest.mark.parametrize("where", ["processes", "dask"])
def test_an_f_that_cannot_be_pickled_is_refused_with_what_to_do(executors, where):
    if where not in executors:
        pytest.skip("dask.distributed is not installed")
    lock = threading.Lock()

    def f(x):
        with lock:
            return np.sin(x)

    with pytest.raises(TypeError, match=r"executor=.*pickl.*_thread\.lock.*ThreadPoolExecutor"):
        ad.jacfwd(f, chunk=2, executor=executors[where])(X)
    with ThreadPoolExecutor(2) as pool:  # which shares f
        _assert_identical(ad.jacfwd(f, chunk=2, executor=pool)(X), ad.jacfwd(f, chunk=2)(X))


@pytest.mark.parametrize("where", ["processes", "dask"])
@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_a_traced_value_f_closes_over_cannot_travel_to_other_workers(executors, where, jac):
    # pickled, a Tensor would arrive cut off from the gradient's tape: in-process Dask gave 0.0
    if where not in executors:
        pytest.skip("dask.distributed is not installed")

    def total(w):
        return jac(lambda t: t * w, chunk=2, executor=executors[where])(X).sum()

    with pytest.raises(TypeError, match="executor=: f closes over a value traced"):
        ad.grad(total)(np.array(2.0))
    with pytest.raises(TypeError, match="executor=: f closes over a value traced"):
        ad.jacfwd(total)(np.array(2.0))


@pytest.mark.parametrize("jac", [ad.jacfwd, ad.jacrev])
def test_a_thread_pool_shares_a_traced_value_f_closes_over(jac, jax64):
    def total(w, executor):
        return jac(lambda t: np.sin(t * w), chunk=2, executor=executor)(X).sum()

    want = jax64.grad(lambda w: jax64.jacfwd(lambda t: jax64.numpy.sin(t * w))(X).sum())(2.0)
    with ThreadPoolExecutor(2) as pool:
        got = ad.grad(lambda w: total(w, pool))(np.array(2.0))
    # the Jacobian is the serial one bit for bit; its derivative in w sums over one recording
    # of f per task instead of one in all, so to rounding
    np.testing.assert_allclose(got, ad.grad(lambda w: total(w, None))(np.array(2.0)), rtol=1e-14)
    np.testing.assert_allclose(got, want, rtol=1e-13)


@pytest.mark.parametrize("executor", [4, "dask", ThreadPoolExecutor])
def test_what_is_not_an_executor_is_refused_by_name(executor):
    for run in (
        lambda: ad.jacfwd(np.sin, executor=executor)(X),
        lambda: ad.jacrev(np.sin, executor=executor)(X),
        lambda: ad.sparse_jacobian(np.sin, X, executor=executor),
    ):
        with pytest.raises(TypeError, match="executor= takes a concurrent.futures.Executor"):
            run()


def test_an_executor_that_was_shut_down_raises_rather_than_waits():
    pool = ThreadPoolExecutor(2)
    pool.shutdown()
    with pytest.raises(RuntimeError, match="shutdown"):
        ad.jacfwd(np.sin, chunk=2, executor=pool)(X)


# -- hooks on workers --------------------------------------------------------------------------------
def clipped(x):
    """3 sin(x) with sin(x)'s gradient clipped at 1: a hook that is not linear."""
    y = np.sin(x)
    y.register_hook(lambda g: g.clip(-1.0, 1.0))
    return y * 3.0


def test_a_hook_runs_in_every_task_of_jacrev_as_in_the_serial_sweeps(executors):
    serial = ad.jacrev(clipped, chunk=2)(X)
    np.testing.assert_allclose(serial, np.diag(np.cos(X)), rtol=1e-14)  # each row clipped alone
    for executor in executors.values():
        _assert_identical(ad.jacrev(clipped, chunk=2, executor=executor)(X), serial)
        got = ad.hessian(lambda x: clipped(x).sum(), chunk=2, executor=executor)(X)
        _assert_identical(got, ad.hessian(lambda x: clipped(x).sum(), chunk=2)(X))


def test_forward_mode_on_a_worker_refuses_a_hook_by_name(executors):
    for executor in executors.values():
        with pytest.raises(RuntimeError, match="register_hook on a value traced in forward mode"):
            ad.jacfwd(clipped, chunk=2, executor=executor)(X)
