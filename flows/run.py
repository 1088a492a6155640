"""The evidence run: one Prefect flow, tasks at the grain (account, region, collector).

Order of a run: resolve the accounts (config + Organizations discovery),
identify each (assume role, GetCallerIdentity), fan out one task per
(account, region, collector), then map results to controls and write
findings.jsonl, controls.json, the workbook and, last, manifest.json
(flows.finish: the run's finishing steps).
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from collectors.aws.base import GLOBAL_REGION, AwsTuning, clear_credentials_cache
from collectors.endpoint.base import TlsTuning
from collectors.endpoint.discovery import DISCOVERY_COLLECTORS, DiscoveredEndpoint, discover_endpoints
from collectors.evidence import ApiCall, ApiError, EvidenceBundle, Scope
from collectors.gcp.base import GcpTuning
from collectors.registry import checks, collectors
from controls.catalog import load_catalog
from flows.access_review import REVIEWS
from flows.accounts import AccountTarget, Discovery, Identity, discover_accounts, identify
from flows.collect import (
    ScopeOutcome,
    Target,
    Tunings,
    collect_scope,
    crashed_outcome,
    load_bundle_files,
    unreachable_outcome,
    write_bundle,
)
from flows.config import AppConfig, Endpoint, load_config
from flows.console import showing
from flows.finish import RunOutcome, finish_run
from flows.gcp_projects import resolve_projects
from flows.identity_center import COLLECTOR as SSO_COLLECTOR
from flows.identity_center import identity_center_plan, not_in_scope
from flows.interrupt import reclaim_sigterm, track_run
from flows.prefect_ui import name_flow_run, progress_artifact
from flows.progress import RunProgress
from flows.regions import SCOPE_COLLECTOR, plan_regions
from flows.submit_order import long_first
from flows.task_runners import api_for_task_runner, task_runner_for
from reports.locker import DRIFT_FILES, Locker, open_locker, parse_location
from reports.store import RunWriter, drift_baseline, new_run_id


def tunings_for(cfg: AppConfig, concurrency: int | None) -> tuple[Tunings, int]:
    """Client behaviour per provider, and the number of concurrent tasks."""
    per_task = concurrency or cfg.orchestration.per_task_concurrency
    workers = concurrency or cfg.orchestration.max_workers
    tunings = Tunings(
        aws=AwsTuning(retry_mode=cfg.aws.retry_mode, max_attempts=cfg.aws.max_attempts, concurrency=per_task),
        gcp=GcpTuning(concurrency=per_task),
        tls=TlsTuning(
            timeout_seconds=cfg.endpoints.timeout_seconds,
            ca_bundle=str(cfg.endpoints.ca_bundle) if cfg.endpoints.ca_bundle else None,
        ),
    )
    return tunings, workers


def resolve_targets(cfg: AppConfig, tuning: AwsTuning) -> tuple[list[AccountTarget], Discovery | None]:
    explicit = [AccountTarget(a.id, a.name or a.id, a.role_arn, tuple(a.regions), "config") for a in cfg.aws.accounts]
    discovery = None
    org = cfg.aws.organization
    if org.discover:
        discovery = discover_accounts(org.role_name, tuple(org.exclude), tuple(cfg.aws.regions or ()), tuning)
    known = {t.id for t in explicit}
    targets = list(explicit)
    excluded = set(org.exclude)
    targets = [t for t in targets if t.id not in excluded]
    if discovery:
        targets.extend(t for t in discovery.targets if t.id not in known)
    return targets, discovery


# No result caching or persistence: every run must collect afresh (a cached
# answer would be stale evidence), and hashing the inputs only costs time.
@task(
    name="identify-account",
    retries=1,
    retry_delay_seconds=1,
    task_run_name="identify/{target.id}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def identify_task(target: AccountTarget, tuning: AwsTuning) -> Identity:
    return identify(target, tuning)


@task(
    name="collect",
    retries=2,
    retry_delay_seconds=2,
    task_run_name="{collector_id}/{target.account}/{region}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def collect_task(
    target: Target,
    region: str,
    collector_id: str,
    run_path: str,
    thresholds: Mapping[str, Mapping[str, Any]],
    as_of: datetime,
    tunings: Tunings,
) -> ScopeOutcome:
    return collect_scope(
        target=target,
        region=region,
        collector_id=collector_id,
        run_path=run_path,
        thresholds=thresholds,
        as_of=as_of,
        tunings=tunings,
    )


def _scopes_for(provider: str, regions: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(collector, region) pairs of a provider: regional collectors per region, global ones once."""
    out = []
    for cid, spec in sorted(collectors().items()):
        if spec.provider != provider or spec.stage != "collect":
            continue
        if spec.per_region:
            out.extend((cid, r) for r in regions)
        else:
            out.append((cid, GLOBAL_REGION))
    return out


