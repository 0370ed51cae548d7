"""The runner on tiny problems: the report folder, agreement checks, memory against depth,
peers, and the result object of compare(f, x)."""

import csv
import importlib

import numpy as np
import pytest

import ad
from ad.compare import MODES, Config, Mode, compare, peers, plots, problems, report, run, runner
from ad.compare.measure import Policy

TINY = Config(
    policy=Policy(min_sample=0.0, repeats=3, retries=0),
    probe_size=8,
    sweep_fixed=4,
    sweep_sizes=(2, 8),
    depth_width=8,
    depths=(2, 4),
)


def tiny_problems():
    return [problems.dag(), problems.ridge(), problems.tanh_affine(3, 5, name="tiny")]


def _rows(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_the_runner_writes_the_table_csv_and_pngs(tmp_path):
    res = run(tiny_problems(), config=TINY, progress=False)
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
        "forward_vs_reverse.png",
        "memory_vs_depth.png",
        "model_vs_measured.png",
    ]
    assert all(r["stable"] in ("True", "False") and float(r["q1"]) <= float(r["q3"]) for r in applicable)
    assert all(float(r["predicted_seconds"]) > 0 for r in applicable)
    assert "The calibrated model predicts" in md and "load average" in md and "BLAS" in md
    for name in figures:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) < 200_000
        assert f"![{name}]({name})" in md


def _wrong(f, x, k):
    return 1.001 * ad.jacfwd(f)(x)


def test_a_wrong_mode_is_the_one_that_disagrees():
    wrong = Mode("wrong", "forward", "one", _wrong)
    res = run(tiny_problems()[:2], MODES + (wrong,), TINY, sweeps=False, progress=False)
    fails = res.failures()
    assert len(fails) == 2 and all(": wrong: rel diff" in line for line in fails)
    for pr in res.problems:  # the median of the exact modes is not moved by one wrong mode
        assert all(r.agrees is not False for r in pr.rows if r.mode != "wrong")
    assert "DISAGREEMENT" in report.text(res) and "DISAGREES" in report.detail_table(res)


def test_a_mode_that_raises_is_reported_as_an_error():
    def broken(f, x, k):
        raise RuntimeError("no Jacobian today")

    res = run(
        [problems.dag()],
        MODES + (Mode("broken", "reverse", "k", broken),),
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
    res = run([problems.dag()], config=TINY, peer_libs=("jax",), sweeps=False, progress=False)
    assert res.peers == [] and res.peers_missing == {"jax": "not installed (jax)"}
    assert "jax not installed" in report.text(res)
    assert res.failures() == []


def test_torch_and_autograd_agree_with_ad():
    pytest.importorskip("torch")
    pytest.importorskip("autograd")
    res = run(tiny_problems()[:2], config=TINY, peer_libs=("torch", "autograd"), sweeps=False, progress=False)
    assert res.failures() == []
    torch_rows = [r for pr in res.problems for r in pr.rows if r.library == "torch"]
    timed = [r for r in torch_rows if r.seconds is not None]
    assert len(timed) == 2 * 4 and all(r.rel_diff < 1e-10 for r in timed)  # all but finite differences
    assert "| torch " in report.detail_table(res).splitlines()[0] + " "
    assert np.isfinite([r.seconds for r in timed]).all()


def _loss(w):
    return np.sum(np.tanh(w) ** 2)


def test_compare_on_a_users_function_returns_the_table_the_plan_and_the_advice(tmp_path):
    res = compare(_loss, lambda: np.linspace(-1, 1, 6), quick=True)
    assert [r.mode for r in res.rows] == [m.name for m in MODES]
    assert res.failures() == []
    assert all(r.predicted is not None and r.timing is not None for r in res.rows)
    md = res.to_markdown()
    assert "## Which mode for _loss" in md and 'ad.jacobian(mode="auto") runs batched reverse' in md
    res.to_csv(tmp_path / "t.csv")
    table = _rows(tmp_path / "t.csv")
    assert [r["mode"] for r in table] == [m.name for m in MODES]
    assert {"seconds", "q1", "q3", "stable", "predicted_seconds", "peak_bytes"} <= set(table[0])
    written = res.write(tmp_path / "folder")
    assert "report.md" in written and (tmp_path / "folder" / "table.csv").exists()


def test_compare_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="peers=True needs f written for each peer"):
        compare(_loss, np.ones(3), peers=True)
    with pytest.raises(ValueError, match="unknown peer"):
        compare(_loss, np.ones(3), peers={"tensorflow": _loss})
    with pytest.raises(ValueError, match="array of real numbers"):
        compare(_loss, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="f\\(x\\) raised"):
        compare(lambda x: x @ np.ones(7), np.ones(3))


def test_a_users_function_runs_through_a_peer_given_in_its_arrays():
    torch = pytest.importorskip("torch")
    res = compare(
        _loss, np.linspace(-1, 1, 4), peers={"torch": lambda w: torch.sum(torch.tanh(w) ** 2)}, quick=True
    )
    timed = [r for r in res.rows if r.library == "torch" and r.timing]
    assert timed and all(r.agrees for r in timed)
