"""The Markdown report: its sections and rows, escaping, byte-identical output, and the 64 KB cut."""

from __future__ import annotations

import dataclasses

from kmsflow.review.model import Diff
from kmsflow.review.render import render
from kmsflow.review.render.markdown import LIMIT_BYTES, full_markdown
from kmsflow.review.render.markdown_summary import CUT_SENTENCE
from kmsflow.review.render.markdown_text import cell, escape
from tests.review.fixtures import DATA, large_review, review_with_diff, review_without_diff

SUMMARY = "3 keys · 17 access facts · 1 grant creator · findings: 2 high, 2 medium, 1 low, 1 info · 3 unknowns"


def _lines(text: str) -> list[str]:
    return text.split("\n")


def test_title_summary_and_section_order() -> None:
    text = render(review_with_diff(), "md")
    lines = _lines(text)
    assert lines[:3] == ["# kmsflow review: cdk.out", "", SUMMARY]
    headings = [line for line in lines if line.startswith("## ")]
    assert headings == ["## Changes against baseline/cdk.out", "## Findings", "## Keys", "## Unknowns"]
    assert text.endswith("\n")
    assert not text.endswith("\n\n")


def test_findings_table_rows() -> None:
    lines = _lines(render(review_without_diff(), "md"))
    start = lines.index("## Findings")
    assert lines[start + 2 : start + 10] == [
        "| Severity | Id | Key | Message | Statement |",
        "|---|---|---|---|---|",
        "| high | KR01 | AppStack/DataKey1A2B3C4D | statement NetworkDescribe allows Principal '\\*' (kms:DescribeKey) "
        "without a condition that names who may call, i.e. any AWS account | AppStack/DataKey1A2B3C4D KeyPolicy "
        "(NetworkDescribe) |",
        "| high | KR06 | SigningStack/SigningKey9A8B7C6D | arn:aws:iam::111111111111:role/KeyAdministrator can both "
        "change the key policy and Sign | SigningStack/SigningKey9A8B7C6D KeyPolicy (KeyAdministrators) |",
        "| medium | KR03 | AppStack/DataKey1A2B3C4D | account 444444444444 may call Decrypt with kms:CallerAccount "
        "only if present \\| add kms:ViaService | AppStack/DataKey1A2B3C4D KeyPolicy (CrossAccountDecrypt) |",
        "| medium | KR05 | SigningStack/SigningKey9A8B7C6D | key administrator "
        "arn:aws:iam::111111111111:role/KeyAdministrator can also Sign | SigningStack/SigningKey9A8B7C6D KeyPolicy "
        "(KeyAdministrators) |",
        "| low | KR09 | SigningStack/SigningKey9A8B7C6D | deletion window 7 days: a key scheduled for deletion by "
        "mistake has 7 days to be cancelled |  |",
        "| info | KR99 | AppReplicaStack/DataReplicaE5F6A7B8 | the replica's key policy is its own: review it with "
        "the primary's \\<AppStack/DataKey1A2B3C4D> |  |",
    ]


