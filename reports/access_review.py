"""The access-review workbook: write it for reviewers, read it back, validate it.

Pure of cloud APIs: it takes a list of :class:`Principal` rows (built by flows.access_review from recorded
IAM evidence) and the stored population. The workbook has one sheet "Access review", one row per principal
per account:

- the population columns (COLUMNS) are LOCKED: the sheet is protected;
- the four decision columns (DECISION_COLUMNS) are unlocked: "Decision" is a drop-down (Keep, Revoke,
  Modify), "Reviewed on" accepts a date;
- two hidden columns carry the stable row key (account + principal ARN) and a SHA-256 of the row's
  population columns, so an edit outside the decision columns is detectable;
- a very hidden sheet "review" carries the review id, the organization, as_of, the population's SHA-256
  and whether the population is complete; an incomplete one opens on a "Population gaps" sheet
  (reports.access_review_gaps).

Validation never trusts the workbook's own hidden data: the rows read back are compared with the
population stored when the review was issued (population.json), so an added, removed or edited row is
reported by row key and column even if the hidden columns were edited too. Every cell from cloud data is
text (reports.cells.text_cell), never a formula.

Self-review rule (a reviewer deciding on their own access): the reviewer and the principal's identifiers
(IAM user / role name, and the e-mail tag when the user has one) are each reduced to tokens: the whole
text and, for an e-mail address, its local part (before "@"), case-folded with every character that is
not a letter or digit removed. Any shared token of at least 3 characters is a self-review, so "Maya
Admin", "maya.admin@dexo.chat" and "MAYA_ADMIN" all match the user "maya.admin".
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from reports.access_review_gaps import add_gaps_sheet
from reports.cells import DATE_FORMAT, clean_text, text_cell

FORMAT = "soc2-evidence access review v1"
SHEET = "Access review"
META_SHEET = "review"
DECISIONS = ("Keep", "Revoke", "Modify")
NEEDS_JUSTIFICATION = frozenset({"Revoke", "Modify"})

# (column header, Principal attribute): the population, locked
COLUMNS: tuple[tuple[str, str], ...] = (
    ("Account", "account"),
    ("Account name", "account_name"),
    ("Type", "principal_type"),
    ("Principal", "name"),
    ("ARN", "arn"),
    ("Email", "email"),
    ("Groups", "groups"),
    ("Policies", "policies"),
    ("Privileged", "privileged"),
    ("Privileged through", "privileged_through"),
    ("Console access", "console_access"),
    ("MFA", "mfa"),
    ("Last activity", "last_activity"),
    ("Access key ages", "key_ages"),
    ("Trusted outside principals", "trusted_principals"),
)
DECISION_COLUMNS = ("Decision", "Reviewer", "Reviewed on", "Justification")
KEY_COLUMN = "Row key"
HASH_COLUMN = "Row hash"
HEADERS = (*(h for h, _ in COLUMNS), *DECISION_COLUMNS, KEY_COLUMN, HASH_COLUMN)

USER = "IAM user"
ROLE = "IAM role"


@dataclass(frozen=True)
class Principal:
    """One reviewable principal in one account. Every field is text (as shown in the workbook).

    `provider` is the population's source ("aws" today); another provider (e.g. GCS bucket IAM members)
    adds rows of its own through flows.access_review's provider hook, with its own `principal_type`.
    """

    account: str
    name: str
    arn: str
    principal_type: str = USER
    account_name: str = ""
    email: str = ""
    groups: str = ""
    policies: str = ""
    privileged: str = "no"
    privileged_through: str = ""
    console_access: str = ""
    mfa: str = ""
    last_activity: str = ""
    key_ages: str = ""
    trusted_principals: str = ""
    provider: str = "aws"

    @property
    def key(self) -> str:
        return row_key(self.account, self.arn)

    def values(self) -> list[str]:
        return [getattr(self, attr) for _, attr in COLUMNS]

    def row_hash(self) -> str:
        return row_hash(self.key, self.values())

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "hash": self.row_hash(), **asdict(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Principal:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def row_key(account: str, arn: str) -> str:
    return f"{account}|{arn}"


def row_hash(key: str, values: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps([key, *values], ensure_ascii=False).encode()).hexdigest()


class WorkbookError(Exception):
    """The file is not a usable access-review workbook (one message for the user)."""


# ---------------------------------------------------------------------------------------------- write

_HEADER_FILL = PatternFill("solid", fgColor="1F3864")
_DECISION_FILL = PatternFill("solid", fgColor="FFF2CC")
_WIDTHS = {"ARN": 48, "Policies": 48, "Privileged through": 36, "Justification": 48, "Access key ages": 28}


def write_workbook(
    path: Path | io.BytesIO,
    principals: Sequence[Principal],
    *,
    review_id: str,
    organization: str,
    as_of: str,
    population_sha256: str,
    reviews_dir: str = "",
    gaps: Sequence[str] = (),
) -> None:
    """Write the reviewer workbook (to a path or a buffer); see the module doc."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    bold = Font(bold=True, color="FFFFFF")
    ws.append(list(HEADERS))
    for cell in ws[1]:
        cell.font = bold
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    first_decision = len(COLUMNS) + 1
    for p in principals:
        row: list[Any] = [text_cell(ws, v) for v in p.values()]
        row += [None] * len(DECISION_COLUMNS)
        row += [text_cell(ws, p.key), text_cell(ws, p.row_hash())]
        ws.append(row)
    last = ws.max_row
    unlocked = Protection(locked=False)
    for r in range(2, last + 1):
        for c in range(first_decision, first_decision + len(DECISION_COLUMNS)):
            cell = ws.cell(row=r, column=c)
            cell.protection = unlocked
            cell.fill = _DECISION_FILL
        ws.cell(row=r, column=first_decision + 2).number_format = DATE_FORMAT
    letter = {h: get_column_letter(i) for i, h in enumerate(HEADERS, 1)}
    if last >= 2:
        decision = DataValidation(
            type="list",
            formula1='"' + ",".join(DECISIONS) + '"',
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Decision",
            error="Choose Keep, Revoke or Modify",
        )
        decision.add(f"{letter['Decision']}2:{letter['Decision']}{last}")
        ws.add_data_validation(decision)
        when = DataValidation(
            type="date",
            operator="greaterThan",
            formula1="DATE(2000,1,1)",
            allow_blank=True,
            showErrorMessage=True,
            errorTitle="Reviewed on",
            error="Enter a date (yyyy-mm-dd)",
        )
        when.add(f"{letter['Reviewed on']}2:{letter['Reviewed on']}{last}")
        ws.add_data_validation(when)
    for h, col in letter.items():
        ws.column_dimensions[col].width = _WIDTHS.get(h, 18)
    ws.column_dimensions[letter[KEY_COLUMN]].hidden = True
    ws.column_dimensions[letter[HASH_COLUMN]].hidden = True
    ws.freeze_panes = "E2"
    ws.protection.sheet = True
    ws.protection.formatColumns = False  # reviewers may widen columns
    ws.protection.formatRows = False
    meta = wb.create_sheet(META_SHEET)
    for name, value in (
        ("format", FORMAT),
        ("review_id", review_id),
        ("organization", organization),
        ("as_of", as_of),
        ("population_sha256", population_sha256),
        ("reviews_dir", reviews_dir),
        ("rows", str(len(principals))),
        ("population_complete", "no" if gaps else "yes"),
    ):
        meta.append([name, text_cell(meta, value)])
    meta.sheet_state = "veryHidden"
    meta.protection.sheet = True
    add_gaps_sheet(wb, gaps)
    wb.save(path)


