"""What users see: options, collection, ids, report, header and bad input (pytester runs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

pytest_plugins = ["pytester"]
# the static tier on the base stack with the test's override.yml on top
STATIC_WITH_OVERRIDE = (
    "--smartmaint",
    "--smartmaint-static",
    "--smartmaint-compose-file",
    "docker-compose.test.yml",
    "--smartmaint-compose-file",
    "override.yml",
)


def test_without_smartmaint_nothing_is_collected_and_no_docker_call_is_made(
    pytester: pytest.Pytester, stack: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")  # any docker call would fail loudly
    pytester.makepyfile("def test_user(): pass")
    result = pytester.runpytest_inprocess("-v")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("smartmaint:*")
    result.stdout.no_fnmatch_line("*smartmaint::*")


def test_items_carry_stable_ids_and_the_marker(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess(
        "--smartmaint", "--smartmaint-static", "--collect-only", "-q", "-m", "smartmaint"
    )
    result.stdout.fnmatch_lines(
        [
            "smartmaint::volume-paths[[]static-./mlflow_data[]]",
            "smartmaint::uid-mapping[[]static-./mlflow_data[]]",
            "smartmaint::sqlite-backend[[]static-mlflow[]]",
            "smartmaint::audio-deps[[]static-api[]]",
            "smartmaint::mlflow-reachable[[]static-trainer[]]",
            "smartmaint::build-context[[]static-./ml[]]",
            "smartmaint::lock-consistency[[]static-n/a[]]",
        ]
    )
    assert result.ret == 0


def test_live_items_are_collected_unless_static(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess("--smartmaint", "--collect-only", "-q", "-k", "live")
    result.stdout.fnmatch_lines(
        ["smartmaint::mlflow-reachable[[]live-api[]]", "smartmaint::mlflow-reachable[[]live-trainer[]]"]
    )


def test_k_selects_one_check(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static", "-k", "sqlite-backend", "-v")
    result.stdout.fnmatch_lines(["smartmaint::sqlite-backend[[]static-mlflow[]] PASSED*"])
    result.assert_outcomes(passed=1)


def test_failure_reads_as_a_diagnosis_not_a_traceback(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "override.yml").write_text('services:\n  api:\n    user: "1001:1001"\n')
    result = pytester.runpytest_inprocess(
        *STATIC_WITH_OVERRIDE,
        "-k",
        "uid-mapping",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*The services sharing ./mlflow_data run as different users:*", '*user: "1000:1000"*'])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*def _check*")


def test_json_report_has_one_record_per_item(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "override.yml").write_text('services:\n  api:\n    user: "1001:1001"\n')
    (stack / "out").mkdir()
    result = pytester.runpytest_inprocess(
        "--smartmaint",
        "--smartmaint-static",
        "--smartmaint-report",
        "out/report.json",
        "--smartmaint-compose-file",
        "docker-compose.test.yml",
        "--smartmaint-compose-file",
        "override.yml",
    )
    records = json.loads((stack / "out" / "report.json").read_text())
    assert len(records) == result.parseoutcomes()["passed"] + 1 + result.parseoutcomes()["skipped"]
    assert all(set(r) == {"check", "tier", "subject", "outcome", "message", "duration_s", "facts"} for r in records)
    failed = [r for r in records if r["outcome"] == "failed"]
    assert [(r["check"], r["tier"], r["subject"]) for r in failed] == [("uid-mapping", "static", "./mlflow_data")]
    assert "run as different users" in failed[0]["message"]
    skipped = [r for r in records if r["outcome"] == "skipped"]
    assert skipped and all(r["message"] for r in skipped)


def collected_ids(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest_inprocess("--smartmaint", "--collect-only", "-q", "-m", "smartmaint", *args)
    return [line for line in result.outlines if line.startswith("smartmaint::")]


def test_every_item_has_its_own_documented_node_id(pytester: pytest.Pytester, stack: Path) -> None:
    ids = collected_ids(pytester)
    assert len(ids) == len(set(ids)) > 11
    assert all(re.fullmatch(r"smartmaint::[a-z-]+\[(static|live)-[^\]]+\]", i) for i in ids), ids


def test_junitxml_names_each_item_by_its_id(pytester: pytest.Pytester, stack: Path) -> None:
    ids = collected_ids(pytester, "--smartmaint-static")
    pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static", "--junitxml=junit.xml")
    cases = ElementTree.parse(stack / "junit.xml").getroot().iter("testcase")
    assert [f"{c.get('classname')}::{c.get('name')}" for c in cases] == ids


def test_verbose_progress_counts_each_item_once(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static", "-v")
    # progress lines only: the warnings summary names items too (sqlite-backend warns of MLflow's default workers)
    lines = [line for line in result.outlines if re.match(r"smartmaint::\S+ (PASSED|FAILED|SKIPPED|ERROR) ", line)]
    assert len(lines) == len(set(lines)) == len(collected_ids(pytester, "--smartmaint-static"))
    assert lines[-1].endswith("[100%]")


def test_lf_reruns_exactly_the_item_that_failed(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "override.yml").write_text('services:\n  api:\n    user: "1001:1001"\n')
    args = (*STATIC_WITH_OVERRIDE, "-v")
    first = pytester.runpytest_inprocess(*args)
    assert first.parseoutcomes()["failed"] == 1 and first.parseoutcomes()["passed"] > 1
    rerun = pytester.runpytest_inprocess(*args, "--lf")
    rerun.assert_outcomes(failed=1)
    rerun.stdout.fnmatch_lines(
        ["run-last-failure: rerun previous 1 failure", "smartmaint::uid-mapping[[]static-./mlflow_data[]] FAILED*"]
    )


def test_an_item_is_selected_by_its_node_id(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess(
        "--smartmaint",
        "--smartmaint-static",
        "-v",
        "smartmaint::sqlite-backend[static-mlflow]",
        "smartmaint::audio-deps",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "smartmaint::sqlite-backend[[]static-mlflow[]] PASSED*",
            "smartmaint::audio-deps[[]static-api[]] PASSED*",
            "smartmaint::audio-deps[[]static-trainer[]] PASSED*",
        ]
    )


def test_a_node_id_that_names_no_item_is_a_usage_error(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess(
        "--smartmaint", "--smartmaint-static", "smartmaint::uid-mapping[static-./nope]"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*no smartmaint item has the node id smartmaint::uid-mapping[[]static-./nope[]]*"])


def test_header_says_where_settings_and_roles_come_from(pytester: pytest.Pytester, stack: Path) -> None:
    pytester.makeini("[pytest]\nsmartmaint_trainer = api\n")
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static", "--co")
    result.stdout.fnmatch_lines(
        [
            "smartmaint: compose files: */docker-compose.test.yml (from default (docker-compose.test.yml))",
            "smartmaint: tier: static; stack: static only, no containers",
            "smartmaint: roles: server=mlflow (detected: command runs `mlflow server`); clients=api, trainer *; "
            "trainer=api (ini smartmaint_trainer);*",
            "smartmaint: reproduce with: pytest --smartmaint "
            "--smartmaint-compose-file=*docker-compose.test.yml --smartmaint-static",
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--smartmaint", "--smartmaint-static", "--smartmaint-project", "prod"],
            "*--smartmaint-static runs no containers, so --smartmaint-project has nothing to check. Drop one of them.*",
        ),
        (
            ["--smartmaint", "--smartmaint-static", "--smartmaint-keep"],
            "*--smartmaint-keep keeps a stack the plugin starts, and --smartmaint-static starts none*",
        ),
        (["--smartmaint", "--smartmaint-project", "Bad Name"], "*'Bad Name' is not a compose project name*"),
        (
            ["--smartmaint", "--smartmaint-report", "missing/dir/r.json"],
            "*the directory of 'missing/dir/r.json' does not exist*",
        ),
        (["--smartmaint-static"], "*--smartmaint-static only takes effect with --smartmaint. Add --smartmaint*"),
        (["--smartmaint", "--smartmaint-compose-file", "nope.yml"], "*compose file */nope.yml does not exist*"),
    ],
    ids=["static+project", "keep+static", "project-name", "report-dir", "needs-smartmaint", "missing-file"],
)
def test_bad_options_are_usage_errors_that_name_the_fix(
    pytester: pytest.Pytester, stack: Path, args: list[str], message: str
) -> None:
    result = pytester.runpytest_inprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_invalid_ini_number_is_a_usage_error(pytester: pytest.Pytester, stack: Path) -> None:
    pytester.makeini("[pytest]\nsmartmaint_build_context_max_mb = -5\n")
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*smartmaint_build_context_max_mb must be a positive integer. Current input: '-5'.*"])


def test_invalid_yaml_is_one_message(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "docker-compose.test.yml").write_text("services:\n  api: [unclosed\n")
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*`docker compose config` rejected the compose project*"])
    assert "Traceback" not in result.stderr.str()


def test_missing_env_file_says_which_example_to_copy(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "override.yml").write_text("services:\n  api:\n    env_file: .env\n")
    (stack / ".env.example").write_text("TOKEN=\n")
    result = pytester.runpytest_inprocess(
        *STATIC_WITH_OVERRIDE,
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*names an env_file that does not exist: */.env. A fresh clone usually has no .env: "
            "create it from the example: cp */.env.example */.env.*"
        ]
    )


def test_unknown_service_in_ini_is_named(pytester: pytest.Pytester, stack: Path) -> None:
    pytester.makeini("[pytest]\nsmartmaint_audio_services = api worker\n")
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*smartmaint_audio_services names worker, which the compose project does not define. "
            "Its services are: api, mlflow, trainer.*"
        ]
    )


def test_no_compose_v2_is_one_message(pytester: pytest.Pytester, stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real docker CLI with an empty plugin dir: exactly a machine without the Compose v2 plugin.
    monkeypatch.setenv("DOCKER_CONFIG", str(stack / "empty-docker-config"))
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Compose v2 (`docker compose`) is not available*"])


def test_no_docker_cli_is_one_message(pytester: pytest.Pytester, stack: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the docker CLI is not on PATH*"])


def test_a_dockerfile_the_compose_file_names_but_that_is_missing_is_one_message(
    pytester: pytest.Pytester, stack: Path
) -> None:
    (stack / "override.yml").write_text(
        "services:\n  api:\n    build:\n      context: ./ml\n      dockerfile: Dockerfile.gpu\n"
    )
    result = pytester.runpytest_inprocess(
        *STATIC_WITH_OVERRIDE,
    )
    # the build cannot start: its item says so, naming the service and the path; the other items still run
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*The Dockerfile of service api does not exist: */ml/Dockerfile.gpu (in its build context ./ml)*"]
    )
    assert result.parseoutcomes()["passed"] > 1
    assert "Traceback" not in result.stderr.str() + result.stdout.str()


def test_a_build_context_that_does_not_exist_is_named_with_its_service(pytester: pytest.Pytester, stack: Path) -> None:
    (stack / "override.yml").write_text("services:\n  api:\n    build:\n      context: ./nodir\n")
    result = pytester.runpytest_inprocess(
        *STATIC_WITH_OVERRIDE,
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [f"*The build context of service api does not exist: ./nodir (compose resolves it to {stack / 'nodir'})*"]
    )


def test_dockerfiles_with_other_names_are_read(pytester: pytest.Pytester, stack: Path) -> None:
    """dockerfile-parse takes a path that does not end in "Dockerfile" for a directory: this crashed once."""
    (stack / "ml" / "Dockerfile").rename(stack / "ml" / "Dockerfile.ml")
    (stack / "override.yml").write_text(
        "services:\n  api:\n    build:\n      context: ./ml\n      dockerfile: Dockerfile.ml\n"
        "  trainer:\n    build:\n      context: ./ml\n      dockerfile: Dockerfile.ml\n"
        "  mlflow:\n    build: !override\n      context: .\n      dockerfile_inline: |\n"
        "        FROM python:3.12-slim\n        RUN pip install mlflow==3.17.2\n        USER 1000:1000\n"
    )
    result = pytester.runpytest_inprocess(
        "--smartmaint",
        "--smartmaint-static",
        "-v",
        "--smartmaint-compose-file",
        "docker-compose.test.yml",
        "--smartmaint-compose-file",
        "override.yml",
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["smartmaint::audio-deps[[]static-api[]] PASSED*"])


def test_smartmaint_only_leaves_the_projects_own_tests_out(pytester: pytest.Pytester, stack: Path) -> None:
    """In a user's repository: a test module that cannot import on this runner does not end the run."""
    pytester.makeini("[pytest]\ntestpaths = tests\n")
    (stack / "tests").mkdir()
    (stack / "tests" / "test_app.py").write_text("import a_module_this_runner_lacks\n")
    (stack / "tests" / "test_infra.py").write_text("def test_named_by_the_user(): pass\n")
    plain = pytester.runpytest_inprocess("--smartmaint", "--smartmaint-static", "-p", "no:cacheprovider")
    assert plain.ret == pytest.ExitCode.INTERRUPTED  # what users met: the collection error ends the run
    only = pytester.runpytest_inprocess(
        "--smartmaint", "--smartmaint-static", "--smartmaint-only", "-p", "no:cacheprovider"
    )
    assert only.ret == pytest.ExitCode.OK, only.stdout.str()[-3000:]
    only.stdout.fnmatch_lines(
        [
            "smartmaint: tier: static; *; the project's own tests are not collected (--smartmaint-only)",
            "smartmaint: reproduce with: * --smartmaint-only",
        ]
    )
    assert "test_app" not in only.stdout.str() and only.parseoutcomes()["passed"] > 1
    named = pytester.runpytest_inprocess(
        "--smartmaint",
        "--smartmaint-static",
        "--smartmaint-only",
        "-p",
        "no:cacheprovider",
        "-v",
        "tests/test_infra.py",
    )
    named.stdout.fnmatch_lines(["tests/test_infra.py::test_named_by_the_user PASSED*"])
    assert named.ret == pytest.ExitCode.OK and "test_app" not in named.stdout.str()


