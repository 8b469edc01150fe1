"""Run a **synthesized** Step Functions state machine end to end in moto (DESIGN §8). See README.md here.

``WorkflowHarness(template, regions=[...])`` starts a moto mock configured to execute ASL, creates every
``AWS::Lambda::Function`` and ``AWS::StepFunctions::StateMachine`` of the CloudFormation template (intrinsics
resolved to the moto ARNs), and routes each Lambda invoke to the Python callable named by the function's
``Handler``, in process. Waits, retry intervals and botocore's own retry back-off advance a
:class:`VirtualClock` instead of sleeping; executions run synchronously inside ``StartExecution``; every
execution gets a :class:`Result` with its history and counts. ``h.snapshots`` makes moto's snapshots take
virtual time, ``h.faults`` injects AWS errors into the calls handlers make.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import importlib
import io
import json
import os
import random
import re
import threading
import time
import traceback
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from unittest import mock
from xml.sax.saxutils import escape

import boto3
import botocore.endpoint
import botocore.httpsession
import botocore.loaders
import botocore.session
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse
from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl, retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.utils import boto_client, json_path
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker, SyncExecutionWorker

from kmsflow.lambdas import aws_clients
from tests.support.moto_sharing import SharingModel
from tests.support.moto_snapshots import SnapshotTimings
from tests.support.virtual_clock import VirtualClock

#: The moto configuration that makes Step Functions run ASL and Lambda run without Docker.
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
#: moto's default account: the harness deploys there (other accounts are reached through sts.assume_role).
ACCOUNT = "123456789012"
ROLE_NAME = "kmsflow-workflow-harness"
#: The role ``h.session(account)`` assumes in any account (it need not exist: moto assumes any ARN).
ADMIN_ROLE_NAME = "kmsflow-harness-admin"

#: moto modules that read the wall clock for execution and history timestamps, ``$$.Execution.StartTime``,
#: ``$$.State.EnteredTime`` and ``Timestamp`` waits: they read the virtual clock inside the harness.
_SFN_CLOCK_MODULES = (
    "moto.stepfunctions.parser.models",
    "moto.stepfunctions.parser.backend.execution",
    "moto.stepfunctions.parser.asl.eval.event.event_manager",
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp",
)
#: The throttling error code each service really returns (all in botocore's standard-mode retry list).
THROTTLING_CODES = {"ec2": "RequestLimitExceeded", "rds": "Throttling", "sts": "Throttling", "iam": "Throttling"}


class HarnessError(Exception):
    """The template uses something the harness cannot create or resolve."""


# --------------------------------------------------------------------------------------------- template


class _Resolver:
    """Resolves the CloudFormation intrinsics CDK emits (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, and
    Fn::ImportValue from ``refs`` by export name)."""

    def __init__(self, *, region: str, account: str, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "kmsflow-harness",
        }

    def resolve(self, node: Any, path: str = "") -> Any:
        if isinstance(node, list):
            return [self.resolve(item, f"{path}[{i}]") for i, item in enumerate(node)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self._lookup(arg, path)
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self._lookup(name, path)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(self.resolve(item, path)) for item in self.resolve(items, path))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items, path)[int(self.resolve(index, path))]
            if key == "Fn::Sub":
                return self._sub(arg, path)
            if key == "Fn::ImportValue":  # another stack's export: refs={"<export name>": ...}
                return self._lookup(str(self.resolve(arg, path)), path)
            if key.startswith("Fn::"):
                raise HarnessError(f"{path}: intrinsic {key} is not supported by the harness")
        return {key: self.resolve(value, f"{path}.{key}") for key, value in node.items()}

    def _lookup(self, name: str, path: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.values:
            return self.values[name]
        raise HarnessError(f"{path}: {name!r} is not a resource the harness creates; pass refs={{{name!r}: ...}}")

    def _sub(self, arg: Any, path: str) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else arg
        local = {key: str(self.resolve(value, path)) for key, value in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            return local[name] if name in local else self._lookup(name, path)

        return re.sub(r"\$\{([^}]+)\}", replace, text)


#: Resource types whose ARN follows from their name (a property, else the logical id): type -> (name property,
#: ARN pattern, value of Ref — "name" or "arn"). Lets deploy_roles resolve policies that name them.
_NAMED_ARNS: Mapping[str, tuple[str, str, str]] = {
    "AWS::Logs::LogGroup": ("LogGroupName", "arn:aws:logs:{region}:{account}:log-group:{name}:*", "name"),
    "AWS::SNS::Topic": ("TopicName", "arn:aws:sns:{region}:{account}:{name}", "arn"),
    "AWS::SQS::Queue": ("QueueName", "arn:aws:sqs:{region}:{account}:{name}", "name"),
    "AWS::Lambda::Function": ("FunctionName", "arn:aws:lambda:{region}:{account}:function:{name}", "name"),
    "AWS::StepFunctions::StateMachine": (
        "StateMachineName",
        "arn:aws:states:{region}:{account}:stateMachine:{name}",
        "arn",
    ),
}


def _named_arns(
    logical_id: str, resource: Mapping[str, Any], resolver: _Resolver, account: str, region: str
) -> dict[str, str]:
    """``Ref`` and ``.Arn`` of a resource of :data:`_NAMED_ARNS` (empty for other types)."""
    known = _NAMED_ARNS.get(str(resource.get("Type")))
    if known is None:
        return {}
    prop, pattern, ref = known
    try:
        name = str(resolver.resolve(resource.get("Properties", {}).get(prop, logical_id), f"{logical_id}.{prop}"))
    except HarnessError:
        name = logical_id
    arn = pattern.format(region=region, account=account, name=name)
    return {logical_id: arn if ref == "arn" else name, f"{logical_id}.Arn": arn}


def imported_names(node: Any, resources: Any = None) -> Iterator[str]:
    """Names of values a template takes from other stacks: ``Fn::ImportValue`` export names and ``Fn::GetAtt`` of
    CDK's cross-region ``ExportsReader`` custom resources (``"ExportsReader….<export path>"``); give them values
    with ``refs=``."""
    if resources is None and isinstance(node, dict):
        resources = node.get("Resources", {})
    if isinstance(node, dict):
        if isinstance(node.get("Fn::ImportValue"), str):
            yield node["Fn::ImportValue"]
        get_att = node.get("Fn::GetAtt")
        if isinstance(get_att, list) and len(get_att) == 2 and isinstance(get_att[1], str):
            target = (resources or {}).get(get_att[0], {})
            if "ExportReader" in str(target.get("Type", "")) or get_att[0].startswith("ExportsReader"):
                yield f"{get_att[0]}.{get_att[1]}"
        for value in node.values():
            yield from imported_names(value, resources)
    elif isinstance(node, list):
        for value in node:
            yield from imported_names(value, resources)


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the harness runs the handler in process\n")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------ handlers

_scope = threading.local()


def in_handler() -> bool:
    """True while a routed Lambda handler runs in this thread."""
    return getattr(_scope, "depth", 0) > 0


def current_handler() -> str | None:
    """The function name (last part of the dotted handler path) of the routed handler running in this thread."""
    return getattr(_scope, "handler", None)


@contextmanager
def handler_scope(handler: str | None = None) -> Iterator[None]:
    """Marks the current thread as running a handler (faults with scope "handlers" apply), ``handler`` being
    its dotted path (faults for one handler apply)."""
    _scope.depth = getattr(_scope, "depth", 0) + 1
    outer, _scope.handler = getattr(_scope, "handler", None), handler.rsplit(".", 1)[-1] if handler else None
    try:
        yield
    finally:
        _scope.depth -= 1
        _scope.handler = outer


@dataclass
class LambdaContext:
    """The parts of the Lambda context object handlers use; remaining time is virtual."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    clock: VirtualClock = field(repr=False)
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock.elapsed
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"harness/[$LATEST]{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (self.clock.elapsed - self.started)) * 1000))


