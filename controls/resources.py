"""Where a resource lives: its ARN and a console URL, from its type, account, region and id.

A finding names its resource by `resource_type` (CloudFormation-style, e.g. `AWS::S3::Bucket`),
`account`, `region` and `resource_id` (an ARN where the API answers with one, else the name or
id the listing gave). An engineer acting on a finding wants the ARN (to grep CloudTrail, to
write a policy) and a link that opens the resource in the console; both are pure functions of
those four fields, so `evaluate` re-derives them byte for byte and no API is called.

Only resource types whose ARN and console route are well known get one; anything else (an
account-level setting, a TLS endpoint, the `*` of "every resource in scope" when a listing
failed) gets None rather than a guess. Console URLs are the public consoles
(console.aws.amazon.com, console.cloud.google.com): a run against an emulator still links there,
and the Cover says which endpoints the run actually used.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

GLOBAL = "global"
UNKNOWN_POPULATION = "*"  # CheckContext.error's "every resource in scope"


def partition(region: str) -> str:
    """The AWS partition of a region (global resources are taken as the commercial partition)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _console_host(region: str) -> str:
    if region.startswith("cn-"):
        return "console.amazonaws.cn"
    if region.startswith("us-gov-"):
        return "console.amazonaws-us-gov.com"
    return "console.aws.amazon.com"


def _q(text: str) -> str:
    return quote(text, safe="")


def _arn_resource(arn: str) -> str:
    """The resource part of an ARN (after the fifth colon): `user/path/name`, `db:name`, ..."""
    parts = arn.split(":", 5)
    return parts[5] if len(parts) == 6 else ""


def _last(resource: str, sep: str = "/") -> str:
    return resource.rsplit(sep, 1)[-1]


def _iam_name(resource_id: str) -> str:
    """The user or role name of an IAM finding: from an ARN (`user/path/name`), or the first segment of
    `name/credential` ids (access keys and unused credentials are reported as `<user>/<key>`)."""
    if resource_id.startswith("arn:"):
        return _last(_arn_resource(resource_id))
    return resource_id.split("/", 1)[0]


# --------------------------------------------------------------------------- ARNs


def _arn_builders() -> dict[str, Callable[[str, str, str, str], str | None]]:
    """resource type -> (partition, account, region, resource id) -> ARN."""
    return {
        "AWS::S3::Bucket": lambda p, a, r, i: f"arn:{p}:s3:::{i}",
        "AWS::EC2::Volume": lambda p, a, r, i: f"arn:{p}:ec2:{r}:{a}:volume/{i}",
        "AWS::DynamoDB::Table": lambda p, a, r, i: f"arn:{p}:dynamodb:{r}:{a}:table/{i}",
        "AWS::KMS::Key": lambda p, a, r, i: f"arn:{p}:kms:{r}:{a}:key/{i}",
        "AWS::RDS::DBInstance": lambda p, a, r, i: f"arn:{p}:rds:{r}:{a}:db:{i}",
        "AWS::RDS::DBCluster": lambda p, a, r, i: f"arn:{p}:rds:{r}:{a}:cluster:{i}",
        "AWS::IAM::User": lambda p, a, r, i: f"arn:{p}:iam::{a}:user/{_iam_name(i)}",
        "AWS::IAM::AccessKey": lambda p, a, r, i: f"arn:{p}:iam::{a}:user/{_iam_name(i)}",
        "AWS::IAM::Role": lambda p, a, r, i: f"arn:{p}:iam::{a}:role/{_iam_name(i)}",
        "AWS::ElasticLoadBalancing::LoadBalancer": lambda p, a, r, i: (
            f"arn:{p}:elasticloadbalancing:{r}:{a}:loadbalancer/{i}"
        ),
        "AWS::ApiGateway::DomainName": lambda p, a, r, i: f"arn:{p}:apigateway:{r}::/domainnames/{i}",
        "AWS::::Account": lambda p, a, r, i: f"arn:{p}:iam::{a}:root" if i == "<root_account>" else None,
    }


_ARNS = _arn_builders()
_REGIONAL = {"AWS::EC2::Volume", "AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::RDS::DBInstance"}
_REGIONAL |= {"AWS::RDS::DBCluster", "AWS::ElasticLoadBalancing::LoadBalancer", "AWS::ApiGateway::DomainName"}


