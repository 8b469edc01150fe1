"""A cloud assembly (``cdk.out``) or CloudFormation templates read as plain data, to answer "may this principal
do that to this resource?" offline, before anything is deployed.

Templates hold policies full of intrinsics (``Fn::GetAtt``, ``Fn::Join``, cross-stack and cross-region
references). :class:`Assembly` resolves them to stable plain strings, the same string for the same resource
wherever it is referred to, so that a policy naming a key by ``Fn::GetAtt`` matches a request naming the key by
ARN. Physical names that CloudFormation would generate are replaced by ``<stack name>-<logical id>``: not the
deployed name, but unique and deterministic, which is all that comparing policies needs.

What cannot be known offline becomes a marker string that starts with :data:`UNRESOLVED`
(``<unresolved:kmsflow-keys/Thing.Attr>``). No ARN starts with ``<``, so a marker in a policy matches no real
principal or resource (an ``"*"`` pattern in a policy still matches a marker used as a request's resource).
Resolution never raises on an unexpected shape: it yields a marker instead.

Pure Python: no ``aws_cdk``, no boto3. :func:`authorize` hands what it finds to
:func:`kmsflow.policy.evaluate.evaluate`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from kmsflow.errors import KmsflowError
from kmsflow.policy.document import as_list
from kmsflow.policy.evaluate import evaluate
from kmsflow.policy.model import Decision, Policy, PrincipalKind, Request
from kmsflow.policy.roles import partition_of

#: How every marker for a value that cannot be resolved offline starts.
UNRESOLVED = "<unresolved:"


class AssemblyError(KmsflowError):
    """A cloud assembly cannot be read (missing or malformed manifest or template), or a stack or resource
    asked for is not in it."""


@dataclass(frozen=True, kw_only=True)
class StackTemplate:
    """One stack: its name, environment and template (as ``json.load`` returns it). ``partition`` is derived
    from the region when left empty."""

    name: str
    account: str
    region: str
    template: Mapping[str, Any]
    partition: str = ""
    #: The template's file relative to the assembly directory read (``assembly-Prod/Prodkeys.template.json`` for
    #: a stage's stack); empty for templates not read from a directory.
    template_file: str = ""

    def __post_init__(self) -> None:
        if not self.partition:
            object.__setattr__(self, "partition", partition_of(self.region))

    @property
    def url_suffix(self) -> str:
        """``AWS::URLSuffix``: service endpoints in China end in ``.com.cn``."""
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def section(self, name: str) -> Mapping[str, Any]:
        """A top-level template section (``Resources``, ``Outputs``...), empty when absent or not a mapping."""
        value = self.template.get(name)
        return value if isinstance(value, Mapping) else {}

    def properties(self, logical_id: str) -> Mapping[str, Any]:
        """A resource's raw ``Properties`` (empty when the resource or its properties are missing)."""
        value = self.section("Resources").get(logical_id)
        props = value.get("Properties") if isinstance(value, Mapping) else None
        return props if isinstance(props, Mapping) else {}

    def type_of(self, logical_id: str) -> str | None:
        """A resource's ``Type``, or None when the template has no such resource."""
        value = self.section("Resources").get(logical_id)
        kind = value.get("Type") if isinstance(value, Mapping) else None
        return kind if isinstance(kind, str) else None


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One resource of the assembly: where it is, its raw properties and its resolved ARN."""

    stack: str
    logical_id: str
    type: str
    properties: Mapping[str, Any]
    arn: str


def _marker(stack: str, what: str) -> str:
    """The stand-in for a value that cannot be known offline, naming where it came from."""
    return f"{UNRESOLVED}{stack}/{what}>"


def is_unresolved(value: Any) -> bool:
    """Whether a resolved value (text, or anything holding text) contains a marker."""
    return UNRESOLVED in (value if isinstance(value, str) else json.dumps(value, default=str))


# --- Naming: what Ref and Fn::GetAtt return, per resource type ---------------------------------------------


@dataclass(frozen=True)
class _Naming:
    """How CloudFormation names one resource type, as format strings over ``{p}`` (partition), ``{r}``
    (region), ``{a}`` (account), ``{u}`` (URL suffix), ``{name}`` (physical name), ``{bare}`` (the name without
    a leading ``/``), ``{path}`` (IAM ``Path`` without its leading ``/``) and ``{arn}``."""

    name_property: str | None
    arn: str
    ref: str = "{name}"
    attributes: Mapping[str, str] = field(default_factory=dict)
    lower_case: bool = False  # generated names are lower-cased where the service stores them so (S3, RDS)


_KEY = _Naming(None, "arn:{p}:kms:{r}:{a}:key/{name}", attributes={"KeyId": "{name}"})
_NAMING: Mapping[str, _Naming] = {
    "AWS::KMS::Key": _KEY,
    "AWS::KMS::ReplicaKey": _KEY,
    "AWS::KMS::Alias": _Naming("AliasName", "arn:{p}:kms:{r}:{a}:{name}"),
    "AWS::S3::Bucket": _Naming(
        "BucketName",
        "arn:{p}:s3:::{name}",
        attributes={"DomainName": "{name}.s3.{u}", "RegionalDomainName": "{name}.s3.{r}.{u}"},
        lower_case=True,
    ),
    "AWS::SNS::Topic": _Naming(
        "TopicName", "arn:{p}:sns:{r}:{a}:{name}", ref="{arn}", attributes={"TopicArn": "{arn}", "TopicName": "{name}"}
    ),
    "AWS::SQS::Queue": _Naming(
        "QueueName",
        "arn:{p}:sqs:{r}:{a}:{name}",
        ref="https://sqs.{r}.{u}/{a}/{name}",
        attributes={"QueueName": "{name}", "QueueUrl": "https://sqs.{r}.{u}/{a}/{name}"},
    ),
    "AWS::IAM::Role": _Naming("RoleName", "arn:{p}:iam::{a}:role/{path}{name}"),
    "AWS::IAM::User": _Naming("UserName", "arn:{p}:iam::{a}:user/{path}{name}"),
    "AWS::IAM::Group": _Naming("GroupName", "arn:{p}:iam::{a}:group/{path}{name}"),
    "AWS::IAM::ManagedPolicy": _Naming(
        "ManagedPolicyName", "arn:{p}:iam::{a}:policy/{path}{name}", ref="{arn}", attributes={"PolicyArn": "{arn}"}
    ),
    "AWS::Logs::LogGroup": _Naming("LogGroupName", "arn:{p}:logs:{r}:{a}:log-group:{name}:*"),
    "AWS::CloudTrail::Trail": _Naming("TrailName", "arn:{p}:cloudtrail:{r}:{a}:trail/{name}"),
    "AWS::Lambda::Function": _Naming("FunctionName", "arn:{p}:lambda:{r}:{a}:function:{name}"),
    "AWS::StepFunctions::StateMachine": _Naming(
        "StateMachineName", "arn:{p}:states:{r}:{a}:stateMachine:{name}", ref="{arn}", attributes={"Name": "{name}"}
    ),
    "AWS::Events::Rule": _Naming("Name", "arn:{p}:events:{r}:{a}:rule/{name}"),
    "AWS::CloudWatch::Alarm": _Naming("AlarmName", "arn:{p}:cloudwatch:{r}:{a}:alarm:{name}"),
    "AWS::DynamoDB::Table": _Naming("TableName", "arn:{p}:dynamodb:{r}:{a}:table/{name}"),
    "AWS::SecretsManager::Secret": _Naming("Name", "arn:{p}:secretsmanager:{r}:{a}:secret:{name}", ref="{arn}"),
    "AWS::RDS::DBInstance": _Naming("DBInstanceIdentifier", "arn:{p}:rds:{r}:{a}:db:{name}", lower_case=True),
    "AWS::SSM::Parameter": _Naming("Name", "arn:{p}:ssm:{r}:{a}:parameter/{bare}"),
}
#: Types without a rule: Ref gives the generated name, Arn this.
_UNKNOWN_TYPE = _Naming(None, "arn:{p}:unknown:{r}:{a}:{stack_name}/{logical_id}")

_READER = "Custom::CrossRegionExportReader"
_WRITER = "Custom::CrossRegionExportWriter"
#: A CloudFormation parameter whose value is read from SSM at deploy time (its Default names the SSM parameter).
_SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<String>"
#: CDK's AwsCustomResource: its ``Create`` is the SDK call (JSON), its attributes the response's fields.
_SDK_CALL = "Custom::AWS"


def _format(template: str, stack: StackTemplate, **names: str) -> str:
    """Fill a naming format string with the stack's environment and the given names."""
    return template.format(p=stack.partition, r=stack.region, a=stack.account, u=stack.url_suffix, **names)


