"""Every class of bad configuration is refused with the file, the line, the path, the value and what is allowed.

Each test changes one thing in an otherwise valid file and checks the exact issue list (so that a second,
unexpected issue fails the test too). Spec, usage and rotation cases are generated from ``keyspec.SPECS``.
"""

from __future__ import annotations

from typing import Any

import pytest

from kmsflow.config import KeyConfig, PolicyConfig
from kmsflow.keyspec import SPECS, KeyUsage
from kmsflow.policy.roles import VIA_SERVICES

from .conftest import (
    SOURCE,
    config,
    custom,
    default_data,
    dump,
    expect_issue,
    key,
    line_of,
    load_error,
    loads,
)

ALLOWED_SPECS = ", ".join(SPECS)
ALLOWED_SERVICES = ", ".join(VIA_SERVICES)
#: The fields "unknown field" messages list, in declaration order (the model grows; the message must follow).
KEY_FIELDS = ", ".join(KeyConfig.model_fields)
POLICY_FIELDS = ", ".join(PolicyConfig.model_fields)
ADMIN = "security:role/KeyAdministrator"
ADMIN_ARN = "arn:aws:iam::111111111111:role/KeyAdministrator"


def one_key(**fields: Any) -> str:
    """A file with one key ``k`` (account security, region primary) plus ``fields``."""
    return dump(config(key(**fields)))


# --------------------------------------------------------------------------------------------------- YAML level


