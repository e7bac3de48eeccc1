"""The static tier on projects shaped like real ones (tests/projects/corpus).

Each case's expected.toml was written from reading its files, before the plugin ran on it: a
verdict per item (``passed``, ``skipped`` or ``failed``, optionally ``: <text the message holds>``).
Each case runs as a user runs it, ``pytest --smartmaint --smartmaint-static``, and is judged
through the JSON report: for each check the case lists, the same items and the same outcomes; no
crash anywhere.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from conftest import PROJECTS

CORPUS = PROJECTS / "corpus"
CASES = sorted(p for p in CORPUS.iterdir() if (p / "expected.toml").is_file())


def test_the_corpus_covers_enough_real_layouts() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_static_verdicts_agree_with_the_written_expectation(pytester: pytest.Pytester, case: Path) -> None:
    expected = tomllib.loads((case / "expected.toml").read_text(encoding="utf-8"))
    files = [
        arg
        for name in expected.get("files", ["docker-compose.yml"])
        for arg in (f"--smartmaint-compose-file={case / name}",)
    ]
    result = pytester.runpytest_inprocess(
        "--smartmaint", "--smartmaint-static", "--smartmaint-report=report.json", "-p", "no:cacheprovider", *files
    )
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output and "Traceback" not in output, output[-3000:]
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), output[-3000:]
    records = {
        f"{r['check']}[{r['tier']}-{r['subject']}]": r for r in json.loads((pytester.path / "report.json").read_text())
    }
    verdicts: dict[str, str] = expected["verdicts"]
    # the case speaks for the checks it lists, and only for them: a new check is not asserted here
    listed = {name.partition("[")[0] for name in verdicts}
    items = sorted(name for name in records if name.partition("[")[0] in listed)
    assert items == sorted(verdicts), "the items of the listed checks differ from the expectation"
    wrong = {}
    for name, want in verdicts.items():
        outcome, _, fragment = want.partition(": ")
        record = records[name]
        if record["outcome"] != outcome or fragment not in record["message"]:
            wrong[name] = f"expected {want!r}, got {record['outcome']}: {record['message'][:600]}"
    assert not wrong, "\n".join(f"{n}: {w}" for n, w in wrong.items())
