"""executor=: every Jacobian transform's passes as tasks give exactly the serial result, on
threads and (when dask.distributed is installed) on a LocalCluster of two worker processes."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ad
from ad.compare import sparse as problems

P = problems.reaction_diffusion(12)
SCALAR = lambda x: np.sum(np.sin(x) * x[::-1]) + np.sum(x[1:] * x[:-1])  # noqa: E731


def _all(executor):
    """Every transform that takes executor=, with chunks small enough for several passes."""
    f, x = P.f, P.x0
    return {
        "jacfwd": ad.jacfwd(f, chunk=5, executor=executor)(x),
        "jacrev": ad.jacrev(f, chunk=5, executor=executor)(x),
        "jacobian": ad.jacobian(f, chunk=5, executor=executor)(x),
        "hessian": ad.hessian(SCALAR, chunk=5, executor=executor)(x),
        "sparse_jacobian forward": ad.sparse_jacobian(f, x, "forward", chunk=1, executor=executor).toarray(),
        "sparse_jacobian reverse": ad.sparse_jacobian(f, x, "reverse", chunk=1, executor=executor).toarray(),
        "sparse_hessian": ad.sparse_hessian(SCALAR, x, chunk=1, executor=executor).toarray(),
    }


def _assert_equal(got, want):
    for name in want:
        assert np.array_equal(got[name], want[name]), name  # exactly, not to a tolerance


def test_thread_pool_gives_exactly_the_serial_results():
    serial = _all(None)
    with ThreadPoolExecutor(max_workers=2) as pool:
        _assert_equal(_all(pool), serial)


def test_pytrees_and_argnums_pass_through_the_executor():
    f = lambda a, b: {"y": a * b[0], "z": np.sum(b) * a}  # noqa: E731
    a, b = np.arange(1.0, 4.0), np.arange(2.0, 4.0)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for jac in (ad.jacfwd, ad.jacrev):
            got = jac(f, argnums=(0, 1), chunk=1, executor=pool)(a, b)
            want = jac(f, argnums=(0, 1), chunk=1)(a, b)
            for key in want:
                for g, w in zip(got[key], want[key]):
                    assert np.array_equal(g, w)


def test_an_executor_inside_another_transform_is_refused():
    with ThreadPoolExecutor(max_workers=1) as pool:
        inner = lambda x: ad.jacfwd(lambda y: y * x, executor=pool)(x).sum()  # noqa: E731
        with pytest.raises(TypeError, match="enclosing transform"):
            ad.grad(inner)(np.ones(2))


def test_a_dask_local_cluster_of_two_processes_gives_exactly_the_serial_results():
    distributed = pytest.importorskip("distributed")
    serial = _all(None)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        _assert_equal(_all(client.get_executor()), serial)