@pytest.mark.parametrize(
    ("text", "line", "fragments"),
    [
        pytest.param(
            "version: 1\naccounts:\n  security:\n    id: '111111111111'\n   description: bad indent\nregions: {}\n",
            5,
            # libyaml's wording (PyYAML uses libyaml's parser when built with it, as its wheels are).
            ("column 4", "while parsing a block mapping did not find expected key"),
            id="bad-indentation",
        ),
        pytest.param(
            "version: 1\nregions: {primary: eu-west-1\naccounts: {}\n",
            3,
            ("column 9", "while parsing a flow mapping", "expected ',' or '}'"),
            id="unclosed-flow-mapping",
        ),
        pytest.param(
            "version: 1\naccounts:\n  security:\n    id: '111111111111\nregions: {}\n",
            6,
            ("while scanning a quoted scalar", "found unexpected end of stream"),
            id="unclosed-quote",
        ),
        pytest.param(
            "version: 1\n\taccounts: {}\n",
            2,
            ("found a tab character that violates indentation",),
            id="tab",
        ),
    ],
)
def test_yaml_syntax_error_names_the_line(text: str, line: int, fragments: tuple[str, ...]) -> None:
    issue = expect_issue(text, "", line, "YAML syntax error", "fix the indentation or quoting", *fragments)
    assert "Traceback" not in issue.message


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"], ids=["empty", "blank-lines", "comment-only"])
def test_empty_file(text: str) -> None:
    expect_issue(text, "", None, "the file is empty")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        pytest.param("- version: 1\n- accounts: {}\n", "list", id="list"),
        pytest.param("just some words\n", "str", id="scalar"),
        pytest.param("42\n", "int", id="number"),
        pytest.param("~\n", "NoneType", id="null"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    expect_issue(text, "", 1, f"the top level must be a mapping of sections, got {kind}")


def test_only_one_document() -> None:
    expect_issue("version: 1\n---\nversion: 1\n", "", 2, "expected a single document")


def test_python_tags_are_not_constructed() -> None:
    expect_issue(
        "version: !!python/object/apply:os.system ['true']\n",
        "",
        1,
        "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
    )


def test_duplicate_top_level_key_names_both_lines() -> None:
    text = dump(config()) + "version: 1\n"
    second = len(text.splitlines())
    expect_issue(
        text,
        "version",
        second,
        "duplicate key 'version' (first on line 1)",
        "YAML would silently keep the last one",
    )


def test_duplicate_nested_key_names_both_lines() -> None:
    text = one_key(rotation_days=180).replace("  rotation_days: 180\n", "  rotation_days: 180\n  rotation_days: 90\n")
    first = line_of(text, "rotation_days: 180")
    second = line_of(text, "rotation_days: 90")
    assert second == first + 1
    expect_issue(text, "keys[0].rotation_days", second, f"duplicate key 'rotation_days' (first on line {first})")


def test_duplicate_account_name() -> None:
    text = dump(config()).replace("accounts:\n", "accounts:\n  partner:\n    id: '444444444444'\n", 1)
    first = line_of(text, "partner:", occurrence=1)
    second = line_of(text, "partner:", occurrence=2)
    expect_issue(text, "accounts.partner", second, f"duplicate key 'partner' (first on line {first})")


# ------------------------------------------------------------------------------------------ structure (pydantic)


def test_allowed_field_lists_start_with_the_documented_fields() -> None:
    assert KEY_FIELDS.startswith(
        "name, account, region, description, aliases, spec, usage, rotation, rotation_days, deletion_window_days, "
        "origin, multi_region, replicas, enabled, policy, tags"
    )
    assert POLICY_FIELDS.startswith(
        "mode, root_access, administrators, users, service_users, signers, verifiers, public_key_encrypters, "
        "mac_users, cross_account, organizations, statements, separation_reason"
    )


def test_unknown_top_level_field() -> None:
    data = config()
    data["key"] = [key()]  # "keys" misspelt
    text = dump(data)
    expect_issue(
        text,
        "key",
        line_of(text, "key:"),
        "unknown field 'key'",
        "allowed here: version, partition, accounts, regions, tags, keys",
        "check the spelling or remove it",
    )


@pytest.mark.parametrize(
    ("mutate", "path", "needle", "allowed"),
    [
        pytest.param(
            lambda d: d["accounts"]["security"].update(descripton="x"),
            "accounts.security.descripton",
            "descripton:",
            "id, description",
            id="account",
        ),
        pytest.param(
            lambda d: d["keys"][0].update(rotation_period=90),
            "keys[0].rotation_period",
            "rotation_period:",
            KEY_FIELDS,
            id="key",
        ),
        pytest.param(
            lambda d: d["keys"][0].update(policy=custom(admins=[ADMIN])),
            "keys[0].policy.admins",
            "admins:",
            POLICY_FIELDS,
            id="policy",
        ),
        pytest.param(
            lambda d: d["keys"][0].update(policy=custom(service_users={"principals": [], "services": [], "roles": []})),
            "keys[0].policy.service_users.roles",
            "roles:",
            "principals, services",
            id="service-users",
        ),
        pytest.param(
            lambda d: d["keys"][0].update(policy=custom(cross_account=[{"account": "partner", "roles": []}])),
            "keys[0].policy.cross_account[0].roles",
            "roles:",
            "account, principals, via_services",
            id="cross-account",
        ),
        pytest.param(
            lambda d: d["keys"][0].update(
                policy=custom(
                    statements=[
                        {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "NotPrincipal": "x"},
                    ]
                )
            ),
            "keys[0].policy.statements[0].NotPrincipal",
            "NotPrincipal:",
            "Sid, Effect, Principal, Action, Resource, Condition",
            id="statement",
        ),
    ],
)
def test_unknown_nested_field_lists_the_allowed_fields(mutate: Any, path: str, needle: str, allowed: str) -> None:
    data = config(key())
    mutate(data)
    text = dump(data)
    field = path.rsplit(".", 1)[-1]
    expect_issue(text, path, line_of(text, needle), f"unknown field {field!r}", f"allowed here: {allowed};")


@pytest.mark.parametrize(
    ("fields", "path", "needle", "message"),
    [
        pytest.param(
            {"rotation_days": "180"},
            "keys[0].rotation_days",
            "rotation_days:",
            "got '180' (str); input should be a valid integer",
            id="string-for-int",
        ),
        pytest.param(
            {"spec": ["RSA_2048", "RSA_4096"]},
            "keys[0].spec",
            "spec:",
            "got ['RSA_2048', 'RSA_4096'] (list); input should be a valid string",
            id="list-for-string",
        ),
        pytest.param(
            {"aliases": "alias/app/data"},
            "keys[0].aliases",
            "aliases:",
            "got 'alias/app/data', a single value where a list is expected; write a list: aliases: [alias/app/data]",
            id="string-for-list",
        ),
        pytest.param(
            {"enabled": "yes"},
            "keys[0].enabled",
            "enabled:",
            "got 'yes' (str); input should be a valid boolean",
            id="string-for-bool",
        ),
        pytest.param(
            {"rotation": 1},
            "keys[0].rotation",
            "rotation:",
            "got 1 (int); input should be a valid boolean",
            id="int-for-bool",
        ),
        pytest.param(
            {"tags": ["a"]},
            "keys[0].tags",
            "tags:",
            "got ['a'] (list); input should be a valid dictionary",
            id="list-for-mapping",
        ),
    ],
)
def test_wrong_type(fields: dict[str, Any], path: str, needle: str, message: str) -> None:
    text = one_key(**fields)
    issue = expect_issue(text, path, line_of(text, needle))
    assert issue.message == message


@pytest.mark.parametrize(
    ("drop", "path", "needle"),
    [
        pytest.param(("accounts",), "accounts", None, id="accounts"),
        pytest.param(("regions",), "regions", None, id="regions"),
        pytest.param(("version",), "version", None, id="version"),
        pytest.param(("accounts", "security", "id"), "accounts.security.id", "security:", id="account-id"),
        pytest.param(("keys", 0, "account"), "keys[0].account", "- name: k", id="key-account"),
        pytest.param(("keys", 0, "name"), "keys[0].name", "- account: security", id="key-name"),
    ],
)
def test_missing_required_field(drop: tuple[Any, ...], path: str, needle: str | None) -> None:
    data = config(key())
    parent: Any = data
    for part in drop[:-1]:
        parent = parent[part]
    del parent[drop[-1]]
    text = dump(data)
    # A missing field has no line of its own: the issue points at its parent (line 1 for the top level).
    line = 1 if needle is None else line_of(text, needle)
    expect_issue(text, path, line, f"required field {drop[-1]!r} is missing; add it")


@pytest.mark.parametrize(
    ("data", "path", "needle", "message"),
    [
        pytest.param(config(version=2), "version", "version:", "got 2; input should be 1", id="version"),
        pytest.param(
            config(partition="aws-eu"),
            "partition",
            "partition:",
            "got 'aws-eu'; input should be 'aws', 'aws-cn' or 'aws-us-gov'",
            id="partition",
        ),
        pytest.param(
            config(key(policy={"mode": "strict"})),
            "keys[0].policy.mode",
            "mode:",
            "got 'strict'; input should be 'default' or 'custom'",
            id="policy-mode",
        ),
        pytest.param(
            config(key(policy=custom(root_access="none"))),
            "keys[0].policy.root_access",
            "root_access:",
            "got 'none'; input should be 'admin' or 'full'",
            id="root-access",
        ),
    ],
)
def test_value_outside_a_fixed_set(data: dict[str, Any], path: str, needle: str, message: str) -> None:
    text = dump(data)
    issue = expect_issue(text, path, line_of(text, needle))
    assert issue.message == message


@pytest.mark.parametrize("name", ["1data", "data_key", "data.key", "x" * 64], ids=["digit", "underscore", "dot", "64"])
def test_key_name_pattern(name: str) -> None:
    text = one_key(name=name)
    expect_issue(
        text,
        "keys[0].name",
        line_of(text, "- name:"),
        f"got {name!r}, which is not allowed here; use letters, digits and '-', starting with a letter (at most 63 "
        "characters)",
        "use letters, digits and '-', starting with a letter (at most 63 characters)",
    )


@pytest.mark.parametrize("section", ["accounts", "regions"])
def test_bad_account_or_region_name_points_at_the_name(section: str) -> None:
    """A bad account or region *name* is reported at the name, with the naming rule (not the region-code hint)."""
    data = config()
    data[section]["my_name"] = data[section].pop("secondary" if section == "regions" else "partner")
    text = dump(data)
    issue = expect_issue(
        text,
        f"{section}.my_name",
        line_of(text, "my_name:"),
        "got 'my_name', which is not allowed here; use letters, digits and '-', starting with a letter (at most 63 "
        "characters)",
        "use letters, digits and '-', starting with a letter",
    )
    assert "region code" not in issue.message


# ------------------------------------------------------------------------------------------- accounts, regions


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("111111111111", id="12-digits"),  # YAML reads a number, losslessly
        pytest.param("12345", id="short"),
        pytest.param("011111111111", id="leading-zero-octal"),  # YAML 1.1 reads octal: a different number
        pytest.param("023456789012", id="leading-zero-text"),  # 8 and 9 are not octal digits: YAML reads text
    ],
)
def test_every_unquoted_account_id_is_refused_by_one_rule(written: str) -> None:
    """One rule, whatever YAML makes of the digits: account ids are quoted. The hint quotes the digits as
    written, not the number YAML read."""
    text = dump(config()).replace("id: '111111111111'", f"id: {written}")
    expect_issue(
        text,
        "accounts.security.id",
        line_of(text, f"id: {written}"),
        f"account id {written} is not quoted; write every account id quoted, e.g. id: '{written}'",
        "YAML reads unquoted digits as a number",
    )