def resource_arn(provider: str, resource_type: str, account: str, region: str, resource_id: str) -> str | None:
    """The resource's ARN: the id itself when it is one, else built for the known AWS types; None otherwise."""
    if provider not in ("aws", "access_review") or not resource_id or resource_id == UNKNOWN_POPULATION:
        return None
    if resource_id.startswith("arn:"):
        return resource_id
    build = _ARNS.get(resource_type)
    if build is None or (resource_type in _REGIONAL and region in ("", GLOBAL)):
        return None
    if resource_type != "AWS::S3::Bucket" and not account.isdigit():
        return None  # "*" (discovery failed) or another placeholder: no account, no ARN
    return build(partition(region), account, region, resource_id)


# --------------------------------------------------------------------------- console URLs


def _aws_console(resource_type: str, region: str, arn: str, resource_id: str) -> str | None:
    host = _console_host(region)
    rq = _q(region)
    regional = f"https://{region}.{host}" if region not in ("", GLOBAL) else f"https://{host}"
    res = _arn_resource(arn)
    if resource_type == "AWS::S3::Bucket":
        suffix = f"?region={rq}" if region not in ("", GLOBAL) else ""
        return f"https://s3.{host}/s3/buckets/{_q(_last(res, ':'))}{suffix}"
    if region in ("", GLOBAL) and resource_type in _REGIONAL:
        return None
    if resource_type == "AWS::EC2::Volume":
        return f"{regional}/ec2/home?region={rq}#VolumeDetails:volumeId={_q(_last(res))}"
    if resource_type == "AWS::DynamoDB::Table":
        return f"{regional}/dynamodbv2/home?region={rq}#table?name={_q(_last(res))}"
    if resource_type == "AWS::KMS::Key":
        return f"{regional}/kms/home?region={rq}#/kms/keys/{_q(_last(res))}"
    if resource_type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster"):
        cluster = "true" if resource_type == "AWS::RDS::DBCluster" else "false"
        return f"{regional}/rds/home?region={rq}#database:id={_q(_last(res, ':'))};is-cluster={cluster}"
    if resource_type in ("AWS::IAM::User", "AWS::IAM::AccessKey", "AWS::IAM::Role"):
        kind = "roles" if resource_type == "AWS::IAM::Role" else "users"
        return f"https://{host}/iam/home#/{kind}/details/{_q(_last(res))}"
    if resource_type == "AWS::ElasticLoadBalancing::LoadBalancer":
        return f"{regional}/ec2/home?region={rq}#LoadBalancers:search={_q(_last(res))}"
    if resource_type in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancingV2::Listener"):
        lb_arn = arn
        if resource_type.endswith("Listener"):  # listener/app/<name>/<lb id>/<listener id> -> loadbalancer/app/...
            head, _, tail = arn.partition(":listener/")
            lb_arn = f"{head}:loadbalancer/{tail.rsplit('/', 1)[0]}" if tail.count("/") >= 3 else ""
        return f"{regional}/ec2/home?region={rq}#LoadBalancer:loadBalancerArn={_q(lb_arn)}" if lb_arn else None
    if resource_type.startswith("AWS::CloudFront::Distribution"):
        dist = res.split("/")[1] if res.startswith("distribution/") and "/" in res else ""
        return f"https://{host}/cloudfront/v4/home#/distributions/{_q(dist)}" if dist else None
    if resource_type == "AWS::CertificateManager::Certificate":
        return f"{regional}/acm/home?region={rq}#/certificates/{_q(_last(res))}"
    return None


def console_url(provider: str, resource_type: str, account: str, region: str, resource_id: str) -> str | None:
    """A URL that opens the resource in its cloud console, for the main resource types; None where not known."""
    if not resource_id or resource_id == UNKNOWN_POPULATION:
        return None
    if provider == "gcp" and resource_type == "GCP::Storage::Bucket":
        return f"https://console.cloud.google.com/storage/browser/{_q(resource_id)}?project={_q(account)}"
    arn = resource_arn(provider, resource_type, account, region, resource_id)
    if arn is None:
        return None
    region = region or GLOBAL
    return _aws_console(resource_type, region, arn, resource_id)
