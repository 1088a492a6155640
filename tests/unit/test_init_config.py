"""`soc2-evidence init`'s renderer on recorded discoveries: every shape loads through the project's
own config loader, says in a comment what was found or denied, and its commented examples are
valid config once uncommented. Plus the file write: never over a user's file without --force."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from collectors.registry import specs
from flows.cli import main
from flows.cli_common import BadInput
from flows.config import AppConfig, load_config
from flows.init_cli import check_target, summary, write_config
from flows.init_config import PLACEHOLDER_ORGANIZATION, InitOptions, render_config, threshold_defaults
from flows.init_discovery import INIT_OPERATIONS, Denied, Discovered, OrgAccount
from flows.regions import DEFAULT_ENABLED_REGIONS

MGMT, PROD, OLD, STAGING = "111111111111", "222222222222", "333333333333", "444444444444"
ARN = f"arn:aws:iam::{MGMT}:user/alice"
REGIONS = ("eu-west-1", "us-east-1", "us-west-2")
ORG = Discovered(
    account=MGMT,
    arn=ARN,
    org_role="management",
    org_id="o-abc123",
    management_account=MGMT,
    accounts=(
        OrgAccount(MGMT, "Acme Corp", "ACTIVE"),
        OrgAccount(PROD, "prod", "ACTIVE"),
        OrgAccount(OLD, "legacy", "SUSPENDED"),
        OrgAccount(STAGING, "staging", "ACTIVE"),
    ),
    regions=REGIONS,
    regions_changing=(("eu-south-2", "ENABLING"),),
)
NO_ORG = Discovered(account=PROD, arn=f"arn:aws:iam::{PROD}:user/bob", alias="acme-prod", regions=REGIONS)
DENIED_ORG = Discovered(
    account=PROD,
    arn=f"arn:aws:iam::{PROD}:user/bob",
    org_role="unknown",
    org_error=Denied("organizations:DescribeOrganization", "AccessDeniedException", "not authorized"),
    alias_error=Denied("iam:ListAccountAliases", "AccessDenied", "not authorized"),
    regions=REGIONS,
)
MEMBER = Discovered(
    account=PROD,
    arn=f"arn:aws:iam::{PROD}:user/bob",
    org_role="member",
    org_id="o-abc123",
    management_account=MGMT,
    accounts_error=Denied("organizations:ListAccounts", "AccessDeniedException", "not authorized"),
    regions=REGIONS,
)
DENIED_REGIONS = Discovered(
    account=PROD,
    arn=f"arn:aws:iam::{PROD}:user/bob",
    regions=None,
    regions_error=Denied("ec2:DescribeRegions", "UnauthorizedOperation", "You are not authorized"),
)
DELEGATED = Discovered(
    account=PROD,
    arn=f"arn:aws:iam::{PROD}:role/audit",
    org_role="delegated",
    org_id="o-abc123",
    management_account=MGMT,
    accounts=ORG.accounts,
    regions=REGIONS,
)
SHAPES = {
    "org": ORG,
    "delegated": DELEGATED,
    "no-org": NO_ORG,
    "denied-org": DENIED_ORG,
    "member": MEMBER,
    "denied-regions": DENIED_REGIONS,
}


def _options(**kw: object) -> InitOptions:
    return InitOptions(today=date(2026, 12, 4), thresholds=threshold_defaults(specs()), **kw)  # type: ignore[arg-type]


def _load(text: str, tmp_path: Path) -> AppConfig:
    path = tmp_path / "soc2-evidence.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def _comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def _prose(text: str) -> str:
    """The comments as one line of text (wrapping undone), to search for a sentence."""
    return " ".join(" ".join(re.sub(r"^\s*#", "", line) for line in _comments(text)).split())


def uncomment(text: str, key: str) -> str:
    """The commented block `# key: ...` and its more-indented commented lines, uncommented."""
    out, inside = [], None
    for line in text.splitlines():
        m = re.match(r"^(\s*)# (.*)$", line)
        if inside is None and m and m.group(2).startswith(f"{key}:"):
            inside = m.group(1)
            out.append(inside + m.group(2))
            continue
        if inside is not None and m and m.group(1) == inside and m.group(2).startswith(" "):
            out.append(inside + m.group(2))
            continue
        inside = None
        out.append(line)
    assert out != text.splitlines(), f"no commented block {key!r}"
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_shape_loads_and_its_comments_are_only_comments(shape: str, tmp_path: Path) -> None:
    text = render_config(SHAPES[shape], _options())
    cfg = _load(text, tmp_path)
    assert cfg.aws.regions is None  # every enabled region, discovered per run
    assert cfg.period.start == date(2026, 1, 1) and cfg.period.end == date(2026, 12, 31)
    assert cfg.output == str(tmp_path / "soc2-evidence-output")
    # removing every comment changes nothing: no comment carries a value
    bare = "\n".join(line for line in text.splitlines() if not line.strip().startswith("#"))
    assert yaml.safe_load(text) == yaml.safe_load(bare)
    assert all(line.isprintable() for line in text.splitlines())


def test_organization_discovers_with_the_role_and_lists_every_account(tmp_path: Path) -> None:
    text = render_config(ORG, _options(role_name="audit-reader"))
    cfg = _load(text, tmp_path)
    assert cfg.aws.organization.discover is True and cfg.aws.organization.role_name == "audit-reader"
    assert cfg.aws.accounts == ()
    assert cfg.organization == "Acme Corp"  # the management account's name
    comments = "\n".join(_comments(text))
    prose = _prose(text)
    for account in (MGMT, PROD, STAGING):
        assert re.search(rf"# +{account} .*ACTIVE", comments), account
    assert re.search(rf"# +{OLD} +legacy +SUSPENDED: skipped by discovery, not assessed", comments)
    assert "Accounts now (4: 3 active, 1 not)" in prose
    assert "Enabled in account 111111111111 now (3): eu-west-1, us-east-1, us-west-2" in prose
    assert "eu-south-2: ENABLING" in prose
    # the tool's own role is listed by aws.iam.privileged_roles, never failed
    assert cfg.thresholds["aws.iam.privileged_roles"]["tool_roles"] == ["audit-reader"]


def test_a_delegated_administrator_discovers_too(tmp_path: Path) -> None:
    text = render_config(DELEGATED, _options())
    assert _load(text, tmp_path).aws.organization.discover is True
    assert f"account {PROD} is a delegated administrator" in _prose(text)


def test_no_organization_is_the_callers_account_and_says_why(tmp_path: Path) -> None:
    text = render_config(NO_ORG, _options())
    cfg = _load(text, tmp_path)
    assert [(a.id, a.name, a.role_arn) for a in cfg.aws.accounts] == [(PROD, "acme-prod", None)]
    assert cfg.aws.organization.discover is False
    assert cfg.organization == "acme-prod"  # the account alias
    assert "is not in an AWS organization (organizations:DescribeOrganization: AWSOrganizationsNotInUseException)" in (
        _prose(text)
    )


def test_denied_organization_names_the_missing_permission_and_the_placeholder_name_loads(tmp_path: Path) -> None:
    text = render_config(DENIED_ORG, _options())
    cfg = _load(text, tmp_path)
    assert [a.id for a in cfg.aws.accounts] == [PROD] and cfg.aws.organization.discover is False
    assert cfg.organization == PLACEHOLDER_ORGANIZATION
    comments = _prose(text)
    assert "organizations:DescribeOrganization failed (AccessDeniedException" in comments
    assert "grant organizations:DescribeOrganization and organizations:ListAccounts" in comments
    assert "iam:ListAccountAliases failed (AccessDenied" in comments
    assert "2 call(s) failed" in comments


def test_member_account_names_list_accounts_and_the_management_account(tmp_path: Path) -> None:
    text = render_config(MEMBER, _options())
    cfg = _load(text, tmp_path)
    assert [a.id for a in cfg.aws.accounts] == [PROD]
    comments = _prose(text)
    assert "member of organization o-abc123 (management account 111111111111)" in comments
    assert "organizations:ListAccounts failed (AccessDeniedException" in comments


def test_denied_regions_say_what_a_run_examines_instead(tmp_path: Path) -> None:
    text = render_config(DENIED_REGIONS, _options())
    cfg = _load(text, tmp_path)
    assert cfg.aws.regions is None and cfg.aws.exclude_regions == ()
    comments = _prose(text)
    assert "NOTE: ec2:DescribeRegions failed (UnauthorizedOperation" in comments
    assert f"only the {len(DEFAULT_ENABLED_REGIONS)} regions every account has enabled by default" in comments
    assert "Enabled in account" not in comments


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_commented_examples_are_valid_config_once_uncommented(shape: str, tmp_path: Path) -> None:
    text = render_config(SHAPES[shape], _options())
    for key in ("exclude_regions", "gcp", "endpoints", "thresholds"):
        text = uncomment(text, key)
    if not SHAPES[shape].can_discover:
        text = uncomment(text, "organization")
    cfg = _load(text, tmp_path)
    assert cfg.aws.excluded_regions() == {"sa-east-1": "No workloads; an SCP denies every action outside our regions"}
    assert cfg.gcp.discover is True
    assert [e.host for e in cfg.endpoints.targets] == ["app.example.com"]
    assert cfg.aws.organization.discover is True
    defaults = threshold_defaults(specs())
    assert cfg.thresholds["aws.secretsmanager.rotation"] == defaults["aws.secretsmanager.rotation"]
    assert len(cfg.thresholds) == sum(1 for v in defaults.values() if v)


def test_gcp_projects_given_are_a_real_section(tmp_path: Path) -> None:
    cfg = _load(render_config(NO_ORG, _options(gcp_projects=("acme-prod-1", "acme-data-2"))), tmp_path)
    assert cfg.gcp.projects == ("acme-prod-1", "acme-data-2") and cfg.gcp.discover is False


def test_hostile_names_from_the_cloud_cannot_inject_keys(tmp_path: Path) -> None:
    nasty = "evil\norganization: pwned\r\x85output: /tmp/x\u2028gcp: {projects: [a]}\ufeff # {x: 1}\x00"
    found = Discovered(
        account=MGMT,
        arn=ARN,
        org_role="management",
        org_id="o-abc123",
        management_account=MGMT,
        accounts=(
            OrgAccount(MGMT, nasty, "ACTIVE"),
            OrgAccount(PROD, "'\"&*!|>%@`", "SUSPENDED"),
            OrgAccount(STAGING, "a\x00b\ufeffc\x1bd\u2029e\x85f: g", "ACTIVE"),
        ),
        alias=nasty,
        regions=REGIONS,
    )
    text = render_config(found, _options())
    cfg = _load(text, tmp_path)
    assert cfg.organization.startswith("evil organization: pwned")
    assert cfg.output == str(tmp_path / "soc2-evidence-output") and cfg.gcp.projects == ()
    assert set(yaml.safe_load(text)) == {"organization", "period", "aws", "output"}
    assert all(line.isprintable() for line in text.splitlines())


def test_write_config_never_replaces_a_users_file_without_force(tmp_path: Path) -> None:
    target = tmp_path / "soc2-evidence.yaml"
    target.write_text("organization: mine\n")
    text = render_config(NO_ORG, _options())
    with pytest.raises(BadInput, match="already exists"):
        check_target(target, force=False)
    with pytest.raises(BadInput, match="already exists"):  # appeared after the check: the link refuses it
        write_config(target, text, force=False)
    assert target.read_text() == "organization: mine\n"
    write_config(target, text, force=True)
    assert target.read_text() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["soc2-evidence.yaml"]  # no temporary file left


def test_write_config_refuses_a_file_that_does_not_load(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    with pytest.raises(RuntimeError, match="does not load"):
        write_config(target, "organization: x\n", force=False)  # no period: the loader rejects it
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_an_existing_file_before_any_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "soc2-evidence.yaml"
    target.write_text("keep me\n")
    assert main(["init", "--output", str(target), "--profile", "no-such-profile-anywhere"]) == 2
    assert "already exists" in capsys.readouterr().err and target.read_text() == "keep me\n"


def test_permissions_for_init_lists_what_init_reads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["permissions", "--for", "init"]) == 0
    policy = yaml.safe_load(capsys.readouterr().out)
    assert policy["Statement"][0]["Action"] == sorted(INIT_OPERATIONS.values())
    assert "organizations:DescribeOrganization" in policy["Statement"][0]["Action"]


def test_summary_lists_the_accounts_and_the_next_steps(tmp_path: Path) -> None:
    lines = summary(ORG, tmp_path / "soc2-evidence.yaml", _options(profile="audit"))
    text = "\n".join(lines)
    assert "organization o-abc123: 4 account(s), 3 active, 1 not active (skipped)" in text
    assert f"    {OLD}  legacy     SUSPENDED" in lines  # names padded to the longest (Acme Corp)
    assert f"AWS_PROFILE=audit soc2-evidence run --config {tmp_path / 'soc2-evidence.yaml'}" in text
    single = "\n".join(summary(DENIED_REGIONS, tmp_path / "x.yaml", _options()))
    assert f"accounts: {PROD} only (not in an AWS organization)" in single
    assert "NOTE: ec2:DescribeRegions failed (UnauthorizedOperation" in single


@pytest.mark.parametrize(
    "argv", [["--gcp-project", "Not_A_Project"], ["--role-name", "arn:aws:iam::1:role/x"], ["--role-name", ""]]
)
def test_bad_options_are_refused_by_the_parser(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["init", *argv])
    assert exc.value.code == 2 and "expected" in capsys.readouterr().err
