"""Preflight: before a run collects anything, check what would make the whole run worthless.

Run by `soc2-evidence run` after the config is validated and before the flow starts, in
seconds. Each check either passes, warns (the run goes on and will exit 3, incomplete) or
fails (exit 2, one message naming what to fix):

- the output: a directory is created if needed and a probe file written and removed (a
  read-only place, /proc/self or a 5,000-character path fails here, not as a traceback
  minutes in); another run holding the output's lock fails. A bucket must exist and be
  listable. Uploading is NOT probed: under Object Lock (S3, COMPLIANCE) or a retention
  policy (GCS) a probe object could never be removed, and the locker is create-only by
  design; a refused upload is reported at the end of the run, whose files stay in the
  local staging folder.
- AWS, when accounts are configured or discovered: the base credentials resolve
  (sts:GetCallerIdentity) - a missing or wrong profile, no credentials at all or rejected
  keys fail; then every account is entered (assume its role, GetCallerIdentity there) in
  parallel. An account that cannot be entered among good ones is a warning; when none
  can, the run fails. aws.identity_center naming an account out of scope is a warning.
  Each call has 3 attempts (throttling is retried with backoff); a call still throttled
  after them proves nothing about credentials or roles: a warning that says "throttled",
  and the run goes on with its own aws.max_attempts.
- GCP, when projects are configured: Application Default Credentials resolve (the storage
  emulator, STORAGE_EMULATOR_HOST, needs none).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from collectors.aws.base import THROTTLING_CODES, AwsTuning, clear_credentials_cache, new_session
from flows.accounts import AccountTarget, identify
from flows.cli_common import BadInput
from flows.config import AppConfig
from flows.config.fields import check_directory_shape

# Short timeouts and 3 attempts in all (throttling retried, ~3 s of backoff at most):
# preflight must answer in seconds, not sit in backoff.
PREFLIGHT_TUNING = AwsTuning(max_attempts=3, connect_timeout=5.0, read_timeout=15.0, concurrency=16)
_THROTTLED_GOES_ON = "; the run goes on and retries each call up to aws.max_attempts times"
_MAX_LISTED = 5


@dataclass
class Preflight:
    """What preflight found: `problems` end the run (exit 2), `warnings` are printed and the run goes on."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def message(self) -> str:
        """The one message an operator reads: every problem, each saying what to fix."""
        return "preflight failed:\n" + "\n".join(f"  - {p}" for p in self.problems)


def run_preflight(cfg: AppConfig, output: str | None = None) -> Preflight:
    """Every check (module docstring); `output` overrides the config's output: (as --output does)."""
    result = Preflight()
    check_output(output or cfg.output, result)
    check_aws(cfg, result)
    check_gcp(cfg, result)
    return result


def preflight_or_exit(cfg: AppConfig, output: str | None = None) -> None:
    """Print preflight's warnings; raise BadInput (exit 2, one message) when it failed."""
    result = run_preflight(cfg, output)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not result.ok:
        raise BadInput(result.message())


def check_output(where: str, result: Preflight) -> None:
    """The output can be written (directory) or listed (bucket), and no other run holds it."""
    from reports.locker import LocationError, LockerError, open_locker, parse_location

    try:
        location = parse_location(where)
    except LocationError as exc:
        result.problems.append(f"output {where}: {exc}")
        return
    if location.is_remote:
        try:
            locker = open_locker(location)
            result.warnings.extend(locker.check())
            locker.list_runs()
        except LockerError as exc:
            result.problems.append(f"output {location}: {exc}")
        except Exception as exc:  # credentials, network: anything that stops the upload later
            result.problems.append(f"output {location}: cannot use the bucket: {type(exc).__name__}: {exc}")
        return
    problem = directory_problem(Path(where))
    if problem:
        result.problems.append(problem)
        return
    from reports.locker.runlock import lock_holder

    holder = lock_holder(Path(where))
    if holder is not None:
        result.problems.append(holder.message(Path(where)))


def directory_problem(path: Path) -> str | None:
    """Why a run could not write into `path`, or None: its shape (config rules), then a probe file."""
    fix = "choose a directory you can write to (output: in the config, or --output)"
    try:
        check_directory_shape(path)
    except ValueError as exc:
        return f"output {_short(path)}: {exc}"
    probe = path / f".soc2-evidence-preflight-{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"preflight\n")
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return f"output {_short(path)}: cannot write there ({exc.strerror or type(exc).__name__}): {fix}"
    return None


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else f"{text[:60]}...{text[-40:]} ({len(text)} characters)"


