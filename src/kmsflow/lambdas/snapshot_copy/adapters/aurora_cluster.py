"""Aurora DB cluster snapshots: the RDS family's code with cluster names, and one rule of its own.

AWS cannot encrypt an unencrypted DB cluster snapshot while copying it ("If you copy an unencrypted DB cluster
snapshot and specify a value for the KmsKeyId parameter, an error is returned", CopyDBClusterSnapshot), so
an unencrypted cluster is refused before a snapshot of it is made, and an unencrypted cluster snapshot before
the copy. Aurora also allows only 5 concurrent cross-region copies per destination region (RDS: 20).
"""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import ClientError

from kmsflow.lambdas.errors import SourceNotFound, UnencryptedSourceNotSupported, aws_errors, error_code
from kmsflow.lambdas.snapshot_copy.adapters import SnapshotRecord
from kmsflow.lambdas.snapshot_copy.adapters.rds_instance import RdsApi, RdsFamilyAdapter

AURORA_CLUSTER_API = RdsApi(
    parent_label="DB cluster",
    snapshot_label="DB cluster snapshot",
    create="create_db_cluster_snapshot",
    describe="describe_db_cluster_snapshots",
    copy="copy_db_cluster_snapshot",
    delete="delete_db_cluster_snapshot",
    parent_param="DBClusterIdentifier",
    snapshot_param="DBClusterSnapshotIdentifier",
    source_param="SourceDBClusterSnapshotIdentifier",
    target_param="TargetDBClusterSnapshotIdentifier",
    list_key="DBClusterSnapshots",
    item_key="DBClusterSnapshot",
    arn_field="DBClusterSnapshotArn",
    encrypted_field="StorageEncrypted",
    parent_not_found="DBClusterNotFoundFault",
    parent_bad_state="InvalidDBClusterStateFault",
    snapshot_not_found="DBClusterSnapshotNotFoundFault",
    snapshot_exists="DBClusterSnapshotAlreadyExistsFault",
    snapshot_bad_state="InvalidDBClusterSnapshotStateFault",
    modify_attribute="modify_db_cluster_snapshot_attribute",
    describe_attributes="describe_db_cluster_snapshot_attributes",
    attributes_result="DBClusterSnapshotAttributesResult",
    attributes_list="DBClusterSnapshotAttributes",
)


class AuroraClusterAdapter(RdsFamilyAdapter):
    """Aurora DB cluster snapshots between a source and a destination region."""

    api = AURORA_CLUSTER_API
    family = "aurora"
    encrypts_unencrypted = False

    def create_source_snapshot(self, resource_id: str, *, snapshot_id: str, tags: Mapping[str, str]) -> SnapshotRecord:
        self._require_encrypted_cluster(resource_id)
        return super().create_source_snapshot(resource_id, snapshot_id=snapshot_id, tags=tags)

    def _require_encrypted_cluster(self, cluster_id: str) -> None:
        """Fail before snapshotting a cluster whose snapshot could never be copied under the destination key."""
        resource = f"DB cluster {cluster_id}"
        with aws_errors(action="describe_db_clusters", resource=resource, region=self.source_region):
            try:
                clusters = self._rds(self.source_region).describe_db_clusters(DBClusterIdentifier=cluster_id)
            except ClientError as error:
                if error_code(error) == self.api.parent_not_found:
                    raise SourceNotFound(f"{resource} does not exist in {self.source_region}") from error
                raise
        if not all(cluster.get("StorageEncrypted") for cluster in clusters.get("DBClusters", [])):
            raise UnencryptedSourceNotSupported(f"{resource} in {self.source_region} is not encrypted")
