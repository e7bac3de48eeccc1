"""model-load: a model registered from the trainer loads in every consumer and predicts.

A failure names the layer that broke: registry, version, artifact path, write access to
the artifact directory, deserialization, or prediction; library skew is a warning.
"""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING

import pytest

from ..errors import SmartmaintError, SmartmaintWarning
from ..static.compose import Mount
from ..static.stack_model import StackModel
from .base import Case, Check, LiveCase, fail, not_applicable, record_facts
from .messages import fix_in, volumes

if TYPE_CHECKING:
    from ..live.facts import ModelLoad
    from ..live.stack import LiveStack

NAME = "model-load"


def live_cases(model: StackModel) -> list[LiveCase]:
    if model.server is None or not model.roles.consumers:
        return [not_applicable(NAME, "live", "no MLflow server and model consumer in the compose project")]
    trainer = (model.roles.trainer,) if model.roles.trainer else ()  # else found in the containers
    smoke = [
        Case(
            NAME,
            "live",
            name,
            functools.partial(_live, consumer=name),
            tuple(dict.fromkeys((*trainer, name, model.server.service))),
        )
        for name in model.roles.consumers
    ]
    registry = [
        Case(NAME, "live", f"{name}-registry", functools.partial(_live_registry, consumer=name), (name,))
        for name in model.roles.consumers
    ]
    return smoke + registry


def _live_registry(stack: LiveStack, consumer: str) -> None:
    """The pre-deploy question on a running deployment: will the consumer serve what the registry holds?"""
    if stack.owned:
        pytest.skip(
            "a stack the plugin started holds only its smoke model (checked above); "
            "with --smartmaint-project this loads the latest version of every registered model"
        )
    loads = stack.registry_loads(consumer)
    record_facts(loaded=sorted(uri for uri, error in loads.items() if error == "ok"))
    broken = {uri: error for uri, error in loads.items() if error != "ok"}
    if broken:
        lines = "\n".join(f"  {uri}: {error}" for uri, error in sorted(broken.items()))
        fail(
            f"{consumer} cannot load {len(broken)} of the {len(loads)} latest registered model versions:\n{lines}\n"
            'Each line names the layer: "No such artifact" (the store is not at the recorded path in this '
            "service), PermissionError/Read-only (write access to the model directory), or a deserialization error "
            "(library versions: compare the model's requirements.txt with this image)."
        )


def _store_mount(stack: LiveStack) -> Mount | None:
    server = stack.model.server
    root = server.local_artifact_path if server else None
    return stack.model.service(server.service).mount_covering(root) if server and root else None


def _store_fix(stack: LiveStack, service: str) -> str:
    store = _store_mount(stack)
    if store is None:
        return ""
    mine = stack.model.service(service).mount_of(store.source)
    has = (
        f"it mounts {store.label} at {mine.target}{' read-only' if mine.read_only else ''}"
        if mine
        else f"it does not mount {store.label}"
    )
    return f"\n{service}: {has}.\n" + fix_in(service, volumes(f"{store.label}:{store.target}"))


def _misplaced(stack: LiveStack, service: str | None) -> bool:
    store = _store_mount(stack)
    mine = stack.model.service(service).mount_of(store.source) if store and service else None
    return store is not None and (mine is None or mine.target != store.target)


