"""The runner on tiny problems: the report folder, agreement checks, memory against depth, peers."""

import csv
import importlib

import numpy as np
import pytest

import ad
from ad.compare import MODES, Config, Mode, compare, peers, plots, problems, report, runner

TINY = Config(
    budget=0.0, max_repeats=1, min_repeats=1, sweep_fixed=4, sweep_sizes=(2, 8), depth_width=8, depths=(2, 4)
)


def tiny_problems():
    return [problems.dag(), problems.ridge(), problems.tanh_affine(3, 5, name="tiny")]


def _rows(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_the_runner_writes_the_table_csv_and_pngs(tmp_path):
    res = compare(tiny_problems(), config=TINY, progress=False)
    assert res.failures() == []
    figures = plots.draw(res, tmp_path)
    report.write(res, tmp_path, figures, "python -m ad compare (test)")

    md = (tmp_path / "report.md").read_text()
    for name in ("dag", "ridge", "tiny"):
        assert f"| {name} " in md
    for mode in MODES:
        assert f"| {mode.name} " in md
    table = _rows(tmp_path / "table.csv")
    assert len(table) == 3 * len(MODES)
    # every mode agrees, except that the compiled tape cannot record ridge's implicit_root
    applicable = [r for r in table if not (r["problem"] == "ridge" and r["mode"].startswith("compiled"))]
    assert all(r["agrees"] == "True" for r in applicable)
    assert all(r["agrees"] != "False" for r in table)
    assert len(_rows(tmp_path / "sweeps.csv")) == 2 * len(TINY.sweep_sizes) * len(MODES)
    assert len(_rows(tmp_path / "memory.csv")) == len(TINY.depths) * 4  # three strategies and forward
    assert sorted(figures) == [
        "cost_vs_m.png",
        "cost_vs_n.png",
        "memory_vs_depth.png",
        "model_vs_measured.png",
    ]
    for name in figures:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 200_000
        assert f"![{name}]({name})" in md


def _wrong(f, x, k):
    return 1.001 * ad.jacfwd(f)(x)


def test_a_wrong_mode_is_the_one_that_disagrees():
    wrong = Mode("wrong", "forward", False, _wrong, lambda f, x, k: None)
    res = compare(tiny_problems()[:2], MODES + (wrong,), TINY, sweeps=False, progress=False)
    fails = res.failures()
    assert len(fails) == 2 and all(": wrong: rel diff" in line for line in fails)
    for pr in res.problems:  # the median of the exact modes is not moved by one wrong mode
        assert all(r.agrees is not False for r in pr.rows if r.mode != "wrong")
    assert "DISAGREEMENT" in report.text(res) and "DISAGREES" in report.detail_table(res)


def test_a_mode_that_raises_is_reported_as_an_error():
    def broken(f, x, k):
        raise RuntimeError("no Jacobian today")

    res = compare(
        [problems.dag()],
        MODES + (Mode("broken", "reverse", True, broken, broken),),
        TINY,
        sweeps=False,
        progress=False,
    )
    (fail,) = res.failures()
    assert "broken" in fail and "no Jacobian today" in fail
    assert "ERROR" in report.detail_table(res)


def test_reverse_memory_grows_with_depth_and_forward_memory_does_not():
    pts = runner.run_depths(Config(depth_width=500, depths=(4, 16)))
    peak = {(p.strategy, p.depth): p.peak for p in pts}
    assert all(p.rel_diff < 1e-12 for p in pts)  # every strategy gives the same gradient
    assert peak["all", 16] > 2 * peak["all", 4]
    assert peak["forward", 16] < 1.5 * peak["forward", 4]
    assert peak["sqrt", 16] < peak["all", 16] and peak["recursive", 16] < peak["all", 16]


def test_a_missing_peer_is_skipped_and_named(monkeypatch):
    real = importlib.import_module

    def without_jax(name, *args):
        if name == "jax":
            raise ModuleNotFoundError("No module named 'jax'", name="jax")
        return real(name, *args)

    monkeypatch.setattr(peers.importlib, "import_module", without_jax)
    res = compare([problems.dag()], config=TINY, peer_libs=("jax",), sweeps=False, progress=False)
    assert res.peers == [] and res.peers_missing == {"jax": "not installed (jax)"}
    assert "jax not installed" in report.text(res)
    assert res.failures() == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit, deep inside torch.func
def test_torch_and_autograd_agree_with_ad():
    pytest.importorskip("torch")
    pytest.importorskip("autograd")
    res = compare(
        tiny_problems()[:2], config=TINY, peer_libs=("torch", "autograd"), sweeps=False, progress=False
    )
    assert res.failures() == []
    torch_rows = [r for pr in res.problems for r in pr.rows if r.library == "torch"]
    timed = [r for r in torch_rows if r.seconds is not None]
    assert len(timed) == 2 * 4 and all(r.rel_diff < 1e-10 for r in timed)  # all but finite differences
    assert "| torch " in report.detail_table(res).splitlines()[0] + " "
    assert np.isfinite([r.seconds for r in timed]).all()
