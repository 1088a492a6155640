"""Was every account, project and endpoint assessed? A run that could not assess one is partial.

An AWS account, GCP project or TLS endpoint is *unassessed* when none of its collectors
collected anything: every one of its scopes ended `error` (role not assumable, no
permission at all, endpoint unreachable) or crashed. Its checks are already `error` in
the findings; on top of that the run is marked partial in its manifest
(`assessment: "partial"` and the `unassessed` list), `soc2-evidence run` exits 3, and the
run is never a drift baseline (reports.store.drift_baseline) while staying in the hash
chain, so `verify` still proves nothing was removed. A failed Organizations discovery
(scope account "*") is unassessed too: the run does not know which accounts it missed.

Access-review scopes are left out of the decision: they follow their AWS account, and
an output bucket without an access-reviews directory errors them by configuration.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from collectors.registry import cap_message
from flows.cli_common import EXIT_INCOMPLETE, EXIT_OK
from flows.collect import ScopeOutcome

ASSESSED_PROVIDERS = ("aws", "gcp", "endpoint")
NOT_COLLECTED = ("error", "crashed")


def unassessed(outcomes: Iterable[ScopeOutcome]) -> list[dict[str, Any]]:
    """One entry per wholly unassessed account/project/endpoint: provider, account, reason."""
    by_target: dict[tuple[str, str], list[ScopeOutcome]] = {}
    for o in outcomes:
        if o.scope.provider in ASSESSED_PROVIDERS:
            by_target.setdefault((o.scope.provider, o.scope.account), []).append(o)
    out = []
    for (provider, account), scopes in sorted(by_target.items()):
        if all(o.status in NOT_COLLECTED for o in scopes):
            reason = next((o.message for o in scopes if o.message), "nothing could be collected")
            out.append({"provider": provider, "account": account, "reason": cap_message(reason, kept_in=None)})
    return out


def assessment_fields(outcomes: Iterable[ScopeOutcome]) -> dict[str, Any]:
    """The manifest's `assessment` ("complete" | "partial") and `unassessed` list."""
    missed = unassessed(outcomes)
    return {"assessment": "partial" if missed else "complete", "unassessed": missed}


def run_exit_code(manifest: dict[str, Any]) -> int:
    """0, or 3 (EXIT_INCOMPLETE) for a partial run, after saying on stderr what was not assessed."""
    missed = manifest.get("unassessed") or []
    if manifest.get("assessment") != "partial":
        return EXIT_OK
    print(f"run incomplete: {len(missed)} account(s)/project(s)/endpoint(s) could not be assessed:", file=sys.stderr)
    for m in missed[:20]:
        print(f"  {m['provider']} {m['account']}: {m['reason']}", file=sys.stderr)
    if len(missed) > 20:
        print(f"  ... and {len(missed) - 20} more (manifest.json: unassessed)", file=sys.stderr)
    print("it is kept and chained, but never used as a drift baseline (exit 3)", file=sys.stderr)
    return EXIT_INCOMPLETE
