"""The starting config `soc2-evidence init` writes: a pure function of what discovery found.

Plain text templating, not a YAML round-trip library: the file is mostly comments (the
discovered accounts and regions, what each key does, what was denied and what to fill in by
hand), which a dumper would drop. Every value is written by yaml.safe_dump, so quoting is
YAML's own (account ids stay strings); every comment line goes through `_comment`, which
removes the characters YAML treats as line breaks, so an account name from the cloud cannot
end a comment and inject a key. The result always loads with flows.config's loader: the
unit tests check that for every shape of discovery, and `init` checks it again before writing.
"""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from flows.config.app import DEFAULT_OUTPUT, PRIVILEGED_ROLES_CHECK
from flows.config.aws import DEFAULT_ORG_ROLE
from flows.init_discovery import Discovered, OrgAccount

PLACEHOLDER_ORGANIZATION = "Example Corp (TODO: your organization's name)"
_COMMENT_WIDTH = 100
_VALUE_COLUMN = 40  # where a value's trailing comment starts, as in examples/soc2-evidence.yaml
_EXAMPLE_EXCLUDED = "sa-east-1"  # a region every account has enabled: valid when uncommented


@dataclass(frozen=True)
class InitOptions:
    """What the caller chose (the command line) and the defaults to list, all plain data."""

    today: date
    role_name: str = DEFAULT_ORG_ROLE
    gcp_projects: tuple[str, ...] = ()
    profile: str | None = None
    # check id -> {threshold: default}, from the check registry (collectors.registry.specs)
    thresholds: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    file_name: str = "soc2-evidence.yaml"


def _unsafe(char: str) -> bool:
    """Control, format and line/paragraph separator characters (YAML ends a comment at \\r, \\n,
    NEL, LS and PS; a BOM or a control character in the middle of a file is an error)."""
    category = unicodedata.category(char)
    return category[0] == "C" or category in ("Zl", "Zp")


def _clean(text: object) -> str:
    """One line of text: unsafe characters become spaces, runs of white space one space."""
    return " ".join("".join(" " if _unsafe(c) else c for c in str(text)).split())


def _comment(text: str, indent: int = 0, width: int = _COMMENT_WIDTH) -> list[str]:
    """`text` as comment lines ("# ..."), wrapped; an empty text is a bare "#"."""
    pad = " " * indent
    cleaned = _clean(text)
    if not cleaned:
        return [f"{pad}#"]
    return [f"{pad}# {line}" for line in textwrap.wrap(cleaned, width - indent - 2, break_on_hyphens=False)]


def _raw_comment(line: str, indent: int = 0) -> str:
    """A line kept as it is (commented-out YAML, whose indentation matters), made safe."""
    return f"{' ' * indent}# {''.join(' ' if _unsafe(c) else c for c in line)}".rstrip()


def scalar(value: Any) -> str:
    """A value as inline YAML (flow style), quoted by PyYAML where needed; always one line."""
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=1_000_000)
    text = text.removesuffix("\n").removesuffix("\n...").strip()
    if "\n" in text:  # a multi-line scalar: only from text _clean did not pass through
        raise ValueError(f"not a one-line YAML value: {value!r}")
    return text


def _key(indent: int, key: str, value: Any = None, note: str = "") -> str:
    """`key: value  # note` at `indent`; the note (cleaned, one line) aligned at _VALUE_COLUMN."""
    line = f"{' ' * indent}{key}:" + ("" if value is None else f" {scalar(value)}")
    if note:
        line = f"{line.ljust(_VALUE_COLUMN - 1)} # {_clean(note)}"
    return line


def organization_name(found: Discovered) -> tuple[str, str]:
    """(name for `organization:`, where it came from): the management account's name in AWS
    Organizations, else the account alias, else a placeholder the validator accepts."""
    management = next((a for a in found.accounts if a.id == found.management_account), None)
    if management is not None and _clean(management.name) and management.name != management.id:
        return _clean(management.name), "the management account's name in AWS Organizations: check it"
    if found.alias and _clean(found.alias):
        return _clean(found.alias), "the account alias (iam:ListAccountAliases): check it"
    return PLACEHOLDER_ORGANIZATION, "TODO: your organization's name, shown on the workbook's cover"


def render_config(found: Discovered, options: InitOptions) -> str:
    """The whole file, from what discovery found and the caller's options."""
    lines = _header(found, options)
    name, origin = organization_name(found)
    lines += ["", _key(0, "organization", name, origin)]
    lines += _period(options.today)
    lines += ["", "aws:"]
    lines += _regions(found)
    lines += _accounts(found, options.role_name)
    lines += _gcp(options.gcp_projects)
    lines += _endpoints()
    lines += _thresholds(options.thresholds)
    lines += ["", _key(0, "output", f"./{DEFAULT_OUTPUT}", "runs go to <output>/runs/<run_id>/; or s3://, gs://")]
    return "\n".join(lines) + "\n"