@dataclass(frozen=True)
class Invocation:
    """One routed Lambda invocation: function (logical id), its handler, its event, and what came of it."""

    function: str
    handler: str
    event: Any
    error_type: str | None
    at: float  # virtual seconds since the clock's start


@dataclass(frozen=True)
class _Deployed:
    logical_id: str
    name: str
    arn: str


# -------------------------------------------------------------------------------------------- faults


@dataclass
class FaultRule:
    """An AWS error answered instead of moto, on ``share`` of matching requests until ``until``."""

    code: str | None  # None: the service's own throttling code (THROTTLING_CODES, else ThrottlingException)
    share: float = 1.0
    service: str | None = None  # botocore service id, e.g. "rds", "ec2", "kms"
    operation: str | None = None  # e.g. "CopyDBSnapshot"
    until: float | None = None  # virtual seconds (clock.elapsed) after which the rule stops
    times: int | None = None  # at most this many injections
    status: int = 400
    message: str = "Injected by the kmsflow test harness"
    scope: str = "handlers"  # "handlers": only requests made while a routed handler runs; "all"
    handler: str | None = None  # only requests made by this handler (its function name, e.g. "check_copy")
    skip: int = 0  # let this many matching requests through first (a failure in the middle of a step's work)

    def matches(self, service: str, operation: str, now: float) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.operation is None or self.operation == operation)
            and (self.until is None or now < self.until)
            and (self.times is None or self.times > 0)
            and (self.scope == "all" or in_handler())
            and (self.handler is None or current_handler() == self.handler)
        )