def endpoint_target(e: Endpoint) -> Target:
    host = f"[{e.host}]" if ":" in e.host else e.host
    return Target("endpoint", f"{host}:{e.port}", endpoint=(e.host, e.port, e.sni, e.address))


def _gather(pending: Sequence[tuple[Scope, Any]]) -> list[ScopeOutcome]:
    """Wait for submitted tasks; one that failed after its retries becomes
    `error` results for its scope, never a gap."""
    out = []
    for scope, fut in pending:
        fut.wait()
        if fut.state.is_completed():
            out.append(fut.result())
            continue
        try:
            fut.result(raise_on_failure=True)
        except Exception as exc:
            out.append(crashed_outcome(scope, exc))
        else:
            out.append(crashed_outcome(scope, str(fut.state.message)))
    return out


@flow(name="soc2-evidence-run", log_prints=True)
def evidence_run(
    config_path: str,
    output: str | None = None,
    concurrency: int | None = None,
    accounts: list[str] | None = None,
) -> RunOutcome:
    """Collect, evaluate and report one evidence run (see module docstring).

    `accounts` restricts the run to these AWS account IDs / GCP project IDs
    (one run per account, dispatched to many workers: flows.deploy.dispatch_accounts);
    such a run compares its drift only with earlier runs of the same accounts."""
    cfg = load_config(config_path)
    return execute_run(cfg, output=Path(output) if output else None, concurrency=concurrency, accounts=accounts)


def run_evidence(
    config_path: str | Path,
    *,
    output: Path | None = None,
    concurrency: int | None = None,
    accounts: list[str] | None = None,
) -> RunOutcome:
    """Run the flow in this process (the task runner comes from the config's orchestration:)."""
    cfg = load_config(config_path)
    with api_for_task_runner(cfg.orchestration):  # Dask workers must reach this flow's API
        return evidence_run(str(config_path), str(output) if output else None, concurrency, accounts)


def execute_run(
    cfg: AppConfig,
    *,
    output: Path | None = None,
    concurrency: int | None = None,
    accounts: list[str] | None = None,
) -> RunOutcome:
    reclaim_sigterm()  # Prefect's engine swapped in its own (slow, graceful) SIGTERM handler
    logger = get_run_logger()
    location = parse_location(str(output)) if output else cfg.output_location
    locker = open_locker(location)
    for warning in locker.check():  # e.g. a bucket without Object Lock
        logger.warning(warning)
    # a bucket: the run is assembled in a local staging folder that is kept
    # (the summary and workbook paths stay valid), then uploaded whole
    keep = Path(tempfile.mkdtemp(prefix="soc2-evidence-")) if location.is_remote else None
    _, workers = tunings_for(cfg, concurrency)
    # The libraries' long-lived objects (Prefect, pydantic, botocore models: millions)
    # are not garbage; without this every full collection, triggered by the
    # collectors' many small allocations, rescans them all (measured: ~30 ms per task).
    gc.freeze()
    try:
        return _run_staged(cfg, location, locker, keep, workers, concurrency, accounts, logger)
    finally:
        gc.unfreeze()


def _run_staged(
    cfg: AppConfig,
    location: Any,
    locker: Locker,
    keep: Path | None,
    workers: int,
    concurrency: int | None,
    accounts: list[str] | None,
    logger: Any,
) -> RunOutcome:
    # the task runner is opened here, not taken from the flow's decorator, so a
    # run started by a deployment or `serve` honours orchestration: too
    progress = RunProgress()  # shown by the CLI (flows.console) and in the Prefect UI
    # one run at a time on the output (a lock file; RunLocked when another run holds it)
    with (
        locker.stage(keep=keep) as out,
        locker.run_lock(accounts),
        task_runner_for(cfg.orchestration, workers) as runner,
        showing(progress),
        progress_artifact(progress),
    ):
        return _execute_in(cfg, out.resolve(), locker, runner, concurrency, accounts, logger, progress)


