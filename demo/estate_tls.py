"""Dexo.chat's encryption-in-transit estate, seeded over HTTP into a moto server.

seed_tls_estate() adds, inside the demo organization's accounts (entered with
demo.seeding.member_session, as seed_demo_estate does), load balancers, CloudFront distributions,
API Gateway custom domains, ACM certificates and S3 bucket policies: compliant and not, for every
encryption-in-transit check. It returns the resource ids each check must fail (and pass), in the format
the tool reports them.

Certificates are imported (moto issues requested certificates as PENDING_VALIDATION): self-signed,
generated with `cryptography`, valid relative to the seeding time, so the expiry verdicts hold for a run
made the same day (aws.acm.certificate_expiry uses the run's as_of). moto marks a certificate in use when
a load balancer listener references it (not when CloudFront does).

moto enforces aws:SecureTransport bucket policies on object requests over plain HTTP, so the buckets that
get a deny-insecure policy are created empty, with the policy last; bucket-level calls (GetBucketPolicy,
GetBucketEncryption, GetPublicAccessBlock, GetBucketLocation) still answer over HTTP in moto.

Regions: everything is in us-east-1 except one staging API domain in eu-west-1 (CloudFront is global; its
certificate lives in us-east-1). Accounts not in `accounts` are skipped; the "management" account gets only
a bucket.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from demo.seeding import member_session

__all__ = ["TLS_CHECKS", "seed_tls_estate"]

TLS_CHECKS = (
    "aws.elbv2.tls_policy",
    "aws.elbv2.https_redirect",
    "aws.elb.tls_listener",
    "aws.cloudfront.viewer_tls",
    "aws.cloudfront.https_only",
    "aws.cloudfront.origin_tls",
    "aws.s3.secure_transport",
    "aws.apigateway.tls_policy",
    "aws.acm.certificate_expiry",
)
REGION = "us-east-1"
GLOBAL = "global"
STRONG_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
WEAK_POLICY = "ELBSecurityPolicy-2016-08"  # allows TLS 1.0 and 1.1


def _certificate(domain: str, not_before: dt.datetime, not_after: dt.datetime) -> dict[str, bytes]:
    """A self-signed certificate and its key (PEM) for acm.import_certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return {
        "Certificate": cert.public_bytes(serialization.Encoding.PEM),
        "PrivateKey": key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
    }


class _Expect:
    def __init__(self) -> None:
        self.failing: dict[str, list[list[str]]] = {c: [] for c in TLS_CHECKS}
        self.passing: dict[str, list[list[str]]] = {c: [] for c in TLS_CHECKS}

    def add(self, check_id: str, account: str, region: str, rid: str, ok: bool) -> None:
        (self.passing if ok else self.failing)[check_id].append([account, region, rid])

    def result(self) -> dict[str, Any]:
        return {
            "non_compliant": {c: sorted({r for _, _, r in rows}) for c, rows in self.failing.items()},
            "non_compliant_where": {c: sorted(rows) for c, rows in self.failing.items()},
            "compliant": {c: sorted({r for _, _, r in rows}) for c, rows in self.passing.items()},
        }


class _Clients:
    def __init__(self, endpoint_url: str, account_id: str) -> None:
        self.endpoint_url, self.account_id = endpoint_url, account_id
        self._session = member_session(endpoint_url, account_id, REGION)
        self._cache: dict[tuple[str, str], Any] = {}

    def __call__(self, service: str, region: str = REGION) -> Any:
        if (service, region) not in self._cache:
            self._cache[service, region] = self._session.client(
                service, region_name=region, endpoint_url=self.endpoint_url
            )
        return self._cache[service, region]


def _import(c: _Clients, domain: str, days_valid_from_now: float, now: dt.datetime) -> str:
    pem = _certificate(domain, now - dt.timedelta(days=400), now + dt.timedelta(days=days_valid_from_now))
    return c("acm").import_certificate(**pem)["CertificateArn"]


def _network(c: _Clients) -> list[str]:
    ec2 = c("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    return [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in ((1, "a"), (2, "b"))
    ] + [vpc]


def _alb(c: _Clients, name: str, subnets: list[str], kind: str = "application") -> tuple[str, str]:
    """(load balancer ARN, a target group ARN)."""
    elb = c("elbv2")
    lb = elb.create_load_balancer(Name=name, Subnets=subnets[:2], Type=kind, Scheme="internet-facing")["LoadBalancers"][
        0
    ]
    protocol = "HTTP" if kind == "application" else "TCP"
    tg = elb.create_target_group(Name=f"{name}-tg"[:32], Protocol=protocol, Port=8080, VpcId=subnets[2])
    return lb["LoadBalancerArn"], tg["TargetGroups"][0]["TargetGroupArn"]


