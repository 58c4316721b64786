"""Teams Workflows webhooks over real HTTPS: the trigger's answers, the runs, faults."""

from __future__ import annotations

import copy
import email.utils
import json
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tenantatlas.simulator.scenarios import Faults, ServerErrorFault, ThrottleFault
from tenantatlas.simulator.teams import ADAPTIVE_CARD, CARD_SIZE_LIMIT

CARD = {
    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
    "type": "AdaptiveCard",
    "version": "1.4",
    "body": [
        {"type": "TextBlock", "text": "Sync failed", "weight": "Bolder", "size": "Medium"},
        {"type": "TextBlock", "text": "Contoso Ltd: **throttled** by Graph", "wrap": True},
    ],
    "actions": [
        {"type": "Action.OpenUrl", "title": "Open run", "url": "https://atlas.example/runs/1"}
    ],
}


def message(*cards):
    attachments = [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": c} for c in cards]
    return {"type": "message", "attachments": attachments}


def post(simulator, url, payload=None, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.post(url, json=payload, verify=simulator.ca_bundle, **kwargs)


def with_query(url, **changes):
    split = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(split.query))
    query.update(changes)
    query = {key: value for key, value in query.items() if value is not None}
    return split._replace(query=urllib.parse.urlencode(query)).geturl()


def card_with(**changes):
    card = copy.deepcopy(CARD)
    card.update(changes)
    return card


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- accepted messages ----------------------------------------------------------------------
def test_it_accepts_a_message_with_an_adaptive_card_and_posts_it(simulator, teams_workflow):
    response = post(simulator, teams_workflow.url, message(CARD))

    assert response.status_code == 202
    assert response.content == b""
    assert simulator.teams.messages(teams_workflow.workflow_id) == [CARD]
    [run] = simulator.teams.runs(teams_workflow.workflow_id)
    assert (run.status, run.error) == ("Succeeded", None)


def test_it_posts_every_attachment_and_keeps_the_order(simulator, teams_workflow):
    first, second, third = (card_with(body=[{"type": "TextBlock", "text": t}]) for t in "abc")
    assert post(simulator, teams_workflow.url, message(first, second)).status_code == 202
    assert post(simulator, teams_workflow.url, message(third)).status_code == 202

    assert simulator.teams.messages(teams_workflow.workflow_id) == [first, second, third]
    assert len(simulator.teams.runs(teams_workflow.workflow_id)) == 2


def test_it_keeps_workflows_apart(simulator, teams_workflow):
    other = simulator.teams.add_workflow()
    post(simulator, other.url, message(CARD))
    assert simulator.teams.messages(teams_workflow.workflow_id) == []
    assert simulator.teams.messages(other.workflow_id) == [CARD]


def test_it_issues_logic_apps_trigger_urls(simulator, teams_workflow):
    split = urllib.parse.urlsplit(teams_workflow.url)
    query = dict(urllib.parse.parse_qsl(split.query))

    assert f"{split.scheme}://{split.netloc}" == simulator.base_url
    assert split.path == f"/workflows/{teams_workflow.workflow_id}/triggers/manual/paths/invoke"
    assert query == {
        "api-version": "2016-06-01",
        "sp": "/triggers/manual/run",
        "sv": "1.0",
        "sig": teams_workflow.sig,
    }
    assert "sp=%2Ftriggers%2Fmanual%2Frun" in split.query


def test_it_serves_the_power_platform_url_form(simulator):
    workflow = simulator.teams.add_workflow(form="power-platform")
    split = urllib.parse.urlsplit(workflow.url)
    assert split.path.startswith("/powerautomate/automations/direct/workflows/")
    assert dict(urllib.parse.parse_qsl(split.query))["api-version"] == "1"

    assert post(simulator, workflow.url, message(CARD)).status_code == 202
    assert simulator.teams.messages(workflow.workflow_id) == [CARD]
    logic_apps_path = split._replace(
        path=split.path.removeprefix("/powerautomate/automations/direct")
    )
    assert post(simulator, logic_apps_path.geturl(), message(CARD)).status_code == 404


# -- what the trigger refuses -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"sig": "not-the-signature"}, 401, "DirectApiInvalidAuthorizationSignature"),
        ({"sig": None}, 401, "DirectApiAuthorizationRequired"),
        ({"sp": "/triggers/manual/read"}, 401, "DirectApiInvalidAuthorizationSignature"),
        ({"sv": None}, 401, "DirectApiInvalidAuthorizationSignature"),
        ({"api-version": None}, 400, "MissingApiVersionParameter"),
        ({"api-version": "2019-05-01"}, 400, "InvalidApiVersionParameter"),
    ],
)
def test_it_refuses_a_tampered_trigger_url(simulator, teams_workflow, changes, status, code):
    response = post(simulator, with_query(teams_workflow.url, **changes), message(CARD))

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert simulator.teams.runs(teams_workflow.workflow_id) == []


