"""Hidden-oracle test: random CloudTrail files whose true counts are known from how they were generated.

Each seed generates a few thousand records of every documented shape (role sessions, users, root, services,
other accounts, errors, aliases in ``keyId`` with their CreateAlias events, bare key IDs, key ARNs, ReEncrypt
with two keys, ListKeys without a key), mixed with other services' records, malformed records and digest files,
split at random into ``.json.gz`` and ``.json`` files in the trail layout. The truth per (key, principal,
operation) is counted while generating, from the generator's own choices, never by reading the records back;
the report (CLI, ``--format json``) must match it exactly, with and without a window.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kmsflow.cli.audit import app

from . import factory as f

ACCOUNTS = (f.ACCOUNT, f.PARTNER, f.OTHER)
REGIONS = (f.REGION, f.REGION2)
OPERATIONS = ("Decrypt", "Encrypt", "GenerateDataKey", "DescribeKey", "Sign", "CreateGrant")
Truth = Counter[tuple[str, str, str]]


class World:
    """Keys (with aliases) and principals of a random organization."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.keys = [(n, rng.choice(ACCOUNTS), rng.choice(REGIONS)) for n in range(12)]
        self.aliases = {n: f"alias/team-{n}" for n, _, _ in self.keys if n % 3 == 0}

    def principal(self, home: str) -> tuple[dict[str, Any], str]:
        """A userIdentity and the principal the report must show for it."""
        rng = self.rng
        account = home if rng.random() < 0.8 else rng.choice(ACCOUNTS)
        kind = rng.randrange(6)
        if kind <= 1:
            role = rng.choice(("App", "Batch", "Admin"))
            invoked = rng.choice(("", "", "s3.amazonaws.com"))
            return f.assumed_role(role, f"s-{rng.randrange(50)}", account=account, invoked_by=invoked), f.role_arn(
                role, account
            )
        if kind == 2:
            user = f.iam_user(rng.choice(("alice", "bob")), account=account)
            return user, user["arn"]
        if kind == 3:
            service = rng.choice(("rds.amazonaws.com", "ebs.amazonaws.com", "cloudtrail.amazonaws.com"))
            return f.aws_service(service), service
        if kind == 4:
            return f.root(account=account), f"arn:aws:iam::{account}:root"
        return f.aws_account(account), f"account:{account}"


def random_time(rng: random.Random) -> str:
    return f"2025-05-{rng.randint(1, 28):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"


