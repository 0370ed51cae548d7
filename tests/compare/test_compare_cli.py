"""`python -m ad compare`: options, exit codes, and the report it leaves."""

import re
import subprocess
import sys

import pytest

import ad
from ad.__main__ import main
from ad.compare import modes, plots


def test_the_exit_code_is_nonzero_when_a_mode_disagrees(monkeypatch, tmp_path, capsys):
    wrong = modes.Mode(
        "wrong", "reverse", False, lambda f, x, k: 1.01 * ad.jacrev(f)(x), lambda f, x, k: None
    )
    monkeypatch.setattr(modes, "MODES", modes.MODES + (wrong,))
    argv = ["compare", "--quick", "--problems", "dag,ridge", "--no-sweeps", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "DISAGREEMENT" in out and "dag: wrong: rel diff" in out and "ridge: wrong: rel diff" in out
    assert "Disagreements" in (tmp_path / "report.md").read_text()


def test_an_unknown_problem_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["compare", "--problems", "dag,nope"])
    assert exit.value.code == 2
    assert "unknown problem(s) ['nope']" in capsys.readouterr().err


def test_without_matplotlib_the_report_has_tables_and_says_why_no_plots(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(plots, "available", lambda: False)
    argv = ["compare", "--quick", "--problems", "dag", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "plots skipped: matplotlib is not installed" in capsys.readouterr().err
    assert (tmp_path / "report.md").exists() and (tmp_path / "sweeps.csv").exists()
    assert not list(tmp_path.glob("*.png"))


def test_python_m_ad_compare_quick_exits_0_and_writes_the_report(tmp_path):
    out = tmp_path / "report"
    run = subprocess.run(
        [sys.executable, "-m", "ad", "compare", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "all modes agree" in run.stdout and "| mlp " in run.stdout
    assert re.search(r"^\[\s*1/\d+ ", run.stderr, re.M)  # progress lines
    for name in (
        "report.md",
        "table.csv",
        "sweeps.csv",
        "memory.csv",
        "cost_vs_n.png",
        "memory_vs_depth.png",
    ):
        assert (out / name).exists(), name