def test_it_answers_404_for_an_unknown_or_deleted_workflow(simulator, teams_workflow):
    unknown = teams_workflow.url.replace(teams_workflow.workflow_id, "0" * 32)
    response = post(simulator, unknown, message(CARD))
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "WorkflowNotFound",
        "message": f"The workflow '{'0' * 32}' could not be found.",
    }

    simulator.teams.remove_workflow(teams_workflow.workflow_id)
    assert post(simulator, teams_workflow.url, message(CARD)).status_code == 404


def test_it_refuses_a_second_authorization_scheme(simulator, teams_workflow):
    response = post(
        simulator, teams_workflow.url, message(CARD), headers={"Authorization": "Bearer abc"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "DirectApiRequestHasMoreThanOneAuthorization"
    assert "'Bearer'" in error["message"]
    assert simulator.teams.messages(teams_workflow.workflow_id) == []


def test_it_accepts_only_post(simulator, teams_workflow):
    response = requests.get(teams_workflow.url, verify=simulator.ca_bundle, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "TriggerRequestMethodNotValid"


def test_it_refuses_a_body_that_is_not_json(simulator, teams_workflow):
    response = post(
        simulator,
        teams_workflow.url,
        data=b'{"type": "message", "attachments": [',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "InvalidRequestContent"
    assert error["message"].startswith("The request content was invalid and could not be")
    assert simulator.teams.runs(teams_workflow.workflow_id) == []


# -- what the flow then fails on (the trigger still answers 202) -----------------------------
OVERSIZED = card_with(body=[{"type": "TextBlock", "text": "x" * CARD_SIZE_LIMIT}])
BAD_MESSAGES = {
    "no attachments": ({"type": "message"}, "is of type 'Null'. The result must be a valid array."),
    "attachments not an array": (
        {"type": "message", "attachments": {"content": CARD}},
        "is of type 'Object'. The result must be a valid array.",
    ),
    "legacy MessageCard": (
        {"@type": "MessageCard", "summary": "s", "text": "t"},
        "is of type 'Null'",
    ),
    "type not message": ({**message(CARD), "type": "AdaptiveCard"}, "must be 'message'"),
    "wrong contentType": (
        {"type": "message", "attachments": [{"contentType": "application/json", "content": CARD}]},
        "contentType must be 'application/vnd.microsoft.card.adaptive'",
    ),
    "hero card": (
        message({"title": "t", "text": "x"}),
        "Property 'type' must be 'AdaptiveCard'",
    ),
    "card version 1.5": (message(card_with(version="1.5")), "above 1.4"),
    "no card version": (message(card_with(version=None)), "'version' must be a string"),
    "Action.Submit": (
        message(card_with(actions=[{"type": "Action.Submit", "title": "OK"}])),
        "Action.Submit is not supported",
    ),
    "Action.OpenUrl without url": (
        message(card_with(actions=[{"type": "Action.OpenUrl", "title": "Open"}])),
        "Action.OpenUrl requires an absolute 'url'",
    ),
    "oversized card": (message(OVERSIZED), "MessageSizeExceeded-Message properties size exceeded"),
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
def test_it_accepts_a_bad_message_but_the_run_fails(simulator, teams_workflow, case):
    payload, error = BAD_MESSAGES[case]
    response = post(simulator, teams_workflow.url, payload)

    assert response.status_code == 202
    assert simulator.teams.messages(teams_workflow.workflow_id) == []
    [run] = simulator.teams.runs(teams_workflow.workflow_id)
    assert run.status == "Failed"
    assert error in run.error


def test_a_failed_card_does_not_stop_the_others(simulator, teams_workflow):
    payload = message(CARD, card_with(version="1.6"), card_with(version="1.2"))
    assert post(simulator, teams_workflow.url, payload).status_code == 202

    assert simulator.teams.messages(teams_workflow.workflow_id) == [CARD, card_with(version="1.2")]
    [run] = simulator.teams.runs(teams_workflow.workflow_id)
    assert run.status == "Failed"
    assert "'1.6'" in run.error


def test_a_body_not_declared_json_reaches_the_flow_as_a_string(simulator, teams_workflow):
    response = post(
        simulator,
        teams_workflow.url,
        data=b'{"type": "message", "attachments": []}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 202
    [run] = simulator.teams.runs(teams_workflow.workflow_id)
    assert "is of type 'Null'" in run.error


def test_the_size_limit_is_on_the_compact_card(simulator):
    workflow = simulator.teams.add_workflow(card_size_limit=2_000)
    filler = {"type": "TextBlock", "text": ""}
    card = card_with(body=[filler])
    compact = len(json.dumps(card, separators=(",", ":")).encode())
    filler["text"] = "y" * (2_000 - compact)
    assert post(simulator, workflow.url, message(card)).status_code == 202

    filler["text"] += "y"
    assert post(simulator, workflow.url, message(card)).status_code == 202
    assert [run.status for run in simulator.teams.runs(workflow.workflow_id)] == [
        "Succeeded",
        "Failed",
    ]


# -- a trigger with a request schema and Schema Validation on ---------------------------------
RUN_ONLY = {"Action.Submit", "Action.OpenUrl without url", "oversized card"}
SCHEMA_REFUSALS = [case for case in sorted(BAD_MESSAGES) if case not in RUN_ONLY]


@pytest.mark.parametrize("case", SCHEMA_REFUSALS)
def test_schema_validation_refuses_a_bad_message_with_400(simulator, case):
    workflow = simulator.teams.add_workflow(schema_validation=True)
    response = post(simulator, workflow.url, BAD_MESSAGES[case][0])

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "TriggerInputSchemaMismatch"
    assert error["message"].startswith(
        "The input body for trigger 'manual' of type 'Request' did not match its schema"
    )
    assert simulator.teams.runs(workflow.workflow_id) == []


def test_schema_validation_accepts_a_good_message(simulator):
    workflow = simulator.teams.add_workflow(schema_validation=True)
    assert post(simulator, workflow.url, message(CARD)).status_code == 202
    assert simulator.teams.messages(workflow.workflow_id) == [CARD]


def test_schema_validation_leaves_size_to_the_run(simulator):
    workflow = simulator.teams.add_workflow(schema_validation=True)
    assert post(simulator, workflow.url, message(OVERSIZED)).status_code == 202
    assert simulator.teams.runs(workflow.workflow_id)[0].status == "Failed"


# -- faults ---------------------------------------------------------------------------------------
def test_it_throttles_the_next_requests_then_accepts(simulator):
    faults = Faults(throttle=ThrottleFault(count=2, retry_after="3"))
    workflow = simulator.teams.add_workflow(faults=faults)
    answers = [post(simulator, workflow.url, message(CARD)) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 202]
    assert answers[0].headers["Retry-After"] == "3"
    assert answers[0].json()["error"]["code"] == "WorkflowRequestsThrottled"
    assert simulator.teams.messages(workflow.workflow_id) == [CARD]  # only the accepted one
    assert simulator.teams.remaining_faults(workflow.workflow_id) == (0, 0)


def test_it_can_throttle_without_retry_after_or_with_a_date(simulator):
    bare = simulator.teams.add_workflow(faults=Faults(throttle=ThrottleFault(1, retry_after=None)))
    dated = simulator.teams.add_workflow(
        faults=Faults(throttle=ThrottleFault(1, retry_after="http-date:30"))
    )
    response = post(simulator, bare.url, message(CARD))
    assert response.status_code == 429
    assert "Retry-After" not in response.headers

    moment = email.utils.parsedate_to_datetime(
        post(simulator, dated.url, message(CARD)).headers["Retry-After"]
    )
    assert 25 <= moment.timestamp() - time.time() <= 31


@pytest.mark.parametrize("status", [502, 503])
def test_it_injects_server_errors(simulator, status):
    faults = Faults(server_errors=ServerErrorFault(count=2, status=status, retry_after="1"))
    workflow = simulator.teams.add_workflow(faults=faults)
    answers = [post(simulator, workflow.url, message(CARD)) for _ in range(3)]

    assert [a.status_code for a in answers] == [status, status, 202]
    assert answers[0].headers["Retry-After"] == "1"
    assert len(simulator.teams.runs(workflow.workflow_id)) == 1


def test_it_throttles_before_server_errors_and_can_be_rearmed(simulator, teams_workflow):
    faults = Faults(throttle=ThrottleFault(1), server_errors=ServerErrorFault(1, status=502))
    simulator.teams.set_faults(teams_workflow.workflow_id, faults)
    assert simulator.teams.remaining_faults(teams_workflow.workflow_id) == (1, 1)
    statuses = [post(simulator, teams_workflow.url, message(CARD)).status_code for _ in range(3)]
    assert statuses == [429, 502, 202]


def test_it_checks_the_signature_before_spending_a_fault(simulator):
    workflow = simulator.teams.add_workflow(faults=Faults(throttle=ThrottleFault(1)))
    assert post(simulator, with_query(workflow.url, sig="x"), message(CARD)).status_code == 401
    assert simulator.teams.remaining_faults(workflow.workflow_id) == (1, 0)


def test_concurrent_requests_share_the_fault_budget(simulator):
    workflow = simulator.teams.add_workflow(faults=Faults(throttle=ThrottleFault(count=5)))
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: post(simulator, workflow.url, message(CARD)), range(12)))
    statuses = [answer.status_code for answer in answers]
    assert sorted(statuses) == [202] * 7 + [429] * 5
    assert len(simulator.teams.messages(workflow.workflow_id)) == 7


def test_a_slow_answer_times_out_but_the_message_is_still_posted(simulator):
    workflow = simulator.teams.add_workflow(faults=Faults(slow_seconds=1.0))
    with pytest.raises(requests.Timeout):
        post(simulator, workflow.url, message(CARD), timeout=0.2)

    # The client cannot tell: the request went through and the card is posted anyway.
    wait_for(lambda: simulator.teams.messages(workflow.workflow_id) == [CARD])


# -- the request log and reset ----------------------------------------------------------------
def test_the_request_log_keeps_no_signature(simulator, teams_workflow):
    post(simulator, teams_workflow.url, message(CARD))
    [record] = [r for r in simulator.requests if r.kind == "teams"]

    assert (record.method, record.status) == ("POST", 202)
    assert record.path.endswith(
        f"/workflows/{teams_workflow.workflow_id}/triggers/manual/paths/invoke"
    )
    assert record.query["sig"] == "<redacted>"
    assert teams_workflow.sig not in repr(simulator.requests)


def test_reset_forgets_workflows(simulator, teams_workflow):
    simulator.reset()
    assert post(simulator, teams_workflow.url, message(CARD)).status_code == 404