def generate(seed: int, count: int) -> tuple[list[Any], list[tuple[str, tuple[str, str, str]]]]:
    """Records (in order) and the truth: (eventTime, (key, principal, operation)) per counted key use."""
    rng = random.Random(seed)
    world = World(rng)
    records: list[Any] = []
    truth: list[tuple[str, tuple[str, str, str]]] = []
    admin = f.iam_user("admin")
    for n, alias in world.aliases.items():  # aliases are created before May
        _, account, region = world.keys[n]
        records.append(
            f.create_alias(alias, f.key_id(n), admin, account=account, region=region, time="2025-04-01T00:00:00Z")
        )
        truth.append(
            ("2025-04-01T00:00:00Z", (f.key_arn(n, account=account, region=region), admin["arn"], "CreateAlias"))
        )
    for _ in range(count):
        roll = rng.random()
        if roll < 0.08:
            records.append(
                f.other_service(rng.choice(("s3.amazonaws.com", "sts.amazonaws.com")), time=random_time(rng))
            )
            continue
        if roll < 0.1:
            broken = f.kms_event("Decrypt", admin, key=f.key_arn(0))
            broken[rng.choice(("eventTime", "eventName"))] = rng.choice((None, 12, ["x"]))
            records.append(broken)
            continue
        time = random_time(rng)
        n, account, region = rng.choice(world.keys)
        arn = f.key_arn(n, account=account, region=region)
        identity, principal = world.principal(account)
        error = "AccessDenied" if rng.random() < 0.05 else None
        if roll < 0.14:
            records.append(f.kms_event("ListKeys", identity, account=account, region=region, time=time))
            truth.append((time, ("-", principal, "ListKeys")))
            continue
        if roll < 0.18:
            m, _, _ = rng.choice([k for k in world.keys if k[1] == account and k[2] == region] or [world.keys[n]])
            second = f.key_arn(m, account=account, region=region)
            records.append(
                f.kms_event("ReEncrypt", identity, resources=[arn, second], account=account, region=region, time=time)
            )
            truth += [(time, (key, principal, "ReEncrypt")) for key in dict.fromkeys([arn, second])]
            continue
        operation = rng.choice(OPERATIONS)
        form = rng.randrange(4)
        if form == 0:  # resources + key ARN
            record = f.kms_event(
                operation, identity, key=arn, account=account, region=region, time=time, error_code=error
            )
        elif form == 1:  # no resources, bare key ID in the key's own account
            record = f.kms_event(
                operation,
                identity,
                key_param=f.key_id(n),
                resources=[],
                account=account,
                region=region,
                time=time,
                error_code=error,
            )
        elif form == 2 and n in world.aliases:  # no resources, alias name
            record = f.kms_event(
                operation,
                identity,
                key_param=world.aliases[n],
                resources=[],
                account=account,
                region=region,
                time=time,
                error_code=error,
            )
        else:  # resources, alias ARN as the caller passed it
            alias = f.alias_arn(world.aliases.get(n, "alias/none"), account=account, region=region)
            record = f.kms_event(
                operation,
                identity,
                key=arn,
                key_param=alias,
                account=account,
                region=region,
                time=time,
                error_code=error,
            )
        records.append(record)
        truth.append((time, (arn, principal, operation)))
    rng.shuffle(records)
    return records, truth


def write_files(root: Path, records: list[Any], seed: int) -> None:
    rng = random.Random(seed + 1)
    index = 0
    while records:
        size = rng.randint(1, 400)
        chunk, records = records[:size], records[size:]
        account, region = rng.choice(ACCOUNTS), rng.choice(REGIONS)
        org = "o-abcdef1234" if rng.random() < 0.3 else None
        key = f.log_key(account, region, day=f"2025/05/{rng.randint(1, 28):02d}", org_id=org, unique=f"U{index:015d}")
        gz = rng.random() < 0.7
        f.write(root, key if gz else key.removesuffix(".gz"), f.log_bytes(chunk, gz=gz))
        if rng.random() < 0.3:
            f.write(
                root,
                f.digest_key(account, region, day=f"2025/05/{index % 28 + 1:02d}", org_id=org),
                f.digest_bytes(account),
            )
        index += 1


def report(root: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["usage", "--logs", str(root), "--format", "json", *args])
    assert result.exit_code == 3, result.output  # the malformed records make the input incomplete
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def counted(document: dict[str, Any]) -> Truth:
    found: Truth = Counter()
    for row in document["usage"]:
        found[(row["key"], row["principal"], row["operation"])] += row["count"]
    return found


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counts_match_the_generated_truth(tmp_path: Path, seed: int) -> None:
    records, truth = generate(seed, 3000)
    write_files(tmp_path, records, seed)

    document = report(tmp_path)
    assert counted(document) == Counter(slot for _, slot in truth)
    malformed = sum(
        1 for r in records if not isinstance(r.get("eventTime"), str) or not isinstance(r.get("eventName"), str)
    )
    assert document["sources"]["records_skipped"] == malformed
    assert document["sources"]["records_read"] == len(records)
    assert document["sources"]["files_bad"] == []

    since, until = "2025-05-10T00:00:00Z", "2025-05-20T12:00:00Z"
    windowed = report(tmp_path, "--since", since, "--until", until)
    assert counted(windowed) == Counter(slot for time, slot in truth if since <= time < until)