def test_diff_rows() -> None:
    lines = _lines(render(review_with_diff(), "md"))
    assert "## Changes against" not in render(review_without_diff(), "md")
    assert (
        "keys added: 1 · keys removed: 1 · access gained: 2 · access lost: 1 · conditions narrowed: 2 · "
        "conditions widened: 1 · settings changed: 1 · findings new: 1 · findings resolved: 1"
    ) in lines
    assert "**Keys added:** SigningStack/SigningKey9A8B7C6D" in lines
    assert "**Keys removed:** arn:aws:kms:eu-west-1:111111111111:key/OldStack-LegacyKeyFFFF0000" in lines
    gained = lines.index("### Access gained")
    assert lines[gained + 4 : gained + 6] == [
        "| arn:aws:iam::444444444444:root | Decrypt | AppStack/DataKey1A2B3C4D | kms:CallerAccount = 444444444444 "
        "(if present) | key policy (CrossAccountDecrypt), unless key policy (DenyOutsideOrganization) applies |",
        "| arn:aws:iam::111111111111:role/ReportWriter | Decrypt | AppStack/DataKey1A2B3C4D | "
        "kms:EncryptionContext:app like reports-\\* | IAM policy: AppStack/ReportWriterRoleDefaultPolicy0F1E2D3C "
        "PolicyDocument (ReadReports), delegated by key policy (EnableIamPolicies) |",
    ]
    lost = lines.index("### Access lost")
    assert lines[lost + 4] == (
        "| arn:aws:iam::111111111111:role/KeyAdministrator (key administrator) | CancelKeyDeletion | "
        "AppStack/DataKey1A2B3C4D | none | key policy (KeyAdministrators) |"
    )
    changes = lines.index("### Conditions narrowed, widened or changed")
    assert lines[changes + 4 : changes + 7] == [
        "| narrowed | arn:aws:iam::111111111111:role/DataProcessor (key user) | Decrypt | AppStack/DataKey1A2B3C4D | "
        "none | kms:ViaService = rds.eu-west-1.amazonaws.com |",
        "| narrowed | arn:aws:iam::111111111111:role/DataProcessor (key user) | GenerateDataKey | "
        "AppStack/DataKey1A2B3C4D | (aws:SourceIp in 10.0.0.0/8 unless key policy (DenyOutsideOrganization)) or "
        "(kms:ViaService = rds.eu-west-1.amazonaws.com) | kms:ViaService = rds.eu-west-1.amazonaws.com |",
        "| widened | arn:aws:iam::111111111111:role/DataProcessor (key user) | Decrypt | "
        "AppReplicaStack/DataReplicaE5F6A7B8 | kms:ViaService = rds.eu-central-1.amazonaws.com | kms:ViaService ∈ "
        "{rds.eu-central-1.amazonaws.com, s3.eu-central-1.amazonaws.com} |",
    ]
    assert "| AppStack/DataKey1A2B3C4D | rotation | False | True |" in lines
    resolved = lines.index("### Resolved findings")
    assert lines[resolved + 4] == "| medium | KR08 | AppStack/DataKey1A2B3C4D | automatic rotation is off |  |"
    new = lines.index("### New findings")
    assert lines[new + 4].startswith("| high | KR01 | AppStack/DataKey1A2B3C4D | statement NetworkDescribe")


def test_empty_diff_says_no_change() -> None:
    empty = Diff(
        baseline="old",
        keys_added=(),
        keys_removed=(),
        gained=(),
        lost=(),
        conditions=(),
        settings=(),
        findings_new=(),
        findings_resolved=(),
    )
    lines = _lines(render(dataclasses.replace(review_without_diff(), diff=empty), "md"))
    heading = lines.index("## Changes against old")
    assert lines[heading + 2] == "no change"
    assert lines[heading + 4] == "## Findings"


