"""Peers: the same problems differentiated by JAX, PyTorch and HIPS autograd where installed.

Each peer offers some of ad's modes (the runner puts them in extra columns of that mode's
row): `prepare(lib, mode, problem, k)` builds the peer's Jacobian for the problem, compiles
or warms it outside any timing, and returns a zero-argument callable giving an (m, n)
NumPy array, or None when the peer has no such mode. Peers are imported only when asked
for, in float64, with the run's threads (environment.py pins them alike for ad and every
peer; XLA's flag is set before jax is imported). The runner silences their deprecation
warnings: they speak to the peers' own users, not to the reader of a comparison.

    mode             jax                 torch                        autograd
    forward          -                   n torch.func.jvp calls       n make_jvp calls
    reverse          -                   torch.func.jacrev(chunk 1)   autograd.jacobian
    batched forward  jit(jax.jacfwd)     torch.func.jacfwd (all n)    -
    batched reverse  jit(jax.jacrev)     torch.func.jacrev(chunk k)   -
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata

import numpy as np

from ad.compare.problems import Backend, Problem

PEERS = ("jax", "torch", "autograd")


def available(libs=PEERS, threads: int = 1) -> tuple[list[str], dict[str, str]]:
    """(installed peers, {missing peer: why}), importing and configuring each found one
    (call environment.xla_flags first: jax reads its threads when imported)."""
    from ad.compare import environment

    found, missing = [], {}
    for lib in libs:
        try:
            mod = importlib.import_module(lib)
        except ImportError as e:
            missing[lib] = f"not installed ({e.name})"
            continue
        if lib == "jax":
            mod.config.update("jax_enable_x64", True)
            mod.config.update("jax_platforms", "cpu")
        elif lib == "torch":
            environment.torch_threads(mod, threads)
        found.append(lib)
    return found, missing


def version(lib: str) -> str:
    try:
        return metadata.version(lib)
    except metadata.PackageNotFoundError:
        return getattr(importlib.import_module(lib), "__version__", "?")


def backend(lib: str) -> Backend:
    """The problems' array functions from one peer."""
    if lib == "torch":
        import torch

        return Backend(
            "torch",
            lambda a: torch.as_tensor(a, dtype=torch.float64),
            torch.tanh,
            torch.exp,
            torch.sqrt,
            torch.sum,
            torch.relu,
            torch.logaddexp,
            torch.linalg.solve,
            lambda n: torch.eye(n, dtype=torch.float64),
        )
    if lib == "autograd":
        import autograd.numpy as anp

        return Backend(
            "autograd",
            np.asarray,
            anp.tanh,
            anp.exp,
            anp.sqrt,
            anp.sum,
            lambda h: anp.maximum(h, 0.0),
            anp.logaddexp,
            anp.linalg.solve,
            anp.eye,
        )
    if lib == "jax":
        import jax
        import jax.numpy as jnp

        return Backend(
            "jax",
            jnp.asarray,
            jnp.tanh,
            jnp.exp,
            jnp.sqrt,
            jnp.sum,
            jax.nn.relu,
            jnp.logaddexp,
            jnp.linalg.solve,
            jnp.eye,
        )
    raise ValueError(f"unknown peer {lib!r}; expected one of {PEERS}")


def prepare(lib: str, mode: str, problem: Problem, k: int) -> Callable[[], np.ndarray] | None:
    """A warmed zero-argument callable computing the (m, n) Jacobian, or None if not offered."""
    f = problem.make(backend(lib))
    n = problem.n
    build = {"torch": _torch, "autograd": _autograd, "jax": _jax}[lib]
    run = build(mode, f, problem.x, k)
    if run is None:
        return None
    run()  # compile / warm up outside the timing
    return lambda: np.reshape(np.asarray(run(), dtype=float), (-1, n))


def _torch(mode, f, x, k):
    import torch
    import torch.func as tf

    xt = torch.as_tensor(x, dtype=torch.float64)
    out = lambda J: J.detach().numpy()
    if mode == "forward":
        eye = torch.eye(x.size, dtype=torch.float64)
        return lambda: np.stack([out(tf.jvp(f, (xt,), (e,))[1]).reshape(-1) for e in eye], axis=-1)
    if mode == "reverse":
        J = tf.jacrev(f, chunk_size=1)
        return lambda: out(J(xt))
    if mode == "batched forward":
        J = tf.jacfwd(f)
        return lambda: out(J(xt))
    if mode == "batched reverse":
        J = tf.jacrev(f, chunk_size=k)
        return lambda: out(J(xt))
    return None


def _autograd(mode, f, x, k):
    import autograd
    from autograd.differential_operators import make_jvp

    if mode == "forward":
        eye = np.eye(x.size)

        def J():
            push = make_jvp(f)(x)
            return np.stack([np.ravel(push(e)[1]) for e in eye], axis=-1)

        return J
    if mode == "reverse":
        J = autograd.jacobian(f)
        return lambda: J(x)
    return None


def _jax(mode, f, x, k):
    import jax

    xj = jax.device_put(x)
    if mode == "batched forward":
        J = jax.jit(jax.jacfwd(f))
    elif mode == "batched reverse":
        J = jax.jit(jax.jacrev(f))
    else:
        return None
    return lambda: np.asarray(J(xj).block_until_ready())
