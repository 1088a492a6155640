"""What each source listing says the population is: the count an auditor reconciles findings against.

A population is complete when every resource the cloud listed was assessed. Counting the
findings proves nothing about that (a resource the collector skipped leaves no finding), so
the reconciliation counts the *source listing's own entries*, from the recorded evidence:
ListBuckets' buckets, DescribeVolumes' volumes, ListKeys' keys, and so on, per account and
region (per account for the global listings: ListBuckets, IAM, CloudFront, GCS), and compares
them, by resource ID, with the resources the listing's checks judged.

`LISTINGS` declares, per collector, the recorded call that enumerates a resource type, where
its entries are in the answer and which field of an entry is the resource ID the checks
report, and which checks it is the population of (checks of other populations, such as IAM
access keys or account-level settings, are not reconciled here: they are marked as such).
Pure functions of recorded evidence, like the checks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from collectors.evidence import EvidenceBundle


@dataclass(frozen=True)
class Listing:
    """A recorded call that enumerates one resource type."""

    collector: str  # "aws.s3"
    service: str  # the API service as recorded: "s3", "ec2", "storage"
    operation: str  # "ListBuckets"
    resource_type: str  # "AWS::S3::Bucket"
    items: tuple[str, ...]  # path to the entries in each answer: ("DistributionList", "Items")
    id_field: str | None  # the entry's field that is the checks' resource ID (None: the entry is the ID)
    checks: tuple[str, ...]  # the checks whose population this is

    @property
    def name(self) -> str:
        return f"{self.service}:{self.operation}"


LISTINGS: tuple[Listing, ...] = (
    Listing(
        "aws.s3",
        "s3",
        "ListBuckets",
        "AWS::S3::Bucket",
        ("Buckets",),
        "Name",
        ("aws.s3.default_encryption", "aws.s3.public_access_block", "aws.s3.secure_transport"),
    ),
    Listing(
        "aws.ebs",
        "ec2",
        "DescribeVolumes",
        "AWS::EC2::Volume",
        ("Volumes",),
        "VolumeId",
        ("aws.ebs.volume_encryption",),
    ),
    Listing(
        "aws.rds",
        "rds",
        "DescribeDBInstances",
        "AWS::RDS::DBInstance",
        ("DBInstances",),
        "DBInstanceArn",
        ("aws.rds.storage_encryption",),
    ),
    Listing(
        "aws.rds",
        "rds",
        "DescribeDBClusters",
        "AWS::RDS::DBCluster",
        ("DBClusters",),
        "DBClusterArn",
        ("aws.rds.storage_encryption",),
    ),
    Listing(
        "aws.dynamodb",
        "dynamodb",
        "ListTables",
        "AWS::DynamoDB::Table",
        ("TableNames",),
        None,
        ("aws.dynamodb.encryption",),
    ),
    Listing("aws.kms", "kms", "ListKeys", "AWS::KMS::Key", ("Keys",), "KeyId", ("aws.kms.key_rotation",)),
    Listing(
        "aws.elb",
        "elb",
        "DescribeLoadBalancers",
        "AWS::ElasticLoadBalancing::LoadBalancer",
        ("LoadBalancerDescriptions",),
        "LoadBalancerName",
        ("aws.elb.tls_listener",),
    ),
    Listing(
        "aws.cloudfront",
        "cloudfront",
        "ListDistributions",
        "AWS::CloudFront::Distribution",
        ("DistributionList", "Items"),
        "ARN",
        ("aws.cloudfront.https_only", "aws.cloudfront.viewer_tls"),
    ),
    Listing(
        "aws.acm",
        "acm",
        "ListCertificates",
        "AWS::CertificateManager::Certificate",
        ("CertificateSummaryList",),
        "CertificateArn",
        ("aws.acm.certificate_expiry",),
    ),
    Listing(
        "gcp.gcs",
        "storage",
        "ListBuckets",
        "GCP::Storage::Bucket",
        ("items",),
        "name",
        (
            "gcp.gcs.encryption",
            "gcp.gcs.public_access_prevention",
            "gcp.gcs.public_iam",
            "gcp.gcs.uniform_access",
            "gcp.gcs.versioning",
            "gcp.gcs.retention",
        ),
    ),
)


@dataclass(frozen=True)
class ListedPopulation:
    """What one listing returned in one scope (region "global": the whole account)."""

    listing: Listing
    provider: str
    account: str
    region: str
    ids: tuple[str, ...]  # sorted, unique
    failed: str | None  # the error code when a call of the listing failed (the population is then unknown)
    evidence: str  # the evidence file's path ("" when not written)

    def to_json(self) -> dict[str, Any]:
        return {
            "listing": self.listing.name,
            "resource_type": self.listing.resource_type,
            "checks": list(self.listing.checks),
            "provider": self.provider,
            "account": self.account,
            "region": self.region,
            "listed": None if self.failed else len(self.ids),
            "failed": self.failed,
            "evidence": self.evidence,
        }


def listings_for(collector: str) -> list[Listing]:
    return [x for x in LISTINGS if x.collector == collector]


def listed_populations(bundles: Iterable[EvidenceBundle]) -> list[ListedPopulation]:
    """Every declared listing found in the bundles, with the IDs its answers list."""
    out = []
    for bundle in bundles:
        scope = bundle.scope
        for listing in listings_for(scope.collector):
            calls = bundle.all(listing.service, listing.operation)
            if not calls:
                continue
            ids: set[str] = set()
            failed = None
            for call in calls:
                if call.error is not None:
                    failed = failed or call.error.code
                    continue
                ids.update(_ids(call.response, listing))
            ref = bundle.refs.get((listing.service, listing.operation))
            out.append(
                ListedPopulation(
                    listing,
                    scope.provider,
                    scope.account,
                    scope.region,
                    tuple(sorted(ids)),
                    failed,
                    ref.path if ref else "",
                )
            )
    out.sort(key=lambda p: (p.listing.collector, p.listing.operation, p.account, p.region))
    return out


def _ids(response: Any, listing: Listing) -> Iterator[str]:
    entries: Any = response
    for key in listing.items:
        entries = entries.get(key) if isinstance(entries, Mapping) else None
    for entry in entries if isinstance(entries, list) else ():
        value = (
            entry if listing.id_field is None else (entry.get(listing.id_field) if isinstance(entry, Mapping) else None)
        )
        if isinstance(value, str) and value:
            yield value
