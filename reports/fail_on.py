"""`--fail-on`: when `run` and `drift` exit non-zero, for CI and schedulers.

Choices (any number of them; the command fails when any one applies):

- `new-failures`: a resource is newly failing since the baseline (drift's newly_failing);
- `any-failure`: any finding of the run is `fail` (new or not; `excepted` does not count);
- `errors`: any finding of the run is `error` (not assessed: evidence could not be collected).

The exit code is the CLI's existing non-zero code for "not OK" (1, as `drift --fail-on` always
used); 2 stays "bad input". Without `--fail-on`, `run` exits 0 whatever the control results.
"""

from __future__ import annotations

from collections.abc import Iterable

from reports.drift import Drift

NEW_FAILURES, ANY_FAILURE, ERRORS = "new-failures", "any-failure", "errors"
FAIL_ON_CHOICES: tuple[str, ...] = (NEW_FAILURES, ANY_FAILURE, ERRORS)


def fail_on_reasons(drift: Drift, choices: Iterable[str] | None) -> list[str]:
    """Why the command must fail, one line per choice that applies; [] when none does."""
    reasons = []
    for choice in dict.fromkeys(choices or ()):
        if choice == NEW_FAILURES and drift.newly_failing:
            reasons.append(f"{len(drift.newly_failing)} newly failing resource(s) (--fail-on {NEW_FAILURES})")
        elif choice == ANY_FAILURE and drift.statuses_to.get("fail", 0):
            reasons.append(f"{drift.statuses_to['fail']} failing finding(s) (--fail-on {ANY_FAILURE})")
        elif choice == ERRORS and drift.statuses_to.get("error", 0):
            reasons.append(f"{drift.statuses_to['error']} finding(s) not assessed (error) (--fail-on {ERRORS})")
        elif choice not in FAIL_ON_CHOICES:
            raise ValueError(f"unknown --fail-on choice {choice!r}: expected one of {', '.join(FAIL_ON_CHOICES)}")
    return reasons