def check_aws(cfg: AppConfig, result: Preflight) -> None:
    """Base credentials, then every account entered; nothing to do when AWS is not configured."""
    if not cfg.aws.accounts and not cfg.aws.organization.discover:
        return
    problem, throttled = check_base_credentials()
    if problem and throttled:
        result.warnings.append(problem + _THROTTLED_GOES_ON)
    elif problem:
        result.problems.append(problem)
        return
    from flows.run import resolve_targets

    targets, discovery = resolve_targets(cfg, PREFLIGHT_TUNING)
    if discovery is not None and discovery.failure is not None:
        err = discovery.failure.error
        why = f"{err.code}: {err.message}" if err else "failed"
        text = f"cannot list the organization's accounts (organizations:ListAccounts): {why}"
        if err is not None and err.code in THROTTLING_CODES:  # unknown, not refused: the run tries again
            attempts = PREFLIGHT_TUNING.max_attempts
            result.warnings.append(f"{text}, still throttled after {attempts} attempts{_THROTTLED_GOES_ON}")
        elif not targets:
            result.problems.append(f"{text}: no AWS account to assess; grant the permission or list accounts")
            return
        else:
            result.warnings.append(f"{text}; the run assesses the configured accounts only and will exit 3")
    from flows.identity_center import not_in_scope

    outside = not_in_scope(cfg, targets)
    if outside is not None and outside.error is not None:
        result.warnings.append(f"{outside.error.message}; its Identity Center checks will be `error` (exit 3)")
    clear_credentials_cache()  # a role whose trust was revoked must show now, not hide behind cached credentials
    found = unassumable_accounts(targets)
    clear_credentials_cache()  # and the run enters every account afresh
    failed = [(t, why) for t, why, throttled in found if not throttled]
    for t, why, throttled in found:
        if throttled:
            result.warnings.append(f"AWS account {t.id} ({t.name}) could not be checked: {why}{_THROTTLED_GOES_ON}")
    if failed and len(failed) == len(targets):
        listed = "; ".join(f"{t.id}: {why}" for t, why in failed[:_MAX_LISTED])
        more = f" (and {len(failed) - _MAX_LISTED} more)" if len(failed) > _MAX_LISTED else ""
        result.problems.append(
            f"no AWS account can be entered ({listed}{more}): check the role names/ARNs and their trust policies"
        )
        return
    for t, why in failed:
        result.warnings.append(
            f"AWS account {t.id} ({t.name}) cannot be entered: {why}; its checks will be `error` "
            "and the run will exit 3 (incomplete)"
        )


def base_credentials_problem() -> str | None:
    """None when the default credential chain works (sts:GetCallerIdentity), else what to fix."""
    return check_base_credentials()[0]


def check_base_credentials() -> tuple[str | None, bool]:
    """(what to fix or None, whether STS throttled the check: then the problem is not the credentials)."""
    import botocore.exceptions as bx

    try:
        new_session().client("sts", config=PREFLIGHT_TUNING.botocore_config()).get_caller_identity()
    except bx.ProfileNotFound as exc:
        profile = exc.kwargs.get("profile", "?")
        return (
            f"AWS profile {profile!r} does not exist: set AWS_PROFILE to a profile of your "
            "~/.aws/config (aws configure list-profiles), or unset it"
        ), False
    except (bx.NoCredentialsError, bx.PartialCredentialsError) as exc:
        return (
            f"no AWS credentials ({exc}): set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
            "or run where an instance/task role is available"
        ), False
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "?")), str(error.get("Message", exc))[:300]
        if code in THROTTLING_CODES:
            return (
                f"AWS STS throttled sts:GetCallerIdentity ({code}: {message}) after "
                f"{PREFLIGHT_TUNING.max_attempts} attempts, so the credentials could not be checked "
                "(a rate limit, not a credentials problem)"
            ), True
        return (
            f"AWS credentials were rejected by sts:GetCallerIdentity ({code}: {message}): "
            "refresh or replace them (expired session? wrong keys?)"
        ), False
    except bx.BotoCoreError as exc:
        return f"cannot reach AWS STS to check the credentials ({exc}): check the network or AWS_ENDPOINT_URL", False
    return None, False


def unassumable_accounts(targets: list[AccountTarget]) -> list[tuple[AccountTarget, str, bool]]:
    """The accounts that could not be entered, each with the reason and whether it was throttling
    (after PREFLIGHT_TUNING's attempts: unknown, not refused). In parallel: seconds for hundreds."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(PREFLIGHT_TUNING.concurrency, len(targets))) as pool:
        identities = list(pool.map(lambda t: identify(t, PREFLIGHT_TUNING), targets))
    out = []
    for t, ident in zip(targets, identities, strict=True):
        if not ident.ok:
            err = ident.call.error
            op = f"{ident.call.service}:{ident.call.operation}"
            if err is not None and err.code in THROTTLING_CODES:
                attempts = PREFLIGHT_TUNING.max_attempts
                out.append((t, f"{op} throttled ({err.code}: {err.message[:200]}) after {attempts} attempts", True))
            else:
                out.append((t, f"{op} {err.code}: {err.message[:200]}" if err else f"{op} failed", False))
    return out


def check_gcp(cfg: AppConfig, result: Preflight) -> None:
    """GCP credentials, when projects are configured or discovered (the storage emulator takes anonymous requests)."""
    if not (cfg.gcp.projects or cfg.gcp.discover) or os.environ.get("STORAGE_EMULATOR_HOST"):
        return
    problem = gcp_credentials_problem()
    if problem:
        result.problems.append(problem)


def gcp_credentials_problem() -> str | None:
    """None when Application Default Credentials resolve, else what to fix."""
    try:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError
    except ImportError:  # pragma: no cover - a dependency of the project
        return "google-auth is not installed: reinstall soc2-evidence"
    try:
        google.auth.default()
    except DefaultCredentialsError as exc:
        first = str(exc).split(". ")[0]
        return (
            f"no GCP credentials ({first}): set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
            "key file, or run `gcloud auth application-default login`"
        )
    return None
