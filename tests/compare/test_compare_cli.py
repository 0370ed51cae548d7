"""`python -m ad compare`: options, exit codes, errors found before anything is measured,
the user's own function, and the report it leaves."""

import pytest

import ad
from ad.__main__ import main
from ad.compare import cli, modes, plots, runner

USER_MODULE = """
import numpy as np

A = np.arange(12.0).reshape(3, 4) / 10


def f(x):
    return np.tanh(A @ x)


def point():
    return np.linspace(-1.0, 1.0, 4)


x0 = np.ones(4)
not_a_function = 3
"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module `mine` in the current folder, as a user would have it."""
    (tmp_path / "mine.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path


@pytest.fixture
def nothing_measured(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the run started before the command line was checked")

    monkeypatch.setattr(runner, "run", refuse)


def test_the_exit_code_is_nonzero_when_a_mode_disagrees(monkeypatch, tmp_path, capsys):
    wrong = modes.Mode("wrong", "reverse", "one", lambda f, x, k: 1.01 * ad.jacrev(f)(x))
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


@pytest.mark.parametrize("threads", ["0", "two"])
def test_threads_must_be_a_positive_whole_number(threads, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["compare", "--threads", threads])
    assert exit.value.code == 2 and "--threads" in capsys.readouterr().err


def test_an_out_that_is_a_file_is_refused_before_measuring(tmp_path, capsys, nothing_measured):
    target = tmp_path / "report.md"
    target.write_text("keep me")
    assert main(["compare", "--quick", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is an existing file" in err and "Traceback" not in err
    assert target.read_text() == "keep me"


def test_an_out_below_a_file_is_not_writable(tmp_path, capsys, nothing_measured):
    (tmp_path / "file").write_text("")
    assert main(["compare", "--out", str(tmp_path / "file" / "report")]) == 2
    assert "is not writable" in capsys.readouterr().err


def test_quick_writes_its_own_folder_and_a_users_function_gets_advice(user_module, capsys):
    argv = ["compare", "--quick", "--quiet", "--function", "mine:f", "--input", "mine:point"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "advice for f: Use" in out and "The calibrated model predicts" in out
    report = user_module / cli.QUICK_OUT / "report.md"
    assert report.exists() and not (user_module / cli.DEFAULT_OUT).exists()
    md = report.read_text()
    assert "## Which mode for f" in md and "f: R^4 -> R^3" in md
    assert (user_module / cli.QUICK_OUT / "table.csv").exists()


def test_the_input_may_be_an_array(user_module, capsys):
    argv = ["compare", "--quick", "--quiet", "--function", "mine:f", "--input", "mine:x0", "--out", "r"]
    assert main(argv) == 0
    assert (user_module / "r" / "report.md").exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--function", "mine:f"], "--function needs --input"),
        (["--function", "mine", "--input", "mine:x0"], "expected MODULE:NAME"),
        (["--function", "nosuchmodule:f", "--input", "mine:x0"], "cannot import 'nosuchmodule'"),
        (["--function", "mine:g", "--input", "mine:x0"], "module 'mine' has no 'g'"),
        (["--function", "mine:not_a_function", "--input", "mine:x0"], "not a function"),
        (["--function", "mine:f", "--input", "mine:A"], "f(x) raised"),
        (["--function", "mine:f", "--input", "mine:x0", "--peers"], "--peers runs the built-in problems"),
        (["--function", "mine:f", "--input", "mine:x0", "--problems", "dag"], "drop --problems"),
        (["--input", "mine:x0"], "--input goes with --function"),
    ],
)
def test_a_bad_function_or_input_is_a_one_line_usage_error(
    user_module, capsys, nothing_measured, argv, message
):
    assert main(["compare", "--quick", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_without_matplotlib_the_report_has_tables_and_says_why_no_plots(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(plots, "available", lambda: False)
    argv = ["compare", "--quick", "--problems", "dag", "--quiet", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "plots skipped: matplotlib is not installed" in capsys.readouterr().err
    assert (tmp_path / "report.md").exists() and (tmp_path / "sweeps.csv").exists()
    assert not list(tmp_path.glob("*.png"))
