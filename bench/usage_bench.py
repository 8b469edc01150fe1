"""``kmsflow audit usage`` over 1,000,000 CloudTrail records against a plain ``json.load`` + ``Counter`` pass.

Order of a run: (1) generate the records, seeded, into gzip files laid out as a trail writes them
(``q<N>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<unique>.json.gz``,
in four quarter folders ``q0``..``q3``), two worker processes; (2) time each side over all files in a fresh
subprocess, alternating, ``BENCH_USAGE_ROUNDS`` rounds (default 2), best time per side; each child reports its
records/s and its peak memory (``ru_maxrss``); (3) run kmsflow once more over one quarter of the files, to show
that its peak memory does not grow with the number of files.

- plain: for each file ``gzip.open`` + ``json.load`` + ``collections.Counter`` over
  (``resources[0].ARN`` or ``requestParameters.keyId``, ``userIdentity.arn``, ``eventName``);
- kmsflow: :func:`kmsflow.audit.usage.report_for_logs` (the library function the CLI calls, without the CLI
  process), the whole report: validation, principals, alias resolution, grouping, sorting.

Target: kmsflow records/s >= 0.8 x plain. Runs alone (``.venv/bin/python bench/usage_bench.py``) or from
``bench/run.py``. ``BENCH_USAGE_RECORDS`` / ``BENCH_USAGE_FILES`` change the size (default 1,000,000 / 1,000).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from multiprocessing import Pool
from pathlib import Path
from random import Random
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "out"
MARKER = "USAGE_BENCH_RESULT "
TARGET = 0.8
SEED = 20250601
QUARTERS = 4

ACCOUNTS = ("111122223333", "444455556666", "777788889999")
REGIONS = ("eu-west-1", "eu-central-1", "us-east-1")
OPERATIONS = (
    ("Decrypt", 30),
    ("GenerateDataKey", 25),
    ("Encrypt", 12),
    ("DescribeKey", 8),
    ("GenerateDataKeyWithoutPlaintext", 5),
    ("Sign", 3),
    ("Verify", 2),
    ("CreateGrant", 2),
    ("ListAliases", 1),
    ("ListKeys", 1),
)
NO_KEY_OPERATIONS = {"ListAliases", "ListKeys"}
OTHER_SOURCES = ("s3.amazonaws.com", "sts.amazonaws.com", "ec2.amazonaws.com")
OTHER_SHARE = 0.1  # share of non-KMS records, as in a real trail
TEMPLATES = 4000
_T, _REQ, _EVT = "@@TIME@@", "@@REQUEST@@", "@@EVENT@@"


# ----------------------------------------------------------------------------------------------------------
# Generation


def _uuid(rng: Random) -> str:
    x = f"{rng.getrandbits(128):032x}"
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def _identity(rng: Random, account: str) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.6:
        role = rng.choice(("AppRuntime", "DataProcessor", "KeyAdministrator", "BatchJob", "LambdaExec"))
        acct = account if rng.random() < 0.9 else rng.choice(ACCOUNTS)
        session = f"session-{rng.randrange(200)}"
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLE{rng.randrange(10**6):06d}:{session}",
            "arn": f"arn:aws:sts::{acct}:assumed-role/{role}/{session}",
            "accountId": acct,
            "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": f"arn:aws:iam::{acct}:role/{role}",
                    "accountId": acct,
                    "userName": role,
                },
                "attributes": {"creationDate": "2025-05-01T00:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    if kind < 0.8:
        name = rng.choice(("alice", "bob", "ci"))
        return {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account,
            "accessKeyId": "AKIAEXAMPLE",
            "userName": name,
        }
    if kind < 0.97:
        return {"type": "AWSService", "invokedBy": rng.choice(("s3.amazonaws.com", "rds.amazonaws.com"))}
    return {"type": "Root", "principalId": account, "arn": f"arn:aws:iam::{account}:root", "accountId": account}


def _kms_record(rng: Random, keys: list[tuple[str, str, str]]) -> dict[str, Any]:
    key_id, region, account = rng.choice(keys)
    arn = f"arn:aws:kms:{region}:{account}:key/{key_id}"
    operation = rng.choices([op for op, _ in OPERATIONS], weights=[w for _, w in OPERATIONS])[0]
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": _identity(rng, account),
        "eventTime": _T,
        "eventSource": "kms.amazonaws.com",
        "eventName": operation,
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.0",
        "userAgent": "aws-sdk-java/2.25.0 Linux/5.10 OpenJDK_64-Bit_Server_VM/17",
        "requestParameters": None,
        "responseElements": None,
        "requestID": _REQ,
        "eventID": _EVT,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_256_GCM_SHA384",
            "clientProvidedHostHeader": f"kms.{region}.amazonaws.com",
        },
    }
    if operation not in NO_KEY_OPERATIONS:
        key_param = arn if rng.random() < 0.5 else key_id
        record["requestParameters"] = {
            "keyId": key_param,
            "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "encryptionContext": {"aws:s3:arn": f"arn:aws:s3:::bucket-{rng.randrange(50)}/object"},
        }
        record["additionalEventData"] = {"keyMaterialId": f"{rng.getrandbits(256):064x}"}
        record["resources"] = [{"accountId": account, "type": "AWS::KMS::Key", "ARN": arn}]
    if record["userIdentity"].get("invokedBy"):
        record["sourceIPAddress"] = record["userIdentity"]["invokedBy"]
    if rng.random() < 0.02:
        record["errorCode"] = "AccessDenied"
        record["errorMessage"] = "User is not authorized to perform: kms:Decrypt"
    return record


def _other_record(rng: Random) -> dict[str, Any]:
    account, region = rng.choice(ACCOUNTS), rng.choice(REGIONS)
    return {
        "eventVersion": "1.11",
        "userIdentity": _identity(rng, account),
        "eventTime": _T,
        "eventSource": rng.choice(OTHER_SOURCES),
        "eventName": rng.choice(("GetObject", "AssumeRole", "DescribeInstances")),
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.0",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"bucketName": f"bucket-{rng.randrange(50)}"},
        "responseElements": None,
        "requestID": _REQ,
        "eventID": _EVT,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }


def templates(seed: int) -> list[str]:
    """``TEMPLATES`` record texts with ``%s`` for eventTime, requestID and eventID (in that order)."""
    rng = Random(seed)
    keys = [(_uuid(rng), rng.choice(REGIONS), rng.choice(ACCOUNTS)) for _ in range(60)]
    found = []
    for _ in range(TEMPLATES):
        record = _other_record(rng) if rng.random() < OTHER_SHARE else _kms_record(rng, keys)
        text = json.dumps(record, separators=(",", ":")).replace("%", "%%")
        found.append(text.replace(f'"{_T}"', '"%s"').replace(f'"{_REQ}"', '"%s"').replace(f'"{_EVT}"', '"%s"'))
    return found


def _write_file(job: tuple[str, int, int, int]) -> int:
    root, index, per_file, seed = job
    rng = Random(seed * 1_000_003 + index)
    pool = _POOL
    account, region = ACCOUNTS[index % len(ACCOUNTS)], REGIONS[(index // 3) % len(REGIONS)]
    day, hour = 1 + index % 28, (index // 28) % 24
    texts = []
    for i in range(per_file):
        minute, second = (i // 60) % 60, i % 60
        event_time = f"2025-05-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
        texts.append(rng.choice(pool) % (event_time, _uuid(rng), _uuid(rng)))
    data = ('{"Records":[' + ",".join(texts) + "]}").encode()
    name = f"{account}_CloudTrail_{region}_202505{day:02d}T{hour:02d}00Z_{rng.getrandbits(64):016X}.json.gz"
    folder = Path(root, f"q{index % QUARTERS}", "AWSLogs", account, "CloudTrail", region, "2025", "05", f"{day:02d}")
    folder.mkdir(parents=True, exist_ok=True)
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    (folder / name).write_bytes(packer.compress(data) + packer.flush())
    return per_file


_POOL: list[str] = []


def _init_worker(seed: int) -> None:
    global _POOL
    _POOL = templates(seed)


def generate(root: str, records: int, files: int, seed: int = SEED) -> int:
    """Write ``records`` records into ``files`` gzip files under ``root`` (two processes); the records written."""
    per_file = records // files
    jobs = [(root, index, per_file, seed) for index in range(files)]
    with Pool(processes=min(2, os.cpu_count() or 1), initializer=_init_worker, initargs=(seed,)) as pool:
        return sum(pool.imap_unordered(_write_file, jobs, chunksize=16))


# ----------------------------------------------------------------------------------------------------------
# Measured children


def _log_files(root: str) -> list[str]:
    found = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        found += [os.path.join(folder, name) for name in sorted(names) if name.endswith((".json.gz", ".json"))]
    return found


def plain_pass(root: str) -> dict[str, Any]:
    import gzip
    from collections import Counter

    counts: Counter[tuple[Any, Any, Any]] = Counter()
    records = 0
    for path in _log_files(root):
        with gzip.open(path) as handle:
            document = json.load(handle)
        for record in document["Records"]:
            resources = record.get("resources")
            key = resources[0]["ARN"] if resources else (record.get("requestParameters") or {}).get("keyId")
            counts[(key, record.get("userIdentity", {}).get("arn"), record.get("eventName"))] += 1
            records += 1
    return {"records": records, "groups": len(counts)}


def kmsflow_pass(root: str) -> dict[str, Any]:
    from kmsflow.audit.usage import report_for_logs

    report = report_for_logs([root])
    stats = report.sources
    if stats.files_bad or stats.records_skipped:
        raise RuntimeError(f"kmsflow found bad input in generated files: {stats}")
    return {
        "records": stats.records_read,
        "records_kms": stats.records_kms,
        "groups": len(report.usage),
        "files": stats.files_read,
    }


def child(side: str, root: str) -> None:
    """Subprocess entry: one pass, then one result line with time and peak memory."""
    import resource

    if side == "kmsflow":
        import kmsflow.audit.usage  # noqa: F401 - imported before the clock starts, as the plain side's modules
    else:
        import collections  # noqa: F401
        import gzip  # noqa: F401
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    result = plain_pass(root) if side == "plain" else kmsflow_pass(root)
    result["seconds"] = time.perf_counter() - started
    result["peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["base_kb"] = base_kb
    result["kmsflow_loaded"] = "kmsflow" in sys.modules
    print(MARKER + json.dumps(result), flush=True)


def run_child(side: str, root: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", side, root],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{side} subprocess failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(lines[-1][len(MARKER) :])
    if side == "plain" and result["kmsflow_loaded"]:
        raise RuntimeError("the plain pass imported kmsflow; the baseline must not")
    return result


# ----------------------------------------------------------------------------------------------------------
# Report


def _mb(kb: float) -> str:
    return f"{kb / 1024:.0f} MB"


def main() -> int:
    records = int(os.environ.get("BENCH_USAGE_RECORDS", "1000000"))
    files = int(os.environ.get("BENCH_USAGE_FILES", "1000"))
    rounds = int(os.environ.get("BENCH_USAGE_ROUNDS", "2"))
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    root = tempfile.mkdtemp(prefix="kmsflow-usage-bench-")
    try:
        print(f"usage report: generating {records:,} CloudTrail records in {files:,} gzip files ...", flush=True)
        t0 = time.perf_counter()
        written = generate(root, records, files)
        size = sum(os.path.getsize(p) for p in _log_files(root))
        print(f"  {written:,} records, {size / 2**20:.0f} MB compressed, in {time.perf_counter() - t0:.1f} s")

        best: dict[str, dict[str, Any]] = {}
        for index in range(rounds):
            order = ("plain", "kmsflow") if index % 2 == 0 else ("kmsflow", "plain")
            for side in order:
                result = run_child(side, root)
                print(f"  round {index + 1} {side:<8} {result['seconds']:.2f} s", flush=True)
                if side not in best or result["seconds"] < best[side]["seconds"]:
                    best[side] = result
        quarter = run_child("kmsflow", str(Path(root, "q0")))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    plain, ours = best["plain"], best["kmsflow"]
    if plain["records"] != ours["records"]:
        print(f"MISMATCH: plain read {plain['records']} records, kmsflow {ours['records']}")
        return 1
    rate = {side: r["records"] / r["seconds"] for side, r in best.items()}
    ratio = rate["kmsflow"] / rate["plain"]
    print()
    print(f"usage report over {ours['records']:,} records ({ours['records_kms']:,} KMS) in {ours['files']:,} files")
    print(f"{'side':<9} {'records/s':>12} {'seconds':>8} {'peak memory':>12} {'after imports':>14}")
    for side in ("plain", "kmsflow"):
        r = best[side]
        print(f"{side:<9} {rate[side]:>12,.0f} {r['seconds']:>8.2f} {_mb(r['peak_kb']):>12} {_mb(r['base_kb']):>14}")
    print(f"ratio kmsflow/plain {ratio:.2f} (target >= {TARGET}: {'yes' if ratio >= TARGET else 'NO'})")
    print(
        f"kmsflow peak memory: all {ours['files']:,} files {_mb(ours['peak_kb'])}, "
        f"1/{QUARTERS} ({quarter['files']:,} files) {_mb(quarter['peak_kb'])} "
        f"(ratio {ours['peak_kb'] / quarter['peak_kb']:.2f}; independent of the number of files if ~1)"
    )
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s")
    results = {
        "records": records,
        "files": files,
        "rounds": rounds,
        "plain": plain,
        "kmsflow": ours,
        "kmsflow_quarter": quarter,
        "records_per_second": rate,
        "ratio": ratio,
        "target": TARGET,
        "meets_target": ratio >= TARGET,
        "elapsed_seconds": elapsed,
    }
    (OUT / "usage_results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
