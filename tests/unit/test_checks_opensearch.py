"""aws.opensearch.encryption on recorded evidence."""

from __future__ import annotations

from typing import Any

import pytest

from collectors.aws.opensearch import tls_policy_ok
from controls import Status
from tests.helpers import Fail, bundle_from_calls, by_resource, fixture, ref_ops, run_check, scope

CHECK = "aws.opensearch.encryption"
SCOPE = scope("aws.opensearch")
LISTING = fixture("aws/opensearch/list_domain_names.json")
BATCH1 = fixture("aws/opensearch/describe_domains_batch1.json")
BATCH2 = fixture("aws/opensearch/describe_domains_batch2.json")
NAMES1 = ["audit-logs", "chat-search", "legacy-es", "metrics", "no-policy"]
MISSING = object()


def os_bundle(*, listing: Any = LISTING, batch1: Any = BATCH1, batch2: Any = BATCH2):
    calls: list[tuple[str, str, dict[str, Any], Any]] = []
    if listing is not MISSING:
        calls.append(("opensearch", "ListDomainNames", {}, listing))
    if batch1 is not MISSING:
        calls.append(("opensearch", "DescribeDomains", {"DomainNames": NAMES1}, batch1))
    if batch2 is not MISSING:
        calls.append(("opensearch", "DescribeDomains", {"DomainNames": ["pfs-search"]}, batch2))
    return bundle_from_calls(SCOPE, calls)


def test_every_domain_is_assessed_on_all_four_settings():
    results = by_resource(run_check(CHECK, os_bundle()))
    assert {k: str(r.status) for k, r in results.items()} == {
        "chat-search": "pass",
        "audit-logs": "fail",
        "legacy-es": "fail",
        "pfs-search": "pass",
        "metrics": "pass",
        "no-policy": "fail",
    }
    chat = results["chat-search"]
    assert chat.resource_type == "AWS::OpenSearchService::Domain"
    assert chat.observed["kms_key_id"].endswith("aaaa7777aaaa")
    assert ref_ops(chat) == {"opensearch.ListDomainNames", "opensearch.DescribeDomains"}
    assert results["audit-logs"].reason == "TLS policy Policy-Min-TLS-1-0-2019-07 allows TLS below 1.2"
    assert results["legacy-es"].reason == "encryption at rest off; node-to-node encryption off; HTTPS not enforced"
    assert results["no-policy"].reason == "no TLS policy reported: TLS 1.2 minimum not shown"
    assert results["pfs-search"].observed["tls_security_policy"] == "Policy-Min-TLS-1-2-PFS-2023-10"


def test_listing_denied_is_one_error():
    (err,) = run_check(CHECK, os_bundle(listing=Fail("AccessDeniedException"), batch1=MISSING, batch2=MISSING))
    assert (err.status, err.resource_id) == (Status.ERROR, "*")
    assert err.observed["missing_permission"] == "es:ListDomainNames"


def test_failed_batch_is_an_error_for_its_domains_only():
    results = by_resource(run_check(CHECK, os_bundle(batch1=Fail("AccessDeniedException"))))
    assert {k for k, r in results.items() if r.status == Status.ERROR} == set(NAMES1)
    assert results["metrics"].observed["missing_permission"] == "es:DescribeDomains"
    assert results["pfs-search"].status == Status.PASS


def test_missing_batch_and_domain_absent_from_answer_are_not_collected():
    results = by_resource(run_check(CHECK, os_bundle(batch2=MISSING)))
    assert results["pfs-search"].observed["error_code"] == "NotCollected"
    partial = {"DomainStatusList": [s for s in BATCH1["DomainStatusList"] if s["DomainName"] != "metrics"]}
    results = by_resource(run_check(CHECK, os_bundle(batch1=partial)))
    assert results["metrics"].status == Status.ERROR
    assert "not in the answer" in results["metrics"].observed["message"]


@pytest.mark.parametrize(
    ("policy", "ok"),
    [
        ("Policy-Min-TLS-1-2-2019-07", True),
        ("Policy-Min-TLS-1-2-PFS-2023-10", True),
        ("Policy-Min-TLS-1-2-RFC9151-FIPS-2024-08", True),
        ("Policy-Min-TLS-1-0-2019-07", False),
        (None, False),
        ("", False),
    ],
)
def test_tls_policy_floor(policy, ok):
    assert tls_policy_ok(policy) is ok
