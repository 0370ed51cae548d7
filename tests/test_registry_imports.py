"""The registry holds records and lookup only: it imports no other module of ad (the dispatch
in ad/trace.py reads the registry, never the other way round)."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# `import ad.registry` would run ad/__init__.py, which imports everything; an empty package
# object in its place leaves registry.py's own imports as the only ones that run.
PROBE = f"""
import sys, types
package = types.ModuleType("ad")
package.__path__ = [{str(ROOT / "ad")!r}]
sys.modules["ad"] = package

import ad.registry as registry

op = registry.elementwise("probe", (abs,), lambda x, y: 1.0, impl=lambda x: x)
assert registry.lookup(abs) is op and registry.get("probe") is op and op in registry.all_ops()
registry.unregister("probe")
assert registry.lookup(abs) is None
print(sorted(name for name in sys.modules if name.startswith("ad.")))
"""


def test_registry_imports_and_runs_without_trace_or_any_other_ad_module():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    loaded = ast.literal_eval(out.stdout)
    assert "ad.trace" not in loaded
    assert loaded == ["ad.registry"]


def test_defop_is_still_the_public_door():
    import ad
    from ad.custom import defop

    assert ad.defop is defop and not hasattr(ad.registry, "defop")