@pytest.mark.parametrize("bad", ["1111", "1111111111111", "11111111111a", "111-111-1111"])
def test_account_id_not_12_digits(bad: str) -> None:
    data = config()
    data["accounts"]["partner"]["id"] = bad
    text = dump(data)
    expect_issue(
        text,
        "accounts.partner.id",
        line_of(text, "partner:") + 1,
        f"account id {bad!r} is not 12 digits",
        "write the AWS account id as a quoted string, e.g. '111111111111'",
    )


def test_duplicate_account_id() -> None:
    data = config()
    data["accounts"]["partner"]["id"] = "111111111111"
    text = dump(data)
    expect_issue(
        text,
        "accounts.partner.id",
        line_of(text, "111111111111", occurrence=2),
        "account id 111111111111 is also declared as 'security'",
        "declare each account once",
    )


@pytest.mark.parametrize("code", ["eu-west", "EU-WEST-1", "ireland", "eu_west_1"])
def test_bad_region_code(code: str) -> None:
    data = config()
    data["regions"]["secondary"] = code
    text = dump(data)
    expect_issue(
        text,
        "regions.secondary",
        line_of(text, "secondary:"),
        f"got {code!r}, which is not allowed here; write an AWS region code such as 'eu-west-1'",
        "write an AWS region code such as 'eu-west-1'",
    )


# -------------------------------------------------------------------------------- names a key refers to, key names


def test_unknown_account_on_a_key() -> None:
    text = one_key(account="secuirty")
    expect_issue(
        text,
        "keys[0].account",
        line_of(text, "account: secuirty"),
        "unknown account 'secuirty'",
        "declared accounts: security, workloads, partner",
        "add it under accounts: or fix the name",
    )


def test_unknown_region_on_a_key() -> None:
    text = one_key(region="tertiary")
    expect_issue(
        text,
        "keys[0].region",
        line_of(text, "region: tertiary"),
        "unknown region 'tertiary'",
        "declared regions: primary, secondary",
        "add it under regions: or fix the name",
    )


def test_duplicate_key_name() -> None:
    text = dump(config(key("data"), key("other"), key("data", account="workloads")))
    expect_issue(
        text,
        "keys[2].name",
        line_of(text, "- name: data", occurrence=2),
        "key name 'data' is already used by keys[0]",
        "must be unique",
    )


# ------------------------------------------------------------------------------------------------------ aliases


def test_duplicate_alias_in_same_account_and_region() -> None:
    text = dump(config(key("a", aliases=["alias/app/data"]), key("b", aliases=["alias/app/other", "alias/app/data"])))
    expect_issue(
        text,
        "keys[1].aliases[1]",
        line_of(text, "- alias/app/data", occurrence=2),
        "duplicate alias 'alias/app/data': keys[0].aliases[0] already uses it in account 'security', region eu-west-1",
        "rename one",
    )


def test_alias_listed_twice_on_one_key() -> None:
    text = one_key(aliases=["alias/app/data", "alias/app/data"])
    expect_issue(
        text,
        "keys[0].aliases[1]",
        line_of(text, "- alias/app/data", occurrence=2),
        "duplicate alias 'alias/app/data': keys[0].aliases[0] already uses it",
    )


@pytest.mark.parametrize(
    "second",
    [
        pytest.param({"account": "workloads"}, id="other-account"),
        pytest.param({"region": "secondary"}, id="other-region"),
    ],
)
def test_same_alias_elsewhere_is_not_a_duplicate(second: dict[str, str]) -> None:
    cfg = loads(dump(config(key("a", aliases=["alias/app/data"]), key("b", aliases=["alias/app/data"], **second))))
    assert [k.aliases for k in cfg.keys] == [["alias/app/data"], ["alias/app/data"]]


@pytest.mark.parametrize(
    ("keys", "path", "first"),
    [
        pytest.param(
            [key("global", aliases=["alias/app/data"], replicas=["secondary"]), key("local", region="secondary")],
            "keys[1].aliases[0]",
            "keys[0].aliases[0]",
            id="replica-first",
        ),
        pytest.param(
            [key("local", region="secondary"), key("global", aliases=["alias/app/data"], replicas=["secondary"])],
            "keys[1].aliases[0]",
            "keys[0].aliases[0]",
            id="replica-second",
        ),
    ],
)
def test_duplicate_alias_created_by_a_replica(keys: list[dict[str, Any]], path: str, first: str) -> None:
    for k in keys:
        k.setdefault("aliases", ["alias/app/data"])
    text = dump(config(*keys))
    expect_issue(
        text,
        path,
        line_of(text, "- alias/app/data", occurrence=2),
        f"duplicate alias 'alias/app/data': {first} already uses it in account 'security', region eu-central-1",
    )


@pytest.mark.parametrize("alias", ["alias/aws/s3", "alias/aws/mine"])
def test_alias_under_aws_is_refused(alias: str) -> None:
    text = one_key(aliases=[alias])
    expect_issue(
        text,
        "keys[0].aliases[0]",
        line_of(text, f"- {alias}"),
        f"alias {alias!r} is under 'alias/aws/'",
        "reserves for AWS managed keys",
        "cannot be created or managed here",
    )


@pytest.mark.parametrize("alias", ["app/data", "alias/", "Alias/app/data", "aliasapp"])
def test_alias_without_prefix(alias: str) -> None:
    text = one_key(aliases=["alias/ok", alias])
    expect_issue(
        text,
        "keys[0].aliases[1]",
        line_of(text, "- alias/ok") + 1,
        f"alias {alias!r} must start with 'alias/' followed by a name",
    )


