"""serving without an engine: the setting as users write it, its errors, and the verdict's parts.

The live proof is in test_live.py: the reference stack passes serving[api] (local store, and S3 in
test_live_s3.py), and tests/variants/api-process-own-tracking-uri.yml fails it with its cause.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECTS
from pytest_smartmaint.checks.serving import _equal, _number_lists, _prediction_problem, live_cases
from pytest_smartmaint.live.facts import ProcessSettings, ServingAnswer
from pytest_smartmaint.settings import ServingRequest
from static_helpers import load

BODY = '{"model_name": "{model_name}", "model_version": "{model_version}", "features": {features}}'
REQUEST = f"http://api:8000/api/v1/ml/predict {BODY}"


def test_the_body_is_filled_in_from_the_smoke_model_and_the_service_is_the_urls_host() -> None:
    request = ServingRequest.parse(REQUEST)
    assert request is not None and request.service == "api" and request.sends_features
    body = json.loads(request.body("smartmaint-smoke-1a2b", "3", [[0.5, -1.0], [2.0, 0.25]]))
    assert body == {"model_name": "smartmaint-smoke-1a2b", "model_version": "3", "features": [[0.5, -1.0], [2.0, 0.25]]}
    assert ServingRequest.parse("") is None and ServingRequest.parse([]) is None  # unset: no request


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('api:8000/predict {"a": 1}', "is not an http:// URL whose host is a service of the stack"),
        ("http://api:8000/predict", "the JSON body is missing after the URL"),
        ('http://api:8000/predict {"model": {model_name}}', "the body is not JSON once {model_name}, "),
    ],
)
def test_a_setting_that_is_not_a_request_is_one_usage_error_through_the_terminal(
    pytester: pytest.Pytester, stack: Path, value: str, problem: str
) -> None:
    pytester.makeini(f"[pytest]\nsmartmaint_serving_request = {value}\n")
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert err.startswith("ERROR: smartmaint_serving_request: ") and problem in err, err
    assert "Write the URL, a space, then the JSON body, for example:" in err
    assert "Traceback" not in err + result.stdout.str()


def _collect(project: Path, *ini: str) -> str:
    (project / "pytest.ini").write_text("[pytest]\n" + "".join(f"{line}\n" for line in ini))
    command = [sys.executable, "-m", "pytest", "--smartmaint", "--collect-only", "-q", "-k", "serving"]
    command += ["-p", "no:cacheprovider"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=120).stdout


def test_without_the_setting_one_item_skips_saying_how_to_set_it(tmp_path: Path) -> None:
    """A user's repository, as a first run finds it: the item is there, and its skip says what to write."""
    shutil.copytree(PROJECTS / "base", tmp_path / "repo")
    out = _collect(tmp_path / "repo")
    assert "smartmaint::serving[live-n/a]" in out, out
    out = _collect(tmp_path / "repo", f"smartmaint_serving_request = {REQUEST}")
    assert "smartmaint::serving[live-api]" in out, out
    (case,) = live_cases(load(tmp_path / "repo"))  # unset: the one item, run, skips with what to write
    with pytest.raises(pytest.skip.Exception) as skipped:
        case.run(None)  # type: ignore[arg-type]  (a not-applicable item looks at no stack)
    assert "no smartmaint_serving_request is set" in skipped.value.msg
    assert "smartmaint_serving_request = 'http://api:8000/api/v1/ml/predict" in skipped.value.msg


def test_a_prediction_is_a_list_in_the_answer_equal_to_the_trainers() -> None:
    request = ServingRequest.parse(REQUEST)
    assert request is not None
    expected = (1.0, -1.0, 1.0, 1.0)

    def problem(body: str) -> str | None:
        return _prediction_problem(request, ServingAnswer(200, body, "", 0.1), expected)

    assert problem('{"predictions": [1.0, -1.0, 1.0, 1.0]}') is None
    assert problem('{"result": {"model": "x", "scores": [1, -1, 1, 1]}}') is None  # anywhere, ints too
    assert "no list in its answer equals" in str(problem('{"predictions": [1.0, 1.0, 1.0, 1.0]}'))
    assert problem("<html>ok</html>") == "its answer is not JSON"
    no_rows = ServingRequest.parse('http://api:8000/p {"name": "{model_name}"}')
    assert no_rows is not None and _prediction_problem(no_rows, ServingAnswer(200, "{}", "", 0.1), expected) is None
    assert list(_number_lists([[True, False]])) == []  # booleans are no prediction
    assert not _equal([1.0, 2.0], (1.0,))


def test_a_process_that_reads_other_settings_than_docker_exec_is_named_less_the_probes_own() -> None:
    settings = ProcessSettings.parse(
        {
            "exec_settings": {"MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"},
            "processes": [
                {"pid": 1, "command": "python3 /app/api.py", "settings": {"MLFLOW_TRACKING_URI": "file:///tmp/mlruns"}},
                {"pid": 7, "command": "sleep 1", "settings": {"MLFLOW_TRACKING_URI": "http://mlflow:5000"}},
            ],
        }
    )
    assert settings.differing(ignored=("MLFLOW_HTTP_REQUEST_MAX_RETRIES",)) == [
        (1, "python3 /app/api.py", "MLFLOW_TRACKING_URI", "file:///tmp/mlruns", "http://mlflow:5000")
    ]