def _header(found: Discovered, options: InitOptions) -> list[str]:
    profile = f" (profile {options.profile})" if options.profile else ""
    run = f"soc2-evidence run --config {options.file_name}"
    if options.profile:
        run = f"AWS_PROFILE={options.profile} {run}"
    lines = _comment(f"{options.file_name}: a starting config written by `soc2-evidence init` on {options.today}")
    lines += _comment(f"from the identity {found.arn}{profile}, account {found.account}.")
    lines += _comment("Review it (every TODO, the period, the accounts), then run:")
    lines.append(_raw_comment(f"  {run}"))
    lines += _comment("Every key, with its default: examples/soc2-evidence.yaml. Paths are relative to this file.")
    denied = found.denied()
    if denied:
        lines.append("#")
        lines += _comment(f"Not everything could be discovered ({len(denied)} call(s) failed); see the NOTE comments:")
        for d in denied:
            lines += _comment(f"- {d.text()}", width=_COMMENT_WIDTH)
    return lines


def _period(today: date) -> list[str]:
    return [
        _key(0, "period", None, "the audit period (end >= start): a Type II window, usually 6-12 months"),
        _key(2, "start", date(today.year, 1, 1), "TODO: your audit period's first day"),
        _key(2, "end", date(today.year, 12, 31), "TODO: its last day"),
    ]


def _regions(found: Discovered) -> list[str]:
    """No `regions:` key: a run examines every region each account has enabled (discovered per
    run); the regions enabled now are listed for reference, with an exclusion example."""
    lines = _comment(
        "regions: not set, so every run examines every region each account has enabled (discovered per "
        "account at run time). Set `regions: [us-east-1, ...]` only to examine fewer.",
        indent=2,
    )
    if found.regions is not None:
        lines += _comment(
            f"Enabled in account {found.account} now ({len(found.regions)}): {', '.join(found.regions)}", indent=2
        )
        for region, state in found.regions_changing:
            lines += _comment(f"{region}: {state} (account:ListRegions): enabled or not by the next run", indent=2)
    else:
        from flows.regions import DEFAULT_ENABLED_REGIONS

        err = found.regions_error
        lines += _comment(
            f"NOTE: {err.text() if err else 'region discovery failed'}: the enabled regions are unknown. Grant "
            f"{err.permission if err else 'ec2:DescribeRegions'} to the identity that runs soc2-evidence (and to the "
            f"role in every account): without it a run examines only the {len(DEFAULT_ENABLED_REGIONS)} regions "
            "every account has enabled by default, says so, and misses opt-in regions.",
            indent=2,
        )
    lines += _comment("To leave an enabled region out on purpose, name it with the reason the auditor reads:", indent=2)
    lines += [
        _raw_comment("exclude_regions:", 2),
        _raw_comment(f"  - region: {_EXAMPLE_EXCLUDED}", 2),
        _raw_comment("    reason: No workloads; an SCP denies every action outside our regions", 2),
    ]
    return lines


def _accounts(found: Discovered, role_name: str) -> list[str]:
    if found.can_discover:
        return _discovered_org(found, role_name)
    lines = _comment(f"NOTE: {_why_single_account(found)}", indent=2)
    lines.append("  accounts:")
    name = _clean(found.alias or "") or next((_clean(a.name) for a in found.accounts if a.id == found.account), "")
    lines.append(_key(4, "- id", found.account, "the account whose credentials ran init (default credentials)"))
    if name:
        lines.append(_key(6, "name", name))
    example = next(e for e in ("222222222222", "333333333333") if e != found.account)  # never a duplicate id
    lines += _comment("To add accounts, list each with the role soc2-evidence assumes there, e.g.:", indent=2)
    lines += [
        _raw_comment(f"  - id: '{example}'", 2),
        _raw_comment("    name: prod", 2),
        _raw_comment(f"    role_arn: arn:{found.partition}:iam::{example}:role/{role_name}", 2),
    ]
    return lines + _org_hint(found, role_name)