@pytest.mark.parametrize(
    ("alias", "bad"),
    [
        pytest.param("alias/app data", " ", id="space"),
        pytest.param("alias/app.data", ".", id="dot"),
        pytest.param("alias/app:data*", "*:", id="colon-star"),
        pytest.param("alias/données", "é", id="accent"),
    ],
)
def test_alias_with_bad_character(alias: str, bad: str) -> None:
    text = one_key(aliases=[alias])
    expect_issue(
        text,
        "keys[0].aliases[0]",
        line_of(text, "alias/"),
        f"alias {alias!r} contains {bad!r}",
        "allowed: letters, digits, '/', '_' and '-'",
    )


def test_alias_too_long() -> None:
    alias = "alias/" + "a" * 251
    text = one_key(aliases=[alias])
    expect_issue(text, "keys[0].aliases[0]", line_of(text, "- alias/"), "is 257 characters; KMS allows at most 256")


# ------------------------------------------------------------------------- specs, usages, rotation (from SPECS)

USAGE_MISMATCHES = [
    pytest.param(spec, str(usage), id=f"{spec}-{usage}")
    for spec, info in SPECS.items()
    for usage in KeyUsage
    if usage not in info.usages
]
VALID_USAGES = [
    pytest.param(spec, str(usage), id=f"{spec}-{usage}") for spec, info in SPECS.items() for usage in info.usages
]
NON_ROTATABLE = [pytest.param(spec, id=spec) for spec, info in SPECS.items() if not info.rotatable]
TWO_USAGES = [pytest.param(spec, id=spec) for spec, info in SPECS.items() if len(info.usages) == 2]


def test_spec_parametrization_is_not_vacuous() -> None:
    assert len(USAGE_MISMATCHES) == sum(len(KeyUsage) - len(info.usages) for info in SPECS.values()) > 0
    assert len(NON_ROTATABLE) == len(SPECS) - 1
    assert {p.values[0] for p in TWO_USAGES} >= {"RSA_2048", "ECC_NIST_P256"}


@pytest.mark.parametrize(("spec", "usage"), USAGE_MISMATCHES)
def test_usage_that_does_not_fit_the_spec(spec: str, usage: str) -> None:
    allowed = " or ".join(SPECS[spec].usages)
    text = one_key(spec=spec, usage=usage)
    expect_issue(
        text,
        "keys[0].usage",
        line_of(text, f"usage: {usage}"),
        f"usage {usage} does not fit key spec {spec}; {spec} allows {allowed}",
    )


@pytest.mark.parametrize(("spec", "usage"), VALID_USAGES)
def test_every_allowed_usage_loads(spec: str, usage: str) -> None:
    cfg = loads(one_key(spec=spec, usage=usage))
    assert (cfg.keys[0].spec, cfg.keys[0].usage) == (spec, usage)


@pytest.mark.parametrize("spec", NON_ROTATABLE)
def test_rotation_true_on_a_spec_that_cannot_rotate(spec: str) -> None:
    text = one_key(spec=spec, usage=str(SPECS[spec].usages[0]), rotation=True)
    expect_issue(
        text,
        "keys[0].rotation",
        line_of(text, "rotation: true"),
        "rotation: true is not allowed",
        f"automatic rotation exists only for SYMMETRIC_DEFAULT keys, not for {spec} keys",
        "remove it",
    )


@pytest.mark.parametrize("spec", NON_ROTATABLE)
def test_rotation_days_on_a_spec_that_cannot_rotate(spec: str) -> None:
    text = one_key(spec=spec, usage=str(SPECS[spec].usages[0]), rotation_days=180)
    expect_issue(
        text,
        "keys[0].rotation_days",
        line_of(text, "rotation_days: 180"),
        "rotation_days: 180 is not allowed",
        f"not for {spec} keys",
    )


@pytest.mark.parametrize("spec", NON_ROTATABLE)
def test_rotation_false_on_a_spec_that_cannot_rotate_loads(spec: str) -> None:
    cfg = loads(one_key(spec=spec, usage=str(SPECS[spec].usages[0]), rotation=False))
    assert cfg.keys[0].rotation is False


@pytest.mark.parametrize("spec", TWO_USAGES)
def test_missing_usage_where_the_spec_allows_two(spec: str) -> None:
    first, second = SPECS[spec].usages
    text = one_key(spec=spec)
    expect_issue(
        text,
        "keys[0].usage",
        line_of(text, "- name: k"),
        f"{spec} keys can be used for {first} or {second}; say which with usage:",
    )


def test_unknown_spec() -> None:
    text = one_key(spec="AES_256")
    expect_issue(
        text, "keys[0].spec", line_of(text, "spec: AES_256"), f"unknown key spec 'AES_256'; allowed: {ALLOWED_SPECS}"
    )


def test_unknown_usage() -> None:
    text = one_key(usage="ENCRYPT")
    expect_issue(
        text,
        "keys[0].usage",
        line_of(text, "usage: ENCRYPT"),
        "unknown key usage 'ENCRYPT'; allowed: ENCRYPT_DECRYPT, SIGN_VERIFY, GENERATE_VERIFY_MAC, KEY_AGREEMENT",
    )


@pytest.mark.parametrize("days", [89, 2561, 0, -1])
def test_rotation_days_out_of_range(days: int) -> None:
    text = one_key(rotation_days=days)
    expect_issue(
        text,
        "keys[0].rotation_days",
        line_of(text, "rotation_days:"),
        f"rotation_days is {days}; allowed: 90 to 2560 days",
    )


@pytest.mark.parametrize("days", [90, 2560])
def test_rotation_days_at_the_limits_load(days: int) -> None:
    assert loads(one_key(rotation_days=days)).keys[0].rotation_days == days


def test_rotation_false_with_rotation_days() -> None:
    text = one_key(rotation=False, rotation_days=180)
    expect_issue(
        text,
        "keys[0].rotation_days",
        line_of(text, "rotation_days: 180"),
        "rotation_days: 180 is set but rotation is false",
        "remove rotation_days or set rotation: true",
    )


@pytest.mark.parametrize("days", [6, 31, 0])
def test_deletion_window_out_of_range(days: int) -> None:
    text = one_key(deletion_window_days=days)
    expect_issue(
        text,
        "keys[0].deletion_window_days",
        line_of(text, "deletion_window_days:"),
        f"deletion_window_days is {days}; allowed: 7 to 30 days",
    )


