#!/usr/bin/env python3
"""The CDK app: read the configuration (``-c config=PATH``, default ``kmsflow.yaml``) and synthesize."""

import sys

from kmsflow.node import prefer_pinned_node

prefer_pinned_node()  # before aws_cdk is imported: jsii starts Node on that import

from kmsflow.app import main  # noqa: E402 - after the PATH is set

if __name__ == "__main__":
    sys.exit(main())
