"""The project's own promises: the README's commands, .ci/run, the generated coverage table."""

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


def test_examples_run():
    for script in sorted((ROOT / "examples").glob("*.py")):
        subprocess.run([sys.executable, str(script)], check=True, capture_output=True)


def test_python_examples_in_the_readme_and_docs_run():
    """Every ```python block runs as written (```py marks a sketch that is not a program)."""
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for code in re.findall(r"```python\n(.*?)```", page.read_text(), re.S):
            subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT)
