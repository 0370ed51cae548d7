"""Every link in README.md and docs/*.md resolves: the file exists, and an anchor names a heading of it."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _prose(text):
    """The page without its fenced code blocks, where a `](` is code, not a link."""
    return re.sub(r"```.*?```", "", text, flags=re.S)


def _anchors(page):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen, anchors = {}, set()
    for heading in re.findall(r"^#+ (.*)$", _prose(page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _links(page):
    return [m.group(1) for m in re.finditer(r"\]\(([^)\s]+)\)", _prose(page.read_text()))]


def _repo_paths(page):
    """Paths of this repository a page names in prose (ad/..., tests/..., asv_bench/..., ...)."""
    found = re.findall(
        r"(?<![\w/.])((?:ad|tests|asv_bench|examples|docs)/[\w./-]*\w)", _prose(page.read_text())
    )
    return sorted(set(found))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_resolves(page):
    broken = []
    for target in _links(page):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path) if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT)}")
        elif anchor and anchor not in _anchors(file):
            broken.append(f"{target}: no heading with anchor #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.name}: " + "; ".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_repository_path_named_exists(page):
    missing = [p for p in _repo_paths(page) if not (ROOT / p).exists()]
    assert not missing, f"{page.name} names paths that do not exist: {missing}"


def test_the_checks_see_links_and_anchors():
    readme = ROOT / "README.md"
    assert "docs/forward.md" in _links(readme)
    assert "in-place-writes-and-views" in _anchors(ROOT / "docs" / "reverse.md")
    assert "concretization" in _anchors(ROOT / "docs" / "forward.md")
