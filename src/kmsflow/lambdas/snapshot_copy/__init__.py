"""Cross-region snapshot copy with re-encryption: the Lambda steps of the workflow (DESIGN §5).

``handlers`` holds the Step Functions tasks (each takes the job and returns the next job), ``job`` the job
document (input validation, deterministic ids, lineage tags, output), ``adapters`` one adapter per resource
family (RDS instance snapshots, Aurora cluster snapshots, EBS snapshots) and ``backoff`` the waiting policy.
"""
