"""`soc2-evidence init`: write a starting config from the caller's AWS identity and organization.

The credentials are checked first with preflight's own check (flows.preflight), so a missing
profile or no credentials at all exits 2 with the same one message `run` gives. Discovery
(flows.init_discovery) never fails on a denied call: the file is still written, with a comment
naming the missing permission and what to fill in by hand (flows.init_config renders it).

The file is never half-written and a user's file is never lost: it is written to a temporary
file next to the target, loaded with the project's config loader (the round trip must hold),
then linked into place, which fails if a file appeared meanwhile; `--force` renames over it.
Registered by flows.cli through register(subparsers).
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path

from flows.cli_common import EXIT_OK, BadInput
from flows.config.aws import DEFAULT_ORG_ROLE
from flows.config.fields import _GCP_PROJECT_RE, _ROLE_NAME_RE
from flows.init_config import InitOptions, account_lines, render_config, threshold_defaults
from flows.init_discovery import Discovered, discover

DEFAULT_FILE = "soc2-evidence.yaml"
SUMMARY_ACCOUNTS = 20  # accounts printed by the summary; the file lists them all
# Variables that would win over --profile in boto3's credential chain (as `aws --profile` ignores them).
ENV_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")


def _role_name(text: str) -> str:
    if not _ROLE_NAME_RE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(f"expected an IAM role name (1-64 letters, digits or +=,.@_-), got {text!r}")
    return text.strip()


def _gcp_project(text: str) -> str:
    if not _GCP_PROJECT_RE.fullmatch(text.strip()):
        raise argparse.ArgumentTypeError(
            f"expected a GCP project id (6-30 lowercase letters, digits or hyphens), got {text!r}"
        )
    return text.strip()


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser(
        "init", help="write a starting config from your AWS identity and organization (accounts, enabled regions)"
    )
    init.add_argument(
        "--config",
        "--output",
        "-o",
        dest="output",
        default=DEFAULT_FILE,
        metavar="FILE",
        help=f"the config file to write, the one `run --config` then reads (default {DEFAULT_FILE})",
    )
    init.add_argument("--force", action="store_true", help="replace FILE if it exists")
    init.add_argument(
        "--role-name",
        type=_role_name,
        default=DEFAULT_ORG_ROLE,
        help=f"the role assumed in every discovered account (default {DEFAULT_ORG_ROLE})",
    )
    init.add_argument("--profile", help="the AWS profile to use (default: AWS_PROFILE or the default credentials)")
    init.add_argument(
        "--gcp-project",
        dest="gcp_projects",
        action="append",
        type=_gcp_project,
        default=[],
        metavar="ID",
        help="a GCP project to assess (repeatable); without it the gcp: section is a commented example",
    )
    init.set_defaults(func=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    from collectors.registry import specs
    from flows.preflight import base_credentials_problem

    target = Path(args.output).expanduser()
    check_target(target, args.force)  # before any call: an existing file is refused at once
    if args.profile:
        use_profile(args.profile)
    problem = base_credentials_problem()
    if problem:
        raise BadInput(f"cannot write a config from your AWS identity: {problem}")
    found = discover()
    options = InitOptions(
        today=date.today(),
        role_name=args.role_name,
        gcp_projects=tuple(dict.fromkeys(args.gcp_projects)),
        profile=args.profile,
        thresholds=threshold_defaults(specs()),
        file_name=target.name,
    )
    write_config(target, render_config(found, options), force=args.force)
    print("\n".join(summary(found, target, options)))
    return EXIT_OK


def use_profile(profile: str) -> None:
    """Use the named profile for this process, as `aws --profile` does (environment keys ignored)."""
    os.environ["AWS_PROFILE"] = profile
    for name in ENV_CREDENTIALS:
        os.environ.pop(name, None)


def check_target(target: Path, force: bool) -> None:
    """BadInput unless `target` can be written: its folder exists; it does not exist or --force."""
    if target.is_dir():
        raise BadInput(f"{target}: is a directory; give the config file's path with --config FILE")
    if not target.parent.is_dir():
        raise BadInput(f"{target}: folder {target.parent} does not exist")
    if target.exists() and not force:
        raise BadInput(f"{target} already exists: not replaced (use --force to replace it, or --config OTHER.yaml)")


def write_config(target: Path, text: str, *, force: bool) -> None:
    """Write `text` to `target` atomically, after checking that it loads as a config.

    Without `force` the temporary file is hard-linked into place, which fails if `target` exists
    (even one created since check_target); a filesystem without hard links falls back to a check
    then a rename."""
    from flows.config import ConfigError, load_config
    from reports import tempfiles

    tmp = tempfiles.new_file(target)  # registered: Ctrl-C removes it
    try:
        tmp.write_text(text, encoding="utf-8")
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # an ordinary file, not mkstemp's 0600
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        try:
            load_config(tmp)
        except ConfigError as exc:  # a defect of the renderer: never write a file `run` rejects
            raise RuntimeError(f"the generated config does not load: {exc.message}") from None
        if force:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise BadInput(f"{target} already exists: not replaced (use --force to replace it)") from None
        except OSError:  # no hard links here (some network or FUSE filesystems)
            if target.exists():
                raise BadInput(f"{target} already exists: not replaced (use --force to replace it)") from None
            os.replace(tmp, target)
    except OSError as exc:
        raise BadInput(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
        tempfiles.release(tmp)


def summary(found: Discovered, target: Path, options: InitOptions) -> list[str]:
    """What init found and wrote, and what to do next (stdout)."""
    lines = [f"Wrote {target}", f"  identity: {found.arn} (account {found.account})"]
    if found.can_discover:
        active = sum(1 for a in found.accounts if a.active)
        inactive = len(found.accounts) - active
        lines.append(
            f"  organization {found.org_id}: {len(found.accounts)} account(s), {active} active"
            + (f", {inactive} not active (skipped)" if inactive else "")
            + f" -> aws.organization.discover: true, role {options.role_name}"
        )
        lines += account_lines(found.accounts[:SUMMARY_ACCOUNTS])
        if len(found.accounts) > SUMMARY_ACCOUNTS:
            lines.append(f"  ... and {len(found.accounts) - SUMMARY_ACCOUNTS} more (listed in {target.name})")
    else:
        why = {
            "none": "not in an AWS organization",
            "member": f"a member of {found.org_id} that cannot list its accounts",
            "management": f"management account of {found.org_id}, but its accounts could not be listed",
            "unknown": "organization unknown (DescribeOrganization failed)",
        }.get(found.org_role, found.org_role)
        lines.append(f"  accounts: {found.account} only ({why})")
    if found.regions is not None:
        lines.append(f"  regions: {len(found.regions)} enabled, all examined by default (aws.regions left unset)")
    else:
        lines.append("  regions: enabled regions unknown (ec2:DescribeRegions failed)")
    for denied in found.denied():
        lines.append(f"  NOTE: {denied.text()}: see the NOTE comments in {target.name}")
    run = f"soc2-evidence run --config {target}"
    if options.profile:
        run = f"AWS_PROFILE={options.profile} {run}"
    lines += ["", "Next:", f"  1. review {target}: the organization's name, the period, every TODO and NOTE"]
    if found.can_discover or found.org_role in ("member", "unknown", "management"):
        lines.append(
            f"  2. create the role {options.role_name} in every account: soc2-evidence permissions --for member "
            "(its policy) and --for management (the runner's)"
        )
    else:
        lines.append("  2. the identity that runs soc2-evidence needs: soc2-evidence permissions --for member")
    lines.append(f"  3. {run}")
    return lines