def _why_single_account(found: Discovered) -> str:
    """Why `aws.accounts` holds only the caller's account, naming what is missing."""
    if found.org_role == "none":
        return (
            f"account {found.account} is not in an AWS organization (organizations:DescribeOrganization: "
            "AWSOrganizationsNotInUseException): this account only."
        )
    if found.org_role == "unknown":
        err = found.org_error
        return (
            f"{err.text() if err else 'organizations:DescribeOrganization failed'}: whether account {found.account} "
            "belongs to an organization is unknown, so this config covers this account only. From the management "
            "account (or a delegated administrator), grant organizations:DescribeOrganization and "
            "organizations:ListAccounts and run `soc2-evidence init` again, or set organization.discover: true "
            "below by hand."
        )
    err = found.accounts_error
    where = f"organization {found.org_id} (management account {found.management_account})"
    if found.org_role == "management":
        return (
            f"account {found.account} is the management account of {where}, but "
            f"{err.text() if err else 'organizations:ListAccounts failed'}: grant organizations:ListAccounts and "
            "run `soc2-evidence init` again, or set organization.discover: true below by hand. Until then: this "
            "account only."
        )
    return (
        f"account {found.account} is a member of {where} and cannot list its accounts "
        f"({err.text() if err else 'organizations:ListAccounts failed'}). To cover every account, run "
        "`soc2-evidence init` with credentials of the management account or a delegated administrator, or "
        "list the accounts below with their role_arn. Until then: this account only."
    )


def _org_hint(found: Discovered, role_name: str) -> list[str]:
    """The organization block, commented out, for a caller that could not use it."""
    lines = _comment(
        "AWS Organizations discovery (from the management account or a delegated administrator):", indent=2
    )
    return [
        *lines,
        _raw_comment("organization:", 2),
        _raw_comment("  discover: true", 2),
        _raw_comment(f"  role_name: {scalar(role_name)}", 2),
    ]


def _discovered_org(found: Discovered, role_name: str) -> list[str]:
    active = [a for a in found.accounts if a.active]
    inactive = [a for a in found.accounts if not a.active]
    who = "the management account" if found.org_role == "management" else "a delegated administrator"
    lines = _comment(
        f"Organization {found.org_id} (management account {found.management_account}); account "
        f"{found.account} is {who}. Every run lists the ACTIVE accounts (organizations:ListAccounts) and "
        f"enters each through the role below, which must exist in every account (the management account "
        "too): soc2-evidence permissions --for member / --for management.",
        indent=2,
    )
    lines += [
        "  organization:",
        _key(4, "discover", True, "every ACTIVE account, listed at run time"),
        _key(4, "role_name", role_name, "the role assumed in every discovered account"),
        _raw_comment("exclude: ['333333333333']   # account ids to leave out", 4),
    ]
    lines += _comment(f"Accounts now ({len(found.accounts)}: {len(active)} active, {len(inactive)} not):", indent=2)
    width = max((len(_clean(a.name)) for a in found.accounts), default=0)
    width = min(width, 40)
    for a in found.accounts:
        state = a.state if a.active else f"{a.state}: skipped by discovery, not assessed"
        mark = " (management)" if a.id == found.management_account else ""
        lines.append(_raw_comment(f"  {a.id}  {_clean(a.name)[:40].ljust(width)}  {state}{mark}", 2))
    return lines


def _gcp(projects: Sequence[str]) -> list[str]:
    if projects:
        return ["", "gcp:", _key(2, "projects", list(projects), "GCP project ids (Application Default Credentials)")]
    lines = ["", *_comment("GCP (Application Default Credentials): uncomment to assess Google Cloud too.")]
    return [
        *lines,
        _raw_comment("gcp:"),
        _raw_comment("  projects: discover                  # every ACTIVE project the credentials can see"),
        _raw_comment("  # projects: [my-project-id]         # or a list of project ids"),
    ]


def _endpoints() -> list[str]:
    lines = ["", *_comment("Live TLS scans of your public endpoints (optional):")]
    example = (
        "endpoints:",
        "  discover: false                     # also scan ALB/NLB, CloudFront and API Gateway endpoints found",
        "  targets:",
        "    - host: app.example.com",
        "      port: 443",
    )
    return lines + [_raw_comment(line) for line in example]


def _thresholds(defaults: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every check's thresholds with their defaults, commented: uncomment a line to change it."""
    lines = ["", *_comment("Thresholds: the defaults of every check that has any; uncomment to override.")]
    lines.append(_raw_comment("thresholds:"))
    for check_id in sorted(defaults):
        values = dict(defaults[check_id])
        if check_id == PRIVILEGED_ROLES_CHECK:  # follows the role names above unless set explicitly
            values.pop("tool_roles", None)
        if not values:
            continue
        body = yaml.safe_dump({check_id: values}, default_flow_style=None, allow_unicode=True, width=1_000_000)
        lines += [_raw_comment(f"  {line}") for line in body.splitlines()]
    return lines


def threshold_defaults(specs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """check id -> its thresholds' defaults, from the registry's specs (anything with `thresholds`)."""
    return {cid: dict(getattr(spec, "thresholds", None) or {}) for cid, spec in specs.items()}


def account_lines(accounts: Iterable[OrgAccount]) -> list[str]:
    """The accounts for the console summary: id, name, state."""
    listed = list(accounts)
    width = max((len(_clean(a.name)[:40]) for a in listed), default=0)
    return [f"    {a.id}  {_clean(a.name)[:40].ljust(width)}  {a.state}" for a in listed]