def _execute_in(
    cfg: AppConfig,
    out_dir: Path,
    locker: Locker,
    runner: Any,
    concurrency: int | None,
    accounts: list[str] | None,
    logger: Any,
    progress: RunProgress,
) -> RunOutcome:
    all_checks = checks()
    catalog = load_catalog(cfg.catalog, set(all_checks))
    started = datetime.now(UTC)
    as_of = started
    run_id = new_run_id(started)
    # the runs of the same scope (a run restricted to some accounts follows runs of
    # those accounts only): the newest is the chain's predecessor, the newest that
    # assessed everything is the drift baseline (a partial run never is)
    previous = [r for r in locker.completed_runs(out_dir) if r.manifest.get("accounts_filter") == accounts]
    if (baseline := drift_baseline(previous)) and locker.location.is_remote:
        locker.fetch_run(baseline.run_id, baseline.path, DRIFT_FILES)
    writer = RunWriter.create(out_dir, run_id)
    track_run(writer.path)  # Ctrl-C: marked interrupted, temporary files swept
    progress.run_id = run_id
    name_flow_run(run_id)
    tunings, workers = tunings_for(cfg, concurrency)
    tuning = tunings.aws
    clear_credentials_cache()
    t0 = time.monotonic()
    pending: list[tuple[Scope, Any]] = []

    def submit(target: Target, region: str, cid: str) -> None:
        scope = Scope(target.provider, target.account, region, cid)
        params = {
            "target": target,
            "region": region,
            "collector_id": cid,
            "run_path": str(writer.path),
            "thresholds": cfg.thresholds,
            "as_of": as_of,
            "tunings": tunings,
        }
        fut = runner.submit(collect_task, params)
        progress.watch(fut)
        pending.append((scope, fut))

    # GCP projects and TLS endpoints need no account identification: start them first
    gcp = resolve_projects(cfg.gcp.projects, cfg.gcp.discover, tunings.gcp)  # None: no discovery asked
    for project in gcp.projects if gcp else cfg.gcp.projects:
        if accounts is None or project in accounts:
            for cid, region in _scopes_for("gcp"):
                submit(Target("gcp", project), region, cid)
    for endpoint in cfg.endpoints.targets if accounts is None else ():  # per-account runs skip endpoints
        for cid, region in _scopes_for("endpoint"):
            submit(endpoint_target(endpoint), region, cid)

    targets, discovery = resolve_targets(cfg, tuning)
    if accounts is not None:
        targets = [t for t in targets if t.id in accounts]
    outcomes: list[ScopeOutcome] = []
    evidence_files: list[dict[str, Any]] = []
    api_calls = 0

    def settle(done: list[ScopeOutcome]) -> None:
        """Scopes the flow settles itself, without a task: in the findings and in the progress counts."""
        outcomes.extend(done)
        progress.add_finished(done)

    if gcp is not None and gcp.recorder is not None:  # the projects.list pages are evidence
        evidence_files += write_bundle(gcp.recorder.bundle, writer)
        api_calls += gcp.recorder.api_calls
        progress.add_calls(gcp.recorder.api_calls)
    if discovery is not None and discovery.recorder is not None:
        evidence_files += write_bundle(discovery.recorder.bundle, writer)
        api_calls += discovery.recorder.api_calls
        progress.add_calls(discovery.recorder.api_calls)
        if discovery.failure is not None:
            # every check of the accounts that could not be listed is `error` in account "*", the access
            # reviews of those accounts included (they are per-account checks too), never a silent gap
            ref = discovery.recorder.bundle.ref("organizations", "ListAccounts")
            kinds = [
                (s.provider, cid) for cid, s in sorted(collectors().items()) if s.provider in ("aws", "access_review")
            ]
            settle([unreachable_outcome(Scope(p, "*", "*", cid), discovery.failure, ref) for p, cid in kinds])
            logger.warning("AWS Organizations discovery failed: %s", discovery.failure.error)

    callers: dict[str, str] = {}
    # access reviews: the config's directory, else <output>/access-reviews; none
    # for a bucket output (the access-review checks then report `error`)
    reviews_root = cfg.access_reviews.directory or (None if locker.location.is_remote else out_dir / REVIEWS)
    id_futures = {t.id: runner.submit(identify_task, {"target": t, "tuning": tuning}) for t in targets}
    identities: dict[str, Identity] = {}
    for t in targets:
        fut = id_futures[t.id]
        fut.wait()
        if fut.state.is_completed():
            identities[t.id] = fut.result()
        else:
            call = ApiCall(
                "sts",
                "GetCallerIdentity",
                {},
                "",
                None,
                ApiError("IdentifyCrashed", str(fut.state.message), "sts:GetCallerIdentity"),
            )
            identities[t.id] = Identity(t.id, None, call)
    # global collectors (S3: the longest) need no region plan: started while the regions are planned, on
    # the workers the plans leave free (never ahead of a plan, which every regional task waits for)
    entered = [t for t in targets if identities[t.id].ok]
    early = [(Target("aws", t.id, t.role_arn), r, c) for t in entered for c, r in _scopes_for("aws")]
    early = long_first([e for e in early if e[2] != SSO_COLLECTOR])[: max(0, workers - len(entered))]
    for target, region, cid in early:
        submit(target, region, cid)
    started_early = {(target.account, cid) for target, _, cid in early}
    # per account: the regions to examine (every enabled one unless configured), as aws.scope evidence
    plans, scope_outcomes = plan_regions(
        runner,
        targets,
        identities,
        cfg.aws.excluded_regions(),
        run_path=str(writer.path),
        thresholds=cfg.thresholds,
        as_of=as_of,
        tuning=tuning,
    )
    settle(scope_outcomes)
    sso_plan = identity_center_plan(cfg, targets, {t.id: plans[t.id].examined for t in targets})
    if accounts is None and (bad := not_in_scope(cfg, targets)) is not None and cfg.aws.identity_center:
        where = Scope("aws", cfg.aws.identity_center.account, GLOBAL_REGION, SSO_COLLECTOR)
        settle([unreachable_outcome(where, bad)])
    queued: list[tuple[Target, str, str]] = []
    for t in targets:
        ident = identities[t.id]
        callers[t.id] = ident.arn or f"error: {ident.call.error.code}: {ident.call.error.message}"  # type: ignore[union-attr]
        rec_scope = Scope("aws", t.id, GLOBAL_REGION, "aws.sts")
        bundle = EvidenceBundle(rec_scope)
        bundle.add(ident.call)
        evidence_files += write_bundle(bundle, writer)
        api_calls += 1
        progress.add_calls(1)  # an account not entered: its scopes' errors are counted below
        ident_ref = bundle.ref(ident.call.service, ident.call.operation)
        # an account that cannot be entered: every regional check is `error` in its configured regions, or in
        # region "*" when its regions were to be discovered (never a silent gap), and aws.scope too
        regions = plans[t.id].examined if ident.ok else (plans[t.id].examined or ("*",))
        for provider, scopes in (
            ("aws", _scopes_for("aws", regions) + ([] if ident.ok else [(SCOPE_COLLECTOR, GLOBAL_REGION)])),
            ("access_review", _scopes_for("access_review")),
        ):
            for cid, region in scopes:
                if cid == SSO_COLLECTOR and t.id not in sso_plan:
                    continue  # Identity Center is read from the account that administers it
                if provider == "aws" and (t.id, cid) in started_early:
                    continue
                if not ident.ok:
                    settle([unreachable_outcome(Scope(provider, t.id, region, cid), ident.call, ident_ref)])
                    continue
                reviews = str(reviews_root) if provider == "access_review" and reviews_root else None
                target = Target(provider, t.id, t.role_arn, reviews_dir=reviews, identity_center=sso_plan.get(t.id))
                queued.append((target, region, cid))
    for target, region, cid in long_first(queued):
        submit(target, region, cid)
    outcomes += _gather(pending)
    discovered: list[DiscoveredEndpoint] = []
    if cfg.endpoints.discover and accounts is None:
        # endpoints named by this run's own cloud evidence: ALBs, CloudFront, API Gateway
        sources = [o for o in outcomes if o.scope.collector in DISCOVERY_COLLECTORS and o.evidence]
        bundles = load_bundle_files(writer.path, [e for o in sources for e in o.evidence])
        configured = {(e.host.lower(), e.port) for e in cfg.endpoints.targets}
        discovered = [d for d in discover_endpoints(bundles.values()) if (d.host, d.port) not in configured]
        pending.clear()
        for d in discovered:
            for cid, region in _scopes_for("endpoint"):
                submit(Target("endpoint", d.label, endpoint=(d.host, d.port, None, None)), region, cid)
        outcomes += _gather(pending)

    # findings, drift, the run's files and manifest, upload, event, artifacts
    progress.set_phase("writing findings and the workbook")
    return finish_run(
        cfg,
        locker=locker,
        writer=writer,
        logger=logger,
        run_id=run_id,
        catalog=catalog,
        all_checks=all_checks,
        started=started,
        as_of=as_of,
        t0=t0,
        previous=previous,
        targets=[replace(t, regions=plans[t.id].examined) for t in targets],
        region_plans=plans,
        gcp_discovery=gcp,
        discovery=discovery,
        discovered=discovered,
        callers=callers,
        outcomes=outcomes,
        evidence_files=evidence_files,
        api_calls=api_calls,
        workers=workers,
        tuning=tuning,
        accounts=accounts,
    )