# ---------------------------------------------------------------------------------------------- read


@dataclass
class RowRead:
    row: int  # the spreadsheet row number
    key: str
    values: dict[str, str]  # population column header -> text as read
    row_hash: str
    decision: str
    reviewer: str
    reviewed_on: date | None
    reviewed_on_raw: str
    justification: str


@dataclass
class WorkbookRead:
    review_id: str
    meta: dict[str, str]
    rows: list[RowRead]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip() if isinstance(value, str) else str(value)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def read_workbook(data: bytes, name: str = "workbook") -> WorkbookRead:
    """Read a completed reviewer workbook; WorkbookError when it is not one (not XLSX, no review sheet,
    missing columns)."""
    try:
        wb = load_workbook(io.BytesIO(data), data_only=False)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise WorkbookError(f"{name}: not an Excel workbook ({type(exc).__name__})") from None
    if META_SHEET not in wb.sheetnames or SHEET not in wb.sheetnames:
        raise WorkbookError(f"{name}: not an access-review workbook (no '{SHEET}' / review sheet)")
    meta = {_text(r[0]): _text(r[1]) for r in wb[META_SHEET].iter_rows(values_only=True) if r and len(r) >= 2}
    if meta.get("format") != FORMAT or not meta.get("review_id"):
        raise WorkbookError(f"{name}: not an access-review workbook (unknown format {meta.get('format')!r})")
    ws = wb[SHEET]
    rows = ws.iter_rows(values_only=True)
    header = [_text(h) for h in next(rows, ())]
    missing = [h for h in HEADERS if h not in header]
    if missing:
        raise WorkbookError(f"{name}: missing columns: {', '.join(missing)}")
    col = {h: header.index(h) for h in HEADERS}
    out: list[RowRead] = []
    for n, raw in enumerate(rows, 2):
        cells = list(raw) + [None] * (len(header) - len(raw))
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
            continue
        when = cells[col["Reviewed on"]]
        out.append(
            RowRead(
                row=n,
                key=_text(cells[col[KEY_COLUMN]]),
                values={h: "" if cells[col[h]] is None else str(cells[col[h]]) for h, _ in COLUMNS},
                row_hash=_text(cells[col[HASH_COLUMN]]),
                decision=_text(cells[col["Decision"]]),
                reviewer=_text(cells[col["Reviewer"]]),
                reviewed_on=_as_date(when),
                reviewed_on_raw=_text(when),
                justification=_text(cells[col["Justification"]]),
            )
        )
    return WorkbookRead(meta["review_id"], meta, out)