def _listener(c: _Clients, lb: str, protocol: str, port: int, actions: list[dict[str, Any]], **tls: Any) -> str:
    return c("elbv2").create_listener(LoadBalancerArn=lb, Protocol=protocol, Port=port, DefaultActions=actions, **tls)[
        "Listeners"
    ][0]["ListenerArn"]


REDIRECT = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}]


def _forward(tg: str) -> list[dict[str, Any]]:
    return [{"Type": "forward", "TargetGroupArn": tg}]


def _distribution(
    c: _Clients,
    ref: str,
    cert: str | None,
    min_version: str,
    behaviours: list[tuple[str, str, str]],
    origins: list[dict[str, Any]],
) -> str:
    """behaviours: (path pattern or "*" for the default, target origin, viewer protocol policy)."""

    def behaviour(target: str, viewer: str) -> dict[str, Any]:
        return {
            "TargetOriginId": target,
            "ViewerProtocolPolicy": viewer,
            "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            "MinTTL": 0,
        }

    default = next(b for b in behaviours if b[0] == "*")
    paths = [{"PathPattern": p, **behaviour(t, v)} for p, t, v in behaviours if p != "*"]
    viewer = (
        {
            "CloudFrontDefaultCertificate": False,  # moto assumes True unless told
            "ACMCertificateArn": cert,
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": min_version,
        }
        if cert
        else {"CloudFrontDefaultCertificate": True}
    )
    config = {
        "CallerReference": ref,
        "Comment": ref,
        "Enabled": True,
        "Origins": {"Quantity": len(origins), "Items": origins},
        "DefaultCacheBehavior": behaviour(default[1], default[2]),
        "CacheBehaviors": {"Quantity": len(paths), **({"Items": paths} if paths else {})},
        "ViewerCertificate": viewer,
    }
    return c("cloudfront").create_distribution(DistributionConfig=config)["Distribution"]["ARN"]


def _s3_origin(origin_id: str, bucket: str) -> dict[str, Any]:
    return {"Id": origin_id, "DomainName": f"{bucket}.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}


def _custom_origin(origin_id: str, domain: str, policy: str, ssl: list[str]) -> dict[str, Any]:
    return {
        "Id": origin_id,
        "DomainName": domain,
        "CustomOriginConfig": {
            "HTTPPort": 80,
            "HTTPSPort": 443,
            "OriginProtocolPolicy": policy,
            "OriginSslProtocols": {"Quantity": len(ssl), "Items": ssl},
        },
    }


def _deny_insecure(bucket: str, **overrides: Any) -> dict[str, Any]:
    stmt = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    stmt.update(overrides)
    return stmt


def _bucket(c: _Clients, name: str, statements: list[dict[str, Any]] | None) -> None:
    c("s3").create_bucket(Bucket=name)
    if statements:  # last: moto then denies object requests over plain HTTP
        c("s3").put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))


