"""The Populations sheet: each population reconciled with the source listing's own entries, per account and region."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from controls.model import Status
from reports.workbook import POPULATIONS_HEADERS, SourceListing, write_workbook
from reports.workbook.populations import NOT_DECLARED
from tests.unit.test_workbook import ACCOUNT, finding, make_input, table

EBS = "aws.ebs.encryption"
OTHER = "222222222222"


def listing(ids: tuple[str, ...], *, account: str = ACCOUNT, region: str = "us-east-1", failed: str | None = None):
    return SourceListing(
        listing="ec2:DescribeVolumes",
        resource_type="AWS::EC2::Volume",
        checks=(EBS,),
        provider="aws",
        account=account,
        region=region,
        ids=ids,
        failed=failed,
        evidence=f"evidence/aws/{account}/{region}/ebs/DescribeVolumes.json",
    )


def rows_for(tmp_path: Path, findings, listings) -> list[dict]:
    path = tmp_path / "wb.xlsx"
    write_workbook(path, make_input(findings=findings, listings=listings))
    wb = load_workbook(path)
    rows = table(wb["Populations"])
    assert list(rows[0]) == list(POPULATIONS_HEADERS)
    return [r for r in rows if r["Control ID"] == "ENC-1"]


def test_a_complete_population_reconciles(tmp_path: Path) -> None:
    findings = [finding("vol-1", Status.PASS, ("ENC-1",)), finding("vol-2", Status.FAIL, ("ENC-1",))]
    (row,) = rows_for(tmp_path, findings, [listing(("vol-1", "vol-2"))])
    assert (row["Check"], row["Account"], row["Region"]) == (EBS, ACCOUNT, "us-east-1")
    assert row["Source listing"] == "ec2:DescribeVolumes"
    assert row["Listing evidence"] == f"evidence/aws/{ACCOUNT}/us-east-1/ebs/DescribeVolumes.json"
    assert (row["Listed"], row["Judged"], row["Listed, not judged"], row["Judged, not listed"]) == (2, 2, 0, 0)
    assert (row["Pass"], row["Fail"]) == (1, 1) and row["Reconciled"] == "yes"


def test_a_listed_resource_without_a_finding_is_a_gap(tmp_path: Path) -> None:
    """Counted against the listing, not the findings: a resource the collector skipped shows up."""
    findings = [finding("vol-1", Status.PASS, ("ENC-1",)), finding("vol-9", Status.PASS, ("ENC-1",))]
    (row,) = rows_for(tmp_path, findings, [listing(("vol-1", "vol-2", "vol-3"))])
    assert (row["Listed"], row["Judged"], row["Listed, not judged"], row["Judged, not listed"]) == (3, 2, 2, 1)
    assert row["Reconciled"] == "no: 2 listed but not judged: vol-2, vol-3; 1 judged but not listed: vol-9"


def test_each_account_and_region_is_reconciled_on_its_own(tmp_path: Path) -> None:
    findings = [
        finding("vol-1", Status.PASS, ("ENC-1",)),
        finding("vol-e", Status.FAIL, ("ENC-1",), region="eu-west-1"),
    ]
    listings = [listing(("vol-1",)), listing(("vol-e",), region="eu-west-1"), listing((), account=OTHER)]
    rows = rows_for(tmp_path, findings, listings)
    # the other account listed nothing and nothing was judged there: no row
    assert [(r["Region"], r["Listed"], r["Reconciled"]) for r in rows] == [
        ("us-east-1", 1, "yes"),
        ("eu-west-1", 1, "yes"),
    ]


def test_a_failed_listing_makes_the_population_unknown(tmp_path: Path) -> None:
    findings = [finding("*", Status.ERROR, ("ENC-1",))]
    (row,) = rows_for(tmp_path, findings, [listing((), failed="UnauthorizedOperation")])
    assert row["Listed"] is None and row["Not assessed (error)"] == 1
    assert row["Reconciled"] == "no: ec2:DescribeVolumes failed (UnauthorizedOperation): the population is unknown"


@pytest.mark.parametrize("listings", [[], [listing(("vol-1",), account=OTHER)]])
def test_a_check_without_a_listing_says_it_is_not_reconciled(tmp_path: Path, listings) -> None:
    findings = [finding("b1", Status.PASS, ("ENC-1",), check_id="aws.s3.default_encryption")]
    rows = rows_for(tmp_path, findings, listings)
    s3 = next(r for r in rows if r["Check"] == "aws.s3.default_encryption")
    assert (s3["Source listing"], s3["Judged"], s3["Reconciled"]) == ("(none)", 1, NOT_DECLARED)


def test_control_ids_link_to_their_population_sheet(tmp_path: Path) -> None:
    path = tmp_path / "wb.xlsx"
    write_workbook(
        path, make_input(findings=[finding("vol-1", Status.PASS, ("ENC-1",))], listings=[listing(("vol-1",))])
    )
    ws = load_workbook(path)["Populations"]
    cell = ws.cell(2, 1)
    assert cell.value == "ENC-1" and cell.hyperlink.location == "'ENC-1'!A1"
    assert ws.freeze_panes == "C2" and ws.cell(2, len(POPULATIONS_HEADERS)).value == "ENC-1"  # its sheet(s)