def _text(value: Any) -> str:
    """A resolved value as CloudFormation would put it in a string (``Fn::Join``, ``Fn::Sub``)."""
    if isinstance(value, str):
        return value
    if value is _NO_VALUE:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, sort_keys=True)


def _is_pair(value: Any) -> bool:
    """Whether an intrinsic's argument is the two-element list most of them take."""
    return isinstance(value, list) and len(value) == 2


class _NoValue:
    """``AWS::NoValue``: the element that holds it is dropped from its list or mapping."""


_NO_VALUE = _NoValue()


# --- Resolution ------------------------------------------------------------------------------------------


class _Resolver:
    """Turns template values into plain values. Physical names are cached: every policy statement names its
    resources again. Guards against cycles (a name that refers to itself, a condition that does) make such
    templates resolve to markers or generated names instead of recursing forever."""

    def __init__(self, stacks: Mapping[str, StackTemplate]) -> None:
        self._stacks = stacks
        self._names: dict[tuple[str, str], str] = {}
        self._in_progress: set[tuple[str, str]] = set()
        self._exports: dict[str, tuple[StackTemplate, Any]] | None = None
        self._parameters: dict[tuple[str, str, str], tuple[StackTemplate, Any]] | None = None

    def value(self, stack: StackTemplate, value: Any) -> Any:
        resolved = self._value(stack, value)
        return None if resolved is _NO_VALUE else resolved

    def _value(self, stack: StackTemplate, value: Any) -> Any:
        if isinstance(value, Mapping):
            if len(value) == 1:
                ((key, arg),) = value.items()
                handler = _INTRINSICS.get(key)
                if handler is not None:
                    return handler(self, stack, arg)
                if isinstance(key, str) and key.startswith("Fn::"):
                    return _marker(stack.name, key)
            resolved = {key: self._value(stack, item) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not _NO_VALUE}
        if isinstance(value, list | tuple):
            return [item for item in (self._value(stack, raw) for raw in value) if item is not _NO_VALUE]
        return value

    # Names and attributes

    def name(self, stack: StackTemplate, logical_id: str) -> str:
        """The physical name: the explicit name property when it resolves, else ``<stack>-<logical id>``."""
        key = (stack.name, logical_id)
        if key not in self._names:
            naming = self._naming(stack, logical_id)
            generated = f"{stack.name}-{logical_id}"
            self._names[key] = self._explicit_name(stack, logical_id, naming) or (
                generated.lower() if naming.lower_case else generated
            )
        return self._names[key]

    def _explicit_name(self, stack: StackTemplate, logical_id: str, naming: _Naming) -> str | None:
        raw = stack.properties(logical_id).get(naming.name_property) if naming.name_property else None
        key = (stack.name, f"{logical_id}#name")
        if raw is None or key in self._in_progress:
            return None
        self._in_progress.add(key)
        try:
            value = self._value(stack, raw)
        finally:
            self._in_progress.discard(key)
        return value if isinstance(value, str) and value and not is_unresolved(value) else None

    def attribute(self, stack: StackTemplate, logical_id: str, attribute: str) -> str:
        """What ``Fn::GetAtt`` (or ``Ref``, as attribute ``Ref``) returns for a resource of this stack."""
        naming = self._naming(stack, logical_id)
        names = self._names_for_format(stack, logical_id)
        arn = _format(naming.arn, stack, **names)
        formats = {"Ref": naming.ref, "Arn": "{arn}", **naming.attributes}
        if attribute not in formats:
            return _marker(stack.name, f"{logical_id}.{attribute}")
        return _format(formats[attribute], stack, arn=arn, **names)

    def _names_for_format(self, stack: StackTemplate, logical_id: str) -> dict[str, str]:
        name = self.name(stack, logical_id)
        path = self._value(stack, stack.properties(logical_id).get("Path", "/"))
        return {
            "name": name,
            "bare": name.lstrip("/"),
            "path": path.lstrip("/") if isinstance(path, str) else "",
            "stack_name": stack.name,
            "logical_id": logical_id,
        }

    @staticmethod
    def _naming(stack: StackTemplate, logical_id: str) -> _Naming:
        return _NAMING.get(stack.type_of(logical_id) or "", _UNKNOWN_TYPE)

    # Intrinsic functions, one method each (dispatched through _INTRINSICS)

    def _ref(self, stack: StackTemplate, name: Any) -> Any:
        if not isinstance(name, str):
            return _marker(stack.name, "Ref")
        if name.startswith("AWS::"):
            return self._pseudo(stack, name)
        if stack.type_of(name) is not None:
            return self.attribute(stack, name, "Ref")
        if name in stack.section("Parameters"):
            return self._parameter(stack, name)
        return _marker(stack.name, name)

    @staticmethod
    def _pseudo(stack: StackTemplate, name: str) -> Any:
        values: dict[str, Any] = {
            "AWS::AccountId": stack.account,
            "AWS::Region": stack.region,
            "AWS::Partition": stack.partition,
            "AWS::URLSuffix": stack.url_suffix,
            "AWS::StackName": stack.name,
            "AWS::NoValue": _NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        return values.get(name, _marker(stack.name, name))

    def _parameter(self, stack: StackTemplate, name: str) -> Any:
        """A parameter's ``Default`` (what a deployment without overrides uses); for an SSM parameter type, the
        value of the SSM parameter its Default names, when a stack of the assembly writes it (kmsflow's keys read
        across pipeline stages: kmsflow.constructs.keys.stage_reference)."""
        declaration = stack.section("Parameters")[name]
        default = declaration.get("Default") if isinstance(declaration, Mapping) else None
        if default is None:
            return _marker(stack.name, name)
        kind = str(declaration.get("Type", ""))
        if kind == _SSM_PARAMETER_TYPE:
            return self._ssm_value(stack, stack.account, stack.region, _text(default), name)
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return [item.strip() for item in _text(default).split(",")]
        return _text(default)

    def _get_att(self, stack: StackTemplate, arg: Any) -> Any:
        parts = arg.split(".", 1) if isinstance(arg, str) else arg
        if not (_is_pair(parts) and isinstance(parts[0], str)):
            return _marker(stack.name, "Fn::GetAtt")
        logical_id, attribute = parts[0], self._value(stack, parts[1])
        kind = stack.type_of(logical_id)
        if kind is None or not isinstance(attribute, str):
            return _marker(stack.name, f"{logical_id}.{_text(attribute)}")
        if kind == _READER:
            return self._cross_region(stack, logical_id, attribute)
        if kind == _SDK_CALL:
            return self._sdk_call(stack, logical_id, attribute)
        return self.attribute(stack, logical_id, attribute)

    def _ssm_value(self, stack: StackTemplate, account: str, region: str, parameter: str, what: str) -> Any:
        """The value the ``AWS::SSM::Parameter`` named ``parameter`` of ``account`` and ``region`` holds (resolved in
        the stack that writes it); a marker of ``what`` in ``stack`` when no stack of the assembly writes it."""
        found = self._parameter_index().get((account, region, parameter))
        if found is None:
            return _marker(stack.name, what)
        writer, value = found
        return self._value(writer, value)

    def _parameter_index(self) -> dict[tuple[str, str, str], tuple[StackTemplate, Any]]:
        """(account, region, parameter name) -> (writing stack, raw ``Value``) of every ``AWS::SSM::Parameter``
        whose name resolves. Built once, as :meth:`_export_index`."""
        if self._parameters is None:
            self._parameters = {}
            for writer in self._stacks.values():
                for logical_id, resource in writer.section("Resources").items():
                    if not (isinstance(resource, Mapping) and resource.get("Type") == "AWS::SSM::Parameter"):
                        continue
                    props = writer.properties(logical_id)
                    name = self._value(writer, props.get("Name"))
                    if isinstance(name, str):
                        self._parameters.setdefault((writer.account, writer.region, name), (writer, props.get("Value")))
        return self._parameters

    def _sdk_call(self, stack: StackTemplate, logical_id: str, attribute: str) -> Any:
        """CDK's AwsCustomResource doing SSM GetParameter (``Parameter.Value``): the value of that parameter, of the
        call's region (default: the stack's) in the stack's account. Other calls are unresolved."""
        raw = self._value(stack, stack.properties(logical_id).get("Create"))
        try:
            call = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            call = None
        if not isinstance(call, Mapping) or attribute != "Parameter.Value":
            return _marker(stack.name, f"{logical_id}.{attribute}")
        parameters = call.get("parameters")
        name = parameters.get("Name") if isinstance(parameters, Mapping) else None
        if str(call.get("service", "")).lower() != "ssm" or call.get("action") not in ("getParameter", "GetParameter"):
            return _marker(stack.name, f"{logical_id}.{attribute}")
        region = call.get("region") or stack.region
        if not isinstance(name, str) or not isinstance(region, str):
            return _marker(stack.name, f"{logical_id}.{attribute}")
        return self._ssm_value(stack, stack.account, region, name, f"{logical_id}.{attribute}")

    def _cross_region(self, stack: StackTemplate, reader: str, parameter: str) -> Any:
        """CDK's cross-region reference: the reader's attribute is an SSM parameter name that a
        ``Custom::CrossRegionExportWriter`` in the producing stack fills with the value it lists."""
        for writer_stack in self._stacks.values():
            for logical_id, resource in writer_stack.section("Resources").items():
                if isinstance(resource, Mapping) and resource.get("Type") == _WRITER:
                    props = writer_stack.properties(logical_id).get("WriterProps")
                    exports = props.get("exports") if isinstance(props, Mapping) else None
                    if isinstance(exports, Mapping) and parameter in exports:
                        return self._value(writer_stack, exports[parameter])
        return _marker(stack.name, f"{reader}.{parameter}")

    def _import_value(self, stack: StackTemplate, arg: Any) -> Any:
        name = self._value(stack, arg)
        found = self._export_index().get(name) if isinstance(name, str) else None
        if found is None:
            return _marker(stack.name, f"Fn::ImportValue {_text(name)}")
        exporter, value = found
        return self._value(exporter, value)

    def _export_index(self) -> dict[str, tuple[StackTemplate, Any]]:
        """Export name -> (exporting stack, raw output value). Built once; an export name that itself imports
        (not valid CloudFormation) sees the index half built and resolves to a marker."""
        if self._exports is None:
            self._exports = {}
            for stack in self._stacks.values():
                for output in stack.section("Outputs").values():
                    export = output.get("Export") if isinstance(output, Mapping) else None
                    name = self._value(stack, export.get("Name")) if isinstance(export, Mapping) else None
                    if isinstance(name, str) and isinstance(output, Mapping):
                        self._exports.setdefault(name, (stack, output.get("Value")))
        return self._exports

    def _join(self, stack: StackTemplate, arg: Any) -> Any:
        if not _is_pair(arg):
            return _marker(stack.name, "Fn::Join")
        separator, items = self._value(stack, arg[0]), self._value(stack, arg[1])
        if not (isinstance(separator, str) and isinstance(items, list)):
            return _marker(stack.name, "Fn::Join")
        return separator.join(_text(item) for item in items)

    def _sub(self, stack: StackTemplate, arg: Any) -> Any:
        template, variables = (arg, {}) if isinstance(arg, str) else (arg if _is_pair(arg) else (None, None))
        if not (isinstance(template, str) and isinstance(variables, Mapping)):
            return _marker(stack.name, "Fn::Sub")
        values = {key: self._value(stack, raw) for key, raw in variables.items()}
        return _SUB_VARIABLE.sub(lambda match: self._sub_variable(stack, match.group(1), values), template)

    def _sub_variable(self, stack: StackTemplate, name: str, values: Mapping[str, Any]) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in values:
            return _text(values[name])
        if "." in name:
            return _text(self._get_att(stack, name))
        return _text(self._ref(stack, name))

    def _select(self, stack: StackTemplate, arg: Any) -> Any:
        if _is_pair(arg):
            index, items = self._value(stack, arg[0]), self._value(stack, arg[1])
            position = int(index) if isinstance(index, int) or (isinstance(index, str) and index.isdigit()) else -1
            if isinstance(items, list) and 0 <= position < len(items):
                return items[position]
        return _marker(stack.name, "Fn::Select")

    def _split(self, stack: StackTemplate, arg: Any) -> Any:
        if _is_pair(arg):
            separator, source = self._value(stack, arg[0]), self._value(stack, arg[1])
            if isinstance(separator, str) and separator and isinstance(source, str):
                return source.split(separator)
        return _marker(stack.name, "Fn::Split")

    def _find_in_map(self, stack: StackTemplate, arg: Any) -> Any:
        """``[map, top key, second key]``, with the optional ``{"DefaultValue": ...}`` of
        ``AWS::LanguageExtensions`` as a fourth element."""
        if not (isinstance(arg, list) and len(arg) in (3, 4)):
            return _marker(stack.name, "Fn::FindInMap")
        keys = [self._value(stack, key) for key in arg[:3]]
        found: Any = stack.section("Mappings")
        for key in keys:
            found = found.get(key) if isinstance(found, Mapping) and isinstance(key, str) else None
        if found is not None:
            return self._value(stack, found)
        fallback = arg[3] if len(arg) == 4 and isinstance(arg[3], Mapping) else {}
        if "DefaultValue" in fallback:
            return self._value(stack, fallback["DefaultValue"])
        return _marker(stack.name, "Fn::FindInMap " + "/".join(_text(key) for key in keys))

    def _base64(self, stack: StackTemplate, arg: Any) -> Any:
        value = self._value(stack, arg)
        if not isinstance(value, str):
            return _marker(stack.name, "Fn::Base64")
        return base64.b64encode(value.encode()).decode()

    def _if(self, stack: StackTemplate, arg: Any) -> Any:
        if not (isinstance(arg, list) and len(arg) == 3):
            return _marker(stack.name, "Fn::If")
        truth = self._condition(stack, arg[0])
        if truth is None:
            return _marker(stack.name, f"Fn::If {_text(arg[0])}")
        return self._value(stack, arg[1] if truth else arg[2])

    # Conditions: True, False, or None when not decidable offline

    def _condition(self, stack: StackTemplate, name: Any) -> bool | None:
        expression = stack.section("Conditions").get(name) if isinstance(name, str) else None
        key = (stack.name, f"{name}#condition")
        if expression is None or key in self._in_progress:
            return None
        self._in_progress.add(key)
        try:
            return self._truth(stack, expression)
        finally:
            self._in_progress.discard(key)

    def _truth(self, stack: StackTemplate, expression: Any) -> bool | None:
        if not (isinstance(expression, Mapping) and len(expression) == 1):
            return None
        ((function, arg),) = expression.items()
        if function == "Condition":
            return self._condition(stack, arg)
        if function == "Fn::Equals" and _is_pair(arg):
            left, right = (self._value(stack, side) for side in arg)
            return None if is_unresolved([left, right]) else _text(left) == _text(right)
        operands = [self._truth(stack, item) for item in arg] if isinstance(arg, list) else []
        if function == "Fn::Not" and len(operands) == 1:
            return None if operands[0] is None else not operands[0]
        if function == "Fn::And" and operands:
            return False if False in operands else (None if None in operands else True)
        if function == "Fn::Or" and operands:
            return True if True in operands else (None if None in operands else False)
        return None


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")

_INTRINSICS: Mapping[str, Callable[[_Resolver, StackTemplate, Any], Any]] = {
    "Ref": _Resolver._ref,
    "Fn::GetAtt": _Resolver._get_att,
    "Fn::Join": _Resolver._join,
    "Fn::Sub": _Resolver._sub,
    "Fn::Select": _Resolver._select,
    "Fn::Split": _Resolver._split,
    "Fn::FindInMap": _Resolver._find_in_map,
    "Fn::Base64": _Resolver._base64,
    "Fn::If": _Resolver._if,
    "Fn::ImportValue": _Resolver._import_value,
}


# --- Which policies apply -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _IamIdentity:
    """A role, user or group as policies attach to it: by name, within its account."""

    kind: str  # "role", "user" or "group"
    account: str
    name: str

    @classmethod
    def parse(cls, arn: str) -> _IamIdentity | None:
        """``arn:aws:iam::111111111111:role/path/Name`` -> role Name in 111111111111 (names are unique per
        account whatever the path); a session ``arn:aws:sts::111111111111:assumed-role/Name/session`` is its
        role's."""
        fields = arn.split(":", 5)
        if len(fields) != 6:
            return None
        kind, _, rest = fields[5].partition("/")
        if fields[2] == "sts" and kind == "assumed-role" and "/" in rest:
            return cls("role", fields[4], rest.split("/", 1)[0])
        if fields[2] != "iam" or kind not in _IDENTITY_RESOURCE_TYPES:
            return None
        return cls(kind, fields[4], rest.rsplit("/", 1)[-1])


#: Identity kind -> the resource type that defines it.
_IDENTITY_RESOURCE_TYPES = {"role": "AWS::IAM::Role", "user": "AWS::IAM::User", "group": "AWS::IAM::Group"}
_IDENTITY_KINDS = {type_: kind for kind, type_ in _IDENTITY_RESOURCE_TYPES.items()}
#: Identity kind -> the property of AWS::IAM::Policy/ManagedPolicy that attaches the policy to it.
_ATTACHMENT_PROPERTIES = {"role": "Roles", "user": "Users", "group": "Groups"}
_ATTACHABLE_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


@dataclass(frozen=True)
class _AttachedPolicyType:
    """A resource type that holds a policy for other resources, named in its ``targets`` property;
    ``to_arn`` turns one resolved target into the ARN it governs."""

    targets: str
    to_arn: Callable[[StackTemplate, str], str]
    covers_children: bool = False  # a bucket policy also governs the bucket's objects (``<bucket arn>/<key>``)


def _queue_arn(stack: StackTemplate, url: str) -> str:
    """``https://sqs.<region>.<suffix>/<account>/<name>`` -> the queue's ARN (anything else unchanged)."""
    match = re.fullmatch(r"https://sqs\.([^.]+)\.[^/]+/([^/]+)/([^/]+)", url)
    if match is None:
        return url
    region, account, name = match.groups()
    return f"arn:{partition_of(region)}:sqs:{region}:{account}:{name}"


_ATTACHED_POLICY_TYPES: Mapping[str, _AttachedPolicyType] = {
    "AWS::S3::BucketPolicy": _AttachedPolicyType(
        "Bucket", lambda stack, name: f"arn:{stack.partition}:s3:::{name}", covers_children=True
    ),
    "AWS::SNS::TopicPolicy": _AttachedPolicyType("Topics", lambda _stack, arn: arn),
    "AWS::SQS::QueuePolicy": _AttachedPolicyType("Queues", _queue_arn),
}
#: Resource types that carry their own resource policy: type -> (property, is a KMS key policy).
_OWN_POLICY_TYPES = {
    "AWS::KMS::Key": ("KeyPolicy", True),
    "AWS::KMS::ReplicaKey": ("KeyPolicy", True),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument", False),
}


def _default_key_policy(stack: StackTemplate) -> dict[str, Any]:
    """The policy KMS gives a key created without one: the account may delegate every action through IAM."""
    statement = {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{stack.partition}:iam::{stack.account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    return {"Version": "2012-10-17", "Statement": [statement]}


def _bucket_of_object(arn: str) -> str | None:
    """``arn:aws:s3:::bucket/key`` -> ``arn:aws:s3:::bucket``; None for anything else."""
    head, slash, _ = arn.partition("/")
    return head if slash and head.startswith("arn:") and head.split(":")[2:5] == ["s3", "", ""] else None


class Assembly:
    """The stacks of a cloud assembly, with their intrinsics resolved on demand, and the policies that apply
    to a principal or a resource."""

    def __init__(self, stacks: Iterable[StackTemplate]) -> None:
        self._stacks: dict[str, StackTemplate] = {}
        for stack in stacks:
            if stack.name in self._stacks:
                raise AssemblyError(f"two stacks are named {stack.name!r}; stack names must be unique")
            self._stacks[stack.name] = stack
        self._resolver = _Resolver(self._stacks)
        self._identity_policy_cache: dict[_IamIdentity, list[Policy]] = {}
        self._resource_policy_cache: dict[str, tuple[Policy, str, bool] | None] = {}

    @classmethod
    def from_templates(cls, stacks: Iterable[StackTemplate]) -> Assembly:
        return cls(stacks)

    @classmethod
    def from_directory(cls, path: str | Path) -> Assembly:
        """Read the stacks of a ``cdk.out`` directory (and of the nested assemblies of its stages)."""
        return cls(_read_assembly(Path(path)))

    @property
    def stacks(self) -> Mapping[str, StackTemplate]:
        return MappingProxyType(self._stacks)

    def resolve(self, stack: str, value: Any) -> Any:
        """``value`` with every intrinsic replaced, as resolved in ``stack`` (``AWS::NoValue`` -> None)."""
        return self._resolver.value(self._stack(stack), value)

    def arn(self, stack: str, logical_id: str) -> str:
        """A resource's ARN (raises AssemblyError for a stack or resource that is not there)."""
        return self._resolver.attribute(self._stack(stack), self._require(stack, logical_id), "Arn")

    def physical_name(self, stack: str, logical_id: str) -> str:
        """A resource's name: its explicit name property, else the stable ``<stack>-<logical id>``."""
        return self._resolver.name(self._stack(stack), self._require(stack, logical_id))

    def resources(self, type_: str | None = None) -> Iterator[Resource]:
        """Every resource (of one type), stack by stack in assembly order, each in template order."""
        yield from self._all_resources if type_ is None else self._resources_by_type.get(type_, ())

    def identities(self) -> Iterator[str]:
        """The ARN of every IAM role and user the assembly defines, in assembly order."""
        for resource in self._all_resources:
            if resource.type in ("AWS::IAM::Role", "AWS::IAM::User"):
                yield resource.arn

    @cached_property
    def _all_resources(self) -> list[Resource]:
        return [
            Resource(
                stack=stack.name,
                logical_id=logical_id,
                type=kind,
                properties=stack.properties(logical_id),
                arn=self._resolver.attribute(stack, logical_id, "Arn"),
            )
            for stack in self._stacks.values()
            for logical_id in stack.section("Resources")
            if (kind := stack.type_of(logical_id)) is not None
        ]

    @cached_property
    def _resources_by_type(self) -> dict[str, list[Resource]]:
        index: dict[str, list[Resource]] = {}
        for resource in self._all_resources:
            index.setdefault(resource.type, []).append(resource)
        return index

    @cached_property
    def unknowns(self) -> list[str]:
        """What the assembly refers to but cannot be read offline, one short sentence each: managed policies
        not defined in the assembly (AWS managed ones in particular) and stacks without a fixed environment.
        :meth:`identity_policies` ignores those policies."""
        notes = [
            f"stack {stack.name} is environment-agnostic ({stack.account}/{stack.region}): its ARNs carry these "
            "words instead of a real account and region"
            for stack in self._stacks.values()
            if stack.account.startswith("unknown-") or stack.region.startswith("unknown-")
        ]
        for resource in self.resources():
            if resource.type in _IDENTITY_KINDS:
                for arn in self._managed_policy_arns(resource):
                    if arn not in self._managed_policies:
                        what = "an AWS managed policy" if ":iam::aws:policy/" in arn else "not in the assembly"
                        notes.append(
                            f"{resource.stack}/{resource.logical_id} ManagedPolicyArns: {arn} is {what}; "
                            "it cannot be read offline and is ignored"
                        )
        return notes

    def identity_policies(self, principal_arn: str) -> list[Policy]:
        """Every IAM policy of the assembly attached to a role or user ARN (a user's groups' included):
        inline ``Policies``, customer ``ManagedPolicyArns``, and ``AWS::IAM::Policy``/``ManagedPolicy``
        resources that name it, in the principal's account. Each once, resolved."""
        identity = _IamIdentity.parse(principal_arn)
        if identity is None:
            return []
        if identity not in self._identity_policy_cache:
            self._identity_policy_cache[identity] = self._identity_policies(identity)
        return list(self._identity_policy_cache[identity])

    def _identity_policies(self, identity: _IamIdentity) -> list[Policy]:
        found: dict[str, Policy] = {}
        for member in [identity, *self._groups_of(identity)]:
            for policy in [*self._own_identity_policies(member), *self._attached_identity_policies(member)]:
                found.setdefault(policy.source, policy)
        return list(found.values())

    def resource_policy(self, resource_arn: str) -> tuple[Policy, str, bool] | None:
        """The policy that governs a resource ARN, its owner's account and whether it is a KMS key policy.

        A KMS alias ARN stands for its target key. Key policies (the KMS default when a key has none), S3
        bucket policies (for the bucket and its objects), SNS topic policies, SQS queue policies and role trust
        policies (for ``sts:AssumeRole``) are found. Resolved once per ARN (a review asks for every key's policy
        in several places; the same :class:`Policy` object comes back each time)."""
        if resource_arn not in self._resource_policy_cache:
            arn = self.alias_target(resource_arn) or resource_arn
            self._resource_policy_cache[resource_arn] = self._own_resource_policy(
                arn
            ) or self._attached_resource_policy(arn)
        return self._resource_policy_cache[resource_arn]

    def alias_target(self, alias_arn: str) -> str | None:
        """The key ARN an ``AWS::KMS::Alias`` of the assembly points at (KMS authorizes a request made through
        an alias against the key), or None when ``alias_arn`` is no such alias."""
        alias = self._by_arn.get(alias_arn)
        if alias is None or alias.type != "AWS::KMS::Alias":
            return None
        stack = self._stacks[alias.stack]
        target = self._resolver.value(stack, alias.properties.get("TargetKeyId"))
        if not isinstance(target, str):
            return None
        return target if target.startswith("arn:") else _format(_KEY.arn, stack, name=target)

    def resource_at(self, arn: str) -> Resource | None:
        """The resource of the assembly with this ARN, if any (the first, should two stacks name one)."""
        return self._by_arn.get(arn)

    def account_of(self, resource_arn: str) -> str | None:
        """The account that owns a resource: its stack's (an S3 object: its bucket's), else the ARN's account
        field, else None."""
        resource = self._by_arn.get(resource_arn) or self._by_arn.get(_bucket_of_object(resource_arn) or "")
        if resource is not None:
            return self._stacks[resource.stack].account
        fields = resource_arn.split(":", 5)
        return fields[4] if len(fields) == 6 and fields[4] else None

    # Lookups

    def _stack(self, name: str) -> StackTemplate:
        try:
            return self._stacks[name]
        except KeyError:
            known = ", ".join(sorted(self._stacks)) or "none"
            raise AssemblyError(f"no stack named {name!r} in the assembly (stacks: {known})") from None

    def _require(self, stack: str, logical_id: str) -> str:
        if self._stack(stack).type_of(logical_id) is None:
            raise AssemblyError(f"stack {stack!r} has no resource {logical_id!r}")
        return logical_id

    @cached_property
    def _by_arn(self) -> dict[str, Resource]:
        index: dict[str, Resource] = {}
        for resource in self.resources():
            index.setdefault(resource.arn, resource)
        return index

    @cached_property
    def _managed_policies(self) -> dict[str, Resource]:
        return {resource.arn: resource for resource in self.resources("AWS::IAM::ManagedPolicy")}

    def _policy(self, resource: Resource, label: str, document: Any) -> Policy:
        resolved = self._resolver.value(self._stacks[resource.stack], document)
        return Policy(document=resolved, source=f"{resource.stack}/{resource.logical_id} {label}")

    # Identity policies

    def _resources_of(self, identity: _IamIdentity) -> Iterator[Resource]:
        """The resources that define a role, user or group (usually one, or none for one defined elsewhere)."""
        yield from self._definitions.get(identity, ())

    @cached_property
    def _definitions(self) -> dict[_IamIdentity, list[Resource]]:
        index: dict[_IamIdentity, list[Resource]] = {}
        for type_ in _IDENTITY_RESOURCE_TYPES.values():
            for resource in self.resources(type_):
                index.setdefault(self._identity(resource), []).append(resource)
        return index

    def _identity(self, resource: Resource) -> _IamIdentity:
        stack = self._stacks[resource.stack]
        return _IamIdentity(
            _IDENTITY_KINDS[resource.type], stack.account, self._resolver.name(stack, resource.logical_id)
        )

    def _groups_of(self, identity: _IamIdentity) -> list[_IamIdentity]:
        """A user's groups: from its ``Groups`` property and ``AWS::IAM::UserToGroupAddition`` resources."""
        if identity.kind != "user":
            return []
        names = [name for user in self._resources_of(identity) for name in self._resolved_list(user, "Groups")]
        for addition in self.resources("AWS::IAM::UserToGroupAddition"):
            if self._same_account(addition, identity) and identity.name in self._resolved_list(addition, "Users"):
                names.append(_text(self.resolve(addition.stack, addition.properties.get("GroupName"))))
        return [_IamIdentity("group", identity.account, name) for name in dict.fromkeys(names)]

    def _own_identity_policies(self, identity: _IamIdentity) -> Iterator[Policy]:
        """Inline ``Policies`` and the assembly's customer managed policies listed in ``ManagedPolicyArns``."""
        for resource in self._resources_of(identity):
            for index, inline in enumerate(as_list(resource.properties.get("Policies"))):
                if isinstance(inline, Mapping):
                    yield self._policy(resource, f"Policies[{index}]", inline.get("PolicyDocument"))
            for arn in self._managed_policy_arns(resource):
                if arn in self._managed_policies:
                    managed = self._managed_policies[arn]
                    yield self._policy(managed, "PolicyDocument", managed.properties.get("PolicyDocument"))

    def _attached_identity_policies(self, identity: _IamIdentity) -> Iterator[Policy]:
        """``AWS::IAM::Policy`` and ``AWS::IAM::ManagedPolicy`` resources whose Roles/Users/Groups name it."""
        for resource in self._attachments.get(identity, ()):
            yield self._policy(resource, "PolicyDocument", resource.properties.get("PolicyDocument"))

    @cached_property
    def _attachments(self) -> dict[_IamIdentity, list[Resource]]:
        """Identity -> the ``AWS::IAM::Policy``/``ManagedPolicy`` resources attached to it (read once: a review
        asks for the policies of every identity)."""
        index: dict[_IamIdentity, list[Resource]] = {}
        for type_ in _ATTACHABLE_POLICY_TYPES:
            for resource in self.resources(type_):
                account = self._stacks[resource.stack].account
                for kind, attachment in _ATTACHMENT_PROPERTIES.items():
                    for name in dict.fromkeys(_text(n) for n in self._resolved_list(resource, attachment)):
                        index.setdefault(_IamIdentity(kind, account, name), []).append(resource)
        return index

    def _managed_policy_arns(self, resource: Resource) -> list[str]:
        return [_text(arn) for arn in self._resolved_list(resource, "ManagedPolicyArns")]

    def _resolved_list(self, resource: Resource, property_: str) -> list[Any]:
        return as_list(self.resolve(resource.stack, resource.properties.get(property_)))

    def _same_account(self, resource: Resource, identity: _IamIdentity) -> bool:
        return self._stacks[resource.stack].account == identity.account

    # Resource policies

    def _own_resource_policy(self, arn: str) -> tuple[Policy, str, bool] | None:
        resource = self._by_arn.get(arn)
        if resource is None or resource.type not in _OWN_POLICY_TYPES:
            return None
        label, is_key_policy = _OWN_POLICY_TYPES[resource.type]
        stack = self._stacks[resource.stack]
        document = resource.properties.get(label)
        if document is None and is_key_policy:
            document, label = _default_key_policy(stack), f"{label} (KMS default)"
        if document is None:
            return None
        return self._policy(resource, label, document), stack.account, is_key_policy

    def _attached_resource_policy(self, arn: str) -> tuple[Policy, str, bool] | None:
        for type_, rule in _ATTACHED_POLICY_TYPES.items():
            for resource in self.resources(type_):
                stack = self._stacks[resource.stack]
                governed = [rule.to_arn(stack, _text(target)) for target in self._resolved_list(resource, rule.targets)]
                if any(arn == target or (rule.covers_children and arn.startswith(f"{target}/")) for target in governed):
                    policy = self._policy(resource, "PolicyDocument", resource.properties.get("PolicyDocument"))
                    return policy, stack.account, False
        return None


def authorize(assembly: Assembly, request: Request, *, extra_identity_policies: Sequence[Policy] = ()) -> Decision:
    """Answer ``request`` with the policies of the assembly: the identity policies of an AWS principal (plus
    ``extra_identity_policies``) and the resource policy of the resource. A request through a KMS alias is
    evaluated against the alias's key, as KMS does. A KMS key that the assembly does not hold is answered as
    KMS would answer without its key policy (IAM policies never suffice alone): denied, never guessed allowed."""
    key_arn = assembly.alias_target(request.resource)
    target = replace(request, resource=key_arn) if key_arn else request
    own = assembly.identity_policies(request.principal.arn) if request.principal.kind is PrincipalKind.AWS else []
    governing = assembly.resource_policy(target.resource)
    return evaluate(
        target,
        identity_policies=[*own, *extra_identity_policies],
        resource_policy=governing[0] if governing else None,
        resource_account=governing[1] if governing else assembly.account_of(target.resource),
        key_policy=governing[2] if governing else _is_kms_key(target.resource),
    )


def _is_kms_key(arn: str) -> bool:
    fields = arn.split(":", 5)
    return len(fields) == 6 and fields[2] == "kms" and fields[5].startswith(("key/", "alias/"))


# --- Reading cdk.out ---------------------------------------------------------------------------------------


def _read_assembly(directory: Path, prefix: str = "") -> list[StackTemplate]:
    """The stacks listed by ``directory/manifest.json``, nested assemblies (CDK stages) included."""
    manifest_path = directory / "manifest.json"
    manifest = _read_json(manifest_path, "manifest")
    artifacts = manifest.get("artifacts", {})
    if not isinstance(artifacts, Mapping):
        raise AssemblyError(f"{manifest_path}: 'artifacts' is not an object")
    stacks: list[StackTemplate] = []
    for artifact_id, artifact in artifacts.items():
        kind = artifact.get("type") if isinstance(artifact, Mapping) else None
        props = artifact.get("properties") if isinstance(artifact, Mapping) else None
        props = props if isinstance(props, Mapping) else {}
        if kind == "aws:cloudformation:stack":
            stacks.append(_read_stack(directory, manifest_path, artifact_id, artifact, props, prefix))
        elif kind == "cdk:cloud-assembly":
            nested = props.get("directoryName")
            if not isinstance(nested, str):
                raise AssemblyError(f"{manifest_path}: artifact {artifact_id!r} has no properties.directoryName")
            stacks.extend(_read_assembly(directory / nested, f"{prefix}{nested}/"))
    return stacks


def _read_stack(
    directory: Path,
    manifest_path: Path,
    artifact_id: str,
    artifact: Mapping[str, Any],
    props: Mapping[str, Any],
    prefix: str,
) -> StackTemplate:
    template_file = props.get("templateFile")
    if not isinstance(template_file, str):
        raise AssemblyError(f"{manifest_path}: stack artifact {artifact_id!r} has no properties.templateFile")
    account, region = _environment(manifest_path, artifact_id, artifact.get("environment"))
    name = props.get("stackName")
    return StackTemplate(
        name=name if isinstance(name, str) else artifact_id,
        account=account,
        region=region,
        template=_read_json(directory / template_file, "template"),
        template_file=f"{prefix}{template_file}",
    )


def _environment(manifest_path: Path, artifact_id: str, environment: Any) -> tuple[str, str]:
    """``aws://<account>/<region>`` -> (account, region)."""
    match = re.fullmatch(r"aws://([^/]+)/([^/]+)", environment) if isinstance(environment, str) else None
    if match is None:
        raise AssemblyError(
            f"{manifest_path}: stack artifact {artifact_id!r} has environment {environment!r}, "
            "expected 'aws://<account>/<region>'"
        )
    return match.group(1), match.group(2)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a file, or an AssemblyError saying which file and what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        hint = " (pass the directory `cdk synth` wrote, usually cdk.out)" if what == "manifest" else ""
        raise AssemblyError(f"{path}: {what} not found{hint}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise AssemblyError(f"{path}: cannot read the {what}: {err}") from None
    except json.JSONDecodeError as err:
        raise AssemblyError(f"{path}: the {what} is not valid JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise AssemblyError(f"{path}: the {what} is not a JSON object")
    return data
