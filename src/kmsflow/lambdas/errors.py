"""Errors raised by Lambda handlers.

The class name is the ``errorType`` that a Step Functions Retry or Catch matches, so a name is a contract:
renaming one breaks the state machines that match it. Every message names the resource, the region, what was
wrong and what to do (``problem; remedy``): the failure handler puts it verbatim into the execution's cause.

AWS errors reach the handlers through :func:`aws_errors`, which turns a botocore ``ClientError`` into one of
these classes: the four throttling codes into classes of exactly their names (so that Retry can match them
after botocore's own retries gave up), codes the caller knows into the caller's named errors, and anything
else into :class:`AwsCallFailed` with the AWS code and message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import ClassVar

from botocore.exceptions import ClientError


class WorkflowError(Exception):
    """Base class of the errors a workflow's Lambda handlers raise on purpose.

    The message is ``"<problem>; <remedy>"``: the problem names the resource, the region and what was wrong;
    the remedy defaults to the class's :attr:`remedy`, because most causes have one standard fix.
    """

    remedy: ClassVar[str] = "fix the cause named above, then start an execution with the same input: it resumes"

    def __init__(self, problem: str, *, remedy: str | None = None) -> None:
        self.problem = problem
        super().__init__(f"{problem.rstrip('. ')}; {remedy or self.remedy}.")


class InvalidInput(WorkflowError):
    """The execution input breaks the workflow's contract."""

    remedy = "correct the execution input and start a new execution"


# --- Throttling: the class names are the AWS error codes, so that one Retry matcher lists them all. ---------


class ThrottlingException(WorkflowError):
    """AWS throttled the call (code ``ThrottlingException``, e.g. KMS) beyond botocore's own retries."""

    remedy = "the state machine retries with back-off; if it keeps failing, lower the number of concurrent executions"


class RequestLimitExceeded(WorkflowError):
    """EC2 throttled the call (code ``RequestLimitExceeded``) beyond botocore's own retries."""

    remedy = ThrottlingException.remedy


class Throttling(WorkflowError):
    """AWS throttled the call (code ``Throttling``, e.g. RDS) beyond botocore's own retries."""

    remedy = ThrottlingException.remedy


class ThrottledException(WorkflowError):
    """AWS throttled the call (code ``ThrottledException``) beyond botocore's own retries."""

    remedy = ThrottlingException.remedy


THROTTLING_ERRORS: Mapping[str, type[WorkflowError]] = {
    cls.__name__: cls for cls in (ThrottlingException, RequestLimitExceeded, Throttling, ThrottledException)
}


# --- Snapshot copy ------------------------------------------------------------------------------------------


class AwsCallFailed(WorkflowError):
    """An AWS call failed with a code no step expects (permissions, service errors)."""

    remedy = "check the permissions of the step's role and the resource named, then start the same input again"


class SourceNotFound(WorkflowError):
    """The source instance, cluster, volume or snapshot does not exist in the source region."""

    remedy = "check source.id, source.kind and source.region of the input (the id must exist in that region)"


class SourceNotReady(WorkflowError):
    """The source exists but its state does not allow a snapshot or a copy now (e.g. an instance modifying)."""

    remedy = "wait until the source is available, then start the same input again: it resumes"


class SourceSnapshotFailed(WorkflowError):
    """The source snapshot ended in a failed state."""

    remedy = "delete the failed snapshot named above if this workflow created it, then start the same input again"


class UnencryptedSourceNotSupported(WorkflowError):
    """The source is unencrypted and its service cannot encrypt while copying (Aurora cluster snapshots)."""

    remedy = (
        "restore the snapshot into a new cluster encrypted with a KMS key, snapshot that cluster and copy the new"
        " snapshot (AWS cannot encrypt an unencrypted DB cluster snapshot while copying it)"
    )


class OptionGroupRequired(WorkflowError):
    """The source snapshot's engine needs a target option group for a cross-region copy."""

    remedy = "create a matching option group in the destination region and pass its name as options.option_group_name"