def _live(stack: LiveStack, consumer: str) -> None:
    model = stack.model
    server = model.server
    assert server is not None
    try:
        trainer = stack.trainer()
    except SmartmaintError as exc:
        fail(f"No consumer can be checked: {exc}")
    try:
        smoke = stack.smoke_model()
    except SmartmaintError as exc:
        fail(
            f"The smoke model could not be trained and registered from {trainer}, so no consumer can load it:"
            f"{_registration_cause(str(exc), trainer)}\n{exc}"
        )
    from ..live.facts import LoadLayer  # the live tier's types load only when a live item runs

    result = stack.model_load(consumer)
    layer, detail = result.layer, result.detail
    uri = f"models:/{stack.smoke_name}/{smoke.version}"
    path = result.artifact_path or smoke.artifact_location
    who = f"{consumer} (uid {result.uid}:{result.gid})"
    if layer is LoadLayer.OK:
        if result.predictions != smoke.expected:
            fail(
                f"{consumer} loaded {uri} but predicts {list(result.predictions or [])} where {trainer} predicted "
                f"{list(smoke.expected)} on the same rows: the two run different library versions."
            )
        _warn_on_skew(consumer, uri, result)
        return
    head = f"{consumer} cannot load {uri}, registered from {trainer}"
    if layer is LoadLayer.REGISTRY:
        fail(f"{head}: the registry is unreachable from {consumer}.\n  {detail}\nSee mlflow-reachable for the cause.")
    if layer is LoadLayer.VERSION_MISSING:
        fail(
            f"{head}: the registry {consumer} talks to has no such version.\n  {detail}\n{trainer} and {consumer} "
            "use different tracking servers or backend stores: compare their MLFLOW_TRACKING_URI."
        )
    if layer is LoadLayer.ARTIFACT_PATH:
        culprit = trainer if trainer and _misplaced(stack, trainer) and not _misplaced(stack, consumer) else consumer
        why = (
            f"{consumer} has the store where the server does, but {trainer} does not: the artifacts {trainer} logged "
            f"stayed inside its own container."
            if culprit != consumer
            else "The artifact root is a local path, so every client needs the store at the same path."
        )
        fail(
            f"{head}: the registry recorded its artifacts at {path}, and that directory does not exist in {consumer}.\n"
            f'MLflow would only say "No such artifact". {why}{_store_fix(stack, culprit)}'
        )
    if layer is LoadLayer.ARTIFACT_UNWRITABLE:
        fail(
            f"{head}: {who} cannot write the model's directory {path} ({detail}).\nLoading models:/ writes "
            f"registered_model_meta next to the model, so a read-only mount or another uid than the writer's breaks "
            f"it.{_store_fix(stack, consumer)}\n(without :ro, and with the same user: as "
            f"{trainer})"
        )
    if layer is LoadLayer.ARTIFACT_STORE:
        fail(
            f"{head}: its artifacts are in the S3 store {path}, and {consumer} cannot read them:\n  {detail}\n"
            f"See artifact-store[live-{consumer}], which names the layer that broke (boto3, the endpoint, the "
            "credentials or the bucket)."
        )
    if layer is LoadLayer.LIBRARY:
        fail(f"{head}: {detail}\nThe consumer image needs mlflow-skinny (or mlflow), scikit-learn, pandas and skops.")
    if layer is LoadLayer.PREDICT:
        fail(f"{consumer} loaded {uri} but predict failed: {detail}")
    requirement = _logged_sklearn(result)
    fail(
        f"{head}: the artifacts are there, but the model did not deserialize:\n  {detail.strip()}\n"
        f"Logged with {requirement or 'scikit-learn (version not recorded)'}; {consumer} has scikit-learn "
        f"{result.sklearn}. sklearn models are stored with skops (MLflow 3.15+): the consumer needs skops and "
        "a scikit-learn that reads the logged format."
    )


def _registration_cause(error: str, trainer: str) -> str:
    """The cause a failed registration names, on a line of its own; "" when it names none known."""
    if any(s in error for s in ("botocore", "boto3", "NoSuchBucket", "InvalidAccessKeyId", "SignatureDoesNotMatch")):
        return (
            f"\nCause: {trainer} could not write the model's artifacts to the S3 artifact store; "
            f"artifact-store[live-{trainer}] names the layer that broke."
        )
    if "/api/2.0/mlflow/logged-models failed with error code 404" in error:
        return (
            "\nCause: the trainer's MLflow 3 logs models through the logged-models API, which the server's MLflow 2 "
            "lacks (HTTP 404); mlflow-versions names both releases."
        )
    return ""


def _logged_sklearn(result: ModelLoad) -> str | None:
    return next((r for r in result.requirements if r.lower().startswith("scikit-learn")), None)


def _warn_on_skew(consumer: str, uri: str, result: ModelLoad) -> None:
    logged = _logged_sklearn(result)
    if logged and "==" in logged and result.sklearn and logged.split("==")[1] != result.sklearn:
        warnings.warn(
            SmartmaintWarning(
                f"{consumer} loads {uri} with scikit-learn {result.sklearn}, but it was logged with {logged}: "
                "MLflow only warns; predictions may differ. Pin the same version in both images."
            ),
            stacklevel=2,
        )


CHECK = Check(NAME, live=live_cases)
