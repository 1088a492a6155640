"""The aws.iam collector fetched for real over HTTP against moto's server, then checked.

Seeds users with and without console passwords, virtual MFA, access keys, an
admin group (AWS managed AdministratorAccess), an inline admin policy, a
customer managed iam:* policy and a weak password policy; runs the fetch
through the production AwsFetchContext + Recorder + classify_error and
asserts the result of every check for every user, at the run's time and
200 days later (moto cannot backdate a key or a user).

moto 5.2.5 limitations seen here:

- the credential report has no <root_account> row, GeneratedTime is always
  2015-02-02T20:02:02Z, and GetAccountSummary always says AccountMFAEnabled 0:
  root_mfa falls back to the summary (and fails), as it says in observed.
- password_last_used is "no_information" and key last-used "N/A" for everyone
  (moto never records use), so unused_credentials only sees never-used credentials.
- password_next_rotation, the *_last_used_region/service columns are
  "not_supported"; user_creation_time equals password_last_changed.
- AWS managed policies (AdministratorAccess) exist only with
  MOTO_IAM_LOAD_MANAGED_POLICIES=true when an account's IAM backend is created.
- ListVirtualMFADevices returns each device's TOTP seed and QR code (AWS does
  not): the fetch drops them before recording.
- GetAccountAuthorizationDetails never truncates (IsTruncated false, no Marker).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.request import Request, urlopen

import boto3
import pytest

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error
from collectors.evidence import EvidenceBundle, Recorder, Scope
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def _doc(action: Any, resource: Any = "*") -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}
    )


def _reset(endpoint: str) -> None:
    urlopen(Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=60).read()  # slow under load


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.CRITICAL)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ENDPOINT_URL", endpoint)
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            mp.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # read when the IAM backend is (re)created
            mp.delenv("AWS_SESSION_TOKEN", raising=False)
            mp.delenv("AWS_PROFILE", raising=False)
            _reset(endpoint)
            yield endpoint
            _reset(endpoint)
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture(scope="module")
def seeded(moto_endpoint: str) -> dict[str, Any]:
    iam = boto3.Session().client("iam", region_name="us-east-1")
    out: dict[str, Any] = {}
    for name in ("alice", "bob", "carol-ci", "dave", "erin", "frank", "=1+2"):
        iam.create_user(UserName=name)
    for name in ("alice", "bob", "dave"):
        iam.create_login_profile(UserName=name, Password="Correct-Horse-Battery-9")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    iam.add_user_to_group(GroupName="admins", UserName="alice")
    iam.put_user_policy(UserName="bob", PolicyName="break-glass", PolicyDocument=_doc("*"))
    arn = iam.create_policy(PolicyName="iam-everything", PolicyDocument=_doc(["iam:*"]))["Policy"]["Arn"]
    iam.create_group(GroupName="iam-operators")
    iam.attach_group_policy(GroupName="iam-operators", PolicyArn=arn)
    iam.add_user_to_group(GroupName="iam-operators", UserName="dave")
    readonly = iam.create_policy(PolicyName="ci-read", PolicyDocument=_doc(["s3:GetObject"], "arn:aws:s3:::dexo-ci/*"))
    iam.attach_user_policy(UserName="carol-ci", PolicyArn=readonly["Policy"]["Arn"])
    out["carol_key"] = iam.create_access_key(UserName="carol-ci")["AccessKey"]["AccessKeyId"]
    frank_key = iam.create_access_key(UserName="frank")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="frank", AccessKeyId=frank_key, Status="Inactive")
    iam.update_account_password_policy(MinimumPasswordLength=8, RequireNumbers=True)
    return out


def collect() -> Recorder:
    spec = collectors()["aws.iam"]
    scope = Scope("aws", ACCOUNT, GLOBAL_REGION, "aws.iam")
    recorder = Recorder(scope, spec.operations, classify_error)
    tuning = AwsTuning(max_attempts=2, concurrency=4)
    spec.fetch(AwsFetchContext(boto3.Session(), ACCOUNT, GLOBAL_REGION, recorder, tuning))
    return recorder


def evaluate(bundle: EvidenceBundle, as_of: datetime) -> dict[str, dict[str, CheckResult]]:
    out: dict[str, dict[str, CheckResult]] = {}
    for chk in checks_for("aws.iam"):
        results = chk.run(bundle, {}, as_of)
        out[chk.spec.id] = {r.resource_id: r for r in results}
        assert len(out[chk.spec.id]) == len(results), f"{chk.spec.id}: two results for one resource"
    return out


@pytest.fixture(scope="module")
def recorded(seeded: dict[str, Any]) -> Recorder:
    return collect()


def test_fetch_records_every_call_without_errors_or_mfa_secrets(recorded: Recorder):
    bundle = recorded.bundle
    assert set(bundle.operations()) == {
        ("iam", "GenerateCredentialReport"),
        ("iam", "GetCredentialReport"),
        ("iam", "GetAccountSummary"),
        ("iam", "GetAccountPasswordPolicy"),
        ("iam", "ListVirtualMFADevices"),
        ("iam", "GetAccountAuthorizationDetails"),
    }
    assert all(c.ok for calls in bundle.calls.values() for c in calls)
    # moto: STARTED on the first call, COMPLETE on the next (after one 0.2 s wait)
    states = [c.response["State"] for c in bundle.all("iam", "GenerateCredentialReport")]
    assert states[-1] == "COMPLETE"
    (report,) = bundle.all("iam", "GetCredentialReport")
    assert isinstance(report.response["Content"], str)
    assert report.response["Content"].startswith("user,arn,user_creation_time,password_enabled")
    (devices,) = bundle.all("iam", "ListVirtualMFADevices")
    assert devices.response["VirtualMFADevices"]
    assert "Base32StringSeed" not in json.dumps(devices.response)
    assert "QRCodePNG" not in json.dumps(devices.response)
    (authz,) = bundle.all("iam", "GetAccountAuthorizationDetails")
    assert len(authz.response["UserDetailList"]) == 7
    assert all(p["Arn"].startswith(f"arn:aws:iam::{ACCOUNT}:") for p in authz.response["Policies"])  # no AWS managed
    assert recorded.api_calls == len(states) + 5  # nothing per user


def test_checks_per_user_now(recorded: Recorder):
    now = datetime.now(UTC)
    results = evaluate(recorded.bundle, now)
    status = {cid: {rid: r.status for rid, r in rs.items()} for cid, rs in results.items()}
    assert status["aws.iam.user_mfa"] == {
        "alice": Status.PASS,
        "bob": Status.FAIL,
        "dave": Status.FAIL,
        "carol-ci": Status.NOT_APPLICABLE,
        "erin": Status.NOT_APPLICABLE,
        "frank": Status.NOT_APPLICABLE,
        "=1+2": Status.NOT_APPLICABLE,
    }
    assert status["aws.iam.privileged_users"] == {
        "alice": Status.PASS,
        "bob": Status.FAIL,
        "dave": Status.FAIL,
        "carol-ci": Status.NOT_APPLICABLE,
        "erin": Status.NOT_APPLICABLE,
        "frank": Status.NOT_APPLICABLE,
        "=1+2": Status.NOT_APPLICABLE,
    }
    priv = results["aws.iam.privileged_users"]
    assert priv["alice"].observed["privileged_through"] == ["group admins: AdministratorAccess"]
    assert priv["bob"].observed["privileged_through"] == ["inline: break-glass"]
    assert priv["dave"].observed["privileged_through"] == [
        "group iam-operators: iam-everything (customer managed, iam:* on *)"
    ]
    assert status["aws.iam.direct_user_policies"] == {
        "alice": Status.PASS,
        "bob": Status.FAIL,
        "carol-ci": Status.FAIL,
        "dave": Status.PASS,
        "erin": Status.PASS,
        "frank": Status.PASS,
        "=1+2": Status.PASS,
    }
    assert status["aws.iam.access_key_rotation"] == {
        "carol-ci/access_key_1": Status.PASS,
        "frank/access_key_1": Status.NOT_APPLICABLE,
    }
    assert status["aws.iam.unused_credentials"] == {
        "alice/password": Status.PASS,  # never used, created just now: within the grace period
        "bob/password": Status.PASS,
        "dave/password": Status.PASS,
        "carol-ci/access_key_1": Status.PASS,
        "erin": Status.NOT_APPLICABLE,
        "frank": Status.NOT_APPLICABLE,  # inactive key only
        "=1+2": Status.NOT_APPLICABLE,
    }
    assert status["aws.iam.password_policy"] == {ACCOUNT: Status.FAIL}
    policy = results["aws.iam.password_policy"][ACCOUNT]
    assert policy.reason == (
        "MinimumPasswordLength 8 < 14; RequireSymbols is off; RequireUppercaseCharacters is off; "
        "RequireLowercaseCharacters is off"
    )
    root = results["aws.iam.root_mfa"]["<root_account>"]
    assert root.status == Status.FAIL  # moto: no root row, AccountMFAEnabled 0
    assert "GetAccountSummary AccountMFAEnabled" in root.observed["source"]
    assert root.observed["report_generated_at"] == "2015-02-02T20:02:02Z"
    assert results["aws.iam.root_access_keys"]["<root_account>"].status == Status.PASS


def test_never_used_credentials_fail_once_older_than_the_threshold(recorded: Recorder):
    later = datetime.now(UTC) + timedelta(days=200)
    results = evaluate(recorded.bundle, later)
    unused = {rid: r.status for rid, r in results["aws.iam.unused_credentials"].items()}
    assert unused["alice/password"] == Status.FAIL
    assert unused["carol-ci/access_key_1"] == Status.FAIL
    carol = results["aws.iam.unused_credentials"]["carol-ci/access_key_1"]
    assert carol.observed["never_used"] is True
    assert carol.observed["days_since_created"] in (199, 200)
    rotation = {rid: r.status for rid, r in results["aws.iam.access_key_rotation"].items()}
    assert rotation == {"carol-ci/access_key_1": Status.FAIL, "frank/access_key_1": Status.NOT_APPLICABLE}


def test_user_created_after_the_report_is_an_error_until_the_next_report(recorded: Recorder, moto_endpoint: str):
    iam = boto3.Session().client("iam", region_name="us-east-1")
    iam.create_user(UserName="gina-late")
    iam.create_login_profile(UserName="gina-late", Password="Correct-Horse-Battery-9")
    try:
        # moto regenerates the report on every GetCredentialReport; replay the old report with the new listing
        fresh = collect().bundle
        mixed = EvidenceBundle(fresh.scope)
        for service, operation in fresh.operations():
            source = recorded.bundle if operation == "GetCredentialReport" else fresh
            for call in source.all(service, operation):
                mixed.add(call)
        results = evaluate(mixed, datetime.now(UTC))
        gina = results["aws.iam.user_mfa"]["gina-late"]
        assert gina.status == Status.ERROR
        assert gina.observed["error_code"] == "NotInCredentialReport"
        assert evaluate(fresh, datetime.now(UTC))["aws.iam.user_mfa"]["gina-late"].status == Status.FAIL
    finally:
        iam.delete_login_profile(UserName="gina-late")
        iam.delete_user(UserName="gina-late")


def test_demo_identities_match_what_the_checks_find(moto_endpoint: str):
    """demo.estate_iam in three new member accounts: every check's failures are `expected`."""
    from collectors.aws.base import new_session
    from demo.estate_iam import seed_iam_identities
    from demo.seeding import member_session, seed_organization

    _, ids = seed_organization(moto_endpoint, ["iam-mgmt", "iam-prod", "iam-staging"])
    accounts = dict(zip(("management", "prod", "staging"), ids, strict=True))
    expected = seed_iam_identities(moto_endpoint, accounts)
    assert set(expected["hostile_text"]) <= set(expected["users"]["staging"])
    assert expected["external_trust_roles"][0]["trusted_principal"] == "arn:aws:iam::999999999999:root"
    spec = collectors()["aws.iam"]
    now = datetime.now(UTC)
    found: dict[str, set[tuple[str, str]]] = {}
    found_later: dict[str, set[tuple[str, str]]] = {}
    for account_id in ids:
        creds = member_session(moto_endpoint, account_id).get_credentials()
        session = new_session(
            aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key, aws_session_token=creds.token
        )
        recorder = Recorder(Scope("aws", account_id, GLOBAL_REGION, "aws.iam"), spec.operations, classify_error)
        spec.fetch(AwsFetchContext(session, account_id, GLOBAL_REGION, recorder, AwsTuning(concurrency=4)))
        roles = {
            r["RoleName"]
            for c in recorder.bundle.all("iam", "GetAccountAuthorizationDetails")
            for r in c.response.get("RoleDetailList", [])
        }
        assert not roles  # not requested
        for as_of, into in ((now, found), (now + timedelta(days=91), found_later)):
            for cid, results in evaluate(recorder.bundle, as_of).items():
                assert all(r.status != Status.ERROR for r in results.values()), cid
                into.setdefault(cid, set()).update(
                    (account_id, rid) for rid, r in results.items() if r.status == Status.FAIL
                )
    for cid, rows in expected["non_compliant_where"].items():
        assert found[cid] == {(a, rid) for a, _, rid in rows}, cid
    for cid, rows in expected["non_compliant_after_days"]["non_compliant_where"].items():
        assert found_later[cid] == {(a, rid) for a, _, rid in rows}, cid
