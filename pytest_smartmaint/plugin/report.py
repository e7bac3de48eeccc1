"""``--smartmaint-report PATH``: one JSON record per check item."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

OUTCOME_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


@dataclass
class Record:
    check: str
    tier: str
    subject: str
    outcome: str
    message: str
    duration_s: float
    facts: dict[str, object] = field(default_factory=dict)  # what the item measured (engine disk, ports...)


class JsonReport:
    """Folds setup/call/teardown reports into one record per item (works under xdist too)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, Record] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "smartmaint_check" not in props:
            return
        record = self.records.setdefault(
            report.nodeid,
            Record(
                str(props["smartmaint_check"]),
                str(props["smartmaint_tier"]),
                str(props["smartmaint_subject"]),
                "passed",
                "",
                0.0,
            ),
        )
        record.duration_s = round(record.duration_s + report.duration, 3)
        if "smartmaint_facts" in props:
            record.facts = json.loads(str(props["smartmaint_facts"]))
        outcome: str = report.outcome
        if report.failed and report.when != "call":
            outcome = "error"
        if OUTCOME_RANK[outcome] > OUTCOME_RANK[record.outcome]:
            record.outcome = outcome
            if report.skipped and isinstance(report.longrepr, tuple):
                record.message = str(report.longrepr[2]).removeprefix("Skipped: ")
            else:
                record.message = report.longreprtext

    @pytest.hookimpl
    def pytest_sessionfinish(self) -> None:
        self.path.write_text(json.dumps([asdict(r) for r in self.records.values()], indent=2) + "\n", encoding="utf-8")
