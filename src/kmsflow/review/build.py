"""The review of one cloud assembly (and, with a baseline, its difference from another): the composition of
keys, access, principals, findings, cost and unknowns. Reads the directory and nothing else."""

from __future__ import annotations

from pathlib import Path

from kmsflow.policy.assembly import Assembly, AssemblyError
from kmsflow.policy.evaluate import PolicyEvaluationError
from kmsflow.policy.model import Policy
from kmsflow.review.access import IdentityIndex, KeyAccess, key_access
from kmsflow.review.actions import applicable_actions
from kmsflow.review.cost import key_cost
from kmsflow.review.diff import diff_reviews
from kmsflow.review.exceptions import ReviewError
from kmsflow.review.findings import FindingContext, findings_for
from kmsflow.review.keys import key_infos, key_policy
from kmsflow.review.model import KeyInfo, KeyReview, Review
from kmsflow.review.principals import principal_infos
from kmsflow.review.unknowns import unknowns


def review_assembly(path: str | Path, *, baseline: str | Path | None = None) -> Review:
    """Review the cloud assembly in ``path``; with ``baseline``, also what changed since that assembly.
    Raises :class:`ReviewError` for a directory that is not a readable cloud assembly."""
    current = _review(path)
    if baseline is None:
        return current
    before = _review(baseline, role="baseline ")
    return Review(
        source=current.source,
        keys=current.keys,
        principals=current.principals,
        unknowns=current.unknowns,
        diff=diff_reviews(before, current, baseline_source=str(baseline)),
    )


def _review(path: str | Path, *, role: str = "") -> Review:
    assembly = _read(Path(path), role)
    index = IdentityIndex(assembly)
    keys: list[KeyReview] = []
    outside: set[str] = set()
    accesses: list[tuple[KeyInfo, Policy, KeyAccess]] = []
    for info in key_infos(assembly):
        policy = key_policy(assembly, info)
        actions = applicable_actions(
            spec=info.spec, usage=info.usage, origin=info.origin, multi_region=info.multi_region
        )
        try:
            access = key_access(assembly, index, info.id, policy, account=info.account, actions=actions)
        except PolicyEvaluationError as err:
            raise ReviewError(f"{role}assembly {path}: {err}") from err
        outside.update(access.outside)
        accesses.append((info, policy, access))
    principals = principal_infos((f for _, _, a in accesses for f in a.facts), index.arns)
    by_id = {p.id: p for p in principals}
    for info, policy, access in accesses:
        context = FindingContext(
            key=info,
            policy=policy.document,
            policy_source=policy.source,
            facts=access.facts,
            grant_creators=access.grant_creators,
            principals=by_id,
            account=info.account,
        )
        keys.append(
            KeyReview(
                key=info,
                facts=access.facts,
                grant_creators=access.grant_creators,
                findings=findings_for(context),
                cost=key_cost(info),
            )
        )
    return Review(
        source=str(path), keys=tuple(keys), principals=principals, unknowns=unknowns(assembly, sorted(outside))
    )


def _read(path: Path, role: str) -> Assembly:
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise ReviewError(
            f"{role}cloud assembly {path} {what}: pass the directory `cdk synth` wrote (cdk.out by default)"
        )
    try:
        return Assembly.from_directory(path)
    except AssemblyError as err:
        raise ReviewError(f"{role}{path} is not a readable cloud assembly: {err}") from err