def test_key_section() -> None:
    lines = _lines(render(review_without_diff(), "md"))
    start = lines.index("### AppStack/DataKey1A2B3C4D")
    assert lines[start + 2] == "`arn:aws:kms:eu-west-1:111111111111:key/AppStack-DataKey1A2B3C4D` · App data (RDS)"
    assert lines[start + 4] == (
        "SYMMETRIC_DEFAULT · ENCRYPT_DECRYPT · origin AWS_KMS · rotation every 365 days · deletion window 30 days · "
        "aliases alias/app/data · multi-Region · replicas AppReplicaStack/DataReplicaE5F6A7B8 · removal Retain · "
        "≈ \\$1.00/month now, \\$3.00/month once rotation reaches its price cap (estimate)"
    )
    assert lines[start + 6 : start + 14] == [
        "| Principal | Actions | Conditions | Via |",
        "|---|---|---|---|",
        "| \\* | DescribeKey | aws:SourceIp in 10.0.0.0/8 | key policy (NetworkDescribe) |",
        "| arn:aws:iam::111111111111:role/DataProcessor (key user) | Encrypt, Decrypt, GenerateDataKey | "
        "kms:ViaService = rds.eu-west-1.amazonaws.com | key policy (KeyUsers) |",
        "|  | CreateGrant | kms:GrantIsForAWSResource is true and every kms:GrantOperations ∈ {Decrypt, Encrypt} | "
        "key policy (KeyUsers) |",
        "| arn:aws:iam::111111111111:role/KeyAdministrator (key administrator) | PutKeyPolicy, ScheduleKeyDeletion, "
        "DescribeKey | none | key policy (KeyAdministrators) |",
        "| arn:aws:iam::111111111111:role/ReportWriter | Decrypt | kms:EncryptionContext:app like reports-\\* | "
        "IAM policy: AppStack/ReportWriterRoleDefaultPolicy0F1E2D3C PolicyDocument (ReadReports), delegated by key "
        "policy (EnableIamPolicies) |",
        "| arn:aws:iam::444444444444:root | Decrypt | kms:CallerAccount = 444444444444 (if present) | key policy "
        "(CrossAccountDecrypt), unless key policy (DenyOutsideOrganization) applies |",
    ]
    creators = lines.index("**Grant creators** (grants themselves are made at run time, by these principals)")
    assert lines[creators + 4] == (
        "| arn:aws:iam::111111111111:role/DataProcessor (key user) | any | Decrypt, Encrypt | yes | "
        "kms:GrantIsForAWSResource is true and every kms:GrantOperations ∈ {Decrypt, Encrypt} | key policy (KeyUsers) |"
    )


def test_signing_key_settings_and_conditions() -> None:
    lines = _lines(render(review_without_diff(), "md"))
    start = lines.index("### SigningStack/SigningKey9A8B7C6D")
    assert lines[start + 2] == (
        "`arn:aws:kms:eu-west-1:111111111111:key/SigningStack-SigningKey9A8B7C6D` · Signs release artifacts \\<v2> \\| "
        "pipeline"
    )
    assert lines[start + 4] == (
        "RSA_2048 · SIGN_VERIFY · origin AWS_KMS · rotation n/a · deletion window 7 days · aliases "
        "alias/app/release-signing · removal Delete · ≈ \\$1.00/month (estimate)"
    )
    assert (
        "| arn:aws:iam::111111111111:role/ReleaseSigner (signer) | Sign, Verify | aws:MultiFactorAuthAge is present "
        "and aws:MultiFactorAuthAge \\< 3600 | key policy (Signers) |"
    ) in lines
    assert (
        "| cloudtrail.amazonaws.com (AWS service cloudtrail) | GetPublicKey | aws:SourceArn like "
        "arn:aws:cloudtrail:eu-west-1:111111111111:trail/\\* and aws:CurrentTime before 2030-01-01T00:00:00Z | key "
        "policy (CloudTrailPublicKey) |"
    ) in lines


def test_unknowns_escape_pipes_and_newlines() -> None:
    lines = _lines(render(review_without_diff(), "md"))
    assert lines[-7:] == [
        "## Unknowns",
        "",
        "| What | Where | Detail |",
        "|---|---|---|",
        "| organization policies | \\* | service and resource control policies are not in the assembly |",
        "| parameter | AppStack/KeyAdminArn | parameter KeyAdminArn has no default \\| read as a placeholder<br>its "
        "value decides the administrators |",
        "",
    ]


