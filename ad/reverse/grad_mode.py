"""Grad mode: whether ops on Tensors record, each thread its own (PyTorch's no_grad,
enable_grad, set_grad_enabled, inference_mode)."""

from __future__ import annotations

import functools
import inspect
import threading

import numpy as np


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

    def __call__(self, f):
        """Also a decorator, like @torch.no_grad(): f runs in this mode, and so does each step
        of the generator a generator function returns (its body runs at each next(), after
        the call has returned)."""
        enabled = self.enabled
        if inspect.isgeneratorfunction(f):

            @functools.wraps(f)
            def generator(*args, **kwargs):
                steps = f(*args, **kwargs)
                resume, arg = steps.send, None
                while True:
                    try:
                        with _grad_mode(enabled):
                            item = resume(arg)
                    except StopIteration as stop:
                        return stop.value
                    try:
                        arg = yield item
                        resume = steps.send
                    except GeneratorExit:
                        with _grad_mode(enabled):
                            steps.close()
                        raise
                    except BaseException as e:  # thrown in: handed to f's body, in this mode
                        resume, arg = steps.throw, e

            return generator

        @functools.wraps(f)
        def wrapped(*args, **kwargs):
            with _grad_mode(enabled):
                return f(*args, **kwargs)

        return wrapped


def no_grad(f=None):
    """Context manager: ops inside record nothing (PyTorch's torch.no_grad). Also a decorator,
    with or without the call: @no_grad() or @no_grad."""
    return _grad_mode(False) if f is None else _grad_mode(False)(f)


def enable_grad(f=None):
    """Context manager: ops inside record, also within no_grad (torch.enable_grad); a decorator too."""
    return _grad_mode(True) if f is None else _grad_mode(True)(f)


class set_grad_enabled(_grad_mode):
    """torch.set_grad_enabled(mode): grad mode set at once, as a function call; as a context
    manager, back to the mode before the call when the block ends; as a decorator, for each
    call of the function, the call that made it changing nothing."""

    __slots__ = ()

    def __init__(self, mode: bool):
        if not isinstance(mode, bool | np.bool_):
            raise TypeError(
                f"set_grad_enabled(mode) takes a bool; got {type(mode).__name__}: "
                "pass True or False (bool(x) for a truthy value)"
            )
        self.enabled = bool(mode)
        self.before = _state.enabled
        _state.enabled = self.enabled

    def __enter__(self):  # the mode to restore was read by the call, before it set this one
        _state.enabled = self.enabled

    def __call__(self, f):
        _state.enabled = self.before
        return super().__call__(f)


def inference_mode(mode=True):
    """torch.inference_mode: ops inside record nothing, as in no_grad(); inference_mode(False)
    turns recording on, as torch's does. A decorator too, with or without the call.

    The Tensors it makes are ordinary ones, which later recorded ops may use (PyTorch's
    "inference tensors" refuse that): see docs/reverse.md."""
    if isinstance(mode, bool | np.bool_):
        return _grad_mode(not mode)
    if callable(mode):
        return _grad_mode(False)(mode)
    raise TypeError(
        f"inference_mode(mode) takes a bool, or the function it decorates; got {type(mode).__name__}"
    )


def recording(f, args):
    """f(*args) with ops recording whatever the caller's mode (a transform's own trace, as
    torch.func.grad records under no_grad): enable_grad without its context-manager object."""
    before = _state.enabled
    _state.enabled = True
    try:
        return f(*args)
    finally:
        _state.enabled = before
