"""serving: the API answers for the registered model through its own endpoint (ini smartmaint_serving_request).

model-load proves that ``models:/`` loads in the API's container, with the settings ``docker exec`` sees. The
API's process can still fail to serve it: it has its own tracking URI (an entrypoint that exports its own, a
settings file), its own cache, its own loader. So this item asks the process itself, from another container
of the stack, as the API's callers do, and on a failure compares what the process reads with what the
container says, and with what model-load found.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import SmartmaintError
from ..settings import SERVING_EXAMPLE, ServingRequest
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, fail, not_applicable, record_facts
from .messages import no_server

if TYPE_CHECKING:
    from ..live.facts import ServingAnswer
    from ..live.stack import LiveStack

NAME = "serving"
TIMEOUT_S = 30.0  # an API whose loader retries an unreachable registry answers after minutes, if ever

UNSET = (
    "no smartmaint_serving_request is set, so the API's own endpoint is not asked. Name the prediction "
    "endpoint and its JSON body ({model_name}, {model_version} and {features} are filled in from the smoke "
    f"model), for example in pyproject.toml:\n  [tool.pytest.ini_options]\n  smartmaint_serving_request = "
    f"'{SERVING_EXAMPLE}'"
)


def live_cases(model: StackModel) -> list[LiveCase]:
    request = model.serving
    if request is None:
        return [not_applicable(NAME, "live", UNSET)]
    if model.server is None:
        return [not_applicable(NAME, "live", no_server(model), request.service)]
    if request.service not in model.project.services:
        return [Case(NAME, "live", request.service, functools.partial(_no_such_service, request=request))]
    return [Case(NAME, "live", request.service, functools.partial(_live, request=request), (request.service,))]


def _no_such_service(stack: LiveStack, request: ServingRequest) -> None:
    fail(
        f"smartmaint_serving_request names {request.url}, and {request.service} is no service of this stack "
        f"(services: {', '.join(sorted(stack.model.project.services))}). Its host is the API's service name."
    )


def _live(stack: LiveStack, request: ServingRequest) -> None:
    service = request.service
    try:
        caller = stack.trainer()
        smoke = stack.smoke_model()
    except SmartmaintError as exc:
        if service in stack.model.roles.consumers:  # model-load reports the same failure, with its layer
            record_facts(caused_by=f"model-load[live-{service}]")
        fail(f"The smoke model could not be trained and registered, so {service} cannot be asked to serve it:\n{exc}")
    uri = f"models:/{stack.smoke_name}/{smoke.version}"
    body = request.body(stack.smoke_name, smoke.version, smoke.features)
    answer = stack.serving_answer(caller, request.url, body, TIMEOUT_S)
    record_facts(url=request.url, caller=caller, status=answer.status, seconds=answer.seconds)
    if answer.status is not None and 200 <= answer.status < 300:
        problem = _prediction_problem(request, answer, smoke.expected)
        if problem is None:
            return
        fail(
            f"{service} answered POST {request.url} for {uri} with HTTP {answer.status}, but {problem}.\n"
            f"Its answer: {answer.body[:1500]}"
        )
    got = f"HTTP {answer.status}: {answer.body[:1500]}" if answer.status is not None else f"no answer: {answer.error}"
    fail(
        f"{service} does not serve {uri}, registered from {caller}: POST {request.url} from {caller} got {got}"
        f"{''.join(_causes(stack, service, answer))}"
    )


def _prediction_problem(request: ServingRequest, answer: ServingAnswer, expected: tuple[float, ...]) -> str | None:
    try:
        parsed = json.loads(answer.body)
    except ValueError:
        return "its answer is not JSON"
    if not request.sends_features:  # the body sends no rows of the smoke model: no prediction to compare
        return None
    if any(_equal(found, expected) for found in _number_lists(parsed)):
        return None
    return f"no list in its answer equals what the trainer's model predicted on the same rows, {list(expected)}"


def _number_lists(value: object) -> Iterator[list[float]]:
    if isinstance(value, list):
        if value and all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
            yield [float(x) for x in value]
        for item in value:
            yield from _number_lists(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _number_lists(item)


def _equal(found: list[float], expected: tuple[float, ...]) -> bool:
    return len(found) == len(expected) and all(abs(a - b) <= 1e-9 for a, b in zip(found, expected, strict=True))


def _causes(stack: LiveStack, service: str, answer: ServingAnswer) -> Iterator[str]:
    from ..live.compose_runner import PROBE_ENV
    from ..live.facts import LoadLayer

    if answer.status is None and "refused" in answer.error.lower():
        try:
            listening = ", ".join(f"{one.address}:{one.port}" for one in stack.listeners(service)) or "no TCP port"
        except SmartmaintError as exc:  # the cause stays what the request said
            listening = f"(its listeners could not be read: {exc})"
        yield f"\nNothing listens at that port in {service}; it listens at {listening}."
    elif answer.status is None and "timed out" in answer.error.lower():
        yield (
            f"\n{service} did not answer within {TIMEOUT_S:.0f} s: an API whose model loader retries a registry it "
            f"cannot reach answers late or never (see mlflow-reachable[live-{service}])."
        )
    try:
        differing = stack.process_settings(service).differing(ignored=tuple(PROBE_ENV))
    except SmartmaintError as exc:
        yield f"\n(what {service}'s processes read could not be compared with its environment: {exc})"
        differing = []
    if differing:
        rows = "\n".join(
            f"  pid {pid} ({command}): {name}={mine if mine is not None else '(unset)'}, the container's "
            f"environment: {theirs if theirs is not None else '(unset)'}"
            for pid, command, name, mine, theirs in differing
        )
        yield (
            f"\nCause: {service}'s process reads other settings than its container's environment (what docker exec, "
            f"and so model-load, sees):\n{rows}\nThe process sets its own: look at its command or entrypoint "
            "(`sh -c 'VAR=... exec ...'`, a script that exports or sources a file) and at any settings file it reads."
        )
    if service not in stack.model.roles.consumers:
        return
    try:
        load = stack.model_load(service)
    except SmartmaintError:
        return
    if load.layer is LoadLayer.OK:
        yield (
            f"\nmodel-load[live-{service}] loads the same model in {service}'s container with the container's "
            "settings, so the cause is in the API process: its tracking URI, its model cache or its loader."
        )
    else:
        record_facts(caused_by=f"model-load[live-{service}]")
        yield f"\nIt does not load in {service}'s container either: model-load[live-{service}] names the layer."


CHECK = Check(NAME, live=live_cases)
