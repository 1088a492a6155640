"""The marker an interrupted run leaves in its folder: `interrupted.json`.

A run folder without manifest.json is already incomplete (reports.store); the
marker says why, for `history` and for a person looking at the folder: which
signal stopped the run and when. It is written only into a folder that has no
manifest: a run that completed stays completed whatever happens after.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports.store import MANIFEST

INTERRUPTED = "interrupted.json"


def mark_interrupted(run_dir: Path, signal_name: str, now: datetime | None = None) -> bool:
    """Write the marker into `run_dir` unless the run completed; True if written.

    Called from a signal handler just before the process exits: a plain write
    (no fsync, no temporary file) that cannot block on anything."""
    if not run_dir.is_dir() or (run_dir / MANIFEST).exists():
        return False
    doc = {
        "status": "interrupted",
        "signal": signal_name,
        "at": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "pid": os.getpid(),
    }
    (run_dir / INTERRUPTED).write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return True


def read_interrupted(run_dir: Path) -> dict[str, Any] | None:
    """The marker's content, None without one (or unreadable: then it says nothing reliable)."""
    try:
        doc = json.loads((run_dir / INTERRUPTED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def describe(run_dir: Path) -> str | None:
    """'interrupted by SIGINT at …' for `history`, None if the run was not interrupted."""
    doc = read_interrupted(run_dir)
    if doc is None:
        return None
    return f"interrupted by {doc.get('signal', '?')} at {doc.get('at', '?')} (no manifest.json: never a baseline)"
