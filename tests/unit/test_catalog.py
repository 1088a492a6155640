"""The control catalog: built-in and user catalogs, validation, mapping to control status."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from collectors.registry import checks
from controls import CheckResult, ControlStatus, Finding, Status
from controls.catalog import CatalogError, load_catalog, load_criteria, parse_catalog
from controls.mapping import control_results, control_status

KNOWN = {"aws.s3.default_encryption", "aws.s3.public_access_block", "aws.kms.key_rotation"}


def test_criteria_file_has_every_cc_c1_a1_criterion() -> None:
    crit = load_criteria()
    expected = (
        [f"CC1.{i}" for i in range(1, 6)]
        + [f"CC2.{i}" for i in range(1, 4)]
        + [f"CC3.{i}" for i in range(1, 5)]
        + ["CC4.1", "CC4.2"]
        + [f"CC5.{i}" for i in range(1, 4)]
        + [f"CC6.{i}" for i in range(1, 9)]
        + [f"CC7.{i}" for i in range(1, 6)]
        + ["CC8.1", "CC9.1", "CC9.2", "A1.1", "A1.2", "A1.3", "C1.1", "C1.2"]
    )
    for cid in expected:
        assert cid in crit and len(crit[cid]) > 20, cid
    assert next(iter(crit)) == "CC1.1"


def test_builtin_catalog_maps_every_registered_check() -> None:
    registered = set(checks())
    catalog = load_catalog(None, registered)
    mapped = {c for ctl in catalog.controls for c in ctl.checks}
    assert mapped == registered
    assert catalog.warnings == ()
    assert catalog.controls_for("aws.s3.default_encryption") == ("ENC-01",)
    assert "CC6.1" in catalog.criteria_for_controls(["ENC-01"])
    assert "CC6.1" not in catalog.uncovered_criteria()
    assert "CC1.1" in catalog.uncovered_criteria()


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "my-controls.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_user_catalog_with_own_control_ids(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        """
controls:
  - id: DXC-SEC-014
    title: Data at rest encrypted
    criteria: [CC6.1, C1.1]
    checks: [aws.s3.default_encryption]
    frequency: daily
  - id: DXC-SEC-020
    title: Keys rotated
    criteria: [CC6.1]
    checks: [aws.kms.key_rotation, aws.s3.default_encryption]
""",
    )
    catalog = load_catalog(p, KNOWN)
    assert [c.id for c in catalog.controls] == ["DXC-SEC-014", "DXC-SEC-020"]
    assert catalog.controls_for("aws.s3.default_encryption") == ("DXC-SEC-014", "DXC-SEC-020")
    assert catalog.warnings == (
        f"{p}: check aws.s3.public_access_block is mapped to no control; its results appear in findings only",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "controls:\n  - id: X\n    title: t\n    criteria: [CC6.1]\n    checks: [aws.s3.default_encryptoin]\n",
            "controls[0] (X).checks: unknown check ID 'aws.s3.default_encryptoin' "
            "(did you mean 'aws.s3.default_encryption'?)",
        ),
        (
            "controls:\n  - id: X\n    title: t\n    criteria: [CC6.9]\n",
            "controls[0] (X).criteria: unknown Trust Services Criterion 'CC6.9'",
        ),
        (
            "controls:\n  - {id: X, title: t, criteria: [CC6.1]}\n  - {id: X, title: u, criteria: [CC6.1]}\n",
            "controls[1] (X).id: duplicate control id 'X'",
        ),
        ("controls:\n  - id: X\n    title: t\n", "controls[0] (X).criteria: Field required"),
        (
            "controls:\n  - id: X\n    title: t\n    criteria: [CC6.1]\n    owner: me\n    colour: red\n",
            "controls[0] (X).colour: Extra inputs are not permitted",
        ),
        ("controls: [\n", "line 2, column 1"),
        ("- just a list\n", "expected a mapping with a 'controls' list"),
    ],
)
def test_bad_user_catalog_is_a_clear_error(tmp_path: Path, body: str, expected: str) -> None:
    p = _write(tmp_path, body)
    with pytest.raises(CatalogError) as err:
        load_catalog(p, KNOWN)
    assert str(p) in err.value.message
    assert expected in err.value.message


def test_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="file not found"):
        load_catalog(tmp_path / "nope.yaml", KNOWN)


def _finding(check_id: str, status: Status, controls: tuple[str, ...]) -> Finding:
    r = CheckResult(check_id, "aws", "1", "us-east-1", "T", "r", status, {}, {}, "")
    return Finding("run", r, controls, (), "2026-01-01T00:00:00Z")


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([Status.PASS, Status.PASS], ControlStatus.EFFECTIVE),
        ([Status.PASS, Status.FAIL, Status.ERROR], ControlStatus.DEFICIENT),
        ([Status.PASS, Status.ERROR], ControlStatus.INCOMPLETE),
        ([Status.NOT_APPLICABLE], ControlStatus.NO_EVIDENCE),
        ([], ControlStatus.NO_EVIDENCE),
        ([Status.EXCEPTED, Status.PASS], ControlStatus.EFFECTIVE),
        ([Status.EXCEPTED], ControlStatus.NO_EVIDENCE),
    ],
)
def test_control_status(statuses: list[Status], expected: ControlStatus) -> None:
    assert control_status(Counter(statuses)) is expected


def test_control_results_count_each_finding_per_control() -> None:
    catalog = parse_catalog(
        "controls:\n  - {id: A, title: a, criteria: [CC6.1], checks: [aws.s3.default_encryption]}\n"
        "  - {id: B, title: b, criteria: [CC6.6], checks: [aws.s3.default_encryption]}\n"
        "  - {id: C, title: c, criteria: [CC6.7]}\n",
        "t",
        KNOWN,
    )
    fs = [
        _finding("aws.s3.default_encryption", Status.PASS, ("A", "B")),
        _finding("aws.s3.default_encryption", Status.FAIL, ("B",)),
    ]
    res = {r.control_id: r for r in control_results(catalog, fs)}
    assert res["A"].status is ControlStatus.EFFECTIVE and res["A"].counts["pass"] == 1
    assert res["B"].status is ControlStatus.DEFICIENT and res["B"].counts == {
        "pass": 1,
        "fail": 1,
        "error": 0,
        "not_applicable": 0,
        "excepted": 0,
    }
    assert res["C"].status is ControlStatus.NO_EVIDENCE
