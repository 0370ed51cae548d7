"""Threads pinned alike for everyone, and what the report says about the machine."""

import sys

import threadpoolctl

from ad.compare import environment


def _blas_threads():
    return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


def test_pinned_limits_every_blas_pool_and_restores_it():
    import numpy  # noqa: F401  (loads the BLAS)

    before = _blas_threads()
    with environment.pinned(1):
        assert _blas_threads() and set(_blas_threads()) == {1}
        assert "(1 thread(s))" in environment.blas()
    assert _blas_threads() == before


def test_xla_flags_are_set_before_jax_is_imported(monkeypatch):
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/nowhere")
    assert environment.xla_flags(1) == "one thread"
    assert environment.XLA_ONE_THREAD in environment.os.environ["XLA_FLAGS"]
    assert "--xla_dump_to=/tmp/nowhere" in environment.os.environ["XLA_FLAGS"]


def test_after_jax_is_imported_the_report_says_its_threads_were_not_set(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", object())
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    assert "imported before the run" in environment.xla_flags(1)
    assert "XLA_FLAGS" not in environment.os.environ


def test_a_busy_machine_is_named_and_a_quiet_one_is_not():
    assert environment.busy(0.3, 1.2, cores=2, threads=1) == ""  # the end includes the run itself
    assert "busy" in environment.busy(1.8, 1.2, cores=2, threads=1)
    assert "busy" in environment.busy(0.2, 3.5, cores=2, threads=1)
    assert environment.busy(None, None, cores=2, threads=1) == ""


def test_the_description_names_cpu_cores_blas_threads_and_versions():
    d = environment.describe(1, None, {"jax": "0.1"})
    for key in ("date", "cpu", "cores", "python", "numpy", "numba", "blas", "threads", "jax"):
        assert d[key], key