class Faults:
    """Errors injected at the HTTP boundary (moto's botocore ``before-send`` stub), so that botocore's own
    retry handling runs as against AWS — its back-off sleeps advance the virtual clock. Draws come from a
    seeded RNG: the same calls get the same faults."""

    def __init__(self, clock: VirtualClock, *, seed: int = 0) -> None:
        self.clock = clock
        self.rules: list[FaultRule] = []
        self.injected: Counter[str] = Counter()  # "service.Operation:Code" -> failed HTTP attempts
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(
        self,
        code: str | None,
        *,
        share: float = 1.0,
        service: str | None = None,
        operation: str | None = None,
        for_seconds: float | None = None,
        times: int | None = None,
        status: int = 400,
        message: str | None = None,
        scope: str = "handlers",
        handler: str | None = None,
        skip: int = 0,
    ) -> FaultRule:
        """Answer ``code`` to ``share`` of the matching requests, for ``for_seconds`` of virtual time and at
        most ``times`` times (each HTTP attempt counts: botocore retries throttling codes by itself); with
        ``handler``, only requests that handler makes; after letting ``skip`` of them through."""
        if not 0 <= share <= 1 or scope not in ("handlers", "all"):
            raise ValueError("share must be within [0, 1] and scope 'handlers' or 'all'")
        until = None if for_seconds is None else self.clock.elapsed + for_seconds
        rule = FaultRule(
            code, share, service, operation, until, times, status, message or FaultRule.message, scope, handler, skip
        )
        self.rules.append(rule)
        return rule

    def throttle(
        self,
        share: float,
        *,
        service: str | None = None,
        operation: str | None = None,
        for_seconds: float | None = None,
        times: int | None = None,
        scope: str = "handlers",
    ) -> FaultRule:
        """Throttle ``share`` of the matching requests with each service's real throttling code."""
        return self.add(
            None,
            share=share,
            service=service,
            operation=operation,
            for_seconds=for_seconds,
            times=times,
            message="Rate exceeded",
            scope=scope,
        )

    def clear(self) -> None:
        self.rules.clear()

    def pick(self, service: str, operation: str) -> tuple[FaultRule, str] | None:
        """The rule (and error code) that answers this request, if any; counts it."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(service, operation, self.clock.elapsed) and self._rng.random() < rule.share:
                    if rule.skip > 0:
                        rule.skip -= 1
                        continue
                    code = rule.code or THROTTLING_CODES.get(service, "ThrottlingException")
                    if rule.times is not None:
                        rule.times -= 1
                    self.injected[f"{service}.{operation}:{code}"] += 1
                    return rule, code
        return None

    @contextmanager
    def install(self) -> Iterator[Faults]:
        """Wrap moto's stub (one decision per HTTP attempt) and make botocore's retry sleeps virtual."""
        original = BotocoreStubber.__call__

        def stub(stubber: BotocoreStubber, event_name: str, request: AWSPreparedRequest, **kwargs: Any) -> Any:
            parts = event_name.split(".")
            if stubber.enabled and len(parts) == 3:
                picked = self.pick(parts[1], parts[2])
                if picked is not None:
                    rule, code = picked
                    return _error_response(request, parts[1], code, rule.message, rule.status)
            return original(stubber, event_name, request, **kwargs)

        with ExitStack() as stack:
            stack.enter_context(_patch(BotocoreStubber, "__call__", stub))
            stack.enter_context(self.clock.patch_module(botocore.endpoint))
            yield self


def _error_response(request: AWSPreparedRequest, service: str, code: str, message: str, status: int) -> AWSResponse:
    """An error response in the service's protocol (json, query, ec2, rest-json, rest-xml)."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id}
    content_type = request.headers.get("Content-Type") or b""
    content_type = content_type.decode() if isinstance(content_type, bytes) else str(content_type)
    code_xml, message_xml = escape(code), escape(message)
    if request.headers.get("X-Amz-Target"):
        headers["Content-Type"] = "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message})
    elif service == "ec2":
        body = (
            f"<Response><Errors><Error><Code>{code_xml}</Code><Message>{message_xml}</Message></Error></Errors>"
            f"<RequestID>{request_id}</RequestID></Response>"
        )
    elif content_type.startswith("application/x-www-form-urlencoded"):
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code_xml}</Code><Message>{message_xml}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    elif service == "s3":
        body = (
            f"<Error><Code>{code_xml}</Code><Message>{message_xml}</Message><RequestId>{request_id}</RequestId></Error>"
        )
    else:
        headers["x-amzn-ErrorType"] = code
        body = json.dumps({"message": message})
    return AWSResponse(request.url, status, headers, MockRawResponse(body))


# ------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Result:
    """The end of one execution, what it did, and what it cost."""

    execution_arn: str
    status: str  # SUCCEEDED, FAILED, TIMED_OUT, ABORTED
    output: Any
    error: str | None
    cause: str | None
    events: tuple[dict[str, Any], ...]
    state_counts: Mapping[str, int]  # state name -> times entered
    retries: int  # Retry attempts (Step Functions bills each as a state transition)
    lambda_invocations: int
    handler_counts: Mapping[str, int]  # handler ("package.module.function") -> invocations
    waits: tuple[float, ...]  # seconds of each Wait state, in order
    retry_delays: tuple[float, ...]  # seconds before each Retry attempt, in order
    virtual_seconds: float
    real_seconds: float

    @property
    def transitions(self) -> int:
        """State transitions as Step Functions bills them: states entered plus retries."""
        return sum(self.state_counts.values()) + self.retries

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["type"] == event_type]


@dataclass
class _Run:
    arn: str
    clock_start: float
    real_start: float
    clock_end: float = 0.0
    real_end: float = 0.0
    invocations: list[Invocation] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    retry_delays: list[float] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- harness


