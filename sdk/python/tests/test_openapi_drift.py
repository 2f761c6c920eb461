"""The SDK against the OpenAPI document the server serves: the fields the
models read, the enums they know, the bodies they send and the endpoints
they call must all be in the contract, so a change on either side shows
up here."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from belay_client import (
    DECISIONS,
    EVIDENCE_TYPES,
    RULE_KEYS,
    STAGES,
    STATES,
    Action,
    Belay,
    Evidence,
    EvidenceInfo,
    Grant,
    Limits,
    Me,
)
from belay_client import _core
from belay_client._types import (
    AGENT_STATUSES,
    CARRIED_OUT_BY,
    EVIDENCE_PHASES,
    OUTCOME_STATUSES,
)
from belay_client.models import wire_fields
from belay_client import RUN_EVENT_KINDS, Escalation, Run, RunAction, RunEvent
from belay_client._types import ESCALATION_STATES
from belay_client.runs import event_body

from .conftest import BelayServer, tiny_png
from .test_offline import VIEW

Schema = dict[str, Any]


@pytest.fixture(scope="module")
def doc(server: BelayServer) -> Schema:
    agent = server.create_agent()
    with server.client(agent) as belay:
        document = belay.openapi()
    assert document["openapi"].startswith("3.")
    return document


def resolve(doc: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            node = node[part]
        # Keep sibling keywords next to a $ref (OpenAPI 3.1).
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def properties(doc: Schema, schema: Schema) -> dict[str, Schema]:
    schema = resolve(doc, schema)
    props = dict(schema.get("properties", {}))
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            props.update(properties(doc, sub))
    return props


def required(doc: Schema, schema: Schema) -> set[str]:
    schema = resolve(doc, schema)
    out = set(schema.get("required", []))
    for sub in schema.get("allOf", []):
        out |= required(doc, sub)
    return out


def enum(doc: Schema, schema: Schema) -> set[Any]:
    schema = resolve(doc, schema)
    values = set(schema.get("enum", []))
    if "const" in schema:
        values.add(schema["const"])
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            values |= enum(doc, sub)
    if "items" in schema:
        values |= enum(doc, schema["items"])
    return values


def answer(doc: Schema, path: str, method: str, status: str) -> Schema:
    content = doc["paths"][path][method]["responses"][status]
    content = resolve(doc, content)["content"]
    return resolve(doc, content["application/json"]["schema"])


def request_body(doc: Schema, path: str, method: str, media: str) -> Schema:
    body = resolve(doc, doc["paths"][path][method]["requestBody"])
    return resolve(doc, body["content"][media]["schema"])


def same_fields(model: type[Any], props: dict[str, Schema], must: set[str]) -> None:
    reads = set(wire_fields(model))
    assert reads - set(props) == set(), f"{model.__name__} reads fields the document lacks"
    assert set(props) - reads == set(), f"the document has {model.__name__} fields the SDK ignores"
    assert must <= reads, f"{model.__name__} misses required fields"


def action_schema(doc: Schema) -> Schema:
    return answer(doc, "/actions", "post", "201")


def test_action_view(doc: Schema) -> None:
    schema = action_schema(doc)
    props = properties(doc, schema)
    same_fields(Action, props, required(doc, schema))
    for path, method in (("/actions/{id}", "get"), ("/actions/{id}/claim", "post"),
                         ("/actions/{id}/outcome", "post"), ("/actions/{id}/cancel", "post"),
                         ("/actions/{id}/evidence", "post")):
        assert properties(doc, answer(doc, path, method, "200")) == props, f"{method} {path}"
    assert enum(doc, props["decision"]) == set(DECISIONS)
    assert enum(doc, props["state"]) == set(STATES)
    assert enum(doc, props["stage"]) == set(STAGES)
    assert enum(doc, props["held_for"]) == set(RULE_KEYS)
    assert enum(doc, props["carried_out_by"]) - {None} == set(CARRIED_OUT_BY)
    created = resolve(doc, doc["paths"]["/actions"]["post"]["responses"]["201"])
    headers = {name.lower() for name in created.get("headers", {})}
    assert "idempotent-replayed" in headers, "Action.replayed reads this header"

    evidence = resolve(doc, props["evidence"])["items"]
    same_fields(EvidenceInfo, properties(doc, evidence), required(doc, evidence))
    evidence_props = properties(doc, evidence)
    assert enum(doc, evidence_props["type"]) == set(EVIDENCE_TYPES)
    assert enum(doc, evidence_props["phase"]) == set(EVIDENCE_PHASES)


def test_run_views(doc: Schema) -> None:
    schema = answer(doc, "/runs/{run_id}/events", "post", "201")
    props = properties(doc, schema)
    same_fields(RunEvent, props, required(doc, schema))
    assert properties(doc, answer(doc, "/runs/{run_id}/events/{event_id}", "get", "200")) == props
    assert enum(doc, props["kind"]) == set(RUN_EVENT_KINDS)
    escalation = props["escalation"]
    same_fields(Escalation, properties(doc, escalation), required(doc, escalation))
    assert enum(doc, properties(doc, escalation)["state"]) == set(ESCALATION_STATES)

    run = answer(doc, "/runs/{run_id}", "get", "200")
    same_fields(Run, properties(doc, run), required(doc, run))
    action = resolve(doc, properties(doc, run)["actions"])["items"]
    same_fields(RunAction, properties(doc, action), required(doc, action))
    assert enum(doc, properties(doc, action)["state"]) == set(STATES)


def test_me(doc: Schema) -> None:
    schema = answer(doc, "/me", "get", "200")
    props = properties(doc, schema)
    same_fields(Me, props, required(doc, schema))
    assert enum(doc, props["stage"]) == set(STAGES)
    assert enum(doc, props["status"]) == set(AGENT_STATUSES)
    grant = resolve(doc, props["scope"])["items"]
    same_fields(Grant, properties(doc, grant), required(doc, grant))
    limits = properties(doc, grant)["limits"]
    same_fields(Limits, properties(doc, limits), required(doc, limits))


def test_request_bodies(doc: Schema) -> None:
    submission = request_body(doc, "/actions", "post", "application/json")
    body = _core.submission_body("c", "t", "s", {"a": 1}, [Evidence.plan("p")], "o")
    assert set(body) <= set(properties(doc, submission))
    assert required(doc, submission) <= set(body)

    with_run = _core.submission_body("c", "t", "s", None, [], None, "run-1")
    assert set(with_run) <= set(properties(doc, submission))
    event = request_body(doc, "/runs/{run_id}/events", "post", "application/json")
    assert set(event_body("page_visited", "t", "https://x", {"a": 1})) <= set(properties(doc, event))
    assert enum(doc, properties(doc, event)["kind"]) == set(RUN_EVENT_KINDS)

    evidence_in = resolve(doc, properties(doc, submission)["evidence"])["items"]
    for piece in (Evidence.plan("p"), Evidence.screenshot(tiny_png()),
                  Evidence.json("events", [1]), Evidence.diff({"a": {"before": 1, "after": 2}})):
        assert set(piece.to_json()) <= set(properties(doc, evidence_in))
    assert enum(doc, properties(doc, evidence_in)["type"]) == set(EVIDENCE_TYPES)

    outcome = request_body(doc, "/actions/{id}/outcome", "post", "application/json")
    body = _core.outcome_body("failed", "d", True, [Evidence.plan("p")])
    assert set(body) <= set(properties(doc, outcome))
    assert enum(doc, properties(doc, outcome)["status"]) == set(OUTCOME_STATUSES)

    multipart = request_body(doc, "/actions/{id}/evidence", "post", "multipart/form-data")
    assert set(properties(doc, multipart)) == set(EVIDENCE_TYPES)


def test_every_call_the_sdk_makes_is_in_the_document(doc: Schema) -> None:
    seen: list[httpx.Request] = []

    def answer_all(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/me"):
            return httpx.Response(200, json={"id": "x", "name": "n", "stage": "observe",
                                             "status": "active", "policy_version": 1, "scope": []})
        if request.url.path.endswith("/openapi.json"):
            return httpx.Response(200, json={})
        if "/runs/" in request.url.path:
            event = {"id": "e1", "run_id": "r1", "kind": "note", "at": "2026-01-01T00:00:00Z"}
            if request.url.path.endswith("/r1"):
                return httpx.Response(200, json={"run_id": "r1", "started_at": "x", "last_at": "x",
                                                 "events": [event], "actions": []})
            return httpx.Response(200, json=event)
        return httpx.Response(200, json={**VIEW, "state": "allowed"})

    with Belay("http://belay.test", "k", transport=httpx.MockTransport(answer_all)) as belay:
        belay.me()
        belay.openapi()
        belay.submit("c", "t", "s")
        belay.get("a1")
        belay.wait("a1", timeout=5)
        belay.claim("a1")
        belay.report_success("a1")
        belay.add_evidence("a1", Evidence.plan("p"))
        belay.cancel("a1")
        belay.submit("c", "t", "s", run_id="r1")
        belay.run_event("r1", "note", text="n")
        belay.escalate("r1", "e")
        belay.get_run("r1")
        belay.get_run_event("r1", "e1")
        belay.wait_for_answer("r1", "e1", timeout=5)

    base = doc["servers"][0]["url"].rstrip("/") if doc.get("servers") else "/api/v1"
    prefix = "/" + base.split("://")[-1].split("/", 1)[-1] if "://" in base else base
    templates = {
        re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", prefix + path) + "$"): path
        for path in doc["paths"]
    }
    for request in seen:
        matches = [path for rx, path in templates.items() if rx.match(request.url.path)]
        assert matches, f"{request.method} {request.url.path} is not in the document"
        operation = doc["paths"][matches[0]].get(request.method.lower())
        assert operation is not None, f"{request.method} {matches[0]} is not in the document"
        declared = {p["name"].lower() for p in (resolve(doc, p) for p in operation.get("parameters", []))}
        for name in request.url.params:
            assert name in declared, f"?{name} on {matches[0]}"
        if "idempotency-key" in request.headers:
            assert "idempotency-key" in declared
