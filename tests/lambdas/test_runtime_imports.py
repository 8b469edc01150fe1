"""Lambda code imports nothing but the standard library and boto3 (DESIGN §1).

The check runs in a fresh interpreter in which importing ``aws_cdk``, ``constructs``, ``cdk_nag``, ``jsii``
or ``pydantic`` raises, then imports every module under ``kmsflow.lambdas``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ("aws_cdk", "constructs", "cdk_nag", "jsii", "pydantic", "yaml", "typer")

PROGRAM = textwrap.dedent(
    f"""
    import importlib, pkgutil, sys

    BLOCKED = {BLOCKED!r}

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{{name}} must not be imported by Lambda code")
            return None

    sys.meta_path.insert(0, Blocker())
    import kmsflow.lambdas as pkg
    names = [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    for name in names:
        importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not leaked, leaked
    print(len(names), "modules")
    """
)


def test_lambda_modules_import_with_cdk_and_pydantic_blocked() -> None:
    result = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    count = int(result.stdout.split()[0])
    assert count >= 2  # aws_clients and errors at least


def test_the_blocker_really_blocks() -> None:
    """Guard against a vacuous pass: the same program fails when a Lambda module imports a blocked package."""
    program = PROGRAM.replace("import kmsflow.lambdas as pkg", "import pydantic\nimport kmsflow.lambdas as pkg")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "pydantic must not be imported by Lambda code" in result.stderr
