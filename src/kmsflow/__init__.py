"""kmsflow: AWS KMS customer managed keys, their audit and workflows, as AWS CDK v2 constructs."""

__version__ = "0.1.0"
