"""Grad mode: whether ops on Tensors record, each thread its own (PyTorch's no_grad, enable_grad)."""

from __future__ import annotations

import threading


class _GradMode(threading.local):
    enabled = True  # each thread's own, on until no_grad() turns it off (PyTorch's grad mode)


_state = _GradMode()


def is_grad_enabled() -> bool:
    return _state.enabled


class _grad_mode:
    """Context manager setting whether ops record (a class: cheaper than a generator)."""

    __slots__ = ("enabled", "before")

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        self.before = is_grad_enabled()
        _state.enabled = self.enabled

    def __exit__(self, *exc):
        _state.enabled = self.before

    def __call__(self, f):  # also a decorator, like @torch.no_grad()
        def wrapped(*args, **kwargs):
            with _grad_mode(self.enabled):
                return f(*args, **kwargs)

        return wrapped


def no_grad():
    """Context manager: ops inside record nothing (PyTorch's torch.no_grad)."""
    return _grad_mode(False)


def enable_grad():
    return _grad_mode(True)


def recording(f, args):
    """f(*args) with ops recording whatever the caller's mode (a transform's own trace, as
    torch.func.grad records under no_grad): enable_grad without its context-manager object."""
    before = _state.enabled
    _state.enabled = True
    try:
        return f(*args)
    finally:
        _state.enabled = before