def test_smartmaint_only_needs_smartmaint(pytester: pytest.Pytester, stack: Path) -> None:
    result = pytester.runpytest_inprocess("--smartmaint-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--smartmaint-only only takes effect with --smartmaint. Add --smartmaint to run the suite."]
    )


def test_container_names_are_dropped_in_the_runs_own_stack_and_stay_aliases(stack: Path) -> None:
    """The generated override: a fixed container_name would meet the user's running copy of the stack."""
    from pytest_smartmaint.live.isolation import isolate
    from pytest_smartmaint.settings import Settings
    from pytest_smartmaint.static.stack_model import build_model

    (stack / "override.yml").write_text(
        "services:\n  mlflow:\n    container_name: shop-mlflow\n"
        "  api:\n    container_name: shop-api\n    networks: [default, front]\n"
        "networks:\n  front: {}\n"
    )
    files = (stack / "docker-compose.test.yml", stack / "override.yml")
    settings = Settings(
        compose_files=files, compose_files_source="test", static_only=False, project=None, keep=False, report=None
    )
    isolation = isolate(build_model(settings), "smartmaint-0123456789")
    try:
        from pytest_smartmaint.static.compose import load_project

        merged = load_project([*files, isolation.override])
        assert {n: s.container_name for n, s in merged.services.items()} == dict.fromkeys(merged.services)
        assert "shop-mlflow" in merged.service("mlflow").aliases
        assert "shop-api" in merged.service("api").aliases and merged.service("api").networks == {"default", "front"}
    finally:
        isolation.remove()
