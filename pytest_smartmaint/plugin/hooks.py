"""pytest entry point: options, and the suite's plugin object when --smartmaint is on.

Without --smartmaint this module only adds options: nothing is registered, collected or
run, and no Docker command is made.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError
from ..settings import Settings, new_project_name, project_name, report_path, swarm_stack_name
from . import COLLECTOR

if TYPE_CHECKING:
    from ..static.stack_model import StackModel

pytest.register_assert_rewrite("pytest_smartmaint.checks")

HELP_NEEDS_ON = "Only with --smartmaint."
SMARTMAINT_OPTIONS = (
    "smartmaint_compose_files",
    "smartmaint_static",
    "smartmaint_project",
    "smartmaint_keep",
    "smartmaint_report",
    "smartmaint_only",
    "smartmaint_swarm",
    "smartmaint_swarm_stack",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smartmaint", "infrastructure checks of a docker compose ML stack (pytest-smartmaint)")
    group.addoption(
        "--smartmaint",
        action="store_true",
        dest="smartmaint",
        default=False,
        help="Run the built-in infrastructure suite against the compose stack.",
    )
    group.addoption(
        "--smartmaint-compose-file",
        action="append",
        dest="smartmaint_compose_files",
        metavar="PATH",
        default=None,
        help="Compose file, repeatable like `docker compose -f`. Default: ini "
        "smartmaint_compose_files, else docker-compose.test.yml, else compose's default files.",
    )
    group.addoption(
        "--smartmaint-static",
        action="store_true",
        dest="smartmaint_static",
        default=False,
        help=f"Static tier only: read compose files and Dockerfiles, start nothing. {HELP_NEEDS_ON}",
    )
    group.addoption(
        "--smartmaint-project",
        dest="smartmaint_project",
        metavar="NAME",
        type=project_name,
        default=None,
        help="Check this running compose project instead of starting one; never recreates or stops it. "
        f"{HELP_NEEDS_ON}",
    )
    group.addoption(
        "--smartmaint-swarm",
        action="store_true",
        dest="smartmaint_swarm",
        default=False,
        help="Deploy the stack to the engine's swarm (`docker stack deploy`, a stack of its own, removed after) "
        "and add Swarm's own static rules; the plugin never initialises or leaves a swarm. With "
        f"--smartmaint-static: Swarm's rules, no engine. {HELP_NEEDS_ON}",
    )
    group.addoption(
        "--smartmaint-swarm-stack",
        dest="smartmaint_swarm_stack",
        metavar="NAME",
        type=swarm_stack_name,
        default=None,
        help=f"Check this deployed swarm stack instead of deploying one; never updates or removes it. {HELP_NEEDS_ON}",
    )
    group.addoption(
        "--smartmaint-keep",
        action="store_true",
        dest="smartmaint_keep",
        default=False,
        help=f"Leave the stack the plugin started running after the session. {HELP_NEEDS_ON}",
    )
    group.addoption(
        "--smartmaint-only",
        action="store_true",
        dest="smartmaint_only",
        default=False,
        help="Run the built-in suite alone: nothing from testpaths or the rootdir is collected (test "
        f"files named on the command line still are). {HELP_NEEDS_ON}",
    )
    group.addoption(
        "--smartmaint-report",
        dest="smartmaint_report",
        metavar="PATH",
        type=report_path,
        default=None,
        help=f"Write a JSON report, one record per check item. {HELP_NEEDS_ON}",
    )
    parser.addini(
        "smartmaint_compose_files",
        type="args",
        default=[],
        help="Compose files (relative to the ini file), used when --smartmaint-compose-file is not given.",
    )
    parser.addini(
        "smartmaint_server", type="args", default=[], help="Service that runs the MLflow server (default: detected)."
    )
    parser.addini("smartmaint_clients", type="args", default=[], help="MLflow client services (default: detected).")
    parser.addini(
        "smartmaint_trainer", type="args", default=[], help="Service that trains the smoke model (default: detected)."
    )
    parser.addini(
        "smartmaint_consumers", type="args", default=[], help="Services that load registered models (default: clients)."
    )
    parser.addini(
        "smartmaint_audio_services", type="args", default=[], help="Services with the audio stack (default: detected)."
    )
    parser.addini(
        "smartmaint_test_services",
        type="args",
        default=[],
        help="Services that run the project's tests (default: those whose command or entrypoint runs pytest).",
    )
    parser.addini(
        "smartmaint_build_context_max_mb", default="200", help="Largest build context after .dockerignore, in MB."
    )
    parser.addini("smartmaint_startup_timeout", default="300", help="Seconds to wait for the stack to become healthy.")
    parser.addini(
        "smartmaint_teardown_timeout",
        default="120",
        help="Seconds `docker compose down` may take before it is cut and reported.",
    )
    parser.addini(
        "smartmaint_serving_request",
        default="",
        help="URL of the API's prediction endpoint (its host a service) and the JSON body to POST, with "
        "{model_name}, {model_version} and {features} filled in from the smoke model (default: no serving item).",
    )
    parser.addini(
        "smartmaint_swarm_engines",
        type="args",
        default=[],
        help="NODE=ENDPOINT pairs: the engine of each other swarm node the run reaches tasks on (a node's hostname, "
        "a DOCKER_HOST value); tasks on the manager need none.",
    )
    parser.addini(
        "smartmaint_min_free_gb",
        default="10",
        help="Free GB on the engine's data root below which the stack is not built (0: no limit).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "smartmaint: an item of the pytest-smartmaint built-in suite")
    from . import public_fixtures  # skip with the reason when the suite is off; no Docker call until used

    config.pluginmanager.register(public_fixtures, "smartmaint-public-fixtures")
    if not config.getoption("smartmaint"):
        given = [
            f"--{name.replace('_', '-').replace('-files', '-file')}"
            for name in SMARTMAINT_OPTIONS
            if config.getoption(name) not in (None, False)
        ]
        if given:
            raise pytest.UsageError(
                f"{', '.join(given)} only take{'s' if len(given) == 1 else ''} effect with "
                "--smartmaint. Add --smartmaint to run the suite."
            )
        return
    if config.getoption("help", False):
        return
    from ..static.stack_model import build_model  # imported only when the suite is on

    settings = Settings.from_config(config)
    try:
        model = dataclasses.replace(build_model(settings), swarm_nodes=_swarm_nodes(settings))
    except SmartmaintError as exc:
        raise pytest.UsageError(f"pytest-smartmaint: {exc}") from None
    plugin = SmartmaintPlugin(config, settings, model, _take_node_id_args(config))
    if settings.only:
        _collect_only_named_paths(config)
    config.pluginmanager.register(plugin, "smartmaint-suite")
    from . import fixtures
    from .stack_provider import PROVIDER_KEY, StackProvider

    provider = StackProvider(config, settings, model, plugin.project_name)
    config.stash[PROVIDER_KEY] = provider
    config.pluginmanager.register(provider, "smartmaint-stack-provider")
    config.pluginmanager.register(fixtures, "smartmaint-fixtures")
    if config.pluginmanager.hasplugin("xdist"):
        from .xdist_support import XdistController, XdistWorker

        worker = hasattr(config, "workerinput")  # xdist's is_xdist_worker() needs a session, not there yet
        config.pluginmanager.register(XdistWorker(config) if worker else XdistController(config), "smartmaint-xdist")
    if settings.report is not None and not hasattr(config, "workerinput"):
        from .report import JsonReport

        config.pluginmanager.register(JsonReport(settings.report), "smartmaint-report")


def _swarm_nodes(settings: Settings) -> int | None:
    """How many nodes the engine's swarm has, for a run on it (None: static only, or no engine answers); a usage
    error, before anything is collected, when the engine is in no swarm or is not a manager of one."""
    option = "--smartmaint-swarm-stack" if settings.swarm_stack else "--smartmaint-swarm" if settings.swarm else None
    if option is None or settings.static_only:
        return None
    from ..live.swarm_lifecycle import swarm_state, swarm_usage_problem

    state = swarm_state()
    problem = swarm_usage_problem(option, state)
    if problem:
        raise pytest.UsageError(f"pytest-smartmaint: {problem}")
    return state.nodes if state else None


def _take_node_id_args(config: pytest.Config) -> tuple[str, ...]:
    """Command-line arguments that name suite items (``smartmaint::uid-mapping[static-./data]``).

    They are no paths, so pytest would reject them: they are taken out of ``config.args`` and
    applied as a selection after collection. xdist workers reparse the original arguments, so
    they take the same selection.
    """
    ours = tuple(
        a
        for a in config.args
        if (a == COLLECTOR or a.startswith(f"{COLLECTOR}::"))
        and not (config.invocation_params.dir / a.split("::")[0]).exists()
    )
    if ours:
        config.args[:] = [a for a in config.args if a not in ours]
    return ours


def _collect_only_named_paths(config: pytest.Config) -> None:
    """--smartmaint-only: the project's own tests (testpaths, the rootdir) are not collected, so a test
    module that cannot import on this runner does not end the run; paths the user named still are."""
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = []


class SmartmaintPlugin:
    def __init__(
        self, config: pytest.Config, settings: Settings, model: StackModel, node_ids: tuple[str, ...] = ()
    ) -> None:
        self.config = config
        self.node_ids = node_ids  # suite items named on the command line
        # the project checked: the user's (--smartmaint-project) or one of our own, named up front for the header
        self.project_name = settings.project or new_project_name()
        self.settings = settings
        self.model = model

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        if isinstance(collector, pytest.Session) and report.passed:
            from .suite import SmartmaintCollector

            report.result.append(
                SmartmaintCollector.from_parent(
                    collector, name=COLLECTOR, nodeid=COLLECTOR, model=self.model, settings=self.settings
                )
            )
        return report

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        if not self.node_ids:
            return
        matched: set[str] = set()

        def selected(item: pytest.Item) -> bool:
            if not item.nodeid.startswith(f"{COLLECTOR}::"):
                return True  # the user's own tests, named by path as usual
            hits = {
                a
                for a in self.node_ids
                if a == COLLECTOR or item.nodeid == a or item.nodeid.startswith((a + "[", a + "::"))
            }
            matched.update(hits)
            return bool(hits)

        deselected = [item for item in items if not selected(item)]
        unmatched = [a for a in self.node_ids if a not in matched]
        if unmatched:
            raise pytest.UsageError(
                f"no smartmaint item has the node id {', '.join(unmatched)}. "
                "List the suite's ids with: pytest --smartmaint --co -q -m smartmaint"
            )
        if deselected:
            config.hook.pytest_deselected(items=deselected)
            items[:] = [item for item in items if item not in deselected]

    def pytest_report_header(self) -> list[str]:
        s, m = self.settings, self.model
        files = ", ".join(str(f) for f in m.project.files) or "(none)"
        mode = (
            f"check running project {s.project} (read-mostly)"
            if s.project
            else f"check deployed swarm stack {s.swarm_stack} (read-mostly)"
            if s.swarm_stack
            else "static only, no containers" + ("; Swarm's rules (--smartmaint-swarm)" if s.swarm else "")
            if s.static_only
            else f"own swarm stack {self.project_name} (`docker stack deploy`), "
            + ("kept afterwards (--smartmaint-keep)" if s.keep else "removed afterwards")
            if s.swarm
            else "static only, no containers"
            if s.static_only
            else f"own project {self.project_name}, "
            + ("kept afterwards (--smartmaint-keep)" if s.keep else "removed afterwards")
        )
        roles = m.roles
        lines = [
            f"smartmaint: compose files: {files} (from {s.compose_files_source})",
            f"smartmaint: tier: {s.tier}; stack: {mode}"
            + ("; the project's own tests are not collected (--smartmaint-only)" if s.only else ""),
            "smartmaint: roles: "
            + "; ".join(
                f"{role}={value or '-'} ({roles.sources.get(key, '')})"
                for role, key, value in (
                    ("server", "server", roles.server),
                    ("clients", "clients", ", ".join(roles.clients)),
                    ("trainer", "trainer", roles.trainer),
                    ("consumers", "consumers", ", ".join(roles.consumers)),
                    ("audio", "audio", ", ".join(roles.audio)),
                    ("tests", "tests", ", ".join(roles.tests)),
                )
            ),
        ]
        if roles.proxies or roles.other_servers or roles.unreadable_scripts:
            notes = [f"{n} is a proxy in front of the server (not a client)" for n in roles.proxies]
            notes += [
                f"{n} runs another `mlflow server` (--artifacts-only or a second one)" for n in roles.other_servers
            ]
            notes += [f"{n} runs {script}, which the files do not show" for n, script in roles.unreadable_scripts]
            lines.append("smartmaint: also: " + "; ".join(notes))
        if s.swarm_target:
            from ..live.swarm_stack_file import stack_file

            ignored = stack_file(m.project.config, {n: m.image_name(n) for n in m.project.services}).notes
            if ignored:
                lines.append("smartmaint: what Swarm ignores or rejects in these files: " + "; ".join(ignored))
        named = {n: svc.container_name for n, svc in m.project.services.items() if svc.container_name}
        if named and not (s.static_only or s.project or s.swarm_target):
            lines.append(
                "smartmaint: container_name dropped in the run's own stack, so it never meets yours (each "
                "stays a network alias): " + ", ".join(f"{n} ({c})" for n, c in sorted(named.items()))
            )
        if m.server is not None:
            lines.append(
                f"smartmaint: mlflow server: backend {m.server.backend_store_uri}; artifacts {m.server.artifact_mode} "
                f"{m.server.artifact_root}; allowed hosts {m.server.allowed_hosts}"
            )
            from ..static.s3_store import named_endpoint, s3_store

            store = s3_store(m)
            if store is not None:
                mode = "proxied by the server" if store.proxied else "direct from each client"
                at = named_endpoint(m) or "AWS (no MLFLOW_S3_ENDPOINT_URL)"
                lines.append(
                    f"smartmaint: artifact store: S3 {store.uri} at {at}, {mode} ({', '.join(store.accessors)})"
                )
        if not s.static_only:
            from ..live.engine_disk import read_engine_disk

            disk = read_engine_disk(m.image_names())
            lines.append(
                f"smartmaint: engine: {disk.summary()}; limit {s.min_free_gb:g} GB (smartmaint_min_free_gb)"
                if disk
                else "smartmaint: engine: not reachable"
            )
            lines += _remote_engine_lines(m, owned=not s.project)
        lines.append(f"smartmaint: reproduce with: {s.reproduce_line()}")
        return lines


def _remote_engine_lines(model: StackModel, owned: bool) -> list[str]:
    """What a remote engine changes, said before anything runs: where the run's data and ports are, and
    which of the user's binds name paths of the engine's machine."""
    from ..live.engine_endpoint import engine_endpoint
    from ..live.isolation import unisolated_binds

    engine = engine_endpoint()
    if not engine.remote:
        return []
    lines = [f"smartmaint: engine is {engine.describe()}: published ports are reached at {engine.host}"]
    if not owned:
        return lines
    on = f"{engine.publish_on} of that machine" if engine.publish_on else "every interface of that machine"
    lines[0] += (
        "; the run's own stack keeps its MLflow data in volumes of that engine (each starts with what the image "
        f"has at its path, owner included) and publishes its ports on {on}, for the run only"
    )
    kept = unisolated_binds(model)
    if kept:
        lines.append(
            "smartmaint: binds kept as written, paths of the engine's machine that the plugin cannot copy or "
            "clear there (one that does not exist there is created as an empty directory): " + "; ".join(kept)
        )
    return lines
