"""The evaluator of one request: explicit deny, identity and resource policies, accounts, KMS key policies,
service principals, trust policies, and AWS's own documented evaluation examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kmsflow.errors import KmsflowError
from kmsflow.policy.evaluate import PolicyEvaluationError, evaluate
from kmsflow.policy.model import (
    ContextValue,
    Decision,
    Outcome,
    Policy,
    Principal,
    PrincipalKind,
    Request,
    StatementRef,
)

ACCOUNT = "111111111111"
OTHER = "222222222222"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/App"
OTHER_ROLE = f"arn:aws:iam::{OTHER}:role/Partner"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "arn:aws:s3:::kmsflow-data"
OBJECT = f"{BUCKET}/reports/2026.csv"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def policy(source: str, *statements: dict[str, Any]) -> Policy:
    return Policy(document=doc(*statements), source=source)


def stmt(sid: str, effect: str = "Allow", **elements: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": effect, **elements}


def request(
    principal: Principal | str = ROLE,
    action: str = "s3:GetObject",
    resource: str = OBJECT,
    context: Mapping[str, ContextValue] | None = None,
) -> Request:
    who = Principal.role(principal) if isinstance(principal, str) else principal
    return Request(principal=who, action=action, resource=resource, context=context or {})


def sids(refs: tuple[StatementRef, ...]) -> list[str]:
    return [f"{ref.policy.source}:{ref.sid}" for ref in refs]


def assert_decision(decision: Decision, outcome: Outcome, allowing: list[str] = [], denying: list[str] = []) -> None:  # noqa: B006
    assert (decision.outcome, sids(decision.allowing), sids(decision.denying)) == (outcome, allowing, denying)


IDENTITY_S3 = policy("AppPolicy", stmt("ReadData", Action="s3:GetObject", Resource=f"{BUCKET}/*"))


class TestExplicitDeny:
    def test_a_deny_in_the_resource_policy_wins_over_an_identity_allow(self) -> None:
        bucket = policy(
            "BucketPolicy",
            stmt("AllowApp", Principal={"AWS": ROLE}, Action="s3:*", Resource=f"{BUCKET}/*"),
            stmt("DenyReports", "Deny", Principal="*", Action="s3:GetObject", Resource=f"{BUCKET}/reports/*"),
        )
        decision = evaluate(request(), identity_policies=[IDENTITY_S3], resource_policy=bucket)
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["BucketPolicy:DenyReports"])
        assert decision.reason == (
            f"explicit deny: s3:GetObject on {OBJECT} for {ROLE} is denied by BucketPolicy statement DenyReports"
        )

    def test_every_denying_statement_is_listed(self) -> None:
        deny_all = policy("Guardrail", stmt("NoS3", "Deny", Action="s3:*", Resource="*"))
        bucket = policy("BucketPolicy", stmt("NoApp", "Deny", Principal={"AWS": ROLE}, Action="*", Resource="*"))
        decision = evaluate(request(), identity_policies=[IDENTITY_S3, deny_all], resource_policy=bucket)
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["Guardrail:NoS3", "BucketPolicy:NoApp"])

    def test_an_identity_deny_wins_over_a_key_policy_that_names_the_role(self) -> None:
        key_policy = policy("KeyPolicy", stmt("Use", Principal={"AWS": ROLE}, Action="kms:Decrypt", Resource="*"))
        deny = policy("NoKms", stmt("NoDecrypt", "Deny", Action="kms:*", Resource="*"))
        decision = evaluate(
            request(action="kms:Decrypt", resource=KEY),
            identity_policies=[deny],
            resource_policy=key_policy,
            key_policy=True,
        )
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["NoKms:NoDecrypt"])

    def test_a_deny_naming_the_account_root_applies_to_its_roles(self) -> None:
        bucket = policy(
            "BucketPolicy", stmt("NoAccount", "Deny", Principal={"AWS": ACCOUNT}, Action="s3:*", Resource="*")
        )
        decision = evaluate(request(), identity_policies=[IDENTITY_S3], resource_policy=bucket)
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["BucketPolicy:NoAccount"])


class TestElements:
    def test_not_principal_denies_everyone_but_the_named_role(self) -> None:
        bucket = policy(
            "BucketPolicy",
            stmt("OnlyApp", "Deny", NotPrincipal={"AWS": [ROLE, ROOT]}, Action="s3:*", Resource=f"{BUCKET}/*"),
        )
        other = f"arn:aws:iam::{ACCOUNT}:role/Intruder"
        assert_decision(
            evaluate(request(), identity_policies=[IDENTITY_S3], resource_policy=bucket),
            Outcome.ALLOWED,
            ["AppPolicy:ReadData"],
        )
        assert_decision(
            evaluate(request(other), identity_policies=[IDENTITY_S3], resource_policy=bucket),
            Outcome.EXPLICIT_DENY,
            denying=["BucketPolicy:OnlyApp"],
        )

    def test_not_principal_naming_only_the_account_does_not_exempt_its_roles(self) -> None:
        # IAM User Guide, "AWS JSON policy elements: NotPrincipal": name the principal itself, not only its account.
        bucket = policy("BucketPolicy", stmt("Fence", "Deny", NotPrincipal={"AWS": ROOT}, Action="s3:*", Resource="*"))
        decision = evaluate(request(), identity_policies=[IDENTITY_S3], resource_policy=bucket)
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["BucketPolicy:Fence"])

    def test_not_action(self) -> None:
        everything_but_iam = policy("PowerUser", stmt("NotIam", NotAction="iam:*", Resource="*"))
        assert evaluate(request(action="s3:GetObject"), identity_policies=[everything_but_iam]).allowed
        decision = evaluate(request(action="IAM:CreateUser", resource="*"), identity_policies=[everything_but_iam])
        assert_decision(decision, Outcome.IMPLICIT_DENY)

    def test_not_resource(self) -> None:
        fence = policy("Fence", stmt("OnlyData", "Deny", Action="s3:*", NotResource=[BUCKET, f"{BUCKET}/*"]))
        allow_all = policy("S3All", stmt("All", Action="s3:*", Resource="*"))
        assert evaluate(request(), identity_policies=[allow_all, fence]).allowed
        decision = evaluate(request(resource="arn:aws:s3:::elsewhere/x"), identity_policies=[allow_all, fence])
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["Fence:OnlyData"])

    def test_actions_are_case_insensitive_with_wildcards(self) -> None:
        get_any = policy("Reader", stmt("Get", Action="S3:Get*", Resource="*"))
        assert evaluate(request(action="s3:getobject"), identity_policies=[get_any]).allowed
        assert not evaluate(request(action="s3:PutObject"), identity_policies=[get_any]).allowed

    def test_resources_are_case_sensitive_with_wildcards(self) -> None:
        reader = policy("Reader", stmt("Get", Action="s3:GetObject", Resource="arn:aws:s3:::KMSFLOW-data/*"))
        assert not evaluate(request(), identity_policies=[reader]).allowed
        deep = policy("Reader", stmt("Get", Action="s3:GetObject", Resource="arn:aws:s3:::kmsflow-?ata/*.csv"))
        assert evaluate(request(), identity_policies=[deep]).allowed

    def test_an_identity_statement_without_resource_matches_nothing(self) -> None:
        sloppy = policy("Sloppy", stmt("NoResource", Action="s3:GetObject"))
        assert_decision(evaluate(request(), identity_policies=[sloppy]), Outcome.IMPLICIT_DENY)


class TestSameAccount:
    def test_identity_policy_alone_allows(self) -> None:
        decision = evaluate(request(), identity_policies=[IDENTITY_S3], resource_account=ACCOUNT)
        assert_decision(decision, Outcome.ALLOWED, ["AppPolicy:ReadData"])
        assert decision.reason == f"allowed: AppPolicy statement ReadData allows s3:GetObject on {OBJECT}"

    def test_resource_policy_naming_the_role_allows_without_identity_policy(self) -> None:
        bucket = policy(
            "BucketPolicy", stmt("App", Principal={"AWS": ROLE}, Action="s3:GetObject", Resource=f"{BUCKET}/*")
        )
        decision = evaluate(request(), resource_policy=bucket, resource_account=ACCOUNT)
        assert_decision(decision, Outcome.ALLOWED, ["BucketPolicy:App"])
        assert (
            decision.reason
            == f"allowed: BucketPolicy statement App allows s3:GetObject on {OBJECT} for {ROLE} directly"
        )

    def test_resource_policy_naming_the_account_root_needs_an_identity_policy(self) -> None:
        bucket = policy("BucketPolicy", stmt("Account", Principal={"AWS": ROOT}, Action="s3:*", Resource=f"{BUCKET}/*"))
        denied = evaluate(request(), resource_policy=bucket, resource_account=ACCOUNT)
        assert_decision(denied, Outcome.IMPLICIT_DENY)
        assert denied.reason == (
            f"implicit deny: BucketPolicy statement Account delegates s3:GetObject to account {ACCOUNT}, but no "
            f"identity policy of {ROLE} allows it on {OBJECT}"
        )
        allowed = evaluate(request(), identity_policies=[IDENTITY_S3], resource_policy=bucket)
        assert_decision(allowed, Outcome.ALLOWED, ["BucketPolicy:Account", "AppPolicy:ReadData"])

    def test_nothing_allows(self) -> None:
        bucket = policy("BucketPolicy", stmt("Other", Principal={"AWS": OTHER_ROLE}, Action="s3:*", Resource="*"))
        decision = evaluate(request(), resource_policy=bucket)
        assert_decision(decision, Outcome.IMPLICIT_DENY)
        assert decision.reason == (
            f"implicit deny: no identity policy and no statement of BucketPolicy allows s3:GetObject on {OBJECT} "
            f"for {ROLE}"
        )

    def test_a_session_of_the_role_is_matched_by_the_role_arn(self) -> None:
        role_with_path = f"arn:aws:iam::{ACCOUNT}:role/service/App"
        session = Principal.role(f"arn:aws:sts::{ACCOUNT}:assumed-role/App/i-0abc")
        bucket = policy("BucketPolicy", stmt("App", Principal={"AWS": role_with_path}, Action="s3:*", Resource="*"))
        assert_decision(evaluate(request(session), resource_policy=bucket), Outcome.ALLOWED, ["BucketPolicy:App"])
        other_account = policy(
            "BucketPolicy",
            stmt("App", Principal={"AWS": f"arn:aws:iam::{OTHER}:role/App"}, Action="s3:*", Resource="*"),
        )
        assert_decision(evaluate(request(session), resource_policy=other_account), Outcome.IMPLICIT_DENY)


class TestCrossAccount:
    BUCKET_POLICY = policy(
        "BucketPolicy", stmt("Partner", Principal={"AWS": OTHER_ROLE}, Action="s3:GetObject", Resource=f"{BUCKET}/*")
    )
    PARTNER_POLICY = policy("PartnerPolicy", stmt("Read", Action="s3:GetObject", Resource=f"{BUCKET}/*"))

    def test_both_sides_must_allow(self) -> None:
        decision = evaluate(
            request(OTHER_ROLE),
            identity_policies=[self.PARTNER_POLICY],
            resource_policy=self.BUCKET_POLICY,
            resource_account=ACCOUNT,
        )
        assert_decision(decision, Outcome.ALLOWED, ["BucketPolicy:Partner", "PartnerPolicy:Read"])

    def test_resource_policy_alone_is_not_enough(self) -> None:
        decision = evaluate(request(OTHER_ROLE), resource_policy=self.BUCKET_POLICY, resource_account=ACCOUNT)
        assert_decision(decision, Outcome.IMPLICIT_DENY)
        assert decision.reason == (
            f"implicit deny: cross-account request from account {OTHER} to account {ACCOUNT}: BucketPolicy statement "
            f"Partner allows {OTHER_ROLE}, but no identity policy of the principal allows s3:GetObject on {OBJECT}"
        )

    def test_identity_policy_alone_is_not_enough(self) -> None:
        decision = evaluate(request(OTHER_ROLE), identity_policies=[self.PARTNER_POLICY], resource_account=ACCOUNT)
        assert_decision(decision, Outcome.IMPLICIT_DENY)
        assert decision.reason == (
            f"implicit deny: cross-account request from account {OTHER} to account {ACCOUNT}: no resource policy was "
            "given, and identity policies alone never grant access to another account's resource"
        )

    def test_root_of_the_principals_account_delegates_to_its_identity_policies(self) -> None:
        bucket = policy("BucketPolicy", stmt("PartnerAccount", Principal={"AWS": OTHER}, Action="s3:*", Resource="*"))
        decision = evaluate(
            request(OTHER_ROLE),
            identity_policies=[self.PARTNER_POLICY],
            resource_policy=bucket,
            resource_account=ACCOUNT,
        )
        assert_decision(decision, Outcome.ALLOWED, ["BucketPolicy:PartnerAccount", "PartnerPolicy:Read"])

    def test_root_of_the_resource_account_does_not_reach_other_accounts(self) -> None:
        bucket = policy("BucketPolicy", stmt("Own", Principal={"AWS": ROOT}, Action="s3:*", Resource="*"))
        decision = evaluate(
            request(OTHER_ROLE),
            identity_policies=[self.PARTNER_POLICY],
            resource_policy=bucket,
            resource_account=ACCOUNT,
        )
        assert_decision(decision, Outcome.IMPLICIT_DENY)


class TestKms:
    KEY_ADMIN = stmt("Admin", Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/KeyAdmin"}, Action="kms:*", Resource="*")
    ENABLE_IAM = stmt("Enable IAM User Permissions", Principal={"AWS": ROOT}, Action="kms:*", Resource="*")
    DECRYPT = policy("AppKms", stmt("Decrypt", Action="kms:Decrypt", Resource=KEY))

    def decide(self, principal: str, *identity: Policy, key: Policy | None) -> Decision:
        return evaluate(
            request(principal, "kms:Decrypt", KEY),
            identity_policies=identity,
            resource_policy=key,
            resource_account=ACCOUNT,
            key_policy=True,
        )

    def test_key_policy_naming_the_role_allows_without_iam(self) -> None:
        key = policy(
            "KeyPolicy", self.KEY_ADMIN, stmt("Use", Principal={"AWS": ROLE}, Action="kms:Decrypt", Resource="*")
        )
        assert_decision(self.decide(ROLE, key=key), Outcome.ALLOWED, ["KeyPolicy:Use"])

    def test_root_delegation_needs_an_iam_policy(self) -> None:
        # KMS Developer Guide, "Default key policy": the statement "Allows access to the AWS account and enables IAM
        # policies" lets IAM policies allow access; by itself it allows no role.
        key = policy("KeyPolicy", self.ENABLE_IAM)
        denied = self.decide(ROLE, key=key)
        assert_decision(denied, Outcome.IMPLICIT_DENY)
        assert denied.reason == (
            "implicit deny: KeyPolicy statement Enable IAM User Permissions delegates kms:Decrypt to account "
            f"{ACCOUNT}, but no identity policy of {ROLE} allows it on {KEY}"
        )
        allowed = self.decide(ROLE, self.DECRYPT, key=key)
        assert_decision(allowed, Outcome.ALLOWED, ["KeyPolicy:Enable IAM User Permissions", "AppKms:Decrypt"])
        assert allowed.reason == (
            f"allowed: KeyPolicy statement Enable IAM User Permissions delegates kms:Decrypt to account {ACCOUNT} and "
            f"AppKms statement Decrypt allows it on {KEY}"
        )

    def test_iam_alone_without_a_key_policy_allow_is_denied(self) -> None:
        key = policy("kmsflow-audit/Key KeyPolicy", self.KEY_ADMIN)
        decision = self.decide(ROLE, self.DECRYPT, key=key)
        assert_decision(decision, Outcome.IMPLICIT_DENY)
        assert decision.reason == (
            f"implicit deny: kmsflow-audit/Key KeyPolicy has no statement allowing kms:Decrypt for {ROLE} "
            "(IAM policies count only where the key policy delegates to the account)"
        )

    def test_no_key_policy_no_access(self) -> None:
        decision = self.decide(ROLE, self.DECRYPT, key=None)
        assert (
            decision.reason
            == "implicit deny: no key policy was given, and IAM policies alone never allow access to a KMS key"
        )

    def test_cross_account_needs_key_policy_and_iam(self) -> None:
        partner_kms = policy("PartnerKms", stmt("Decrypt", Action="kms:Decrypt", Resource=KEY))
        named = policy("KeyPolicy", stmt("Partner", Principal={"AWS": OTHER_ROLE}, Action="kms:Decrypt", Resource="*"))
        assert_decision(self.decide(OTHER_ROLE, key=named), Outcome.IMPLICIT_DENY)
        assert_decision(
            self.decide(OTHER_ROLE, partner_kms, key=named),
            Outcome.ALLOWED,
            ["KeyPolicy:Partner", "PartnerKms:Decrypt"],
        )
        own_root_only = policy("KeyPolicy", self.ENABLE_IAM)
        assert_decision(self.decide(OTHER_ROLE, partner_kms, key=own_root_only), Outcome.IMPLICIT_DENY)

    def test_allowing_users_in_other_accounts(self) -> None:
        # KMS Developer Guide, "Allowing users in other accounts to use a KMS key": the key policy gives the external
        # account (444455556666) permission, and an IAM policy in that account delegates it to its principals.
        external_role = "arn:aws:iam::444455556666:role/ExampleRole"
        key = policy(
            "KeyPolicy",
            stmt(
                "Allow an external account to use this KMS key",
                Principal={"AWS": "arn:aws:iam::444455556666:root"},
                Action=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                Resource="*",
            ),
        )
        iam = policy(
            "ExternalPolicy",
            stmt(
                "AllowUseOfKeyInAccount111111111111",
                Action=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                Resource=KEY,
            ),
        )
        assert_decision(
            self.decide(external_role, iam, key=key),
            Outcome.ALLOWED,
            [
                "KeyPolicy:Allow an external account to use this KMS key",
                "ExternalPolicy:AllowUseOfKeyInAccount111111111111",
            ],
        )
        assert_decision(self.decide(external_role, key=key), Outcome.IMPLICIT_DENY)

    def test_caller_account_is_in_the_context_of_kms_requests(self) -> None:
        # The "Allow access through EBS for all principals in the account" shape of AWS managed keys.
        key = policy(
            "KeyPolicy",
            stmt(
                "ViaEbs",
                Principal={"AWS": "*"},
                Action="kms:Decrypt",
                Resource="*",
                Condition={
                    "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
                },
            ),
        )
        via_ebs: dict[str, ContextValue] = {"kms:ViaService": "ec2.eu-west-1.amazonaws.com"}
        decision = evaluate(request(ROLE, "kms:Decrypt", KEY, via_ebs), resource_policy=key, key_policy=True)
        assert_decision(decision, Outcome.ALLOWED, ["KeyPolicy:ViaEbs"])
        assert not evaluate(request(ROLE, "kms:Decrypt", KEY), resource_policy=key, key_policy=True).allowed
        given = {**via_ebs, "kms:CallerAccount": OTHER}  # given keys are never overwritten
        assert not evaluate(request(ROLE, "kms:Decrypt", KEY, given), resource_policy=key, key_policy=True).allowed


class TestServicePrincipals:
    TRAIL = Principal.service("cloudtrail.amazonaws.com")

    def test_resource_policy_naming_the_service_allows(self) -> None:
        bucket = policy(
            "BucketPolicy",
            stmt(
                "Trail",
                Principal={"Service": "CloudTrail.amazonaws.com"},
                Action="s3:PutObject",
                Resource=f"{BUCKET}/*",
            ),
        )
        decision = evaluate(request(self.TRAIL, "s3:PutObject"), resource_policy=bucket)
        assert_decision(decision, Outcome.ALLOWED, ["BucketPolicy:Trail"])
        assert decision.reason == (
            "allowed: BucketPolicy statement Trail allows s3:PutObject for service principal cloudtrail.amazonaws.com"
        )

    def test_other_service_or_no_resource_policy_denies(self) -> None:
        bucket = policy(
            "BucketPolicy", stmt("Config", Principal={"Service": "config.amazonaws.com"}, Action="s3:*", Resource="*")
        )
        decision = evaluate(request(self.TRAIL, "s3:PutObject"), resource_policy=bucket)
        assert decision.reason == (
            "implicit deny: BucketPolicy has no statement allowing s3:PutObject for service principal "
            "cloudtrail.amazonaws.com"
        )
        none = evaluate(request(self.TRAIL, "s3:PutObject"))
        assert none.reason == (
            "implicit deny: service principal cloudtrail.amazonaws.com can be allowed only by a resource policy, and "
            "none was given"
        )

    def test_identity_policies_do_not_allow_a_service(self) -> None:
        s3_all = policy("S3All", stmt("All", Action="s3:*", Resource="*"))
        assert_decision(
            evaluate(request(self.TRAIL, "s3:PutObject"), identity_policies=[s3_all]), Outcome.IMPLICIT_DENY
        )

    @pytest.mark.parametrize("principal", ["*", {"AWS": "*"}])
    def test_wildcard_principals_cover_services(self, principal: Any) -> None:
        bucket = policy("BucketPolicy", stmt("Anyone", Principal=principal, Action="s3:PutObject", Resource="*"))
        assert_decision(
            evaluate(request(self.TRAIL, "s3:PutObject"), resource_policy=bucket),
            Outcome.ALLOWED,
            ["BucketPolicy:Anyone"],
        )

    def test_service_context_keys(self) -> None:
        bucket = policy(
            "BucketPolicy",
            stmt(
                "Services",
                Principal="*",
                Action="s3:PutObject",
                Resource="*",
                Condition={
                    "Bool": {"aws:PrincipalIsAWSService": "true"},
                    "StringEquals": {"aws:PrincipalServiceName": "cloudtrail.amazonaws.com"},
                },
            ),
        )
        assert evaluate(request(self.TRAIL, "s3:PutObject"), resource_policy=bucket).allowed
        assert not evaluate(request(ROLE, "s3:PutObject"), resource_policy=bucket).allowed


class TestTrustPolicies:
    # IAM User Guide, "The confused deputy problem": a service's trust is scoped by aws:SourceArn/aws:SourceAccount.
    TRUST = policy(
        "RoleTrust",
        stmt(
            "Lambda",
            Principal={"Service": "lambda.amazonaws.com"},
            Action="sts:AssumeRole",
            Condition={
                "ArnLike": {"aws:SourceArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:rotate-*"},
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
            },
        ),
    )
    LAMBDA = Principal.service("lambda.amazonaws.com")
    TARGET = f"arn:aws:iam::{ACCOUNT}:role/Rotation"

    @pytest.mark.parametrize(
        ("context", "outcome"),
        [
            (
                {
                    "aws:SourceArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:rotate-keys",
                    "aws:SourceAccount": ACCOUNT,
                },
                Outcome.ALLOWED,
            ),
            (
                {"aws:SourceArn": f"arn:aws:lambda:eu-west-1:{OTHER}:function:rotate-keys", "aws:SourceAccount": OTHER},
                Outcome.IMPLICIT_DENY,
            ),
            (
                {"aws:SourceArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:other", "aws:SourceAccount": ACCOUNT},
                Outcome.IMPLICIT_DENY,
            ),
            ({}, Outcome.IMPLICIT_DENY),
        ],
    )
    def test_service_trust_scoped_by_source(self, context: dict[str, ContextValue], outcome: Outcome) -> None:
        decision = evaluate(request(self.LAMBDA, "sts:AssumeRole", self.TARGET, context), resource_policy=self.TRUST)
        assert_decision(decision, outcome, ["RoleTrust:Lambda"] if outcome is Outcome.ALLOWED else [])

    def test_same_account_role_named_in_the_trust_policy(self) -> None:
        trust = policy("RoleTrust", stmt("App", Principal={"AWS": ROLE}, Action="sts:AssumeRole"))
        decision = evaluate(
            request(ROLE, "sts:AssumeRole", self.TARGET), resource_policy=trust, resource_account=ACCOUNT
        )
        assert_decision(decision, Outcome.ALLOWED, ["RoleTrust:App"])

    def test_identity_policy_alone_cannot_assume_a_role(self) -> None:
        # IAM User Guide, "Policy evaluation logic": role trust policies and KMS key policies are exceptions; they
        # must allow the principal even within one account.
        assume = policy("AppAssume", stmt("Assume", Action="sts:AssumeRole", Resource=self.TARGET))
        trust = policy("RoleTrust", stmt("Other", Principal={"AWS": OTHER_ROLE}, Action="sts:AssumeRole"))
        decision = evaluate(
            request(ROLE, "sts:AssumeRole", self.TARGET), identity_policies=[assume], resource_policy=trust
        )
        assert_decision(decision, Outcome.IMPLICIT_DENY)
        assert decision.reason == (
            f"implicit deny: RoleTrust (the role's trust policy) has no statement allowing sts:AssumeRole for {ROLE} "
            "(IAM policies count only where the trust policy delegates to the account)"
        )
        account_trust = policy("RoleTrust", stmt("Account", Principal={"AWS": ROOT}, Action="sts:AssumeRole"))
        decision = evaluate(
            request(ROLE, "sts:AssumeRole", self.TARGET), identity_policies=[assume], resource_policy=account_trust
        )
        assert_decision(decision, Outcome.ALLOWED, ["RoleTrust:Account", "AppAssume:Assume"])

    def test_no_trust_policy_no_assume_role(self) -> None:
        assume = policy("AppAssume", stmt("Assume", Action="sts:AssumeRole", Resource=self.TARGET))
        decision = evaluate(request(ROLE, "sts:AssumeRole", self.TARGET), identity_policies=[assume])
        assert decision.reason == (
            "implicit deny: no trust policy was given, and a role can be assumed only if its trust policy allows "
            f"sts:AssumeRole on {self.TARGET} for {ROLE}"
        )

    def test_federated_principal_named_in_the_trust_policy(self) -> None:
        cognito = Principal(arn="cognito-identity.amazonaws.com", kind=PrincipalKind.FEDERATED)
        trust = policy(
            "RoleTrust",
            stmt(
                "Web", Principal={"Federated": "cognito-identity.amazonaws.com"}, Action="sts:AssumeRoleWithWebIdentity"
            ),
        )
        call = request(cognito, "sts:AssumeRoleWithWebIdentity", self.TARGET)
        assert_decision(evaluate(call, resource_policy=trust), Outcome.ALLOWED, ["RoleTrust:Web"])
        assert_decision(evaluate(call, resource_policy=self.TRUST), Outcome.IMPLICIT_DENY)

    def test_cross_account_trust_needs_the_callers_identity_policy(self) -> None:
        trust = policy("RoleTrust", stmt("Partner", Principal={"AWS": OTHER_ROOT}, Action="sts:AssumeRole"))
        assume = policy("PartnerAssume", stmt("Assume", Action="sts:AssumeRole", Resource=self.TARGET))
        call = request(OTHER_ROLE, "sts:AssumeRole", self.TARGET)
        assert_decision(evaluate(call, resource_policy=trust, resource_account=ACCOUNT), Outcome.IMPLICIT_DENY)
        decision = evaluate(call, identity_policies=[assume], resource_policy=trust, resource_account=ACCOUNT)
        assert_decision(decision, Outcome.ALLOWED, ["RoleTrust:Partner", "PartnerAssume:Assume"])


class TestContext:
    def test_principal_keys_are_added(self) -> None:
        bucket = policy(
            "BucketPolicy",
            stmt(
                "Org",
                Principal="*",
                Action="s3:GetObject",
                Resource="*",
                Condition={
                    "StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:PrincipalIsAWSService": "false"},
                    "ArnEquals": {"aws:PrincipalArn": ROLE},
                },
            ),
        )
        assert evaluate(request(), resource_policy=bucket).allowed
        assert not evaluate(request(context={"AWS:PrincipalAccount": OTHER}), resource_policy=bucket).allowed

    def test_principal_account_comes_from_the_arn_when_not_given(self) -> None:
        bare = Principal(arn=ROLE)
        bucket = policy("BucketPolicy", stmt("Account", Principal={"AWS": ROOT}, Action="s3:*", Resource="*"))
        decision = evaluate(
            request(bare), identity_policies=[IDENTITY_S3], resource_policy=bucket, resource_account=ACCOUNT
        )
        assert_decision(decision, Outcome.ALLOWED, ["BucketPolicy:Account", "AppPolicy:ReadData"])


class TestErrors:
    def test_unknown_operator_names_operator_statement_and_supported_operators(self) -> None:
        bucket = policy(
            "kmsflow-data/Bucket BucketPolicy",
            stmt("Typo", Principal="*", Action="s3:*", Resource="*", Condition={"StringEqual": {"aws:username": "x"}}),
        )
        with pytest.raises(PolicyEvaluationError) as info:
            evaluate(request(), resource_policy=bucket)
        assert isinstance(info.value, KmsflowError)
        assert str(info.value).startswith(
            "kmsflow-data/Bucket BucketPolicy statement Typo: unknown condition operator 'StringEqual'; supported: "
            "StringEquals, StringNotEquals, StringEqualsIgnoreCase"
        )
        assert (
            "Null; each but Null may take a 'ForAnyValue:' or 'ForAllValues:' prefix and an 'IfExists' suffix"
            in str(info.value)
        )

    def test_malformed_value_names_the_statement(self) -> None:
        identity = policy(
            "AppPolicy",
            stmt("Window", Action="*", Resource="*", Condition={"DateLessThan": {"aws:CurrentTime": "soon"}}),
        )
        with pytest.raises(
            PolicyEvaluationError, match=r"^AppPolicy statement Window: Date value 'soon' is not a date$"
        ):
            evaluate(request(context={"aws:CurrentTime": "2026-01-01T00:00:00Z"}), identity_policies=[identity])


# --- AWS's documented examples -------------------------------------------------------------------------------


class TestDocumentedSingleAccountExample:
    """IAM User Guide, "Policy evaluation logic" (now "Policy evaluation for requests within a single account"),
    section "Example identity-based and resource-based policy evaluation"."""

    CARLOS = "arn:aws:iam::123456789012:user/carlossalazar"
    IDENTITY = policy(
        "carlossalazar",
        stmt(
            "AllowS3ListRead",
            Action=[
                "s3:GetBucketLocation",
                "s3:GetAccountPublicAccessBlock",
                "s3:ListAccessPoints",
                "s3:ListAllMyBuckets",
            ],
            Resource="arn:aws:s3:::*",
        ),
        stmt("AllowS3Self", Action="s3:*", Resource=["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"]),
        stmt("DenyS3Logs", "Deny", Action="s3:*", Resource="arn:aws:s3:::*log*"),
    )
    BUCKET = Policy(
        document=doc(
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:user/carlossalazar"},
                "Action": "s3:*",
                "Resource": ["arn:aws:s3:::carlossalazar/*", "arn:aws:s3:::carlossalazar"],
            }
        ),
        source="carlossalazar bucket policy",
    )

    def test_saving_to_the_logs_bucket_is_explicitly_denied(self) -> None:
        decision = evaluate(
            request(self.CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar-logs/file.txt"),
            identity_policies=[self.IDENTITY],
            resource_policy=self.BUCKET,
        )
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["carlossalazar:DenyS3Logs"])

    def test_saving_to_his_bucket_is_allowed_by_both_policies(self) -> None:
        decision = evaluate(
            request(self.CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt"),
            identity_policies=[self.IDENTITY],
            resource_policy=self.BUCKET,
        )
        assert_decision(decision, Outcome.ALLOWED, ["carlossalazar bucket policy:#0", "carlossalazar:AllowS3Self"])

    def test_the_resource_policy_alone_allows_within_the_account(self) -> None:
        # "If either the identity-based policy or the resource-based policy within the same account allows the
        # request and the other doesn't, the request is still allowed."
        decision = evaluate(
            request(self.CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt"), resource_policy=self.BUCKET
        )
        assert_decision(decision, Outcome.ALLOWED, ["carlossalazar bucket policy:#0"])

    def test_an_identity_allow_with_a_resource_deny_is_denied(self) -> None:
        # "If either of them explicitly denied the statement, the request would have been denied."
        deny = policy(
            "carlossalazar bucket policy",
            stmt(
                "NoPut",
                "Deny",
                Principal={"AWS": self.CARLOS},
                Action="s3:PutObject",
                Resource="arn:aws:s3:::carlossalazar/*",
            ),
        )
        decision = evaluate(
            request(self.CARLOS, "s3:PutObject", "arn:aws:s3:::carlossalazar/file.txt"),
            identity_policies=[self.IDENTITY],
            resource_policy=deny,
        )
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["carlossalazar bucket policy:NoPut"])


class TestDocumentedCrossAccountExample:
    """IAM User Guide, "Cross-account policy evaluation logic", section "Example cross-account policy evaluation"."""

    CARLOS = "arn:aws:iam::111111111111:user/carlossalazar"
    IDENTITY = policy(
        "carlossalazar",
        stmt("AllowS3ListRead", Action="s3:ListAllMyBuckets", Resource="*"),
        stmt("AllowS3ProductionObjectActions", Action="s3:*Object*", Resource="arn:aws:s3:::Production/*"),
        stmt("DenyS3Logs", "Deny", Action="s3:*", Resource=["arn:aws:s3:::*log*", "arn:aws:s3:::*log*/*"]),
    )
    PRODUCTION = Policy(
        document=doc(
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject*", "s3:PutObject*", "s3:ReplicateObject", "s3:RestoreObject"],
                "Principal": {"AWS": "arn:aws:iam::111111111111:user/carlossalazar"},
                "Resource": "arn:aws:s3:::Production/*",
            }
        ),
        source="Production bucket policy",
    )

    def decide(self, action: str, resource: str, bucket_policy: Policy | None) -> Decision:
        return evaluate(
            request(self.CARLOS, action, resource),
            identity_policies=[self.IDENTITY],
            resource_policy=bucket_policy,
            resource_account="222222222222",
        )

    def test_saving_to_production_logs_is_denied_in_his_own_account(self) -> None:
        decision = self.decide("s3:PutObject", "arn:aws:s3:::Production-logs/file.txt", None)
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["carlossalazar:DenyS3Logs"])

    def test_saving_to_production_is_allowed_by_both_accounts(self) -> None:
        decision = self.decide("s3:PutObject", "arn:aws:s3:::Production/file.txt", self.PRODUCTION)
        assert_decision(
            decision, Outcome.ALLOWED, ["Production bucket policy:#0", "carlossalazar:AllowS3ProductionObjectActions"]
        )

    def test_he_can_create_and_edit_but_not_delete(self) -> None:
        # "He can create and edit, but not delete the objects in the bucket": his own policy allows s3:*Object*, the
        # bucket policy does not grant s3:DeleteObject.
        decision = self.decide("s3:DeleteObject", "arn:aws:s3:::Production/file.txt", self.PRODUCTION)
        assert_decision(decision, Outcome.IMPLICIT_DENY)


class TestDocumentedMultipleKeysOrValues:
    """IAM User Guide, "Conditions with multiple context keys or values": the S3 bucket policy ``ExamplePolicy``
    (condition operators ANDed, keys ANDed, values ORed; a negated operator's values NORed). The bucket policy
    names the root of 222222222222; the bucket is taken to be in another account, so that the bucket policy (and
    its condition) must allow, and the users' identity policy allows s3:ListBucket as well."""

    TAGS = {"aws:PrincipalTag/department": ["finance", "hr", "legal"], "aws:PrincipalTag/role": ["audit", "security"]}
    USERS = ["arn:aws:iam::222222222222:user/Ana", "arn:aws:iam::222222222222:user/Mary"]
    LIST = policy("UserPolicy", stmt("List", Action="s3:ListBucket", Resource="arn:aws:s3:::amzn-s3-demo-bucket"))

    def decide(self, arn_operator: str, user: str, tags: dict[str, ContextValue]) -> Outcome:
        bucket = policy(
            "BucketPolicy",
            stmt(
                "ExamplePolicy",
                Principal={"AWS": "arn:aws:iam::222222222222:root"},
                Action="s3:ListBucket",
                Resource="arn:aws:s3:::amzn-s3-demo-bucket",
                Condition={"StringEquals": self.TAGS, arn_operator: {"aws:PrincipalArn": self.USERS}},
            ),
        )
        call = request(
            f"arn:aws:iam::222222222222:user/{user}", "s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket", tags
        )
        return evaluate(call, identity_policies=[self.LIST], resource_policy=bucket, resource_account=ACCOUNT).outcome

    @pytest.mark.parametrize(
        ("user", "tags", "outcome"),
        [
            ("Mary", {"aws:PrincipalTag/department": "legal", "aws:PrincipalTag/role": "audit"}, Outcome.ALLOWED),
            ("Nikki", {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit"}, Outcome.IMPLICIT_DENY),
            ("Mary", {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "payroll"}, Outcome.IMPLICIT_DENY),
            ("Mary", {"aws:PrincipalTag/department": "hr"}, Outcome.IMPLICIT_DENY),
            ("Mary", {}, Outcome.IMPLICIT_DENY),
        ],
    )
    def test_arn_like_table(self, user: str, tags: dict[str, ContextValue], outcome: Outcome) -> None:
        assert self.decide("ArnLike", user, tags) is outcome

    @pytest.mark.parametrize(
        ("user", "tags", "outcome"),
        [
            ("Nikki", {"aws:PrincipalTag/department": "legal", "aws:PrincipalTag/role": "audit"}, Outcome.ALLOWED),
            ("Mary", {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "audit"}, Outcome.IMPLICIT_DENY),
            ("Nikki", {"aws:PrincipalTag/department": "hr", "aws:PrincipalTag/role": "payroll"}, Outcome.IMPLICIT_DENY),
            ("Nikki", {"aws:PrincipalTag/department": "hr"}, Outcome.IMPLICIT_DENY),
            ("Nikki", {}, Outcome.IMPLICIT_DENY),
        ],
    )
    def test_arn_not_like_table_is_a_nor(self, user: str, tags: dict[str, ContextValue], outcome: Outcome) -> None:
        assert self.decide("ArnNotLike", user, tags) is outcome

    GUARD = policy(
        "Guard",
        stmt(
            "OnlyAuditors",
            "Deny",
            Action="s3:*",
            Resource="*",
            Condition={"StringNotEquals": {"aws:PrincipalTag/role": ["audit", "security"]}},
        ),
    )

    @pytest.mark.parametrize(
        ("role_tag", "outcome", "denying"),
        [
            ("audit", Outcome.ALLOWED, []),
            ("security", Outcome.ALLOWED, []),
            ("payroll", Outcome.EXPLICIT_DENY, ["Guard:OnlyAuditors"]),
        ],
    )
    def test_string_not_equals_with_two_values_is_a_nor(
        self, role_tag: str, outcome: Outcome, denying: list[str]
    ) -> None:
        # Same page: "If a single negated matching condition operator includes multiple values for a context key,
        # those values are evaluated using a logical NOR." A Deny with StringNotEquals [audit, security] denies a
        # principal tagged with neither value, and no principal tagged with either.
        call = request(ROLE, context={"aws:PrincipalTag/role": role_tag})
        decision = evaluate(call, identity_policies=[IDENTITY_S3, self.GUARD])
        allowing = ["AppPolicy:ReadData"] if outcome is Outcome.ALLOWED else []
        assert_decision(decision, outcome, allowing, denying)

    def test_string_not_equals_deny_applies_to_a_request_without_the_key(self) -> None:
        # "IAM JSON policy elements: Condition operators": a negated operator holds when the key is absent.
        decision = evaluate(request(), identity_policies=[IDENTITY_S3, self.GUARD])
        assert_decision(decision, Outcome.EXPLICIT_DENY, denying=["Guard:OnlyAuditors"])


class TestDocumentedSingleValuedKeys:
    """IAM User Guide, "Single-valued context key policy examples"."""

    ECS = policy(
        "EcsPolicy",
        stmt(
            "RunProduction",
            Action=["ecs:RunTask", "ecs:StartTask"],
            Resource=["*"],
            Condition={
                "StringEquals": {"aws:RequestTag/environment": ["production", "prod-backup"]},
                "ArnEquals": {
                    "ecs:cluster": [
                        "arn:aws:ecs:us-east-1:111122223333:cluster/default1",
                        "arn:aws:ecs:us-east-1:111122223333:cluster/default2",
                    ]
                },
            },
        ),
    )
    CLUSTER1 = "arn:aws:ecs:us-east-1:111122223333:cluster/default1"
    CLUSTER2 = "arn:aws:ecs:us-east-1:111122223333:cluster/default2"

    @pytest.mark.parametrize(
        ("context", "outcome"),
        [
            ({"aws:RequestTag/environment": "production", "ecs:cluster": CLUSTER1}, Outcome.ALLOWED),
            ({"aws:RequestTag/environment": "prod-backup", "ecs:cluster": CLUSTER2}, Outcome.ALLOWED),
            ({"aws:RequestTag/webserver": "production", "ecs:cluster": CLUSTER2}, Outcome.IMPLICIT_DENY),
            ({"ecs:cluster": CLUSTER2}, Outcome.IMPLICIT_DENY),
        ],
    )
    def test_one_block_with_several_keys_and_values(self, context: dict[str, ContextValue], outcome: Outcome) -> None:
        principal = "arn:aws:iam::111122223333:role/Runner"
        decision = evaluate(request(principal, "ecs:RunTask", "*", context), identity_policies=[self.ECS])
        assert decision.outcome is outcome

    def test_string_not_equals_on_a_resource_tag(self) -> None:
        # "Multiple condition blocks with single-valued context keys": tags may go on anything but production.
        tagging = policy(
            "Tagging",
            stmt(
                "NotProduction",
                Action="ec2:CreateTags",
                Resource="arn:aws:ec2:us-east-1:123456789012:*/*",
                Condition={"StringNotEquals": {"aws:ResourceTag/environment": "production"}},
            ),
        )
        volume = "arn:aws:ec2:us-east-1:123456789012:volume/vol-1"
        principal = "arn:aws:iam::123456789012:role/Builder"
        qa = request(principal, "ec2:CreateTags", volume, {"aws:ResourceTag/environment": "QA"})
        production = request(principal, "ec2:CreateTags", volume, {"aws:ResourceTag/environment": "production"})
        assert evaluate(qa, identity_policies=[tagging]).allowed
        assert not evaluate(production, identity_policies=[tagging]).allowed


class TestDocumentedMultivaluedKeys:
    """IAM User Guide, "Single-valued vs. multivalued context keys" (ForAllValues with Null, ForAnyValue) and
    "Multivalued context key examples" (Deny with ForAllValues:StringNotLike, ForAnyValue:StringEquals)."""

    PRINCIPAL = "arn:aws:iam::111122223333:role/Operator"
    INSTANCE = "arn:aws:ec2:us-east-1:111122223333:instance/i-1"

    def delete_tags(self, condition: dict[str, Any], tag_keys: list[str] | None) -> Outcome:
        allow = policy(
            "DeleteTags",
            stmt(
                "Delete",
                Action="ec2:DeleteTags",
                Resource="arn:aws:ec2:us-east-1:111122223333:instance/*",
                Condition=condition,
            ),
        )
        context: dict[str, ContextValue] = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
        return evaluate(
            request(self.PRINCIPAL, "ec2:DeleteTags", self.INSTANCE, context), identity_policies=[allow]
        ).outcome

    @pytest.mark.parametrize(
        ("tag_keys", "outcome"),
        [
            (["environment"], Outcome.ALLOWED),
            (["cost-center"], Outcome.ALLOWED),
            (["environment", "cost-center"], Outcome.ALLOWED),
            (["environment", "dept"], Outcome.IMPLICIT_DENY),
            (None, Outcome.IMPLICIT_DENY),  # the Null check stops the empty set from matching
        ],
    )
    def test_for_all_values_with_null_check(self, tag_keys: list[str] | None, outcome: Outcome) -> None:
        condition = {
            "ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]},
            "Null": {"aws:TagKeys": "false"},
        }
        assert self.delete_tags(condition, tag_keys) is outcome

    def test_for_all_values_without_null_check_matches_an_empty_request(self) -> None:
        condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        assert self.delete_tags(condition, None) is Outcome.ALLOWED
        assert self.delete_tags(condition, []) is Outcome.ALLOWED

    @pytest.mark.parametrize(
        ("tag_keys", "outcome"),
        [
            (["environment"], Outcome.ALLOWED),
            (["cost-center"], Outcome.ALLOWED),
            (["environment", "cost-center"], Outcome.ALLOWED),
            (["environment", "dept"], Outcome.ALLOWED),
            (["dept"], Outcome.IMPLICIT_DENY),
            (None, Outcome.IMPLICIT_DENY),
        ],
    )
    def test_for_any_value(self, tag_keys: list[str] | None, outcome: Outcome) -> None:
        condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
        assert self.delete_tags(condition, tag_keys) is outcome

    TAG_ALL = policy("TagAll", stmt("Tag", Action=["iam:Tag*", "iam:UnTag*"], Resource="*"))

    def tag(self, patterns: list[str], tag_keys: list[str] | None) -> Outcome:
        deny = policy(
            "DenyRestrictedTags",
            stmt(
                "DenyRestrictedTags",
                "Deny",
                Action=["iam:Tag*", "iam:UnTag*"],
                Resource=["*"],
                Condition={"ForAllValues:StringNotLike": {"aws:TagKeys": patterns}},
            ),
        )
        context: dict[str, ContextValue] = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
        call = request(self.PRINCIPAL, "iam:TagRole", "arn:aws:iam::111122223333:role/X", context)
        return evaluate(call, identity_policies=[self.TAG_ALL, deny]).outcome

    @pytest.mark.parametrize(
        ("tag_keys", "outcome"),
        [
            (["key1:legal"], Outcome.ALLOWED),
            (["key1:hr", "key1:personnel"], Outcome.ALLOWED),
            (["key2:audit"], Outcome.EXPLICIT_DENY),
            (None, Outcome.EXPLICIT_DENY),  # ForAllValues holds for a request without the key
        ],
    )
    def test_deny_with_one_pattern(self, tag_keys: list[str] | None, outcome: Outcome) -> None:
        assert self.tag(["key1*"], tag_keys) is outcome

    @pytest.mark.parametrize(
        ("tag_keys", "outcome"),
        [
            (["key1:legal"], Outcome.ALLOWED),
            (["key1:hr", "key1:personnel"], Outcome.ALLOWED),
            (["key1:hr", "key2:audit"], Outcome.ALLOWED),
            (["key3:legal"], Outcome.EXPLICIT_DENY),
            (None, Outcome.EXPLICIT_DENY),
        ],
    )
    def test_deny_with_two_patterns(self, tag_keys: list[str] | None, outcome: Outcome) -> None:
        assert self.tag(["key1*", "key2*"], tag_keys) is outcome

    @pytest.mark.parametrize(
        ("tag_keys", "outcome"),
        [
            (["webserver"], Outcome.EXPLICIT_DENY),
            (["environment", "webserver", "test"], Outcome.EXPLICIT_DENY),
            (["environment", "test"], Outcome.ALLOWED),
            (None, Outcome.ALLOWED),  # ForAnyValue fails for a request without the key
        ],
    )
    def test_deny_with_for_any_value(self, tag_keys: list[str] | None, outcome: Outcome) -> None:
        snapshots = policy("Snapshots", stmt("Create", Action="ec2:CreateSnapshot", Resource="*"))
        deny = policy(
            "NoWebserverSnapshots",
            stmt(
                "Deny",
                "Deny",
                Action=["ec2:CreateSnapshot", "ec2:CreateSnapshots"],
                Resource="arn:aws:ec2:us-west-2::snapshot/*",
                Condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "webserver"}},
            ),
        )
        context: dict[str, ContextValue] = {} if tag_keys is None else {"aws:TagKeys": tag_keys}
        call = request(self.PRINCIPAL, "ec2:CreateSnapshot", "arn:aws:ec2:us-west-2::snapshot/snap-1", context)
        assert evaluate(call, identity_policies=[snapshots, deny]).outcome is outcome


class TestSymbolic:
    """``symbolic=True``: questions about any request of a principal, as the review asks them."""

    KEY_POLICY_SOURCE = "KeyPolicy"

    def key_policy(self, *statements: dict[str, Any]) -> Policy:
        return policy(self.KEY_POLICY_SOURCE, *statements)

    def test_open_conditions_are_kept_and_decided_ones_are_applied(self) -> None:
        via = {"StringEquals": {"kms:ViaService": "rds.eu-west-1.amazonaws.com", "kms:CallerAccount": ACCOUNT}}
        key = self.key_policy(stmt("Use", Principal={"AWS": ROLE}, Action="kms:Decrypt", Resource="*", Condition=via))
        decision = evaluate(
            request(action="kms:Decrypt", resource=KEY), resource_policy=key, key_policy=True, symbolic=True
        )
        assert decision.allowed
        ((match,),) = decision.paths
        assert match.pending == (("StringEquals", "kms:ViaService", ("rds.eu-west-1.amazonaws.com",)),)
        concrete = evaluate(request(action="kms:Decrypt", resource=KEY), resource_policy=key, key_policy=True)
        assert not concrete.allowed  # without symbolic, the absent kms:ViaService fails the condition
        stranger = evaluate(
            request(OTHER_ROLE, "kms:Decrypt", KEY), resource_policy=key, key_policy=True, symbolic=True
        )
        assert not stranger.allowed

    def test_a_decided_false_condition_removes_the_statement(self) -> None:
        other = {"StringEquals": {"kms:CallerAccount": OTHER}}
        key = self.key_policy(stmt("Use", Principal={"AWS": ROLE}, Action="kms:Decrypt", Resource="*", Condition=other))
        decision = evaluate(
            request(action="kms:Decrypt", resource=KEY), resource_policy=key, key_policy=True, symbolic=True
        )
        assert decision.outcome is Outcome.IMPLICIT_DENY

    def test_paths_pair_each_delegation_with_each_identity_statement(self) -> None:
        key = self.key_policy(
            stmt("RootA", Principal={"AWS": ROOT}, Action="kms:*", Resource="*"),
            stmt("RootB", Principal={"AWS": ROOT}, Action="kms:Decrypt", Resource="*"),
            stmt("Direct", Principal={"AWS": ROLE}, Action="kms:Decrypt", Resource="*"),
        )
        identity = policy("Iam", stmt("One", Action="kms:Decrypt", Resource=KEY))
        decision = evaluate(
            request(action="kms:Decrypt", resource=KEY),
            identity_policies=[identity],
            resource_policy=key,
            key_policy=True,
            symbolic=True,
        )
        assert [[m.ref.sid for m in path] for path in decision.paths] == [
            ["Direct"],
            ["RootA", "One"],
            ["RootB", "One"],
        ]
        assert sids(decision.allowing) == ["KeyPolicy:Direct", "KeyPolicy:RootA", "Iam:One", "KeyPolicy:RootB"]

    def test_a_deny_with_open_conditions_does_not_deny_but_is_listed(self) -> None:
        key = self.key_policy(
            stmt("Use", Principal={"AWS": ROLE}, Action="kms:Decrypt", Resource="*"),
            stmt(
                "Tls",
                "Deny",
                Principal="*",
                Action="kms:*",
                Resource="*",
                Condition={"Bool": {"aws:SecureTransport": "false"}},
            ),
        )
        decision = evaluate(
            request(action="kms:Decrypt", resource=KEY), resource_policy=key, key_policy=True, symbolic=True
        )
        assert decision.allowed
        assert [m.ref.sid for m in decision.unless] == ["Tls"]
        plain = evaluate(
            request(action="kms:Decrypt", resource=KEY, context={"aws:SecureTransport": "false"}),
            resource_policy=key,
            key_policy=True,
            symbolic=True,
        )
        assert plain.outcome is Outcome.EXPLICIT_DENY  # the context decides it: an explicit deny

    def test_anyone_is_matched_only_by_star_and_gets_no_implied_context(self) -> None:
        from kmsflow.policy.model import ANYONE

        key = self.key_policy(
            stmt("Named", Principal={"AWS": ROLE}, Action="kms:Encrypt", Resource="*"),
            stmt(
                "Org",
                Principal="*",
                Action="kms:Decrypt",
                Resource="*",
                Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}},
            ),
        )
        decrypt = evaluate(
            Request(principal=ANYONE, action="kms:Decrypt", resource=KEY),
            resource_policy=key,
            key_policy=True,
            symbolic=True,
        )
        assert decrypt.allowed
        assert decrypt.paths[0][0].pending == (("StringEquals", "kms:CallerAccount", (ACCOUNT,)),)
        encrypt = evaluate(
            Request(principal=ANYONE, action="kms:Encrypt", resource=KEY),
            resource_policy=key,
            key_policy=True,
            symbolic=True,
        )
        assert not encrypt.allowed