def test_unknowns_about_a_key_are_listed_with_it() -> None:
    lines = _lines(render(review_without_diff(), "md"))
    start = lines.index("**Unknowns** (what the review could not resolve offline)")
    assert lines.index("### AppStack/DataKey1A2B3C4D") < start < lines.index("### SigningStack/SigningKey9A8B7C6D")
    assert lines[start + 2 : start + 5] == [
        "| What | Where | Detail |",
        "|---|---|---|",
        "| outside principal | AppStack/DataKey1A2B3C4D KeyPolicy | arn:aws:iam::444444444444:root is outside the "
        "assembly: its IAM policies are unknown |",
    ]
    review = review_without_diff()
    only_key = dataclasses.replace(review, unknowns=review.unknowns[1:2])
    assert _lines(render(only_key, "md"))[-2] == "Every unknown is about one key: see the key."
    assert _lines(render(dataclasses.replace(review, unknowns=()), "md"))[-2] == (
        "Nothing that could not be resolved offline."
    )


def test_key_without_facts() -> None:
    review = review_without_diff()
    lonely = dataclasses.replace(DATA, facts=(), grant_creators=())
    text = render(dataclasses.replace(review, keys=(lonely,)), "md")
    assert "No access facts: no principal can use or manage this key." in _lines(text)
    assert "**Grant creators**" not in text


def test_escaping() -> None:
    assert escape("a|b*c_d `e` [f] <g> $1 ~h\\ snake_case _x_") == (
        "a\\|b\\*c_d \\`e\\` \\[f] \\<g> \\$1 \\~h\\\\ snake_case \\_x\\_"
    )
    assert escape("one\ntwo") == "one two"
    assert cell("one|two\r\nthree\nfour") == "one\\|two<br>three<br>four"


def test_byte_identical() -> None:
    first = render(review_with_diff(), "md")
    assert render(review_with_diff(), "md") == first
    assert render(review_with_diff(), "md").encode() == first.encode()


def test_small_report_is_whole() -> None:
    review = review_with_diff()
    assert render(review, "md", full_report="report.html") == full_markdown(review)


def test_cut_at_64_kb_names_the_full_report() -> None:
    review = large_review(400)
    assert len(full_markdown(review).encode("utf-8")) > LIMIT_BYTES  # the case under test
    text = render(review, "md", full_report="cdk.out/review/report.html")
    assert len(text.encode("utf-8")) <= LIMIT_BYTES
    lines = _lines(text)
    assert lines[:5] == [
        "# kmsflow review: cdk.out",
        "",
        "400 keys · 1600 access facts · 0 grant creators · findings: 0 high, 400 medium, 0 low, 0 info · 3 unknowns",
        "",
        "The full report is in cdk.out/review/report.html.",
    ]
    findings = lines.index("## Findings")
    assert lines[findings + 4] == (
        "| medium | KR08 | Stack0000/Key0000ABCDEF01 | automatic rotation of Stack0000/Key0000ABCDEF01 is off: its key "
        "material stays the same for as long as the key exists; enable rotation (EnableKeyRotation) or record why "
        "not |  |"
    )
    shown = sum(1 for line in lines if line.startswith("| medium | KR08 |"))
    assert 0 < shown < 400
    assert lines[-2] == f"_Not shown here: Findings, {400 - shown} of 400 rows; Keys, 400 of 400 rows._"
    assert render(review, "md", full_report="cdk.out/review/report.html") == text


def test_cut_without_a_full_report_says_how_to_get_it() -> None:
    review = dataclasses.replace(large_review(400), diff=review_with_diff().diff)
    text = render(review, "md")
    assert len(text.encode("utf-8")) <= LIMIT_BYTES
    lines = _lines(text)
    assert lines[4] == CUT_SENTENCE
    assert CUT_SENTENCE == "This report was cut at 64 KB; run `kmsflow review --format html` for the full report."
    # the diff comes first, whole, then as many findings as fit
    assert lines.index("### Access gained") < lines.index("## Findings")
    # keys of the diff that are not in the review are named by id
    assert "| arn:aws:kms:eu-west-1:111111111111:key/AppStack-DataKey1A2B3C4D | rotation | False | True |" in lines
