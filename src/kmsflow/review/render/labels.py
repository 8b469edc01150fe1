"""How the reports name things, the same way in every format: keys, principals, statements, settings, cost,
and the counts of the summary line and of a diff."""

from __future__ import annotations

from collections.abc import Mapping

from kmsflow.review.model import AccessFact, Cost, Diff, KeyInfo, Review, Severity, Source, Via


def key_title(key: KeyInfo) -> str:
    """``<stack>/<logical id>``: what a reader finds in the template."""
    return f"{key.stack}/{key.logical_id}"


def key_titles(review: Review) -> dict[str, str]:
    """Key id -> title, for the keys of this review (a diff also names removed keys, by id)."""
    return {entry.key.id: key_title(entry.key) for entry in review.keys}


def principal_labels(review: Review) -> dict[str, str]:
    """Principal id -> its label ("key administrator"...), for principals that have one."""
    return {principal.id: principal.label for principal in review.principals if principal.label}


def principal_name(principal: str, labels: Mapping[str, str]) -> str:
    """The principal with its label: ``arn:aws:iam::111111111111:role/Admin (key administrator)``."""
    label = labels.get(principal)
    return f"{principal} ({label})" if label else principal


def source_words(source: Source) -> str:
    """A statement: ``AppStack/DataKey KeyPolicy (KeyUsers)``."""
    return f"{source.policy} ({source.sid})"


def key_policy_name(key: KeyInfo) -> str:
    """How sources name the key's own policy (:class:`~kmsflow.review.model.Source`)."""
    return f"{key_title(key)} KeyPolicy"  # the model's convention: ``<stack>/<logical id> KeyPolicy``


def own_policy(key_id: str, titles: Mapping[str, str]) -> str:
    """The name sources give the policy of the key ``key_id`` (empty for a key not in the review)."""
    return f"{titles[key_id]} KeyPolicy" if key_id in titles else ""


def source_name(source: Source, own_policy: str = "") -> str:
    """A statement where the reader knows the key: one of ``own_policy`` (the key's policy) reads
    ``key policy (KeyUsers)``, any other as :func:`source_words` names it."""
    return f"key policy ({source.sid})" if source.policy == own_policy else source_words(source)


def via_words(via: Via, sources: tuple[Source, ...], unless: tuple[Source, ...] = (), own_policy: str = "") -> str:
    """How a fact comes about. A statement of ``own_policy`` (the key's policy, where the reader knows the key)
    reads ``key policy (KeyUsers)``, so a fact its key policy allows reads just that; an IAM fact reads
    ``IAM policy: <identity statement>, delegated by key policy (<statement>)``. Then ``unless <Deny> applies``
    for each Deny statement that could not be decided offline."""
    if via is Via.IAM:
        identity = [source_name(s, own_policy) for s in sources if s.via is Via.IAM]
        delegating = [source_name(s, own_policy) for s in sources if s.via is not Via.IAM]
        text = f"{via.value}: " + " + ".join(identity)
        if delegating:
            text += ", delegated by " + " + ".join(delegating)
    else:
        text = " + ".join(source_name(source, own_policy) for source in sources)
        if not all(source.policy == own_policy for source in sources):
            text = f"{via.value}: {text}"
    for deny in unless:
        text += f", unless {source_name(deny, own_policy)} applies"
    return text


def fact_via(fact: AccessFact, own_policy: str = "") -> str:
    return via_words(fact.via, fact.sources, fact.unless, own_policy)


def rotation_words(key: KeyInfo) -> str:
    if key.rotation is None:
        return "rotation n/a"
    if not key.rotation:
        return "rotation off"
    return f"rotation every {key.rotation_period_days} days" if key.rotation_period_days else "rotation on"


def cost_words(cost: Cost) -> str:
    """``≈ $1.00/month (estimate)``; with rotation, also the cost once rotation has reached its cap."""
    qualifier = "estimate" if cost.estimate else "list price"
    if cost.steady_state_monthly_usd != cost.monthly_usd:
        return (
            f"≈ ${cost.monthly_usd}/month now, ${cost.steady_state_monthly_usd}/month once rotation reaches its "
            f"price cap ({qualifier})"
        )
    return f"≈ ${cost.monthly_usd}/month ({qualifier})"


def settings_words(key: KeyInfo, cost: Cost, titles: Mapping[str, str]) -> list[str]:
    """The key's settings, one phrase each, in a fixed order (the reports join them)."""
    parts = [key.spec, key.usage, f"origin {key.origin}", rotation_words(key)]
    parts.append(f"deletion window {key.deletion_window_days} days")
    parts.append("aliases " + ", ".join(key.aliases) if key.aliases else "no alias")
    if key.multi_region:
        parts.append("multi-Region")
    if key.primary is not None:
        parts.append(f"replica of {titles.get(key.primary, key.primary)}")
    if key.replicas:
        parts.append("replicas " + ", ".join(titles.get(replica, replica) for replica in key.replicas))
    if not key.enabled:
        parts.append("disabled")
    parts.append(f"removal {key.removal}")
    parts.append(cost_words(cost))
    return parts


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count} {word if count == 1 else (words or word + 's')}"


def severity_counts(review: Review) -> str:
    """``findings: 1 high, 2 medium, 0 low, 1 info`` (or ``findings: none``)."""
    found = review.findings
    if not found:
        return "findings: none"
    counts = {severity: 0 for severity in Severity}
    for finding in found:
        counts[finding.severity] += 1
    return "findings: " + ", ".join(f"{count} {severity.value}" for severity, count in counts.items())


def summary_words(review: Review) -> str:
    """The summary line: keys, facts, grant creators, findings by severity, unknowns."""
    facts = sum(len(entry.facts) for entry in review.keys)
    creators = sum(len(entry.grant_creators) for entry in review.keys)
    return " · ".join(
        (
            plural(len(review.keys), "key"),
            plural(facts, "access fact"),
            plural(creators, "grant creator"),
            severity_counts(review),
            plural(len(review.unknowns), "unknown"),
        )
    )


def diff_counts(diff: Diff) -> list[tuple[str, int]]:
    """What changed against the baseline, counted, in the order the reports list it."""
    changes = {change: 0 for change in ("narrowed", "widened", "changed")}
    for condition in diff.conditions:
        changes[condition.change] = changes.get(condition.change, 0) + 1
    return [
        ("keys added", len(diff.keys_added)),
        ("keys removed", len(diff.keys_removed)),
        ("access gained", len(diff.gained)),
        ("access lost", len(diff.lost)),
        *((f"conditions {change}", count) for change, count in changes.items()),
        ("settings changed", len(diff.settings)),
        ("findings new", len(diff.findings_new)),
        ("findings resolved", len(diff.findings_resolved)),
    ]


def diff_summary(diff: Diff) -> str:
    """``access gained: 2 · access lost: 1 ...`` (only what is not zero), or ``no change``."""
    counted = [f"{what}: {count}" for what, count in diff_counts(diff) if count]
    return " · ".join(counted) if counted else "no change"
