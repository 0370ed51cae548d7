"""The project's own promises: the README's commands, .ci/run, the generated coverage table."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2
    assert commands[1] in (ROOT / ".ci" / "run").read_text().splitlines()


def test_docs_ops_md_is_the_current_coverage_table():
    from ad.coverage import markdown

    assert (ROOT / "docs" / "ops.md").read_text() == markdown(), "regenerate: python -m ad ops > docs/ops.md"


def test_python_m_ad_ops_prints_the_table():
    out = subprocess.run(
        [sys.executable, "-m", "ad", "ops"], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("# Op coverage") and "| sin | elementwise |" in out


def _run_all(programs, **kwargs):
    """Run each program (an argument list for Python) in its own interpreter, as many at once as
    there are cores; assert each exits with 0, naming the program and showing its stderr."""
    from concurrent.futures import ThreadPoolExecutor

    def run(args):
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, **kwargs)

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for args, done in zip(programs, pool.map(run, programs), strict=True):
            assert done.returncode == 0, f"{args[-1]}\nfailed with:\n{done.stderr}"


def test_examples_run():
    _run_all([[str(script)] for script in sorted((ROOT / "examples").glob("*.py"))])


def test_python_examples_in_the_readme_and_docs_run():
    """Every ```python block runs as written (```py marks a sketch that is not a program)."""
    import re

    blocks = [
        code
        for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for code in re.findall(r"```python\n(.*?)```", page.read_text(), re.S)
    ]
    assert blocks
    _run_all([["-c", code] for code in blocks], cwd=ROOT)