class DestinationKeyNotFound(WorkflowError):
    """The destination KMS key (or alias) does not exist in the destination region."""

    remedy = "check destination.kms_key_id: it must be the ARN of an existing key or alias in destination.region"


class DestinationKeyDisabled(WorkflowError):
    """The destination KMS key exists but is not Enabled (disabled, pending deletion or import, unavailable)."""

    remedy = "enable the key (or cancel its deletion), or name another key, then start the same input again"


class DestinationKeyNotSymmetric(WorkflowError):
    """The destination KMS key is not a symmetric encryption key (SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT)."""

    remedy = "name a symmetric encryption key (key spec SYMMETRIC_DEFAULT, key usage ENCRYPT_DECRYPT)"


class DestinationKeyWrongRegion(WorkflowError):
    """The destination KMS key lives in another region than the destination (KMS keys are regional)."""

    remedy = "name a key of destination.region (a multi-Region key needs its replica in that region)"


class DestinationKeyNotAccessible(WorkflowError):
    """The snapshot service could not use the destination key (key policy or grants refuse it)."""

    remedy = (
        "list the key under the workflow's destination_keys in kmsflow.yaml (or call the workflow construct's"
        " grant_destination_key with it) and deploy, then start the same input again"
    )


class CopyQuotaExceeded(WorkflowError):
    """Too many snapshot copies (or pending snapshots of one volume) are in progress.

    AWS allows 20 concurrent cross-region copies per destination region for RDS DB snapshots and EBS snapshots
    and 5 for Aurora DB cluster snapshots; EBS also limits pending snapshots per volume. The state machine
    retries this error with long back-off.
    """

    remedy = (
        "the state machine retries with back-off; if it keeps failing, let other copies to that region finish"
        " or ask for a higher quota, then start the same input again"
    )


class SnapshotQuotaExceeded(WorkflowError):
    """The account holds the maximum number of manual snapshots in the region (not a transient limit)."""

    remedy = "delete snapshots you no longer need in that region or raise the quota, then start the same input again"


class TargetConflict(WorkflowError):
    """The deterministic target id is taken by a snapshot that another job made."""

    remedy = "rename or delete the conflicting snapshot, then start the same input again"


class CopyFailed(WorkflowError):
    """The copy in the destination region failed or disappeared."""

    remedy = (
        "read the snapshot's events in the destination region, delete the failed copy if it is still there,"
        " then start the same input again"
    )


# --- Snapshot share (Workflows II) --------------------------------------------------------------------------


class TargetNotDeclared(InvalidInput):
    """The target account or region is not declared for this share machine (or the key is not of the target)."""

    remedy = (
        "share only with an account and region listed under the machine's workflows.snapshot_share[i].targets in"
        " kmsflow.yaml (add it there and deploy both the workflows and the share-target stacks), and name a key of"
        " that account and region in target.kms_key_id"
    )


class SharingKeyMissing(WorkflowError):
    """The machine was deployed without a sharing key in the source snapshot's region."""

    remedy = (
        "list a sharing key of that region under workflows.snapshot_share[i].sharing_keys and its region under"
        " source_regions in kmsflow.yaml, deploy, then start the same input again"
    )


class TargetRoleNotAssumable(WorkflowError):
    """The target account's copy role refused to be assumed (missing, or its trust policy does not admit us)."""

    remedy = (
        "deploy the target's stack kmsflow-share-target-<account>-<region> (its copy role trusts this machine's"
        " target-copy step with the configured external id), then start the same input again"
    )


class TargetKeyNotUsable(WorkflowError):
    """The target key is missing, disabled, not symmetric, not of the target region, or not usable by the role."""

    remedy = (
        "name in target.kms_key_id an enabled symmetric key of the target account and region that is listed under"
        " targets[j].keys (its grant helpers let the copy role use it), deploy, then start the same input again"
    )