@pytest.mark.parametrize("days", [7, 30])
def test_deletion_window_at_the_limits_loads(days: int) -> None:
    assert loads(one_key(deletion_window_days=days)).keys[0].deletion_window_days == days


@pytest.mark.parametrize(
    ("fields", "path", "needle", "said"),
    [
        pytest.param({"rotation": True}, "keys[0].rotation", "rotation: true", "rotation: true", id="rotation"),
        pytest.param(
            {"rotation_days": 365}, "keys[0].rotation_days", "rotation_days: 365", "rotation_days: 365", id="days"
        ),
    ],
)
def test_external_origin_cannot_rotate(fields: dict[str, Any], path: str, needle: str, said: str) -> None:
    text = one_key(origin="EXTERNAL", **fields)
    expect_issue(
        text,
        path,
        line_of(text, needle),
        f"{said} is not allowed",
        "automatic rotation exists only for keys with AWS_KMS origin; this key has origin EXTERNAL",
    )


def test_external_origin_without_rotation_loads() -> None:
    assert loads(one_key(origin="EXTERNAL")).keys[0].origin == "EXTERNAL"


@pytest.mark.parametrize("origin", ["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE", "aws_kms"])
def test_unknown_origin(origin: str) -> None:
    text = one_key(origin=origin)
    expect_issue(
        text,
        "keys[0].origin",
        line_of(text, "origin:"),
        f"origin {origin!r} is not supported; allowed: AWS_KMS, EXTERNAL",
    )


# ----------------------------------------------------------------------------------------------------- replicas


def test_replicas_with_multi_region_false() -> None:
    text = one_key(multi_region=False, replicas=["secondary"])
    expect_issue(
        text,
        "keys[0].replicas",
        line_of(text, "replicas:"),
        "replicas need a multi-region key; remove multi_region: false",
    )


def test_replica_in_the_primary_region() -> None:
    text = one_key(replicas=["primary"])
    expect_issue(
        text,
        "keys[0].replicas[0]",
        line_of(text, "- primary"),
        "replica region 'primary' (eu-west-1) is the primary key's own region",
    )


def test_replica_in_the_primary_region_under_another_name() -> None:
    data = config(key(replicas=["ireland"]))
    data["regions"]["ireland"] = "eu-west-1"
    text = dump(data)
    expect_issue(
        text,
        "keys[0].replicas[0]",
        line_of(text, "- ireland"),
        "replica region 'ireland' (eu-west-1) is the primary key's own region",
    )


def test_unknown_replica_region() -> None:
    text = one_key(replicas=["tertiary"])
    expect_issue(
        text,
        "keys[0].replicas[0]",
        line_of(text, "- tertiary"),
        "unknown region 'tertiary'; declared regions: primary, secondary",
    )


def test_replica_listed_twice() -> None:
    text = one_key(replicas=["secondary", "secondary"])
    expect_issue(
        text,
        "keys[0].replicas[1]",
        line_of(text, "- secondary", occurrence=2),
        "replica region 'secondary' is listed twice",
    )


# -------------------------------------------------------------------------------------------------- principals


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        pytest.param(
            "finance:role/App",
            "principal 'finance:role/App' names account 'finance', which is not declared; "
            "declared accounts: security, workloads, partner",
            id="short",
        ),
        pytest.param(
            "arn:aws:iam::444444444444:role/App",
            "principal 'arn:aws:iam::444444444444:role/App' is in account 444444444444, which is not declared "
            "under accounts: (declared: security=111111111111, workloads=222222222222, partner=333333333333)",
            id="arn",
        ),
    ],
)
def test_principal_in_an_unknown_account(ref: str, fragment: str) -> None:
    text = one_key(policy=custom(users=[ref]))
    expect_issue(text, "keys[0].policy.users[0]", line_of(text, f"- {ref}"), fragment)


@pytest.mark.parametrize(
    "ref", ["workloads:role/App", "arn:aws:iam::222222222222:role/App", "workloads:root"], ids=["short", "arn", "root"]
)
def test_principal_of_another_declared_account_goes_under_cross_account(ref: str) -> None:
    text = one_key(policy=custom(users=[ref]))
    expect_issue(
        text,
        "keys[0].policy.users[0]",
        line_of(text, f"- {ref}"),
        f"{ref!r} is in account 'workloads', not in this key's account 'security'",
        "principals of other accounts go under policy.cross_account",
    )


@pytest.mark.parametrize(
    "ref",
    ["security/role/App", "role/App", "arn:aws:iam::1111:role/App", "security:group/Admins", "security:role/"],
)
def test_malformed_principal_reference(ref: str) -> None:
    text = one_key(policy=custom(administrators=[ADMIN], users=["security:role/Ok", ref]))
    expect_issue(
        text,
        "keys[0].policy.users[1]",
        line_of(text, "- security:role/Ok") + 1,
        f"principal {ref!r} is not a principal reference",
        "'<account-name>:role/<name>', '<account-name>:user/<name>', '<account-name>:root' or an IAM ARN",
    )


def test_principal_arn_of_another_partition() -> None:
    ref = "arn:aws-cn:iam::111111111111:role/App"
    text = one_key(policy=custom(users=[ref]))
    expect_issue(text, "keys[0].policy.users[0]", line_of(text, f"- {ref}"), "is in partition aws-cn; this file is aws")


def test_cross_account_naming_the_own_account() -> None:
    text = one_key(policy=custom(cross_account=[{"account": "security"}]))
    expect_issue(
        text,
        "keys[0].policy.cross_account[0].account",
        line_of(text, "- account: security"),
        "account 'security' is this key's own account; use users or service_users",
    )


def test_cross_account_naming_an_unknown_account() -> None:
    text = one_key(policy=custom(cross_account=[{"account": "finance"}]))
    expect_issue(
        text,
        "keys[0].policy.cross_account[0].account",
        line_of(text, "- account: finance"),
        "unknown account 'finance'; declared accounts: security, workloads, partner",
    )


