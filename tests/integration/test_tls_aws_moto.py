"""The encryption-in-transit collectors (elbv2, elb, cloudfront, apigateway, acm, s3 secure transport)
fetched for real over HTTP against moto's server, inside the demo organization's accounts, then checked.

demo.estate_tls.seed_tls_estate seeds the estate and says which resource must fail which check;
every collector runs through the production AwsFetchContext + Recorder in every account and region, and
the failing / passing resource ids must be exactly what the estate promised, with no `error` result.

Limitations found while writing this (moto 5.2.5, botocore 1.44.8), covered by the unit tests instead:

- elbv2 DescribeSSLPolicies ignores PageSize/Marker (one page) and its unnamed listing omits some
  predefined policies a listener can still be created with (e.g. ELBSecurityPolicy-TLS-1-0-2015-04);
  Names=[unknown] answers an empty list, not SSLPolicyNotFound (the check reports such a listener as
  `error`, code SSLPolicyNotDescribed). The estate only uses policies moto describes.
- elbv2: a load balancer created with Type=network gets an "app/" ARN; moto gives HTTP listeners an
  SslPolicy (ignored: HTTP listeners are not assessed for TLS); DescribeRules returns only the default rule
  unless rules are created.
- elb (classic): a listener without an SSL negotiation policy has PolicyNames [] (real AWS attaches
  ELBSecurityPolicy-2016-08); DescribeLoadBalancerPolicies without a name fails.
- cloudfront: ListDistributions honours MaxItems/Marker; moto does not mark ACM certificates used by a
  distribution as in use (load balancer listeners do).
- apigateway and apigatewayv2 keep separate domain lists (real AWS lists a regional domain in both);
  GetDomainNames omits securityPolicy when none was given.
- acm: requested certificates stay PENDING_VALIDATION and RenewalSummary is never set (no FAILED
  renewal to observe); imported certificates are ISSUED with the certificate's dates, and an expired
  certificate cannot be imported (as in AWS), so "expired and in use" is unit-tested only.
- s3: aws:SecureTransport deny policies are enforced for object requests over plain HTTP (PutObject and
  GetObject answer 403) but not for bucket-level calls, so GetBucketPolicy / GetBucketEncryption /
  GetPublicAccessBlock / GetBucketLocation still answer for such buckets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.request import Request, urlopen

import botocore.exceptions
import pytest

from collectors.aws.base import GLOBAL_REGION, AwsFetchContext, AwsTuning, classify_error
from collectors.evidence import Recorder, Scope
from collectors.registry import checks_for, collectors
from controls import CheckResult, Status
from demo.estate_tls import TLS_CHECKS, seed_tls_estate
from demo.seeding import MANAGEMENT_ACCOUNT, member_session, seed_organization

pytestmark = pytest.mark.integration

REGIONS = ("us-east-1", "eu-west-1")
COLLECTORS = ("aws.elbv2", "aws.elb", "aws.cloudfront", "aws.apigateway", "aws.acm", "aws.s3")


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
    reset = Request(f"{endpoint}/moto-api/reset", method="POST")
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AWS_ENDPOINT_URL", endpoint)
            mp.setenv("AWS_ACCESS_KEY_ID", "testing")
            mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
            mp.delenv("AWS_SESSION_TOKEN", raising=False)
            mp.delenv("AWS_PROFILE", raising=False)
            urlopen(reset, timeout=10).read()
            yield endpoint
            urlopen(reset, timeout=10).read()
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture(scope="module")
def estate(moto_endpoint: str) -> dict[str, Any]:
    _, (prod, staging) = seed_organization(moto_endpoint, ["dexo-prod", "dexo-staging"])
    accounts = {"management": MANAGEMENT_ACCOUNT, "prod": prod, "staging": staging}
    return {"accounts": accounts, "expected": seed_tls_estate(moto_endpoint, accounts)}


def collect(endpoint: str, collector_id: str, account: str, region: str) -> Recorder:
    spec = collectors()[collector_id]
    scope_region = region if spec.per_region else GLOBAL_REGION
    recorder = Recorder(Scope("aws", account, scope_region, collector_id), spec.operations, classify_error)
    tuning = AwsTuning(max_attempts=1, concurrency=4)
    session = member_session(endpoint, account, region)
    spec.fetch(AwsFetchContext(session, account, scope_region, recorder, tuning))
    return recorder


def evaluate(recorder: Recorder, as_of: datetime) -> dict[str, list[CheckResult]]:
    return {c.spec.id: c.run(recorder.bundle, thresholds={}, as_of=as_of) for c in checks_for(recorder.scope.collector)}


@pytest.fixture(scope="module")
def run(moto_endpoint: str, estate: dict[str, Any]) -> dict[str, Any]:
    """Every TLS collector in every account and region: results per check, recorders per
    (collector, account, region)."""
    as_of = datetime.now(UTC)
    results: dict[str, list[CheckResult]] = {c: [] for c in TLS_CHECKS}
    recorders: dict[tuple[str, str, str], Recorder] = {}
    for account in estate["accounts"].values():
        for collector_id in COLLECTORS:
            regions = REGIONS if collectors()[collector_id].per_region else (REGIONS[0],)
            for region in regions:
                recorder = collect(moto_endpoint, collector_id, account, region)
                recorders[collector_id, account, recorder.scope.region] = recorder
                for check_id, found in evaluate(recorder, as_of).items():
                    if check_id in results:
                        results[check_id].extend(found)
    return {"results": results, "recorders": recorders}


def where(results: list[CheckResult], status: Status) -> list[list[str]]:
    return sorted([r.account, r.region, r.resource_id] for r in results if r.status == status)


@pytest.mark.parametrize("check_id", TLS_CHECKS)
def test_seeded_verdicts_hold_with_no_errors(run, estate, check_id):
    results = run["results"][check_id]
    errors = [r.reason for r in results if r.status == Status.ERROR]
    assert not errors, errors
    assert where(results, Status.FAIL) == estate["expected"]["non_compliant_where"][check_id]
    passing = {r.resource_id for r in results if r.status == Status.PASS}
    assert set(estate["expected"]["compliant"][check_id]) <= passing
    assert estate["expected"]["non_compliant"][check_id], f"{check_id}: the estate seeds no non-compliant resource"
    assert estate["expected"]["compliant"][check_id], f"{check_id}: the estate seeds no compliant resource"


def by_id(run: dict[str, Any], check_id: str) -> dict[str, CheckResult]:
    return {r.resource_id: r for r in run["results"][check_id]}


def test_elbv2_details_and_api_calls(run, estate):
    prod = estate["accounts"]["prod"]
    tls = [r for r in run["results"]["aws.elbv2.tls_policy"] if r.account == prod]
    weak = next(r for r in tls if r.observed.get("policy") == "ELBSecurityPolicy-2016-08")
    assert weak.status == Status.FAIL
    assert set(weak.observed["weak_protocols"]) == {"TLSv1", "TLSv1.1"}
    assert weak.observed["load_balancer"] == "dexo-prod-legacy-web"
    strong = next(r for r in tls if r.observed.get("policy") == "ELBSecurityPolicy-TLS13-1-2-2021-06")
    assert strong.status == Status.PASS
    assert strong.observed["protocols"] == ["TLSv1.3", "TLSv1.2"]
    http = [r for r in tls if r.observed.get("protocol") == "HTTP"]
    assert {r.status for r in http} == {Status.NOT_APPLICABLE}
    recorder = run["recorders"]["aws.elbv2", prod, "us-east-1"]
    # 1 DescribeLoadBalancers + 3 DescribeListeners + 1 DescribeSSLPolicies (every policy) + 2 DescribeRules
    assert recorder.api_calls == 1 + 3 + 1 + 2
    empty = run["recorders"]["aws.elbv2", prod, "eu-west-1"]
    assert empty.api_calls == 1  # no load balancer: no other call


def test_classic_elb_and_cloudfront_details(run, estate):
    elb = by_id(run, "aws.elb.tls_listener")
    assert elb["dexo-staging-classic"].reason == "no HTTPS/SSL listener: every front end is plain HTTP:80"
    assert "ELBSecurityPolicy-2016-08 is not one of" in elb["dexo-staging-old-ssl"].reason
    viewer = [r for r in run["results"]["aws.cloudfront.viewer_tls"] if r.status == Status.FAIL]
    (default,) = viewer
    assert "default certificate" in default.reason
    assert default.region == "global"
    https = [r for r in run["results"]["aws.cloudfront.https_only"] if r.status == Status.FAIL]
    assert https[0].reason == "HTTP allowed for /legacy/* (allow-all)"
    origins = [r for r in run["results"]["aws.cloudfront.origin_tls"] if r.status == Status.NOT_APPLICABLE]
    assert {r.observed["origin_type"] for r in origins} == {"s3"}


def test_acm_in_use_expiry_and_unused(run, estate):
    acm = run["results"]["aws.acm.certificate_expiry"]
    unused = [r for r in acm if r.status == Status.NOT_APPLICABLE]
    assert [r.observed["domain_name"] for r in unused] == ["spare.dexo.chat"]
    expiring = next(r for r in acm if r.observed["domain_name"] == "xmpp.dexo.chat")
    assert expiring.status == Status.FAIL
    assert "expires in" in expiring.reason
    assert expiring.observed["in_use_by"]
    old = next(r for r in acm if r.observed["domain_name"] == "old.staging.dexo.chat")
    assert old.status == Status.FAIL
    assert old.observed["days_to_expiry"] < 3


def test_s3_secure_transport_and_other_s3_checks_on_denied_buckets(run, estate, moto_endpoint):
    prod = estate["accounts"]["prod"]
    recorder = run["recorders"]["aws.s3", prod, GLOBAL_REGION]
    results = evaluate(recorder, datetime.now(UTC))
    media = {c: {r.resource_id: r for r in found}["dexo-prod-tls-media"] for c, found in results.items()}
    assert media["aws.s3.secure_transport"].status == Status.PASS
    # bucket-level calls still answer over HTTP for a bucket whose policy denies insecure transport
    assert media["aws.s3.default_encryption"].status in (Status.PASS, Status.FAIL)
    assert media["aws.s3.public_access_block"].status in (Status.PASS, Status.FAIL)
    subset = {r.resource_id: r for r in run["results"]["aws.s3.secure_transport"]}["dexo-staging-tls-uploads"]
    assert "denies only ['s3:GetObject']" in subset.reason
    # moto enforces the deny for object requests over plain HTTP
    s3 = member_session(moto_endpoint, prod, "us-east-1").client("s3")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.put_object(Bucket="dexo-prod-tls-media", Key="x", Body=b"x")
    # 1 ListBuckets + 1 s3control + per bucket GetBucketLocation, GetBucketEncryption, GetPublicAccessBlock,
    # GetBucketPolicy
    buckets = len(recorder.bundle.all("s3", "GetBucketPolicy"))
    assert recorder.api_calls == 2 + 4 * buckets


def test_apigateway_rest_and_http_domains(run):
    api = by_id(run, "aws.apigateway.tls_policy")
    assert api["api.staging.dexo.chat"].observed["endpoint_types"] == ["EDGE"]
    assert api["ws.staging.dexo.chat"].region == "eu-west-1"
    assert api["ws.dexo.chat"].observed["apis"] == ["HTTP/WebSocket (apigatewayv2)"]
