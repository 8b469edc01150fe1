"""The SARIF 2.1.0 report, for code-scanning upload: one result per current finding, located in the template
file of the key's stack (physical) and at the key resource (logical), with a fingerprint that stays the same
while the finding does (its rule, key, principal and statement: the message may reword). A diff against a
baseline is summarized in the run's properties; its resolved findings are not results."""

from __future__ import annotations

import hashlib
import json
import posixpath
from collections.abc import Mapping
from typing import Any

from kmsflow import __version__
from kmsflow.review.model import Finding, KeyInfo, Review, Severity
from kmsflow.review.render.labels import diff_counts, source_words

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "kmsflow-review"
#: Where readers learn about the tool; omitted while the project has no public address (SARIF makes it optional).
INFORMATION_URI: str | None = None
FINGERPRINT = "kmsflowFindingIdentity/v1"

LEVELS = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note", Severity.INFO: "note"}
#: GitHub code scanning's "security-severity" (a CVSS-like score: >= 7 high, >= 4 medium, > 0 low).
SECURITY_SEVERITY = {Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "2.0", Severity.INFO: "0.0"}


def render_sarif(review: Review) -> str:
    return json.dumps(sarif_log(review), indent=2, ensure_ascii=False) + "\n"


def sarif_log(review: Review) -> dict[str, Any]:
    keys = {entry.key.id: entry.key for entry in review.keys}
    findings = review.findings
    driver: dict[str, Any] = {"name": TOOL_NAME, "version": __version__}
    if INFORMATION_URI:
        driver["informationUri"] = INFORMATION_URI
    driver["rules"] = _rules(findings)
    rule_index = {rule["id"]: index for index, rule in enumerate(driver["rules"])}
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "results": [_result(finding, rule_index[finding.id], keys, review.source) for finding in findings],
        "properties": _run_properties(review),
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def template_uri(key: KeyInfo, source: str) -> str:
    """The key's template, relative: under the assembly directory as given when that is relative (so a code
    scanner run from the repository finds ``cdk.out/<stack>.template.json``, or a stage's
    ``cdk.out/assembly-Prod/...``), else its path inside the assembly alone."""
    name = key.template or f"{key.stack}.template.json"
    base = posixpath.normpath(source.replace("\\", "/")) if source else "."
    if base == "." or base.startswith(("/", "..")) or ":" in base:
        return name
    return f"{base}/{name}"


def fingerprint(finding: Finding) -> str:
    return hashlib.sha256("\x1f".join(finding.identity).encode("utf-8")).hexdigest()


def _rules(findings: tuple[Finding, ...]) -> list[dict[str, Any]]:
    """One rule per rule id used, at the highest severity its findings have, described by the rule's title."""
    titles = _rule_titles()
    highest: dict[str, Finding] = {}
    for finding in findings:
        if finding.id not in highest or finding.severity.rank < highest[finding.id].severity.rank:
            highest[finding.id] = finding
    rules = []
    for rule_id in sorted(highest):
        finding = highest[rule_id]
        title = titles.get(rule_id) or finding.rule.replace("-", " ").capitalize()
        rules.append(
            {
                "id": rule_id,
                "name": finding.rule,
                "shortDescription": {"text": title},
                "defaultConfiguration": {"level": LEVELS[finding.severity]},
                "properties": {
                    "tags": ["security", "kms"],
                    "security-severity": SECURITY_SEVERITY[finding.severity],
                },
            }
        )
    return rules


def _rule_titles() -> Mapping[str, str]:
    # Imported here: the rules are the findings package's, the report only borrows their titles.
    from kmsflow.review.findings import all_rules

    return {rule.id: rule.title for rule in all_rules()}


def _result(finding: Finding, rule_index: int, keys: Mapping[str, KeyInfo], source: str) -> dict[str, Any]:
    key = keys.get(finding.key)
    location: dict[str, Any] = {}
    if key is not None:
        location["physicalLocation"] = {"artifactLocation": {"uri": template_uri(key, source)}}
        name, qualified = key.logical_id, f"{key.stack}/{key.logical_id}"
    else:
        name = qualified = finding.key
    location["logicalLocations"] = [{"name": name, "fullyQualifiedName": qualified, "kind": "resource"}]
    properties: dict[str, Any] = {"severity": finding.severity.value, "key": finding.key}
    if finding.principal is not None:
        properties["principal"] = finding.principal
    if finding.source is not None:
        properties["statement"] = source_words(finding.source)
    return {
        "ruleId": finding.id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT: fingerprint(finding)},
        "properties": properties,
    }


def _run_properties(review: Review) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "source": review.source,
        "keys": len(review.keys),
        "accessFacts": sum(len(entry.facts) for entry in review.keys),
        "unknowns": len(review.unknowns),
    }
    if review.diff is not None:
        properties["baseline"] = review.diff.baseline
        properties["diff"] = {_camel(what): count for what, count in diff_counts(review.diff)}
    return properties


def _camel(words: str) -> str:
    """``access gained`` -> ``accessGained`` (SARIF's property names are camelCase)."""
    first, *rest = words.split()
    return first + "".join(word.capitalize() for word in rest)
