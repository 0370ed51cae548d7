"""numba is loaded on a kernel's first call, never by `import ad`, and works without a disk cache."""

import os
import subprocess
import sys
import textwrap


def _run(code: str, **env) -> str:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    ).stdout


def test_import_ad_neither_imports_numba_nor_compiles():
    out = _run(
        """
        import sys
        import ad
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("numba", "llvmlite")))
        """
    )
    assert out.strip() == "[]"


def test_a_kernel_compiles_on_its_first_call_and_only_it():
    out = _run(
        """
        import numpy as np
        import ad
        from ad.kernels import elementwise, scatter, softmax
        ad.sigmoid(np.linspace(-3, 3, 1000))
        print(elementwise._sigmoid_from_exp.dispatcher.signatures)
        others = elementwise._tanh_derivative, softmax._softmax, scatter._scatter_add
        print(*(kernel.dispatcher for kernel in others))
        """
    )
    compiled, others = out.splitlines()
    assert "float64" in compiled and others == "None None None"


def test_kernels_run_without_a_writable_cache_dir():
    # no locator numba knows applies to a plain .py file: numba.njit(cache=True) refuses
    out = _run(
        """
        import numpy as np
        import ad
        from ad.kernels import elementwise
        x = np.linspace(-3, 3, 1000)
        print(np.allclose(ad.sigmoid(x), elementwise.sigmoid_twin(x), rtol=1e-14))
        print(type(elementwise._sigmoid_from_exp.dispatcher._cache).__name__)
        """,
        NUMBA_CACHE_LOCATOR_CLASSES="ZipCacheLocator",
    )
    assert out.split() == ["True", "NullCache"]
