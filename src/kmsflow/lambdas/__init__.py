"""Lambda runtime code of kmsflow's workflows.

Everything under this package runs inside AWS Lambda and may import only the Python standard library and
boto3/botocore; ``tests/lambdas/test_runtime_imports.py`` proves it by importing the package with
``aws_cdk``, ``constructs``, ``cdk_nag`` and ``pydantic`` blocked.
"""
