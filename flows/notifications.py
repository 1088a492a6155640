"""The Prefect event an evidence run emits when its drift shows newly failing resources.

`mark_new_failures` emits `soc2-evidence.drift.new-failures`, for Prefect
Automations (Slack, e-mail, webhook) to trigger on. Separate from flows.deploy
(which imports flows.run) so that flows.run can emit it without importing
deploy back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect.events import Event

    from reports.drift import Drift

NEW_FAILURES_EVENT = "soc2-evidence.drift.new-failures"


def mark_new_failures(drift: Drift, *, organization: str | None = None, limit: int = 20) -> Event | None:
    """Emit `soc2-evidence.drift.new-failures` when the run's drift shows newly
    failing (or newly erroring) resources; None (no event) otherwise.

    The event's resource is the organization (`soc2-evidence.organization.<name>`);
    the flow run and deployment, when there are any, are related resources, so
    an Automation can match on the event name alone, or on a deployment. The
    payload has the drift counts and the first `limit` newly failing resources.
    Never raises: the run's files are the record, the event is a convenience."""
    if not (drift.newly_failing or drift.newly_erroring):
        return None
    try:
        from prefect.events import emit_event

        related: list[dict[str, str]] = []
        role = "prefect.resource.role"
        try:
            from prefect.runtime import deployment, flow_run

            if flow_run.id:
                related.append({"prefect.resource.id": f"prefect.flow-run.{flow_run.id}", role: "flow-run"})
            if deployment.id:
                related.append(
                    {
                        "prefect.resource.id": f"prefect.deployment.{deployment.id}",
                        role: "deployment",
                    }
                )
        except Exception:
            pass
        org = organization or "unknown"
        sample = [
            {k: item.get(k) for k in ("check_id", "account", "region", "resource_id") if k in item}
            for item in drift.newly_failing[:limit]
        ]
        return emit_event(
            event=NEW_FAILURES_EVENT,
            resource={
                "prefect.resource.id": f"soc2-evidence.organization.{org}",
                "prefect.resource.name": org,
                "soc2-evidence.run-id": str(drift.to_run or ""),
            },
            related=related,
            payload={
                "run_id": drift.to_run,
                "previous_run_id": drift.from_run,
                "counts": drift.counts(),
                "newly_failing": sample,
                "summary": drift.summary(),
            },
        )
    except Exception:  # pragma: no cover - events must never fail a run
        return None
