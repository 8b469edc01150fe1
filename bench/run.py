"""``make bench``: every benchmark of kmsflow (today: synth time against a plain CDK app)."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script (``python bench/run.py``): make the repository root importable for ``bench.*``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import synth_bench


def main() -> int:
    return synth_bench.main()


if __name__ == "__main__":
    sys.exit(main())
