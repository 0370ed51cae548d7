"""The compare tests check what is run and reported, never how fast: --quick's timings are
cut to the bone here (one call per sample, three samples, a tiny arithmetic probe)."""

import dataclasses

import pytest

from ad.compare import runner
from ad.compare.measure import Policy


@pytest.fixture(autouse=True)
def fast_quick_runs(monkeypatch):
    fast = dataclasses.replace(
        runner.QUICK, policy=Policy(min_sample=0.0, repeats=3, retries=0), probe_size=8, sweep_sizes=(4, 8)
    )
    monkeypatch.setattr(runner, "QUICK", fast)
