"""A compiled tape's two replay arrays: the packed program and its work array."""

import numpy as np
import pytest

import ad
from ad.reverse import replay


def _arrays(n, g, seed=0):
    rng = np.random.default_rng(seed)
    instructions = [rng.integers(0, 50, n) for _ in range(8)]
    guards = tuple(rng.integers(0, 50, g) for _ in range(4))
    return instructions, guards


@pytest.mark.parametrize(("n", "g"), [(0, 0), (1, 0), (0, 2), (7, 3)])
def test_sections_give_back_every_packed_array_in_numba_and_in_python(n, g):
    instructions, guards = _arrays(n, g)
    program = replay.pack(*instructions, guards, 11, 5)
    assert program.dtype == np.int64
    assert list(program[: replay.HEADER]) == [n, g, 11, 5]
    for sections in (replay.sections(program), replay.sections.py_func(program)):
        assert len(sections) == 12
        for got, want in zip(sections, [*instructions, *guards], strict=True):
            np.testing.assert_array_equal(got, want)


def test_a_non_scalar_output_packs_no_result_slot():
    instructions, guards = _arrays(3, 1)
    assert replay.pack(*instructions, guards, 4, None)[replay.RESULT] == -1


def test_the_workspace_views_tile_the_work_array_without_overlap():
    instructions, guards = _arrays(5, 0)
    program = replay.pack(*instructions, guards, 9, 0)
    work = np.arange(replay.work_size(program), dtype=float)
    for views in (replay.workspace(program, work), replay.workspace.py_func(program, work)):
        v, pa, pb, ct = views
        assert [len(v), len(pa), len(pb), len(ct)] == [9, 5, 5, 9]
        np.testing.assert_array_equal(np.concatenate(views), work)
        v[0] = -1.0  # views, not copies: the sweeps write through them
        assert work[0] == -1.0
        work[0] = 0.0


def test_the_tapes_arrays_are_views_of_the_two_replay_arrays_after_each_recording():
    c = ad.compile(lambda x: np.sum(np.where(x > 0, x, 2 * x) ** 2), np.array([1.0, 2.0]))

    def check():
        for view in (c.code, c.a, c.b, c.out, c.da, c.db, *c.guards):
            assert np.shares_memory(view, c.program)
        for view in (c.v, c.pa, c.pb, c.ct, c.v_in, c.ct_in):
            assert np.shares_memory(view, c.work)

    check()
    np.testing.assert_array_equal(c.grad(np.array([3.0, 1.0])), [6.0, 2.0])
    records = c.records
    np.testing.assert_array_equal(c.grad(np.array([-1.0, 2.0])), [-8.0, 4.0])  # a guard fails
    assert c.records == records + 1
    check()
    np.testing.assert_array_equal(c(np.array([-1.0, 2.0])), 8.0)
