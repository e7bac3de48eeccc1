"""pytest's and pytest-xdist's internals the plugin relies on (plugin/pytest_internals.py), each exercised
for real, in a pytester run. CI runs this module on the oldest pytest pyproject admits and on the newest
it pins: where an internal changes between them, the expectation says which version does what.
"""

from __future__ import annotations

import textwrap
from xml.etree import ElementTree

import pytest

from pytest_smartmaint.plugin.pytest_internals import callspec, xdist_grouped

# Items built the way the plugin builds its own: a Function per id, pytest's callspec, fixtures resolved once.
CONFTEST = textwrap.dedent(
    """
    import os
    import pytest
    from pytest_smartmaint.plugin.pytest_internals import callspec, fixture_info

    def run(tmp_path, request):
        assert tmp_path.exists()
        assert not (os.environ.get("BREAK") and "live" in request.node.name), "broken on purpose"

    class Internals(pytest.File):
        def collect(self):
            info = fixture_info(self, run)
            assert info is not None and "tmp_path" in info.argnames, info
            for sub in ("static-a", "live-b"):
                yield pytest.Function.from_parent(
                    self, name=f"chk[{sub}]", originalname="chk", callspec=callspec(sub), callobj=run,
                    fixtureinfo=info,
                )

    def pytest_collect_file(file_path, parent):
        if file_path.suffix == ".internals":
            return Internals.from_parent(parent, path=file_path)
    """
)


def test_callspec_carries_the_id_pytest_parametrization_would() -> None:
    assert callspec("static-./data").id == "static-./data"


def test_items_built_from_callspec_and_shared_fixture_info_keep_their_ids_in_co_junit_and_lf(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".internals", suite="")
    collected = pytester.runpytest("--co", "-q", "-p", "no:randomly")
    assert "suite.internals::chk[static-a]" in collected.outlines
    assert "suite.internals::chk[live-b]" in collected.outlines

    result = pytester.runpytest("--junitxml=junit.xml")
    result.assert_outcomes(passed=2)
    names = {c.get("name") for c in ElementTree.parse(pytester.path / "junit.xml").getroot().iter("testcase")}
    assert names == {"chk[static-a]", "chk[live-b]"}

    failed = pytester.runpytest("-k", "live", "--deselect", "suite.internals::chk[static-a]")
    failed.assert_outcomes(passed=1, deselected=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BREAK", "1")
        pytester.runpytest().assert_outcomes(passed=1, failed=1)
        rerun = pytester.runpytest("--lf", "-v")
    rerun.assert_outcomes(failed=1)  # the failed item alone: none passed, the static one was not run
    assert "rerun previous 1 failure" in rerun.stdout.str()
    assert "suite.internals::chk[live-b] FAILED" in rerun.stdout.str()


def test_a_worker_output_reaches_the_controller_and_a_stop_reason_stops_an_xdist_run(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    pytester.makeconftest(
        textwrap.dedent(
            """
            from pytest_smartmaint.plugin.pytest_internals import stop_xdist_session, worker_output

            def pytest_collection_modifyitems(config, items):
                if hasattr(config, "workerinput"):
                    worker_output(config)["seen"] = len(items)

            def pytest_testnodedown(node, error):
                print(f"WORKER-SAW {node.workeroutput.get('seen')}")

            def pytest_xdist_node_collection_finished(node, ids):
                import os
                if os.environ.get("STOP"):
                    stop_xdist_session(node.config, "stopped by the internals test")
            """
        )
    )
    pytester.makepyfile(test_a="def test_one(): pass\ndef test_two(): pass\n")
    ran = pytester.runpytest_subprocess("-n", "2", "-s")
    ran.assert_outcomes(passed=2)
    assert "WORKER-SAW 2" in ran.stdout.str()

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STOP", "1")
        stopped = pytester.runpytest_subprocess("-n", "2")
    assert "stopped by the internals test" in stopped.stdout.str() + stopped.stderr.str()
    assert stopped.ret != 0


def test_xdist_group_suffix_takes_on_pytest_below_9_2_only(pytester: pytest.Pytester) -> None:
    """pytest-dev/pytest-xdist#1386: loadgroup's ``@group`` suffix on node ids does not take from pytest 9.2."""
    pytest.importorskip("xdist")
    pytester.makeconftest(
        textwrap.dedent(
            """
            import pytest
            from pytest_smartmaint.plugin.pytest_internals import xdist_grouped

            @pytest.hookimpl(trylast=True)
            def pytest_collection_modifyitems(config, items):
                if hasattr(config, "workerinput"):
                    config.workeroutput["grouped"] = any(xdist_grouped(i.nodeid, "g") for i in items)

            def pytest_testnodedown(node, error):
                print(f"GROUPED {node.workeroutput.get('grouped')}")
            """
        )
    )
    pytester.makepyfile(
        test_a="import pytest\n@pytest.mark.xdist_group('g')\ndef test_one(): pass\n"
        "@pytest.mark.xdist_group('g')\ndef test_two(): pass\n"
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadgroup", "-s")
    result.assert_outcomes(passed=2)
    takes = pytest.version_tuple[:2] < (9, 2)
    assert f"GROUPED {takes}" in result.stdout.str() + result.stderr.str()
    assert xdist_grouped("smartmaint::x[live-a]@g", "g") and not xdist_grouped("smartmaint::x[live-a]", "g")
