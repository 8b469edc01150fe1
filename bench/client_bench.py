"""Client creation in the Lambda handlers: ``kmsflow.lambdas.aws_clients.client`` (shared model loader) against
a fresh ``boto3.session.Session(...).client(...)`` per call (the pattern it replaced), in the same process.

Each variant makes ``COUNT`` clients of each service after one warm-up client; nothing is sent (clients only).
The ratio is the baseline's median time per client over kmsflow's: how many times faster a handler gets its
clients once its container has made the first one. Dummy credentials; no network.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3

from kmsflow.lambdas import aws_clients

SERVICES = ("ec2", "rds", "kms", "sts")
REGION = "eu-west-1"
COUNT = 20


def per_client_ms(make: Callable[[str], Any], service: str) -> float:
    make(service)  # warm-up: the first client of a process parses the model either way
    samples = []
    for _ in range(COUNT):
        start = time.perf_counter()
        make(service)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    aws_clients.reset()

    def baseline(service: str) -> Any:
        return boto3.session.Session(region_name=REGION).client(service, config=aws_clients.RETRY_CONFIG)

    def kmsflow(service: str) -> Any:
        return aws_clients.client(service, region=REGION)

    print(f"boto3 client creation, median ms per client after a warm-up ({COUNT} per service)")
    print(f"{'service':<8} {'fresh Session':>13} {'aws_clients':>11} {'ratio':>6}")
    for service in SERVICES:
        slow, fast = per_client_ms(baseline, service), per_client_ms(kmsflow, service)
        print(f"{service:<8} {slow:>13.1f} {fast:>11.1f} {slow / fast:>5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
