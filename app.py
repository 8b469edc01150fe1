#!/usr/bin/env python3
"""The CDK app: read the configuration (``-c config=PATH``, default ``kmsflow.yaml``) and synthesize."""

import sys

from kmsflow.app import main

if __name__ == "__main__":
    sys.exit(main())