# ---------------------------------------------------------------------------------------------- validate


_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def _tokens(text: str) -> set[str]:
    text = text.strip().casefold()
    if not text:
        return set()
    parts = {text}
    if "@" in text:
        parts.add(text.split("@", 1)[0])
    return {t for t in (_NOT_ALNUM.sub("", p) for p in parts) if len(t) >= 3}


def is_self_review(reviewer: str, principal: Principal) -> bool:
    """See the module doc: a shared token between the reviewer and the principal's name or e-mail."""
    mine = _tokens(reviewer)
    theirs = _tokens(principal.name) | _tokens(principal.email)
    return bool(mine & theirs)


@dataclass
class Decision:
    key: str
    account: str
    principal_type: str
    name: str
    arn: str
    decision: str
    reviewer: str
    reviewed_on: str
    justification: str
    self_review: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Validation:
    problems: list[str] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    self_reviews: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _same(read: str, expected: str) -> bool:
    return read == expected or read == clean_text(expected) or read.strip() == clean_text(expected).strip()


def validate(
    read: WorkbookRead,
    population: Sequence[Principal],
    *,
    issued_on: date,
    today: date,
    allow_self_review: bool = False,
) -> Validation:
    """Compare the rows read back with the issued population and check every decision.

    Problems (each names the row key and, for edits, the column): rows added, removed, duplicated or
    edited outside the decision columns; undecided rows; a missing reviewer or date; a date before the
    review was issued or after today; Revoke / Modify without a justification; self-review (unless
    allow_self_review, then it is recorded on the decision and listed in self_reviews)."""
    out = Validation()
    issued = {p.key: p for p in population}
    seen: dict[str, int] = {}
    for r in read.rows:
        where = f"row {r.row} ({r.key or 'no row key'})"
        if r.key in seen:
            out.problems.append(f"{where}: duplicate row (also row {seen[r.key]})")
            continue
        seen[r.key] = r.row
        p = issued.get(r.key)
        if p is None:
            out.problems.append(f"{where}: row added (not in the issued population)")
            continue
        edited = [h for (h, attr) in COLUMNS if not _same(r.values[h], getattr(p, attr))]
        if r.row_hash != p.row_hash():
            edited.append(HASH_COLUMN)
        if edited:
            out.problems.append(f"{where}: edited outside the decision columns: {', '.join(edited)}")
            continue
        decision = next((d for d in DECISIONS if d.casefold() == r.decision.casefold()), None)
        if decision is None:
            what = f"invalid decision {r.decision!r}" if r.decision else "no decision"
            out.problems.append(f"{where}: {what} (Keep, Revoke or Modify)")
        if not r.reviewer:
            out.problems.append(f"{where}: no reviewer")
        if r.reviewed_on is None:
            what = f"'Reviewed on' is not a date: {r.reviewed_on_raw!r}" if r.reviewed_on_raw else "no review date"
            out.problems.append(f"{where}: {what}")
        elif r.reviewed_on < issued_on or r.reviewed_on > today:
            out.problems.append(
                f"{where}: reviewed on {r.reviewed_on.isoformat()} is outside the review "
                f"({issued_on.isoformat()} to {today.isoformat()})"
            )
        if decision in NEEDS_JUSTIFICATION and not r.justification:
            out.problems.append(f"{where}: {decision} needs a justification")
        self_review = bool(r.reviewer) and is_self_review(r.reviewer, p)
        if self_review:
            if allow_self_review:
                out.self_reviews.append(f"{where}: reviewer {r.reviewer!r} reviewed their own access")
            else:
                out.problems.append(
                    f"{where}: self-review: reviewer {r.reviewer!r} matches the principal {p.name!r} "
                    "(another person must decide)"
                )
        if decision is not None and r.reviewer and r.reviewed_on is not None:
            out.decisions.append(
                Decision(
                    p.key,
                    p.account,
                    p.principal_type,
                    p.name,
                    p.arn,
                    decision,
                    r.reviewer,
                    r.reviewed_on.isoformat(),
                    r.justification,
                    self_review,
                )
            )
    for key in issued:
        if key not in seen:
            out.problems.append(f"{key}: row removed (in the issued population, not in the workbook)")
    return out


def population_rows(data: Iterable[Mapping[str, Any]]) -> list[Principal]:
    return [Principal.from_json(r) for r in data]
