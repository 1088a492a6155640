"""access-review start -> complete over HTTP against moto's server (MotoEmulator + seed_demo_estate):
Organizations discovery, an assumed role per account, the aws.iam fetch; the workbook filled with openpyxl;
every stored file hashed; the revocations printed; then the access_review checks on the stored reviews."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from demo.emulators import MotoEmulator
from demo.estate import seed_demo_estate
from demo.estate_iam import EXTERNAL_PRINCIPAL, VENDOR_ROLE
from demo.run import write_demo_config
from flows.access_review import REVIEWS, complete, start
from flows.access_review_cli import register
from flows.config import load_config
from reports.access_review import HEADERS, SHEET
from reports.atomic import sha256_file

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo():
    """One moto server with Dexo.chat's estate for the module (moto's state is per process)."""
    with MotoEmulator() as moto, moto.use_env():
        moto.reset()
        yield moto, seed_demo_estate(moto.endpoint_url)
        moto.reset()


def test_start_complete_and_checks_on_the_demo_estate(demo, tmp_path, capsys):
    _, estate = demo
    cfg = load_config(write_demo_config(estate, tmp_path, workload_regions_only=True))
    issued = start(cfg, output=tmp_path)
    folder = issued.review_dir
    review = json.loads((folder / "review.json").read_text())
    assert review["status"] == "issued"
    assert sorted(review["accounts"]) == sorted(estate.accounts.values())
    assert review["population"]["sha256"] == sha256_file(folder / "population.json")
    assert review["workbook"]["sha256"] == sha256_file(issued.workbook)
    for e in review["evidence"]:
        assert sha256_file(folder / e["path"]) == e["sha256"], e["path"]
    names = {(p.account, p.principal_type, p.name) for p in issued.principals}
    for key, people in estate.expected["users"].items():
        for user in people:
            assert (estate.accounts[key], "IAM user", user) in names
    roles = [p for p in issued.principals if p.principal_type == "IAM role"]
    # only the vendor role is trusted from outside the organization (the org access roles are not)
    assert [(r.account, r.name, r.trusted_principals) for r in roles] == [
        (estate.accounts["prod"], VENDOR_ROLE, EXTERNAL_PRINCIPAL)
    ]
    leo = next(p for p in issued.principals if p.name == "leo.ops")
    assert (leo.privileged, leo.console_access, leo.mfa) == ("yes", "yes", "no")
    assert leo.key_ages.startswith("access_key_1: 0 d")

    wb = load_workbook(issued.workbook)
    ws = wb[SHEET]
    col = {h: HEADERS.index(h) + 1 for h in HEADERS}
    revoke = {"old-backup-bot", VENDOR_ROLE}
    for r in range(2, ws.max_row + 1):
        name = ws.cell(r, col["Principal"]).value
        assert ws.cell(r, col["Principal"]).data_type == "s"
        ws.cell(r, col["Decision"]).value = "Revoke" if name in revoke else "Keep"
        ws.cell(r, col["Reviewer"]).value = "carla.ciso@dexo.chat"
        ws.cell(r, col["Reviewed on"]).value = datetime.now(UTC).replace(tzinfo=None)
        ws.cell(r, col["Justification"]).value = "no longer needed" if name in revoke else None
    done = tmp_path / "completed.xlsx"
    wb.save(done)
    out = complete(done)  # finds the review where it was issued (recorded in the workbook)
    stored = json.loads((folder / "completed.json").read_text())
    assert stored["status"] == "completed"
    assert stored["hashes"]["completed_workbook"] == sha256_file(folder / "completed-workbook.xlsx")
    assert stored["hashes"]["population"] == review["population"]["sha256"]
    assert {(r["principal"], r["type"]) for r in out.revocations} == {
        ("old-backup-bot", "IAM user"),
        (VENDOR_ROLE, "IAM role"),
    }

    assert cli(["access-review", "complete", str(done)]) == 2  # a second completion
    assert "already completed" in capsys.readouterr().err

    # the checks, fetched through the production AWS context (the flow's wiring) before removal
    from collectors.aws.base import AwsFetchContext, AwsTuning, classify_error, session_for
    from collectors.evidence import Recorder, Scope
    from collectors.registry import checks, collectors

    spec = collectors()["access_review.reviews"]
    prod = estate.accounts["prod"]
    tuning = AwsTuning()
    rec = Recorder(Scope("access_review", prod, "global", spec.id), spec.operations, classify_error)
    ctx = AwsFetchContext(session_for(estate.role_arn(prod), tuning), prod, "global", rec, tuning)
    ctx.reviews_dir = tmp_path / REVIEWS
    spec.fetch(ctx)
    now = datetime.now(UTC)
    recent = checks()["access_review.completed_recently"].run(rec.bundle, {}, now)
    assert [r.status.value for r in recent] == ["pass"]
    revoked = checks()["access_review.revocations_done"].run(rec.bundle, {}, now)
    assert [(r.resource_id.rsplit("/", 1)[-1], r.status.value) for r in revoked] == [(VENDOR_ROLE, "pass")]
    assert "due by" in revoked[0].reason


def cli(argv: list[str]) -> int:
    """flows.cli.main's handling, with the access-review command registered (until flows.cli calls register)."""
    from flows.cli import build_parser
    from flows.cli_common import BadInput

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    if "access-review" not in sub.choices:
        register(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def test_cli_start_then_bad_file(demo, tmp_path, capsys):
    _, estate = demo
    config = write_demo_config(estate, tmp_path, workload_regions_only=True)
    assert cli(["access-review", "start", "--config", str(config), "--as-of", "2025-07-01"]) == 0
    text = capsys.readouterr().out
    assert "Access review ar-" in text and "as of 2025-07-01" in text and "Workbook:" in text
    assert len(list((tmp_path / REVIEWS).glob("*/review.json"))) == 1
    bad = tmp_path / "x.xlsx"
    bad.write_text("nope")
    assert cli(["access-review", "complete", str(bad), "--output", str(tmp_path)]) == 2
    assert "not an Excel workbook" in capsys.readouterr().err


def test_reviews_of_a_bucket_output_live_in_the_configured_directory(demo, tmp_path, capsys):
    import yaml

    from flows.access_review import AccessReviewError

    _, estate = demo
    path = write_demo_config(estate, tmp_path, workload_regions_only=True)
    config = yaml.safe_load(path.read_text())
    config["output"] = "s3://dexo-evidence-locker/soc2"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(AccessReviewError, match=r"set access_reviews\.directory in the config or pass --output DIR"):
        start(load_config(path))
    assert cli(["access-review", "complete", str(tmp_path / "x.xlsx"), "--config", str(path)]) == 2
    assert "access_reviews.directory is not set" in capsys.readouterr().err

    config["access_reviews"] = {"directory": "reviews"}  # relative to the config file
    path.write_text(yaml.safe_dump(config))
    issued = start(load_config(path))
    assert issued.review_dir.parent == tmp_path / "reviews"
    wb = load_workbook(issued.workbook)
    ws = wb[SHEET]
    col = {h: HEADERS.index(h) + 1 for h in HEADERS}
    for r in range(2, ws.max_row + 1):
        ws.cell(r, col["Decision"]).value = "Keep"
        ws.cell(r, col["Reviewer"]).value = "carla.ciso@dexo.chat"
        ws.cell(r, col["Reviewed on"]).value = datetime.now(UTC).replace(tzinfo=None)
    done = tmp_path / "elsewhere" / "completed.xlsx"
    done.parent.mkdir()
    wb.save(done)
    assert cli(["access-review", "complete", str(done), "--config", str(path)]) == 0
    assert (issued.review_dir / "completed.json").is_file()
