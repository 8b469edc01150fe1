"""Key policies as data: the role table and the checks that kmsflow's guards, cdk-nag pack and review share.

Nothing here imports ``aws_cdk``: the checks run on policy documents as plain JSON-like dicts, the way
CloudFormation templates hold them.
"""