def test_cross_account_principal_in_the_wrong_account() -> None:
    text = one_key(policy=custom(cross_account=[{"account": "partner", "principals": ["workloads:role/Copier"]}]))
    expect_issue(
        text,
        "keys[0].policy.cross_account[0].principals[0]",
        line_of(text, "- workloads:role/Copier"),
        "'workloads:role/Copier' is in account 'workloads', not in 'partner' that this entry opens the key to",
    )


def test_cross_account_principal_in_its_account_loads() -> None:
    policy = custom(cross_account=[{"account": "partner", "principals": ["partner:role/Copier"], "via_services": []}])
    cfg = loads(one_key(policy=policy))
    assert cfg.keys[0].policy.cross_account[0].principals == ["partner:role/Copier"]


# ----------------------------------------------------------------------------------------------------- services


@pytest.mark.parametrize(
    ("policy", "path", "name"),
    [
        pytest.param(
            custom(service_users={"principals": ["security:role/App"], "services": ["s3", "dynamo"]}),
            "keys[0].policy.service_users.services[1]",
            "dynamo",
            id="service-users",
        ),
        pytest.param(
            custom(cross_account=[{"account": "partner", "via_services": ["rds", "aurora"]}]),
            "keys[0].policy.cross_account[0].via_services[1]",
            "aurora",
            id="cross-account",
        ),
        pytest.param(
            custom(organizations=[{"id": "o-a1b2c3d4e5", "via_services": ["elasticfilesystem"]}]),
            "keys[0].policy.organizations[0].via_services[0]",
            "elasticfilesystem",
            id="organization",
        ),
    ],
)
def test_unknown_service_name(policy: dict[str, Any], path: str, name: str) -> None:
    text = one_key(policy=policy)
    expect_issue(text, path, line_of(text, f"- {name}"), f"unknown service {name!r}; allowed: {ALLOWED_SERVICES}")


def test_service_users_without_services() -> None:
    text = one_key(policy=custom(service_users={"principals": ["security:role/App"], "services": []}))
    expect_issue(
        text,
        "keys[0].policy.service_users.services",
        line_of(text, "services: []"),
        "service_users lists principals but no services",
        f"(allowed: {ALLOWED_SERVICES})",
    )


# --------------------------------------------------------------------------------------------- policy modes, roles


@pytest.mark.parametrize(
    ("policy", "listed", "needle"),
    [
        pytest.param({"mode": "default", "users": ["security:role/App"]}, "users", "mode: default", id="users"),
        pytest.param(
            {"mode": "default", "administrators": [ADMIN], "signers": ["security:role/S"]},
            "administrators, signers",
            "mode: default",
            id="two-roles",
        ),
        pytest.param(
            {"mode": "default", "cross_account": [{"account": "partner"}]},
            "cross_account",
            "mode: default",
            id="cross-account",
        ),
        pytest.param(
            {
                "mode": "default",
                "statements": [{"Effect": "Allow", "Principal": {"AWS": "security:root"}, "Action": "kms:Decrypt"}],
            },
            "statements",
            "mode: default",
            id="statements",
        ),
        # No "mode:" line at all: the issue points at "policy:".
        pytest.param({"root_access": "full"}, "root_access/separation_reason", "policy:", id="root-access"),
        pytest.param({"separation_reason": "small team"}, "root_access/separation_reason", "policy:", id="reason"),
    ],
)
def test_roles_need_mode_custom(policy: dict[str, Any], listed: str, needle: str) -> None:
    text = one_key(policy=policy)
    expect_issue(
        text,
        "keys[0].policy.mode",
        line_of(text, needle),
        f"{listed} need mode: custom",
        "with mode: default the account root holds kms:*",
    )


@pytest.mark.parametrize(
    ("fields", "role", "fragment"),
    [
        pytest.param(
            {},
            "signers",
            "role signers needs a key with usage SIGN_VERIFY; this key is SYMMETRIC_DEFAULT for ENCRYPT_DECRYPT",
            id="signers-on-symmetric",
        ),
        pytest.param(
            {"spec": "RSA_3072", "usage": "SIGN_VERIFY"},
            "mac_users",
            "role mac_users needs a key with usage GENERATE_VERIFY_MAC; this key is RSA_3072 for SIGN_VERIFY",
            id="mac-users-on-rsa",
        ),
        pytest.param(
            {"spec": "RSA_2048", "usage": "ENCRYPT_DECRYPT"},
            "service_users",
            "role service_users needs a SYMMETRIC_DEFAULT key (AWS services integrate only with symmetric "
            "encryption keys); this key is RSA_2048",
            id="service-users-on-rsa-encrypt",
        ),
        pytest.param(
            {"spec": "ECC_NIST_P256", "usage": "SIGN_VERIFY"},
            "service_users",
            "role service_users needs a key with usage ENCRYPT_DECRYPT; this key is ECC_NIST_P256 for SIGN_VERIFY",
            id="service-users-on-ecc",
        ),
        pytest.param(
            {"spec": "ECC_NIST_P384", "usage": "KEY_AGREEMENT"},
            "public_key_encrypters",
            "role public_key_encrypters needs a key with usage ENCRYPT_DECRYPT; "
            "this key is ECC_NIST_P384 for KEY_AGREEMENT",
            id="public-key-encrypters-on-ecc",
        ),
        pytest.param(
            {},
            "public_key_encrypters",
            "role public_key_encrypters needs an RSA key with usage ENCRYPT_DECRYPT; this key is SYMMETRIC_DEFAULT",
            id="public-key-encrypters-on-symmetric",
        ),
        pytest.param(
            {"spec": "HMAC_256"},
            "verifiers",
            "role verifiers needs a key with usage SIGN_VERIFY; this key is HMAC_256 for GENERATE_VERIFY_MAC",
            id="verifiers-on-hmac",
        ),
    ],
)
def test_role_that_does_not_fit_the_key(fields: dict[str, Any], role: str, fragment: str) -> None:
    principals: Any = ["security:role/Someone"]
    if role == "service_users":
        principals = {"principals": principals, "services": ["s3"]}
    text = one_key(policy=custom(**{role: principals}), **fields)
    expect_issue(
        text,
        f"keys[0].policy.{role}",
        line_of(text, f"{role}:"),
        fragment,
        "remove it or change the key",
    )


