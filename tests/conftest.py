import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".numba_cache"))


@pytest.fixture(scope="session")
def jax64():
    """JAX with 64-bit floats, the oracle of the tests that compare against it; skipped where
    JAX is not installed."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    return jax


@pytest.fixture(autouse=True)
def _registry_as_it_was():
    """Every op a test registers (ad.defop) is unregistered after it: a throwaway op left in
    the registry would show in docs/ops.md's check, and could take a NumPy function over for
    the tests after it."""
    from ad import registry

    before = {op.name for op in registry.all_ops()}
    yield
    for op in registry.all_ops():
        if op.name not in before:
            registry.unregister(op.name)


def _quietly(f):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return f()


@pytest.fixture
def quiet():
    """quiet(f) runs f() with NumPy's floating-point warnings off, for the tests that divide
    by zero or overflow on purpose at the edges of an op's domain."""
    return _quietly


def pytest_collection_modifyitems(items):
    """The registry suites run each op as a function of its operands. An op that writes into
    its argument instead (Op.mutates: np.fill_diagonal, np.put, ...) has no such form: every
    test parametrized by one is skipped here, with the reason in the report; its own tests
    are in tests/reverse/test_writes.py and tests/ops/test_last_coverage.py."""
    from ad.registry import Op

    for item in items:
        op = item.callspec.params.get("op") if hasattr(item, "callspec") else None
        if isinstance(op, Op) and op.mutates:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"{op.name} writes into its argument (Op.mutates): no functional form"
                )
            )
