"""Delivery from a repository: the GitHub Actions workflows the configuration implies (pull-request review,
stage-by-stage deploy) and the digest that ties a deployed cloud assembly to the reviewed one.

Pure Python: no ``aws_cdk`` (the digest runs in a deploy job before any credentials exist)."""
