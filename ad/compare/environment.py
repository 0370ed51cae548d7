"""The machine a comparison runs on: threads pinned alike for ad and every peer, and what the
report states about the machine (CPU, cores, load, BLAS, versions, date).

Threads: NumPy's BLAS (and any OpenMP pool already loaded, torch's included) is limited
with threadpoolctl for the length of the run; torch gets `torch.set_num_threads`; JAX reads
XLA_FLAGS once, when it is imported, so `xla_flags` must run before that. A BLAS that
runs a 100 x 100 product on two threads on a shared 2-core machine stalls whenever the
other core is busy: one thread everywhere (the default) is what makes the cells repeatable.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import sys
from importlib import metadata

import threadpoolctl

XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"


def xla_flags(threads: int) -> str:
    """Set XLA's CPU threading before jax is imported; say what holds.

    One thread turns off the Eigen pool XLA's CPU ops use; more threads leave that pool on
    (it takes every core: XLA has no flag for a count).
    """
    if "jax" in sys.modules:
        return "jax was imported before the run: XLA's threads are as it set them"
    flags = os.environ.get("XLA_FLAGS", "")
    if threads == 1 and XLA_ONE_THREAD not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_ONE_THREAD}".strip()
    return "one thread" if threads == 1 else "Eigen pool on (every core)"


def torch_threads(torch, threads: int) -> None:
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # settable only before torch's first parallel work
        torch.set_num_interop_threads(1)


@contextlib.contextmanager
def pinned(threads: int):
    """Limit every BLAS and OpenMP pool loaded now to `threads`; restore them afterwards."""
    with threadpoolctl.threadpool_limits(limits=threads):
        yield


def blas() -> str:
    """The BLAS libraries loaded, with their vendor, version and current threads."""
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    if not pools:
        return "no BLAS found by threadpoolctl"
    seen = {f"{p['internal_api']} {p['version']} ({p['num_threads']} thread(s))" for p in pools}
    return ", ".join(sorted(seen))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def load() -> float | None:
    """The 1-minute load average (None where the system has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def busy(load_start: float | None, load_end: float | None, cores: int, threads: int) -> str:
    """A warning when other work shared the cores, or '' when the machine was quiet enough.

    Busy means the load of others exceeded the cores the run does not use: at the start
    the run itself adds nothing yet; at the end the 1-minute average includes the run's
    own `threads`.
    """
    others = [x for x in (load_start, None if load_end is None else load_end - threads) if x is not None]
    if not others or max(others) <= cores - threads:
        return ""
    fmt = lambda v: "?" if v is None else f"{v:.2f}"  # noqa: E731
    return (
        f"the machine was busy (load average {fmt(load_start)} at start, {fmt(load_end)} at the end, "
        f"on {cores} logical cores with {threads} thread(s) for this run): "
        "timings carry other work's noise; rerun on a quiet machine to trust the small ratios"
    )


def describe(threads: int, xla: str | None, peer_versions: dict[str, str]) -> dict[str, str]:
    """What the report states about the machine, at the start of the run."""
    import numpy as np

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "system": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": version("numba") or "absent",
        "scipy": version("scipy") or "absent",
        "threads": str(threads),
        "blas": blas(),
        **({"xla": xla} if xla else {}),
        **peer_versions,
    }
