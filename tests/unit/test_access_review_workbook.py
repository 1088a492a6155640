"""The access-review workbook (reports.access_review) and its storage (flows.access_review.complete), from
hand-made Principal rows: write, fill decisions with openpyxl, read back, every defect kind."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from collectors.evidence import dumps
from flows import access_review as flow
from flows.access_review.storage import _write_new
from reports.access_review import (
    COLUMNS,
    DECISION_COLUMNS,
    HASH_COLUMN,
    HEADERS,
    KEY_COLUMN,
    ROLE,
    SHEET,
    Principal,
    is_self_review,
    write_workbook,
)
from reports.atomic import sha256_file

ACCT = "111111111111"
NOW = datetime.now(UTC)
PRINCIPALS = [
    Principal(ACCT, "maya.admin", f"arn:aws:iam::{ACCT}:user/maya.admin", email="maya@dexo.chat", privileged="yes"),
    Principal(ACCT, "=1+2", f"arn:aws:iam::{ACCT}:user/=1+2", groups='=HYPERLINK("x")'),
    Principal(
        ACCT,
        "vendor",
        f"arn:aws:iam::{ACCT}:role/vendor",
        principal_type=ROLE,
        trusted_principals="arn:aws:iam::999999999999:root",
    ),
]


def issue(tmp_path: Path, principals=PRINCIPALS, review_id: str = "ar-test-1") -> Path:
    """Store an issued review the way flows.access_review.start does (without the cloud)."""
    folder = tmp_path / "out" / flow.REVIEWS / review_id
    folder.mkdir(parents=True)
    population = {"schema": 1, "review_id": review_id, "rows": [p.to_json() for p in principals]}
    pop_sha = _write_new(folder / flow.POPULATION_FILE, dumps(population))
    buf = io.BytesIO()
    write_workbook(
        buf,
        principals,
        review_id=review_id,
        organization="Dexo",
        as_of=NOW.date().isoformat(),
        population_sha256=pop_sha,
        reviews_dir=str(folder.parent),
    )
    wb = folder / "issued.xlsx"
    wb_sha = _write_new(wb, buf.getvalue())
    review = {
        "review_id": review_id,
        "organization": "Dexo",
        "as_of": NOW.date().isoformat(),
        "accounts": [ACCT],
        "created_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "population": {"path": flow.POPULATION_FILE, "sha256": pop_sha},
        "workbook": {"path": wb.name, "sha256": wb_sha},
        "status": "issued",
    }
    _write_new(folder / flow.REVIEW_FILE, dumps(review))
    return wb


def col(name: str) -> int:
    return HEADERS.index(name) + 1


def fill(src: Path, dst: Path, decisions=("Keep", "Revoke", "Modify"), reviewer="carla.ciso", edit=None) -> Path:
    wb = load_workbook(src)
    ws = wb[SHEET]
    for i, decision in enumerate(decisions, 2):
        ws.cell(i, col("Decision")).value = decision
        ws.cell(i, col("Reviewer")).value = reviewer
        ws.cell(i, col("Reviewed on")).value = NOW.replace(tzinfo=None)
        ws.cell(i, col("Justification")).value = "" if decision == "Keep" else "left the vendor program"
    if edit:
        edit(ws)
    wb.save(dst)
    return dst


def complete(path: Path, tmp_path: Path, **kw):
    return flow.complete(path, output=tmp_path / "out", **kw)


def refused(path: Path, tmp_path: Path, *needles: str, **kw) -> str:
    folder = tmp_path / "out" / flow.REVIEWS / "ar-test-1"
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(flow.AccessReviewError) as err:
        complete(path, tmp_path, **kw)
    text = str(err.value)
    for n in needles:
        assert n in text, text
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing stored
    return text


def test_workbook_layout_locked_cells_validation_and_hostile_text(tmp_path):
    wb = load_workbook(issue(tmp_path))
    ws = wb[SHEET]
    assert [c.value for c in ws[1]] == list(HEADERS)
    assert ws.protection.sheet is True
    for r in range(2, 2 + len(PRINCIPALS)):
        for h, _ in COLUMNS:
            assert ws.cell(r, col(h)).protection.locked is True, h
        for h in DECISION_COLUMNS:
            assert ws.cell(r, col(h)).protection.locked is False, h
    lists = [dv for dv in ws.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == 1 and lists[0].formula1 == '"Keep,Revoke,Modify"'
    letter = ws.cell(1, col("Decision")).column_letter
    assert str(lists[0].sqref) == f"{letter}2:{letter}{1 + len(PRINCIPALS)}"
    assert any(dv.type == "date" for dv in ws.data_validations.dataValidation)
    for h in (KEY_COLUMN, HASH_COLUMN):
        assert ws.column_dimensions[ws.cell(1, col(h)).column_letter].hidden
    assert wb["review"].sheet_state == "veryHidden"
    hostile = ws.cell(3, col("Principal"))
    assert hostile.value == "=1+2" and hostile.data_type == "s"
    assert ws.cell(3, col("Groups")).data_type == "s"
    assert ws.cell(2, col(KEY_COLUMN)).value == f"{ACCT}|arn:aws:iam::{ACCT}:user/maya.admin"


def test_complete_stores_decisions_and_lists_revocations(tmp_path):
    done = fill(issue(tmp_path), tmp_path / "done.xlsx")
    out = complete(done, tmp_path)
    folder = tmp_path / "out" / flow.REVIEWS / "ar-test-1"
    stored = json.loads((folder / flow.COMPLETED_FILE).read_text())
    assert stored["status"] == "completed"
    assert stored["counts"] == {"Keep": 1, "Revoke": 1, "Modify": 1}
    assert stored["reviewers"] == ["carla.ciso"]
    assert stored["hashes"]["completed_workbook"] == sha256_file(folder / flow.COMPLETED_WORKBOOK)
    assert sha256_file(folder / flow.COMPLETED_WORKBOOK) == sha256_file(done)
    assert out.revocations == [
        {"account": ACCT, "principal": "=1+2", "arn": f"arn:aws:iam::{ACCT}:user/=1+2", "type": "IAM user"}
    ]
    assert "=1+2" in "\n".join(flow.print_revocations(out.revocations))


def test_second_completion_is_refused(tmp_path):
    done = fill(issue(tmp_path), tmp_path / "done.xlsx")
    complete(done, tmp_path)
    first = (tmp_path / "out" / flow.REVIEWS / "ar-test-1" / flow.COMPLETED_FILE).read_bytes()
    refused(done, tmp_path, "already completed")
    assert (tmp_path / "out" / flow.REVIEWS / "ar-test-1" / flow.COMPLETED_FILE).read_bytes() == first


def test_undecided_row(tmp_path):
    done = fill(issue(tmp_path), tmp_path / "d.xlsx", decisions=("Keep", "", "Maybe"))
    refused(done, tmp_path, "row 3", "no decision", "row 4", "invalid decision 'Maybe'")


def test_missing_reviewer_and_date(tmp_path):
    def blank(ws):
        ws.cell(2, col("Reviewer")).value = None
        ws.cell(3, col("Reviewed on")).value = None
        ws.cell(4, col("Reviewed on")).value = "next week"

    done = fill(issue(tmp_path), tmp_path / "d.xlsx", edit=blank)
    refused(done, tmp_path, "row 2", "no reviewer", "row 3", "no review date", "not a date: 'next week'")


def test_revoke_and_modify_need_a_justification(tmp_path):
    def blank(ws):
        ws.cell(3, col("Justification")).value = None

    done = fill(issue(tmp_path), tmp_path / "d.xlsx", edit=blank)
    refused(done, tmp_path, "row 3", "Revoke needs a justification")


def test_added_row(tmp_path):
    def add(ws):
        ws.append([*(["x"] * len(COLUMNS)), "Keep", "carla", date.today(), "", f"{ACCT}|arn:new", "0" * 64])

    done = fill(issue(tmp_path), tmp_path / "d.xlsx", edit=add)
    refused(done, tmp_path, f"{ACCT}|arn:new", "row added")


def test_removed_row(tmp_path):
    done = fill(issue(tmp_path), tmp_path / "d.xlsx", decisions=("Keep", "Keep"), edit=lambda ws: ws.delete_rows(4))
    refused(done, tmp_path, f"{ACCT}|arn:aws:iam::{ACCT}:role/vendor", "row removed")


def test_edited_locked_cell(tmp_path):
    def edit(ws):
        ws.cell(2, col("Privileged")).value = "no"

    done = fill(issue(tmp_path), tmp_path / "d.xlsx", edit=edit)
    refused(
        done, tmp_path, f"{ACCT}|arn:aws:iam::{ACCT}:user/maya.admin", "edited outside the decision columns: Privileged"
    )


def test_wrong_workbook_unknown_review_id(tmp_path):
    issue(tmp_path)
    other = issue(tmp_path / "elsewhere", review_id="ar-other")
    done = fill(other, tmp_path / "d.xlsx")
    with pytest.raises(flow.AccessReviewError, match="wrong workbook: review ar-other"):
        flow.complete(done, output=tmp_path / "nowhere")


def test_not_a_workbook(tmp_path):
    issue(tmp_path)
    bad = tmp_path / "notes.xlsx"
    bad.write_text("hello")
    refused(bad, tmp_path, "not an Excel workbook")


def test_missing_column(tmp_path):
    done = fill(issue(tmp_path), tmp_path / "d.xlsx", edit=lambda ws: ws.delete_cols(col("Justification")))
    refused(done, tmp_path, "missing columns: Justification")


def test_self_review_flagged(tmp_path):
    done = fill(issue(tmp_path), tmp_path / "d.xlsx", reviewer="Maya Admin")
    refused(done, tmp_path, "row 2", "self-review", "maya.admin")
    out = complete(done, tmp_path, allow_self_review=True)
    assert out.warnings and "row 2" in out.warnings[0]
    assert [d["self_review"] for d in out.completed["decisions"]] == [True, False, False]


@pytest.mark.parametrize(
    ("reviewer", "expected"),
    [
        ("maya.admin", True),
        ("MAYA_ADMIN", True),
        ("maya@dexo.chat", True),
        ("maya.admin@x.io", True),
        ("carla", False),
        ("", False),
    ],
)
def test_self_review_rule(reviewer, expected):
    assert is_self_review(reviewer, PRINCIPALS[0]) is expected