@pytest.mark.parametrize(
    ("fields", "role"),
    [
        pytest.param({"spec": "RSA_4096", "usage": "ENCRYPT_DECRYPT"}, "public_key_encrypters", id="pke-on-rsa"),
        pytest.param({"spec": "ECC_NIST_P521", "usage": "SIGN_VERIFY"}, "signers", id="signers-on-ecc"),
        pytest.param({"spec": "HMAC_512"}, "mac_users", id="mac-users-on-hmac"),
    ],
)
def test_role_that_fits_the_key_loads(fields: dict[str, Any], role: str) -> None:
    cfg = loads(one_key(policy=custom(**{role: ["security:role/Someone"]}), **fields))
    assert getattr(cfg.keys[0].policy, role) == ["security:role/Someone"]


@pytest.mark.parametrize(
    ("policy", "role"),
    [
        pytest.param(custom(administrators=[ADMIN], users=[ADMIN]), "users", id="users"),
        pytest.param(
            custom(administrators=[ADMIN], service_users={"principals": [ADMIN_ARN], "services": ["s3"]}),
            "service_users",
            id="service-users-arn-form",
        ),
    ],
)
def test_administrators_overlapping_users(policy: dict[str, Any], role: str) -> None:
    text = one_key(policy=policy)
    expect_issue(
        text,
        "keys[0].policy.administrators",
        line_of(text, "administrators:"),
        "administrators and users must be different principals (separation of duties)",
        f"{ADMIN_ARN} is in administrators and {role}",
        "give policy.separation_reason",
    )


def test_administrators_overlapping_users_with_a_reason_loads() -> None:
    policy = custom(administrators=[ADMIN], users=[ADMIN], separation_reason="two-person team, reviewed 2025")
    cfg = loads(one_key(policy=policy))
    assert cfg.keys[0].policy.separation_reason == "two-person team, reviewed 2025"


def test_a_blank_separation_reason_is_no_reason() -> None:
    text = one_key(policy=custom(administrators=[ADMIN], users=[ADMIN], separation_reason="   "))
    expect_issue(text, "keys[0].policy.administrators", line_of(text, "administrators:"), "separation of duties")


# -------------------------------------------------------------------------------------------- free statements


def statement(**fields: Any) -> dict[str, Any]:
    """A statement with a Sid first (so that its line can be found by ``- Sid: <sid>``)."""
    return {"Sid": "Free", "Effect": "Allow", **fields}


def test_statement_with_principal_star_and_no_condition() -> None:
    text = one_key(policy=custom(statements=[statement(Principal="*", Action="kms:Decrypt")]))
    expect_issue(
        text,
        "keys[0].policy.statements[0]",
        line_of(text, "- Sid: Free"),
        "KeyPolicyWildcardPrincipal: statement Free allows Principal '*' without a Condition",
    )


def test_statement_with_principal_star_and_a_condition_loads() -> None:
    condition = {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}
    cfg = loads(
        one_key(policy=custom(statements=[statement(Principal="*", Action="kms:Decrypt", Condition=condition)]))
    )
    assert cfg.keys[0].policy.statements[0].Condition == condition


@pytest.mark.parametrize(
    ("principal", "action"),
    [
        pytest.param("arn:aws:iam::111111111111:role/Ops", "kms:*", id="own-role"),
        pytest.param("arn:aws:iam::222222222222:root", "kms:*", id="other-root"),
        pytest.param("arn:aws:iam::111111111111:role/Ops", "*", id="star"),
    ],
)
def test_statement_with_kms_star_for_a_non_root_principal(principal: str, action: str) -> None:
    text = one_key(policy=custom(statements=[statement(Principal={"AWS": principal}, Action=action)]))
    err = load_error(text)
    line = line_of(text, "- Sid: Free")
    assert {(i.path, i.line) for i in err.issues} == {("keys[0].policy.statements[0]", line)}
    messages = [i.message for i in err.issues]
    # kms:* includes kms:CreateGrant, so the unscoped-grant rule speaks too.
    assert [m.split(":", 1)[0] for m in messages] == ["KeyPolicyKmsStarForNonRoot", "KeyPolicyUnscopedCreateGrant"]
    assert f"statement Free gives every KMS action (kms:*, * or NotAction) to {principal}" in messages[0]
    assert "only the key's own account root may hold kms:*" in messages[0]
    assert f"{SOURCE}:{line}: keys[0].policy.statements[0]: KeyPolicyKmsStarForNonRoot" in str(err)


@pytest.mark.parametrize("principal", ["arn:aws:iam::111111111111:root", "111111111111"], ids=["arn", "bare-id"])
def test_statement_with_kms_star_for_the_own_root_loads(principal: str) -> None:
    cfg = loads(one_key(policy=custom(statements=[statement(Principal={"AWS": principal}, Action="kms:*")])))
    assert cfg.keys[0].policy.statements[0].Action == "kms:*"


def test_statement_with_unscoped_create_grant() -> None:
    principal = "arn:aws:iam::111111111111:role/Ops"
    text = one_key(policy=custom(statements=[statement(Principal={"AWS": principal}, Action=["kms:CreateGrant"])]))
    expect_issue(
        text,
        "keys[0].policy.statements[0]",
        line_of(text, "- Sid: Free"),
        f"KeyPolicyUnscopedCreateGrant: statement Free allows kms:CreateGrant to {principal} without "
        "kms:GrantIsForAWSResource or kms:GranteePrincipal",
    )


def test_statement_with_create_grant_for_aws_resources_loads() -> None:
    free = statement(
        Principal={"AWS": "arn:aws:iam::111111111111:role/Ops"},
        Action=["kms:CreateGrant"],
        Condition={"Bool": {"kms:GrantIsForAWSResource": True}},
    )
    assert loads(one_key(policy=custom(statements=[free]))).keys[0].policy.statements[0].Action == ["kms:CreateGrant"]


@pytest.mark.parametrize(
    "principal", ["arn:aws:iam::999999999999:role/Stranger", "999999999999"], ids=["arn", "bare-id"]
)
def test_statement_principal_in_an_undeclared_account(principal: str) -> None:
    text = one_key(policy=custom(statements=[statement(Principal={"AWS": [principal]}, Action="kms:Decrypt")]))
    expect_issue(
        text,
        "keys[0].policy.statements[0].Principal",
        line_of(text, "Principal:"),
        f"principal {principal!r} is in account 999999999999, which is not declared under accounts:",
    )