def _seed_prod(c: _Clients, acct: str, exp: _Expect, now: dt.datetime) -> None:
    chat_cert = _import(c, "chat.dexo.chat", 300, now)
    xmpp_cert = _import(c, "xmpp.dexo.chat", 10, now)  # in use by the NLB, expires in 10 days
    _import(c, "spare.dexo.chat", 5, now)  # not in use: not applicable
    exp.add("aws.acm.certificate_expiry", acct, REGION, chat_cert, True)
    exp.add("aws.acm.certificate_expiry", acct, REGION, xmpp_cert, False)

    net = _network(c)
    chat, chat_tg = _alb(c, "dexo-prod-chat", net)
    https = _listener(
        c, chat, "HTTPS", 443, _forward(chat_tg), SslPolicy=STRONG_POLICY, Certificates=[{"CertificateArn": chat_cert}]
    )
    http = _listener(c, chat, "HTTP", 80, REDIRECT)
    exp.add("aws.elbv2.tls_policy", acct, REGION, https, True)
    exp.add("aws.elbv2.https_redirect", acct, REGION, http, True)
    legacy, legacy_tg = _alb(c, "dexo-prod-legacy-web", net)
    weak = _listener(
        c,
        legacy,
        "HTTPS",
        443,
        _forward(legacy_tg),
        SslPolicy=WEAK_POLICY,
        Certificates=[{"CertificateArn": chat_cert}],
    )
    plain = _listener(c, legacy, "HTTP", 80, _forward(legacy_tg))
    exp.add("aws.elbv2.tls_policy", acct, REGION, weak, False)
    exp.add("aws.elbv2.https_redirect", acct, REGION, plain, False)
    xmpp, xmpp_tg = _alb(c, "dexo-prod-xmpp", net, kind="network")
    tls = _listener(
        c,
        xmpp,
        "TLS",
        5223,
        _forward(xmpp_tg),
        SslPolicy="ELBSecurityPolicy-TLS-1-2-2017-01",
        Certificates=[{"CertificateArn": xmpp_cert}],
    )
    exp.add("aws.elbv2.tls_policy", acct, REGION, tls, True)

    clb = c("elb")
    clb.create_load_balancer(
        LoadBalancerName="dexo-prod-legacy-xmpp",
        Listeners=[
            {
                "Protocol": "SSL",
                "LoadBalancerPort": 5223,
                "InstanceProtocol": "TCP",
                "InstancePort": 5222,
                "SSLCertificateId": chat_cert,
            }
        ],
        AvailabilityZones=[f"{REGION}a"],
    )
    clb.create_load_balancer_policy(
        LoadBalancerName="dexo-prod-legacy-xmpp",
        PolicyName="dexo-tls12",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[
            {"AttributeName": "Reference-Security-Policy", "AttributeValue": "ELBSecurityPolicy-TLS-1-2-2017-01"}
        ],
    )
    clb.set_load_balancer_policies_of_listener(
        LoadBalancerName="dexo-prod-legacy-xmpp", LoadBalancerPort=5223, PolicyNames=["dexo-tls12"]
    )
    exp.add("aws.elb.tls_listener", acct, REGION, "dexo-prod-legacy-xmpp", True)

    web = _distribution(
        c,
        "dexo-prod-web",
        chat_cert,
        "TLSv1.2_2021",
        [("*", "assets", "redirect-to-https"), ("/api/*", "api", "https-only")],
        [
            _s3_origin("assets", "dexo-prod-web-assets"),
            _custom_origin("api", "api.dexo.chat", "https-only", ["TLSv1.2"]),
        ],
    )
    exp.add("aws.cloudfront.viewer_tls", acct, GLOBAL, web, True)
    exp.add("aws.cloudfront.https_only", acct, GLOBAL, web, True)
    exp.add("aws.cloudfront.origin_tls", acct, GLOBAL, f"{web}/origin/api", True)

    c("apigateway").create_domain_name(
        domainName="api.dexo.chat",
        regionalCertificateArn=chat_cert,
        endpointConfiguration={"types": ["REGIONAL"]},
        securityPolicy="TLS_1_2",
    )
    exp.add("aws.apigateway.tls_policy", acct, REGION, "api.dexo.chat", True)
    c("apigatewayv2").create_domain_name(
        DomainName="ws.dexo.chat",
        DomainNameConfigurations=[
            {"CertificateArn": chat_cert, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_2"}
        ],
    )
    exp.add("aws.apigateway.tls_policy", acct, REGION, "ws.dexo.chat", True)

    _bucket(c, "dexo-prod-tls-media", [_deny_insecure("dexo-prod-tls-media")])


def _seed_staging(c: _Clients, acct: str, exp: _Expect, now: dt.datetime) -> None:
    old_cert = _import(c, "old.staging.dexo.chat", 2, now)  # expires in 2 days, on a classic ELB
    exp.add("aws.acm.certificate_expiry", acct, REGION, old_cert, False)

    net = _network(c)
    web, web_tg = _alb(c, "dexo-staging-web", net)
    plain = _listener(c, web, "HTTP", 80, _forward(web_tg))
    exp.add("aws.elbv2.https_redirect", acct, REGION, plain, False)

    clb = c("elb")
    clb.create_load_balancer(
        LoadBalancerName="dexo-staging-classic",
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}],
        AvailabilityZones=[f"{REGION}a"],
    )
    exp.add("aws.elb.tls_listener", acct, REGION, "dexo-staging-classic", False)
    clb.create_load_balancer(
        LoadBalancerName="dexo-staging-old-ssl",
        Listeners=[
            {
                "Protocol": "HTTPS",
                "LoadBalancerPort": 443,
                "InstanceProtocol": "HTTP",
                "InstancePort": 8080,
                "SSLCertificateId": old_cert,
            }
        ],
        AvailabilityZones=[f"{REGION}a"],
    )
    clb.create_load_balancer_policy(
        LoadBalancerName="dexo-staging-old-ssl",
        PolicyName="legacy-2016",
        PolicyTypeName="SSLNegotiationPolicyType",
        PolicyAttributes=[{"AttributeName": "Reference-Security-Policy", "AttributeValue": WEAK_POLICY}],
    )
    clb.set_load_balancer_policies_of_listener(
        LoadBalancerName="dexo-staging-old-ssl", LoadBalancerPort=443, PolicyNames=["legacy-2016"]
    )
    exp.add("aws.elb.tls_listener", acct, REGION, "dexo-staging-old-ssl", False)

    preview = _distribution(
        c,
        "dexo-staging-preview",
        None,  # the *.cloudfront.net default certificate: TLSv1 minimum
        "TLSv1",
        [("*", "app", "redirect-to-https"), ("/legacy/*", "legacy", "allow-all")],
        [
            _custom_origin("app", "app.staging.dexo.chat", "https-only", ["TLSv1.2"]),
            _custom_origin("legacy", "legacy.staging.dexo.chat", "match-viewer", ["TLSv1", "TLSv1.2"]),
            _s3_origin("assets", "dexo-staging-assets"),
        ],
    )
    exp.add("aws.cloudfront.viewer_tls", acct, GLOBAL, preview, False)
    exp.add("aws.cloudfront.https_only", acct, GLOBAL, preview, False)
    exp.add("aws.cloudfront.origin_tls", acct, GLOBAL, f"{preview}/origin/app", True)
    exp.add("aws.cloudfront.origin_tls", acct, GLOBAL, f"{preview}/origin/legacy", False)

    c("apigateway").create_domain_name(
        domainName="api.staging.dexo.chat",
        certificateArn=old_cert,
        endpointConfiguration={"types": ["EDGE"]},
        securityPolicy="TLS_1_0",
    )
    exp.add("aws.apigateway.tls_policy", acct, REGION, "api.staging.dexo.chat", False)
    c("apigatewayv2", "eu-west-1").create_domain_name(
        DomainName="ws.staging.dexo.chat",
        DomainNameConfigurations=[
            {"CertificateArn": old_cert, "EndpointType": "REGIONAL", "SecurityPolicy": "TLS_1_0"}
        ],
    )
    exp.add("aws.apigateway.tls_policy", acct, "eu-west-1", "ws.staging.dexo.chat", False)

    subset = _deny_insecure("dexo-staging-tls-uploads", Action=["s3:GetObject"])
    _bucket(c, "dexo-staging-tls-uploads", [subset])  # denies HTTP reads only
    allow_only = {
        "Sid": "AllowHttpsReads",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{acct}:root"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::dexo-staging-tls-reports/*",
        "Condition": {"Bool": {"aws:SecureTransport": "true"}},
    }
    _bucket(c, "dexo-staging-tls-reports", [allow_only])


