"""``make bench``: every benchmark of kmsflow: synth time against a plain CDK app, then the usage report against a
plain ``json.load`` + ``Counter`` pass, then the snapshot-copy and snapshot-share workflows' transitions against a
fixed polling loop, then the handlers' client creation against a fresh boto3 Session per client, then
``kmsflow review`` on generated assemblies of 50, 500 and 5,000 keys against ``json.load`` of their templates, then
``kmsflow.envelope`` against raw AES-GCM and the official AWS Encryption SDK."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Run as a script (``python bench/run.py``): make the repository root importable for ``bench.*``.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import synth_bench, usage_bench


def main() -> int:
    status = synth_bench.main()
    print(flush=True)
    status = usage_bench.main() or status
    print(flush=True)
    # Imported last: it loads aws-cdk-lib (a Node process) and moto into this process, which the usage
    # benchmark's children would otherwise inherit and count in their peak memory.
    from bench import workflow_bench

    status = workflow_bench.main() or status
    print(flush=True)
    from bench import client_bench

    status = client_bench.main() or status
    print(flush=True)
    # In a fresh interpreter: this process now holds aws-cdk-lib and moto, whose many live objects would make the
    # garbage collector's full passes during the review slower and its time wrong.
    review = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "review_bench.py")], check=False)
    status = review.returncode or status
    print(flush=True)
    # In a fresh interpreter too: throughput and per-message CPU would pay for this process's garbage collector.
    envelope = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "envelope_bench.py")], check=False)
    return envelope.returncode or status


if __name__ == "__main__":
    sys.exit(main())
