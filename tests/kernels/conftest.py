"""Fixtures for the kernel tests: run every kernel at every size, and see which kernels ran."""

import math

import pytest

from ad.kernels import elementwise, scatter, softmax


@pytest.fixture
def forced(monkeypatch):
    """Size thresholds lifted: a plain float64 array of any size goes to its kernel."""
    monkeypatch.setattr(elementwise, "SIGMOID_FROM", 0)
    monkeypatch.setattr(elementwise, "DERIVATIVE_FROM", 0)
    monkeypatch.setattr(softmax, "PRIMAL_SIZE_UPTO", math.inf)
    monkeypatch.setattr(softmax, "LOG_SOFTMAX_RULE_SIZE_UPTO", math.inf)
    monkeypatch.setattr(scatter, "SCATTER_ADD_FROM", 0)


@pytest.fixture
def spy(monkeypatch):
    """spy(module, name) wraps a kernel; the returned list grows by one per call."""

    def watch(module, name):
        kernel, calls = getattr(module, name), []

        def counted(*args):
            calls.append(args)
            return kernel(*args)

        monkeypatch.setattr(module, name, counted)
        return calls

    return watch