def _seed_management(c: _Clients, acct: str, exp: _Expect, now: dt.datetime) -> None:
    stmt = _deny_insecure(
        "dexo-mgmt-tls-audit", Principal={"AWS": "*"}, Condition={"BoolIfExists": {"aws:SecureTransport": False}}
    )
    _bucket(c, "dexo-mgmt-tls-audit", [stmt])


def _buckets_verdicts(c: _Clients, acct: str, exp: _Expect, compliant: set[str]) -> None:
    """Every bucket of the account (also those seed_demo_estate made, which have no policy), in its region."""
    s3 = c("s3")
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        region = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        exp.add("aws.s3.secure_transport", acct, region, name, name in compliant)


def seed_tls_estate(endpoint_url: str, accounts: Mapping[str, str]) -> dict[str, Any]:
    """Seed the encryption-in-transit estate into the accounts ("management" / "prod" / "staging" -> id).

    Returns {"non_compliant": {check id: sorted resource ids}, "non_compliant_where": {check id:
    [[account, region, resource id], ...]}, "compliant": {check id: sorted resource ids}} for TLS_CHECKS.
    Resource ids as the tool reports them: listener ARNs, classic load balancer names, distribution ARNs and
    "<distribution ARN>/origin/<origin id>", API domain names, certificate ARNs, bucket names (S3 results
    carry the bucket's region). S3 verdicts cover every bucket in the accounts at seeding time (buckets
    without a policy fail). Bucket, domain and load balancer names are fixed: seed once per moto state.
    """
    now = dt.datetime.now(dt.UTC)
    exp = _Expect()
    seeders = {"management": _seed_management, "prod": _seed_prod, "staging": _seed_staging}
    compliant_buckets = {"dexo-prod-tls-media", "dexo-mgmt-tls-audit"}
    for key, account_id in accounts.items():
        seeder = seeders.get(key)
        if seeder is None:
            continue
        clients = _Clients(endpoint_url, account_id)
        seeder(clients, account_id, exp, now)
        _buckets_verdicts(clients, account_id, exp, compliant_buckets)
    return exp.result()
