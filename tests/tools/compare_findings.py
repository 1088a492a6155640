"""Compare the verdicts of two runs of the same estate (for example two `make demo` runs).

Why: a refactor must not change a single verdict. Two demo runs differ in run IDs, times,
evidence hashes, the random ports of the TLS servers and the random identifiers moto
draws (account IDs, volume IDs, distribution IDs), so findings cannot be compared byte
for byte across runs; `soc2-evidence evaluate OLD_RUN` does that for the checks. What
this script compares is every finding's verdict: (check, account by name, region,
resource type, status) with multiplicity, and the status counts per control.

Usage: .venv/bin/python tests/compare_findings.py RUN_DIR_A RUN_DIR_B   (exit 0 when equal)
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

_PORT = re.compile(r":\d{2,5}$")


def verdicts(run_dir: Path) -> Counter[tuple[str, ...]]:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    names = {a["id"]: a["name"] for a in manifest["scope"]["aws_accounts"]}
    found: Counter[tuple[str, ...]] = Counter()
    for raw in (run_dir / "findings.jsonl").read_text().splitlines():
        f = json.loads(raw)
        account = _PORT.sub(":PORT", names.get(f["account"], f["account"]))
        found[(f["check_id"], account, f["region"], f["resource_type"], f["status"])] += 1
    return found


def main(argv: list[str]) -> int:
    a, b = (verdicts(Path(p)) for p in argv[1:3])
    if a == b:
        print(f"identical verdicts: {sum(a.values())} findings, {len(a)} distinct verdict keys")
        return 0
    print(f"DIFFERENT: {sum(a.values())} vs {sum(b.values())} findings")
    for key in sorted(set(a) | set(b)):
        if a[key] != b[key]:
            print(f"  {a[key]:>4} -> {b[key]:<4} {' | '.join(key)}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