class IntermediateKeyMissing(WorkflowError):
    """A shared Aurora cluster snapshot must first be copied in its own region, and the target key has no
    replica there to encrypt that intermediate copy."""

    remedy = (
        "make the target key multi-Region with a replica in the source region (keys[].replicas in kmsflow.yaml),"
        " deploy, then start the same input again; or share to a target region equal to the source region"
    )


class SharedKeyNotYetUsable(WorkflowError):
    """The target could not use the shared snapshot's key (yet: KMS grants are eventually consistent). The
    target-copy step counts these refusals and tries again after its next wait; it never leaves the step."""


class SharedKeyNotUsable(WorkflowError):
    """The target was refused the shared snapshot's key at every try over about half an hour: the grant is
    missing, was retired, or the key is disabled (a grant propagates within minutes)."""

    remedy = (
        "check that the sharing key is enabled and that its policy lets the open-access step create grants for the"
        " target copy role (deploy the workflows stack after the keys stack), then start the same input again"
    )


class ShareQuotaExceeded(WorkflowError):
    """The snapshot is already shared with as many accounts as its service allows (RDS: 20)."""

    remedy = "remove accounts that no longer need the snapshot from its share, then start the same input again"


class RevocationIncomplete(WorkflowError):
    """Some access opened for the copy (a share, a grant, a temporary snapshot) could not be removed."""

    remedy = (
        "remove what is listed by hand (ModifyDBSnapshotAttribute / ModifySnapshotAttribute ValuesToRemove,"
        " kms retire-grant or revoke-grant, delete the temporary snapshot), or start the same input again: its"
        " revocation runs again"
    )


def remedy_for(error_type: str) -> str | None:
    """The standard remedy of a named error class, or ``None`` for errors that kmsflow does not raise."""
    cls = globals().get(error_type)
    if isinstance(cls, type) and issubclass(cls, WorkflowError):
        return cls.remedy
    return None


# --- Translation of botocore errors -------------------------------------------------------------------------

#: Builds a named error from AWS's ``"<code>: <message>"`` detail.
ErrorFactory = Callable[[str], WorkflowError]


def error_code(error: ClientError) -> str:
    """The AWS error code of a botocore ``ClientError`` (empty if the response carried none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def error_detail(error: ClientError) -> str:
    """``"<code>: <message>"`` of a botocore ``ClientError``, for the text of the named error."""
    body = error.response.get("Error", {})
    message = body.get("Message") or "no message"
    return f"{body.get('Code', 'UnknownError')}: {message}"


def named(cls: type[WorkflowError], problem: str, *, remedy: str | None = None) -> ErrorFactory:
    """An :data:`ErrorFactory` raising ``cls`` with ``problem`` followed by what AWS said."""

    def build(detail: str) -> WorkflowError:
        return cls(f"{problem.rstrip('. ')} (AWS said {detail})", remedy=remedy)

    return build


def translate(
    error: ClientError, *, action: str, resource: str, region: str, codes: Mapping[str, ErrorFactory]
) -> WorkflowError:
    """The named error for ``error``: throttling by code name, then the caller's codes, else AwsCallFailed."""
    code = error_code(error)
    detail = error_detail(error)
    if code in THROTTLING_ERRORS:
        return THROTTLING_ERRORS[code](f"{action} of {resource} in {region} was throttled after retries ({detail})")
    if code in codes:
        return codes[code](detail)
    return AwsCallFailed(f"{action} of {resource} in {region} failed ({detail})")


@contextmanager
def aws_errors(
    *, action: str, resource: str, region: str, codes: Mapping[str, ErrorFactory] | None = None
) -> Iterator[None]:
    """Run AWS calls so that any ``ClientError`` leaves as a named :class:`WorkflowError` (see :func:`translate`)."""
    try:
        yield
    except ClientError as error:
        raise translate(error, action=action, resource=resource, region=region, codes=codes or {}) from error