def test_statement_sid_with_bad_characters() -> None:
    text = one_key(policy=custom(statements=[statement(Sid="free-use", Principal="*", Action="kms:Decrypt")]))
    err = load_error(text)
    # The structural pass stops before the rules, so the wildcard principal is not reported yet.
    assert [(i.path, i.line) for i in err.issues] == [("keys[0].policy.statements[0].Sid", line_of(text, "Sid:"))]
    assert "got 'free-use', which is not allowed here" in err.issues[0].message
    assert "statement ids allow only letters and digits" in err.issues[0].message


@pytest.mark.parametrize("org", ["o-ABCDEFGHIJ", "o-short", "r-a1b2c3d4e5", "a1b2c3d4e5"])
def test_bad_organization_id(org: str) -> None:
    text = one_key(policy=custom(organizations=[{"id": org}]))
    expect_issue(
        text,
        "keys[0].policy.organizations[0].id",
        line_of(text, f"- id: {org}"),
        f"got {org!r}, which is not allowed here; an organization id looks like 'o-a1b2c3d4e5' ('o-' and 10 to 32 "
        "lower-case letters or digits)",
        "an organization id looks like 'o-a1b2c3d4e5'",
    )


# ----------------------------------------------------------------------------------- many problems at once


def test_structural_problems_are_reported_together() -> None:
    data = config(key("a", rotation_days="180"), key("b"))
    del data["keys"][1]["account"]
    data["keys"][1]["aliasses"] = ["alias/b"]
    data["kyes"] = []
    data["accounts"]["partner"]["id"] = 333333333333
    text = dump(data)
    err = load_error(text)
    got = {(i.path, i.line) for i in err.issues}
    assert got == {
        ("accounts.partner.id", line_of(text, "id: 333333333333")),
        ("keys[0].rotation_days", line_of(text, "rotation_days:")),
        ("keys[1].account", line_of(text, "- name: b")),
        ("keys[1].aliasses", line_of(text, "aliasses:")),
        ("kyes", line_of(text, "kyes:")),
    }
    assert str(err).startswith(f"{SOURCE}: 5 configuration errors:\n")
    assert len(str(err).splitlines()) == 1 + 5


def test_meaning_problems_are_reported_together_in_file_order() -> None:
    data = default_data()
    data["accounts"]["partner"]["id"] = "3333"  # 1
    data["keys"][0]["rotation_days"] = 89  # 2
    data["keys"][1]["aliases"] = ["alias/aws/release"]  # 3
    data["keys"][2]["account"] = "finance"  # 4
    data["keys"][3]["replicas"] = ["primary"]  # 5
    data["keys"][5]["policy"]["service_users"]["services"] = ["rds", "ebs", "aurora"]  # 6
    data["keys"].append(  # 7 (a second "data") and 8 (rotation on an EXTERNAL key)
        {"name": "data", "account": "security", "region": "primary", "origin": "EXTERNAL", "rotation": True}
    )
    data["keys"][4]["aliases"] = ["alias/kmsflow/shared-snapshots"]  # 9 (keys[5] has it, same account and region)
    del data["pipeline"]  # its stages' places follow the keys changed above (tests/config/test_pipeline_section.py)
    text = dump(data)
    err = load_error(text)
    # Sorted by line, as a reader goes through the file.
    assert [i.path for i in err.issues] == [
        "accounts.partner.id",
        "keys[0].rotation_days",
        "keys[1].aliases[0]",
        "keys[2].account",
        "keys[3].replicas[0]",
        "keys[5].aliases[0]",
        "keys[5].policy.service_users.services[2]",
        "keys[8].name",
        "keys[8].rotation",
    ]
    assert [i.line for i in err.issues] == sorted(i.line for i in err.issues if i.line is not None)
    assert all(isinstance(i.line, int) and i.line > 0 for i in err.issues), err.issues
    assert [i.line for i in err.issues[:2]] == [line_of(text, "id: '3333'"), line_of(text, "rotation_days: 89")]
    assert str(err).startswith(f"{SOURCE}: 9 configuration errors:\n")
    for issue in err.issues:
        assert f"  {SOURCE}:{issue.line}: {issue.path}: {issue.message}" in str(err).splitlines()


THREE_FAULTS = """version: 1
accounts:
  security: {id: "111111111111"}
regions:
  primary: eu-west-1
  dr: eu-central-1
keys:
  - name: data
    account: security
    region: primary
    colour: blue
    replicas: [primary]
    aliases: [alias/aws/mine]
"""


def test_three_independent_faults_are_reported_in_one_run_in_line_order() -> None:
    """An unknown field no longer hides the meaning checks of the rest of the file."""
    err = load_error(THREE_FAULTS)
    assert [(i.path, i.line) for i in err.issues] == [
        ("keys[0].colour", 11),
        ("keys[0].replicas[0]", 12),
        ("keys[0].aliases[0]", 13),
    ]
    assert "unknown field 'colour'" in err.issues[0].message
    assert "is the primary key's own region" in err.issues[1].message
    assert "'alias/aws/'" in err.issues[2].message


def test_misspelt_names_get_a_suggestion() -> None:
    err = load_error(
        THREE_FAULTS.replace("colour: blue", "rotaton_days: 100").replace("region: primary", "region: primry")
    )
    messages = {i.path: i.message for i in err.issues}
    assert "unknown field 'rotaton_days'; did you mean 'rotation_days'?" in messages["keys[0].rotaton_days"]
    assert messages["keys[0].region"].startswith("unknown region 'primry'; did you mean 'primary'?")
    # Nothing close: no suggestion.
    far = load_error(THREE_FAULTS.replace("colour: blue", "zzz: 1"))
    assert "did you mean" not in far.issues[0].message


def test_one_misspelt_declaration_is_one_error_naming_every_place() -> None:
    """regions: {primry: ...} breaks every reference to 'primary': one root cause, one error, every place named."""
    text = dump(default_data()).replace("  primary: eu-west-1", "  primry: eu-west-1")
    err = load_error(text)
    (issue,) = err.issues
    assert issue.path == "keys[0].region"
    assert issue.message.startswith("unknown region 'primary'; did you mean 'primry'?")
    assert "(the same at keys[1].region (line " in issue.message
    assert "workflows.snapshot_copy[0].region (line " in issue.message
