"""How the transforms' modules depend on each other: the engines share ad/transform.py instead
of reaching into each other, and the reverse sweep is started from one place."""

import ast
import pathlib

AD = pathlib.Path(__file__).resolve().parents[2] / "ad"
TRANSFORM_MODULES = [
    "transform.py",
    "tree.py",
    "functional.py",
    "implicit.py",
    "forward/api.py",
    "reverse/api.py",
    "reverse/checkpoint.py",
]


def _imports(path):
    """(module, name) for every `from module import name` and (module, None) for `import module`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                yield node.module or "", alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None


def test_the_reverse_engine_imports_nothing_from_the_forward_engine():
    for path in sorted((AD / "reverse").glob("*.py")):
        for module, name in _imports(path):
            assert not module.startswith("ad.forward"), f"{path.name} imports {module}.{name}"
            assert not (module == "ad" and name == "forward"), path.name


def test_the_transforms_import_no_private_names():
    for rel in TRANSFORM_MODULES:
        for module, name in _imports(AD / rel):
            assert name is None or not name.startswith("_"), f"{rel} imports {name} from {module}"


def test_the_reverse_sweep_starts_in_one_place_recording_pullback():
    calls = set()
    for rel in TRANSFORM_MODULES:
        for fn in ast.walk(ast.parse((AD / rel).read_text())):
            if isinstance(fn, ast.FunctionDef):
                for call in ast.walk(fn):
                    func = getattr(call, "func", None)
                    if isinstance(func, ast.Attribute) and func.attr in ("run_backward", "backprop"):
                        calls.add((rel, fn.name))
    assert calls == {("reverse/api.py", "pullback")}, calls
