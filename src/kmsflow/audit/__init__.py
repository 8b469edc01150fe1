"""Audit of KMS keys from CloudTrail (DESIGN §4): ``kmsflow audit usage`` answers "which keys were used, by whom,
for which operation".

Only the standard library and boto3/botocore are imported here (no CDK): the report runs where CloudTrail logs
are, without Node.js or jsii.
"""
