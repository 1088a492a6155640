"""`soc2-evidence access-review start|complete`: see flows.access_review.

Registered by flows.cli through register(subparsers); bad input (config, workbook, unreachable account)
raises flows.cli_common.BadInput (exit 2, one message).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from flows.cli_common import EXIT_OK, BadInput, load_inputs


def _as_of(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def cmd_start(args: argparse.Namespace) -> int:
    from flows.access_review import AccessReviewError, describe_population, start

    cfg = load_inputs(args.config)
    try:
        out = start(cfg, as_of=args.as_of, output=Path(args.output) if args.output else None)
    except AccessReviewError as exc:
        raise BadInput(str(exc)) from None
    described, warnings = describe_population(out)
    print(
        f"Access review {out.review_id} issued: {len(out.principals)} principals ({described}) in "
        f"{len(out.review['accounts'])} AWS account(s) and {len(out.review.get('projects', []))} GCP project(s), "
        f"as of {out.review['as_of']}"
    )
    for line in warnings:
        print(line)
    print(f"Workbook:   {out.workbook}")
    print(f"  sha256    {out.review['workbook']['sha256']}")
    print(f"Population: {out.review_dir / 'population.json'}")
    print(f"  sha256    {out.review['population']['sha256']}")
    print("Reviewers fill Decision (Keep/Revoke/Modify), Reviewer, Reviewed on, Justification; then run")
    print(f"  soc2-evidence access-review complete {out.workbook}")
    return EXIT_OK


def cmd_complete(args: argparse.Namespace) -> int:
    from flows.access_review import AccessReviewError, complete, print_revocations, reviews_root

    output = Path(args.output) if args.output else None
    root = reviews_root(load_inputs(args.config)) if args.config and output is None else None
    if args.config and output is None and root is None:
        raise BadInput(
            f"{args.config}: output is a bucket and access_reviews.directory is not set: "
            "pass --output DIR or set access_reviews.directory"
        )
    try:
        out = complete(Path(args.file), output=output, root=root, allow_self_review=args.allow_self_review)
    except AccessReviewError as exc:
        raise BadInput(str(exc)) from None
    c = out.completed
    counts = ", ".join(f"{k} {v}" for k, v in c["counts"].items())
    print(
        f"Access review {out.review_id} completed: {len(c['decisions'])} decisions ({counts}); "
        f"reviewers: {', '.join(c['reviewers'])}"
    )
    for w in out.warnings:
        print(f"warning: {w}")
    print(f"Stored: {out.review_dir / 'completed.json'} (workbook sha256 {c['completed_workbook']['sha256']})")
    for line in print_revocations(out.revocations):
        print(line)
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    ar = subparsers.add_parser("access-review", help="issue a user access review workbook, then store it completed")
    sub = ar.add_subparsers(dest="access_review_command", required=True)
    st = sub.add_parser("start", help="write the reviewer workbook for every AWS account and GCP project in scope")
    st.add_argument("--config", required=True, help="soc2-evidence.yaml")
    st.add_argument("--as-of", type=_as_of, help="the review's date YYYY-MM-DD (default today, UTC)")
    st.add_argument("--output", help="output directory (overrides the config's output:)")
    st.set_defaults(func=cmd_start)
    co = sub.add_parser("complete", help="validate a completed reviewer workbook and store it as evidence")
    co.add_argument("file", help="the completed workbook (.xlsx)")
    co.add_argument("--output", help="output directory holding access-reviews/ (default: where it was issued)")
    co.add_argument("--config", help="take the access-reviews directory from this config")
    co.add_argument(
        "--allow-self-review",
        action="store_true",
        help="record self-reviews as flagged instead of refusing the workbook",
    )
    co.set_defaults(func=cmd_complete)