class WorkflowHarness:
    """Deploys a synthesized template into moto and runs its state machines (see the module docstring).

    ``regions[0]`` is where the template's functions and state machines live; the others are the regions the
    workflow touches (``client(service, region)``). ``refs`` gives values to ``Ref``/``Fn::GetAtt`` of
    resources the harness does not create (``"LogicalId"`` or ``"LogicalId.Attribute"``). ``clock_modules``
    are modules (e.g. handler modules) whose ``time``/``datetime`` should read the virtual clock. ``seed``
    drives Retry jitter and fault draws.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        regions: Sequence[str],
        clock: VirtualClock | None = None,
        refs: Mapping[str, str] | None = None,
        clock_modules: Sequence[str] = (),
        seed: int = 0,
        handler_account: str | None = None,
        before_deploy: Callable[[WorkflowHarness], Mapping[str, str]] | None = None,
    ) -> None:
        if not regions:
            raise ValueError("regions must name at least the template's region")
        self.template = template
        self.regions = tuple(regions)
        self.region = self.regions[0]
        self.account = ACCOUNT
        self.handler_account = handler_account
        self._before_deploy = before_deploy
        self.clock = clock or VirtualClock()
        self.snapshots = SnapshotTimings(self.clock)
        self.faults = Faults(self.clock, seed=seed)
        self.sharing = SharingModel(self.clock, trust_applies=in_handler)
        self.functions: dict[str, _Deployed] = {}
        self.state_machines: dict[str, str] = {}  # logical id -> ARN
        self.invocations: list[Invocation] = []
        self._refs = dict(refs or {})
        self._clock_modules = tuple(clock_modules)
        self._jitter = random.Random(seed)
        self._runs: dict[str, _Run] = {}
        self._active: list[_Run] = []
        self._by_name: dict[tuple[str, str], _Deployed] = {}
        self._clients: dict[tuple[str, str], Any] = {}
        self._count = 0
        self._stack: ExitStack | None = None
        self._account_credentials: dict[str, dict[str, str]] = {}  # account -> h.session credentials
        self._sessions: dict[tuple[str, str], boto3.Session] = {}
        self._handler_credentials: dict[str, dict[str, str]] = {}  # function logical id -> environment
        self._role_caches: dict[str, dict[Any, Any]] = {}  # function logical id -> aws_clients role cache
        self._role_names: dict[str, str] = {}  # function logical id -> its execution role's name

    # -- context

    def __enter__(self) -> WorkflowHarness:
        stack = ExitStack()
        try:
            stack.enter_context(
                _patch_env({"MOTO_EC2_LOAD_DEFAULT_AMIS": os.environ.get("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")})
            )
            stack.enter_context(mock_aws(config=MOTO_CONFIG))
            stack.enter_context(self._engine_patches())
            stack.enter_context(self.snapshots.install())
            stack.enter_context(self.sharing.install())  # after the snapshots: its copies wrap their stamping
            stack.enter_context(self.faults.install())
            stack.enter_context(self.clock.patch_module(*_SFN_CLOCK_MODULES, *self._clock_modules))
            self._forget_credentials()
            if self._before_deploy is not None:
                self._refs |= dict(self._before_deploy(self))
            self._deploy()
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
            self._clients.clear()
            self._forget_credentials()

    def _forget_credentials(self) -> None:
        """Credentials of one mock are unknown to the next (moto would answer as its default account)."""
        self._account_credentials.clear()
        self._sessions.clear()
        self._handler_credentials.clear()
        self._role_caches.clear()
        aws_clients.reset(keep_models=True)

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client (moto's default account) for the test's own calls; one per service and region."""
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=key[1])
        return self._clients[key]

    @property
    def refs(self) -> Mapping[str, str]:
        """The values given to references the harness does not create (``refs=`` and ``before_deploy``'s)."""
        return dict(self._refs)

    def session(self, account_id: str, region: str | None = None) -> boto3.Session:
        """A boto3 Session acting in ``account_id`` (as ``arn:aws:iam::<account_id>:role/kmsflow-harness-admin``,
        assumed through moto's STS: never ``MOTO_ACCOUNT_ID``), for the test's own calls in any account.
        Credentials are cached per account, sessions per account and region."""
        region = region or self.region
        if account_id not in self._account_credentials:
            self._account_credentials[account_id] = self._assume(
                f"arn:aws:iam::{account_id}:role/{ADMIN_ROLE_NAME}", "kmsflow-harness"
            )
        if (account_id, region) not in self._sessions:
            credentials = self._account_credentials[account_id]
            self._sessions[account_id, region] = boto3.Session(
                aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=credentials["AWS_SESSION_TOKEN"],
                region_name=region,
            )
        return self._sessions[account_id, region]

    def _assume(self, role_arn: str, session_name: str) -> dict[str, str]:
        """Credentials of ``role_arn`` as environment variables, assumed with the harness's own credentials
        (outside handlers: no trust check, moto assumes any role)."""
        credentials = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name[:64])["Credentials"]
        return {
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }

    def deploy_roles(
        self,
        template: Mapping[str, Any],
        account_id: str,
        refs: Mapping[str, str] | None = None,
        *,
        region: str | None = None,
    ) -> dict[str, str]:
        """Create every ``AWS::IAM::Role`` of ``template`` (``RoleName`` — else the logical id —, ``Path``,
        ``AssumeRolePolicyDocument``, inline ``Policies``) in ``account_id``, then put every ``AWS::IAM::Policy``
        on its ``Roles`` and create and attach every ``AWS::IAM::ManagedPolicy``; intrinsics resolve with
        pseudo parameters of ``account_id`` (and ``region``, default the harness's), the roles and policies
        themselves, and ``refs`` (anything else raises :class:`HarnessError` naming the path and the ref to
        pass); log groups, topics, queues, functions and state machines of the template resolve to the ARN their
        name gives. Returns logical id -> role ARN. ``ManagedPolicyArns`` (AWS managed policies) are not attached."""
        resources: Mapping[str, Any] = template.get("Resources", {})
        resolver = _Resolver(region=region or self.region, account=account_id, values=refs or {})
        for logical_id, resource in resources.items():
            if logical_id not in resolver.values:
                resolver.values |= _named_arns(logical_id, resource, resolver, account_id, region or self.region)
        roles = {k: v for k, v in resources.items() if v.get("Type") == "AWS::IAM::Role"}
        managed = {k: v for k, v in resources.items() if v.get("Type") == "AWS::IAM::ManagedPolicy"}
        arns: dict[str, str] = {}
        for logical_id, resource in roles.items():
            props = resource.get("Properties", {})
            name = str(resolver.resolve(props.get("RoleName", logical_id), f"{logical_id}.RoleName"))
            path = str(resolver.resolve(props.get("Path", "/"), f"{logical_id}.Path"))
            arns[logical_id] = f"arn:aws:iam::{account_id}:role{path}{name}"
            resolver.values |= {logical_id: name, f"{logical_id}.Arn": arns[logical_id]}
        for logical_id, resource in managed.items():
            props = resource.get("Properties", {})
            name = str(resolver.resolve(props.get("ManagedPolicyName", logical_id), f"{logical_id}.ManagedPolicyName"))
            resolver.values[logical_id] = f"arn:aws:iam::{account_id}:policy/{name}"
        # Resolve everything first: an unresolvable reference fails before anything is created.
        plans: list[tuple[str, str, str, list[tuple[str, str]]]] = []  # name, path, trust, inline policies
        for logical_id, resource in roles.items():
            props = resource.get("Properties", {})
            trust = resolver.resolve(
                props.get("AssumeRolePolicyDocument", {}), f"{logical_id}.AssumeRolePolicyDocument"
            )
            inline = [
                (
                    str(resolver.resolve(policy["PolicyName"], f"{logical_id}.Policies[{i}].PolicyName")),
                    json.dumps(
                        resolver.resolve(policy["PolicyDocument"], f"{logical_id}.Policies[{i}].PolicyDocument")
                    ),
                )
                for i, policy in enumerate(props.get("Policies", []))
            ]
            path = str(resolver.resolve(props.get("Path", "/"), f"{logical_id}.Path"))
            plans.append((resolver.values[logical_id], path, json.dumps(trust), inline))
        attached: list[tuple[str, str, str, list[str]]] = []  # type, name, document, role names
        for logical_id, resource in resources.items():
            kind = resource.get("Type")
            if kind not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                continue
            props = resource.get("Properties", {})
            document = json.dumps(resolver.resolve(props["PolicyDocument"], f"{logical_id}.PolicyDocument"))
            if kind == "AWS::IAM::Policy":
                name = str(resolver.resolve(props.get("PolicyName", logical_id), f"{logical_id}.PolicyName"))
            else:
                name = resolver.values[logical_id].rsplit("/", 1)[1]
            targets = [str(role) for role in resolver.resolve(props.get("Roles", []), f"{logical_id}.Roles")]
            attached.append((kind, name, document, targets))

        iam = self.session(account_id).client("iam")
        for name, path, trust, inline in plans:
            iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
            for policy_name, document in inline:
                iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=document)
        for kind, name, document, targets in attached:
            if kind == "AWS::IAM::Policy":
                for role in targets:
                    iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
            else:
                arn = iam.create_policy(PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
                for role in targets:
                    iam.attach_role_policy(RoleName=role, PolicyArn=arn)
        return arns

    # -- executions

    def start(
        self, state_machine: str | None = None, input: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> str:
        """Start an execution of ``state_machine`` (logical id; None: the template's only one); it runs to
        its end before this returns. Returns the execution ARN."""
        self._count += 1
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn(state_machine),
            name=name or f"harness-{self._count}",
            input=json.dumps(input or {}),
        )
        return str(response["executionArn"])

    def run(
        self, state_machine: str | None = None, input: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> Result:
        """Start an execution and return its :class:`Result`."""
        return self.result(self.start(state_machine, input, name=name))

    def result(self, execution_arn: str) -> Result:
        sfn = self.client("stepfunctions", execution_arn.split(":")[3])
        described = sfn.describe_execution(executionArn=execution_arn)
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        run = self._runs.get(execution_arn) or _Run(execution_arn, 0.0, 0.0)
        entered = Counter(e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered"))
        output = described.get("output")
        return Result(
            execution_arn=execution_arn,
            status=described["status"],
            output=json.loads(output) if output is not None else None,
            error=described.get("error"),
            cause=described.get("cause"),
            events=tuple(events),
            state_counts=dict(entered),
            retries=len(run.retry_delays),
            lambda_invocations=len(run.invocations),
            handler_counts=dict(Counter(i.handler for i in run.invocations)),
            waits=tuple(run.waits),
            retry_delays=tuple(run.retry_delays),
            virtual_seconds=run.clock_end - run.clock_start,
            real_seconds=run.real_end - run.real_start,
        )

    def state_machine_arn(self, logical_id: str | None = None) -> str:
        """The ARN of the state machine with that logical id, or whose name starts with it (e.g.
        ``kmsflow-snapshot-share-``); None: the template's only one."""
        if logical_id is None:
            if len(self.state_machines) != 1:
                raise HarnessError(f"name the state machine: the template has {sorted(self.state_machines)}")
            return next(iter(self.state_machines.values()))
        if logical_id in self.state_machines:
            return self.state_machines[logical_id]
        named = [arn for arn in self.state_machines.values() if arn.rsplit(":", 1)[1].startswith(logical_id)]
        if len(named) != 1:
            raise HarnessError(f"{logical_id!r} names {len(named)} state machines of {sorted(self.state_machines)}")
        return named[0]

    # -- deployment

    def _deploy(self) -> None:
        resources: Mapping[str, Any] = self.template.get("Resources", {})
        functions = {k: v for k, v in resources.items() if v.get("Type") == "AWS::Lambda::Function"}
        machines = {k: v for k, v in resources.items() if v.get("Type") == "AWS::StepFunctions::StateMachine"}
        account = self.handler_account or self.account
        resolver = _Resolver(region=self.region, account=account, values=self._refs)
        # Roles resolve to what deploy_roles creates (name, ARN in the handlers' account) unless refs say otherwise.
        for logical_id, resource in resources.items():
            if resource.get("Type") == "AWS::IAM::Role" and logical_id not in self._refs:
                props = resource.get("Properties", {})
                name = resolver.resolve(props.get("RoleName", logical_id), f"{logical_id}.RoleName")
                path = resolver.resolve(props.get("Path", "/"), f"{logical_id}.Path")
                resolver.values |= {logical_id: name, f"{logical_id}.Arn": f"arn:aws:iam::{account}:role{path}{name}"}
        # Names and ARNs first, so that any property may refer to any function or state machine.
        for logical_id, resource in functions.items():
            name = resolver.resolve(resource.get("Properties", {}).get("FunctionName", logical_id))
            arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"
            self.functions[logical_id] = _Deployed(logical_id, name, arn)
            resolver.values |= {logical_id: name, f"{logical_id}.Arn": arn}
        for logical_id, resource in machines.items():
            name = resolver.resolve(resource.get("Properties", {}).get("StateMachineName", logical_id))
            arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"
            self.state_machines[logical_id] = arn
            resolver.values |= {logical_id: arn, f"{logical_id}.Arn": arn, f"{logical_id}.Name": name}

        role_arn = self._role()
        lambda_ = self.client("lambda")
        for logical_id, resource in functions.items():
            props = resource.get("Properties", {})
            if "Handler" not in props:
                raise HarnessError(f"{logical_id}: only zip functions with a Handler can be routed")
            deployed = self.functions[logical_id]
            if self.handler_account is not None:
                self._role_names[logical_id] = self._function_role_name(logical_id, props, resolver)
            variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}), logical_id)
            lambda_.create_function(
                FunctionName=deployed.name,
                Runtime=props.get("Runtime", "python3.12"),
                Role=role_arn,
                Handler=resolver.resolve(props["Handler"], f"{logical_id}.Handler"),
                Code={"ZipFile": _dummy_zip()},
                Timeout=int(props.get("Timeout", 3)),
                MemorySize=int(props.get("MemorySize", 128)),
                Environment={"Variables": {key: str(value) for key, value in variables.items()}},
            )
            self._by_name[self.region, deployed.name] = deployed

        sfn = self.client("stepfunctions")
        for logical_id, resource in machines.items():
            props = resource.get("Properties", {})
            if "DefinitionString" in props:
                definition = resolver.resolve(props["DefinitionString"], f"{logical_id}.DefinitionString")
            elif "Definition" in props:
                definition = json.dumps(resolver.resolve(props["Definition"], f"{logical_id}.Definition"))
            else:
                raise HarnessError(f"{logical_id}: no DefinitionString or Definition (S3 definitions unsupported)")
            substitutions = resolver.resolve(props.get("DefinitionSubstitutions", {}), logical_id)
            for key, value in substitutions.items():
                definition = definition.replace("${" + key + "}", str(value))
            sfn.create_state_machine(
                name=self.state_machines[logical_id].rsplit(":", 1)[1],
                definition=definition,
                roleArn=role_arn,
                type=props.get("StateMachineType", "STANDARD"),
            )

    def _function_role_name(self, logical_id: str, props: Mapping[str, Any], resolver: _Resolver) -> str:
        """The ``RoleName`` of the ``AWS::IAM::Role`` the function's ``Role`` refers to (``Fn::GetAtt X.Arn``;
        without ``RoleName``, X itself, as :meth:`deploy_roles` names it)."""
        role = props.get("Role")
        target = None
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            arg = role["Fn::GetAtt"]
            target = arg[0] if isinstance(arg, list) else str(arg).split(".")[0]
        resource = self.template.get("Resources", {}).get(target) if target else None
        if resource is None or resource.get("Type") != "AWS::IAM::Role":
            raise HarnessError(
                f"{logical_id}.Role: handler_account needs Fn::GetAtt of an AWS::IAM::Role, got {role!r}"
            )
        return str(resolver.resolve(resource.get("Properties", {}).get("RoleName", target), f"{target}.RoleName"))

    def handler_role_arn(self, logical_id: str) -> str:
        """The execution role a function's handler acts as (``handler_account`` set)."""
        if self.handler_account is None:
            raise HarnessError("handler_role_arn: the harness has no handler_account")
        return f"arn:aws:iam::{self.handler_account}:role/{self._role_names[logical_id]}"

    def _role(self) -> str:
        iam = self.client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            return str(iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"])
        except iam.exceptions.NoSuchEntityException:
            return str(iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"])

    # -- moto engine patches

    @contextmanager
    def _engine_patches(self) -> Iterator[None]:
        harness = self
        original_invoke = LambdaSimpleBackend.invoke

        def start_worker(worker: ExecutionWorker) -> None:
            # Synchronous: StartExecution returns when the execution has ended (moto starts a thread,
            # execution_worker.py l. 111-114), so one execution's virtual time is not another's.
            details = worker._evaluation_details.execution_details
            # moto hands $$.Execution.StartTime over as a datetime, which then breaks DescribeExecution's
            # json.dumps of an output that holds it (stepfunctions/responses.py l. 340): AWS's string.
            if isinstance(details.start_time, datetime.datetime):
                details.start_time = _iso(details.start_time)
            run = _Run(details.arn, harness.clock.elapsed, time.perf_counter())
            harness._runs[run.arn] = run
            harness._active.append(run)
            try:
                worker._execution_logic()  # type: ignore[no-untyped-call]
            finally:
                harness._active.pop()
                run.clock_end, run.real_end = harness.clock.elapsed, time.perf_counter()

        def wait_interval(wait: WaitFunction, env: Any, wait_seconds: int) -> None:
            harness._advance(max(0, wait_seconds), "waits")

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: Any,
        ) -> Any:
            function = backend.get_function(function_name, qualifier)
            deployed = harness._by_name.get((backend.region_name, function.function_name))
            if deployed is None:
                return original_invoke(backend, function_name, qualifier, body, headers, response_headers)
            return harness._invoke(deployed, function, body, response_headers)

        with ExitStack() as stack:
            stack.enter_context(_speedups())
            stack.enter_context(_patch(ExecutionWorker, "start", start_worker))
            stack.enter_context(_patch(SyncExecutionWorker, "start", start_worker))
            stack.enter_context(_patch(WaitFunction, "_wait_interval", wait_interval))
            stack.enter_context(_patch(retrier_decl, "time", _RetrySleep(self)))
            stack.enter_context(_patch(jitter_strategy_decl, "random", self._jitter))
            stack.enter_context(_patch(LambdaSimpleBackend, "invoke", invoke))
            yield

    def _advance(self, seconds: float, kind: str) -> None:
        self.clock.advance(seconds)
        if self._active:
            getattr(self._active[-1], kind).append(seconds)

    def _invoke(self, deployed: _Deployed, function: Any, body: Any, response_headers: dict[str, Any]) -> bytes:
        """Run the handler as the Lambda Python runtime would; errors become Unhandled function errors."""
        event = json.loads(body) if body else {}
        context = LambdaContext(
            function_name=deployed.name,
            invoked_function_arn=deployed.arn,
            memory_limit_in_mb=int(function.memory_size),
            timeout_seconds=int(function.timeout),
            clock=self.clock,
        )
        environment = {
            **{key: str(value) for key, value in (function.environment_vars or {}).items()},
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": deployed.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        }
        error_type: str | None = None
        role_cache: Any = contextlib.nullcontext()
        if self.handler_account is not None:
            # Each step acts as its own role, as on AWS: environment credentials of the function's execution role
            # (one assumption per function, like a warm container), and aws_clients' assumed-role cache per
            # function (each function is its own container; one step's role sessions are not another's).
            if deployed.logical_id not in self._handler_credentials:
                self._handler_credentials[deployed.logical_id] = self._assume(
                    self.handler_role_arn(deployed.logical_id), deployed.name
                )
            environment |= self._handler_credentials[deployed.logical_id]
            role_cache = _patch(aws_clients, "_role_credentials", self._role_caches.setdefault(deployed.logical_id, {}))
        with _patch_env(environment), role_cache, handler_scope(str(function.handler)):
            try:
                handler = _import_handler(str(function.handler))
                payload = _marshal(handler(event, context))
            except _RuntimeError as exc:
                error_type = exc.error_type
                payload = _error_payload(error_type, str(exc), context, [])
            except Exception as exc:
                error_type = type(exc).__name__
                frames = traceback.format_tb(exc.__traceback__.tb_next if exc.__traceback__ else None)
                payload = _error_payload(error_type, str(exc), context, frames)
        if error_type is not None:
            response_headers["x-amz-function-error"] = "Unhandled"
        invocation = Invocation(deployed.logical_id, str(function.handler), event, error_type, self.clock.elapsed)
        self.invocations.append(invocation)
        if self._active:
            self._active[-1].invocations.append(invocation)
        return payload.encode()


@contextmanager
def _speedups() -> Iterator[None]:
    """Caches that change no behaviour but make a poll loop of ~40 Lambda invocations cost ~0.5 s, not ~10 s.

    jsonpath_ng builds its lexer and parser tables on every ``parse()``, which moto calls for every path
    of every state (asl/utils/json_path.py l. 48, asl/component/common/path/result_path.py); moto's Lambda
    task makes a new boto3 client for every invocation (lambda_eval_utils.py l. 54); every botocore session
    loads and parses the service's JSON model again and every client builds an SSL context; and the
    handlers' ``aws_clients.session_for`` makes a new boto3 Session per call (it shares the model loader, but
    building a botocore Session still costs ~10 ms; clients stay per call, and sessions through an assumed role
    are left to ``aws_clients``, whose credential cache is the handler's behaviour). Sessions are cached per
    region *and* environment access key: a Session keeps the credentials it first resolved, and with
    ``handler_account`` each function has its own.
    """
    loader = botocore.loaders.create_loader()
    ssl_context = botocore.httpsession.create_urllib3_context()
    original_ssl = botocore.httpsession.create_urllib3_context
    original_session_for = aws_clients.session_for
    original_client_for = boto_client.boto_client_for
    sessions: dict[tuple[str, str | None], Any] = {}
    clients: dict[tuple[str, str], Any] = {}

    def shared_ssl_context(*args: Any, **kwargs: Any) -> Any:
        return original_ssl(*args, **kwargs) if args or kwargs else ssl_context

    def session_for(*, region: str, role_arn: str | None = None, **kwargs: Any) -> Any:
        if role_arn is not None:
            return original_session_for(region=region, role_arn=role_arn, **kwargs)
        # Keyed by the environment's access key too: with handler_account each step has its own credentials,
        # and a Session keeps the credentials it first resolved.
        key = (region, os.environ.get("AWS_ACCESS_KEY_ID"))
        if key not in sessions:
            sessions[key] = original_session_for(region=region)
        return sessions[key]

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        # The original ignores state_credentials (asl/utils/boto_client.py l. 14-33): one client per service.
        if (region, service) not in clients:
            clients[region, service] = original_client_for(region, service)
        return clients[region, service]

    with ExitStack() as stack:
        for module in (json_path, result_path):
            stack.enter_context(_patch(module, "parse", functools.lru_cache(maxsize=None)(module.parse)))
        stack.enter_context(_patch(botocore.session, "create_loader", lambda *args, **kwargs: loader))
        stack.enter_context(_patch(botocore.httpsession, "create_urllib3_context", shared_ssl_context))
        stack.enter_context(_patch(aws_clients, "session_for", session_for))
        stack.enter_context(_patch(lambda_eval_utils, "boto_client_for", client_for))
        yield


def _iso(moment: datetime.datetime) -> str:
    """AWS's timestamp format in the context object: 2030-01-01T00:00:00.000Z."""
    moment = moment.astimezone(datetime.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


class _RuntimeError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _import_handler(handler: str) -> Callable[[Any, Any], Any]:
    """``package.module.function`` imported in process; failures named as the Lambda runtime names them."""
    module_name, _, attribute = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _RuntimeError("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}") from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise _RuntimeError("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
    return function  # type: ignore[no-any-return]


def _marshal(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise _RuntimeError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc


def _error_payload(error_type: str, message: str, context: LambdaContext, stack: list[str]) -> str:
    return json.dumps(
        {"errorMessage": message, "errorType": error_type, "requestId": context.aws_request_id, "stackTrace": stack}
    )


class _RetrySleep:
    """Stands in for ``time`` in moto's retrier (retrier_decl.py l. 107: ``time.sleep(interval)``)."""

    def __init__(self, harness: WorkflowHarness) -> None:
        self._harness = harness

    def sleep(self, seconds: float) -> None:
        self._harness._advance(seconds, "retry_delays")

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _patch(target: Any, attribute: str, value: Any) -> Any:
    return mock.patch.object(target, attribute, value)


def _patch_env(values: Mapping[str, str]) -> Any:
    return mock.patch.dict(os.environ, values)


__all__ = [
    "ACCOUNT",
    "MOTO_CONFIG",
    "FaultRule",
    "Faults",
    "HarnessError",
    "Invocation",
    "LambdaContext",
    "Result",
    "SharingModel",
    "WorkflowHarness",
    "handler_scope",
    "imported_names",
    "in_handler",
]
