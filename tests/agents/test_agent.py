"""Agents send their schema and budget, read their own answers, and count every attempt."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from igent.agents import (
    MATCH_SCHEMA,
    PURCHASE_ORDER_SCHEMA,
    VERDICT_SCHEMA,
    Agent,
    AgentCallError,
    Task,
    render_task,
)
from igent.errors import ModelCallError
from igent.llm import (
    CallTiming,
    ChatRequest,
    ChatResponse,
    Endpoint,
    FakeChatClient,
    OpenAICompatibleClient,
    Usage,
)
from igent.llm.types import Attempt

REGISTRATION = {
    "RegistrationNumber": "R-1",
    "Contact_Zip": "55101",
    "Proposal_OptimalAmountOfPanels": 12,
    "Proposal_OptimalAmountOfBatteries": 1,
}
OFFER = {
    "SupplierID": "S1",
    "Capacity": 10,
    "ServiceAreas": ["55101"],
    "Offers": [
        {
            "ProductType": "Solar",
            "ProductName": "P",
            "ProductPrices": [{"Quantity": 12, "CashPrice": 1}],
        },
        {
            "ProductType": "Battery",
            "ProductName": "B",
            "ProductPrices": [{"Quantity": 1, "CashPrice": 1}],
        },
    ],
}
CAPACITY = [{"supplier_id": "S1", "used": 2, "capacity": 10, "used_pct": 0.2}]
MATCH_TASK = render_task(
    Task(kind="match", registration=REGISTRATION, suppliers=[OFFER], capacity=CAPACITY)
)
GOOD = {"supplier_id": "S1", "registration_id": "R-1", "num_panels": 12, "num_batteries": 1}
META = {"registration_id": "R-1"}


def ask(agent: Agent, content: str = MATCH_TASK, **kwargs: Any) -> Any:
    return asyncio.run(agent.ask([{"role": "user", "content": content}], metadata=META, **kwargs))


def response(text: str, **fields: Any) -> ChatResponse:
    return ChatResponse(
        text=text,
        parsed=fields.pop("parsed", None),
        tool_calls=[],
        usage=fields.pop("usage", Usage()),
        timing=CallTiming(0.0, None, fields.pop("duration_s", 0.5)),
        model="m",
        endpoint="e",
        **fields,
    )


class ScriptedClient:
    """A ChatClient returning prepared responses (or raising prepared errors)."""

    def __init__(self, *results: ChatResponse | BaseException) -> None:
        self.results = list(results)
        self.requests: list[ChatRequest] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        result = self.results.pop(0)
        if isinstance(result, BaseException):
            raise result
        return result

    async def aclose(self) -> None:
        return None


# 13: the schema is sent; 14.2: the output budget is sent, per role, overridable.


@pytest.mark.parametrize(
    ("role", "schema", "name", "budget"),
    [
        ("matcher", MATCH_SCHEMA, "match", 64),
        ("pricer", PURCHASE_ORDER_SCHEMA, "purchase_order", 384),
        ("critic", VERDICT_SCHEMA, "verdict", 200),
    ],
)
def test_the_request_carries_the_roles_schema_and_output_budget(
    role: Any, schema: dict[str, Any], name: str, budget: int
) -> None:
    client = FakeChatClient(["{}"])
    ask(Agent(role, "system", client))

    request = client.requests[0]
    assert (request.response_schema, request.schema_name) == (schema, name)
    assert request.max_tokens == budget


def test_supplier_id_is_the_first_property_of_the_match_schema() -> None:
    assert next(iter(MATCH_SCHEMA["properties"])) == "supplier_id"


def test_budget_and_schema_can_be_overridden_or_left_to_the_prompt() -> None:
    client = FakeChatClient(["{}", "{}"])
    ask(Agent("matcher", "system", client, max_tokens=500))
    ask(Agent("matcher", "system", client, max_tokens=0, structured_output=False))

    assert client.requests[0].max_tokens == 500
    assert client.requests[1].max_tokens is None
    assert client.requests[1].response_schema is None


def _body_of(endpoint: Endpoint) -> dict[str, Any]:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        message = {"role": "assistant", "content": json.dumps(GOOD)}
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    async def go() -> Any:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = OpenAICompatibleClient(endpoint, api_key="k", http_client=http, max_retries=0)
        try:
            return await Agent("matcher", "system", client, stream=False).ask(
                [{"role": "user", "content": MATCH_TASK}], metadata=META
            )
        finally:
            await client.aclose()

    reply = asyncio.run(go())
    assert reply.parsed == GOOD
    return bodies[0]


def test_the_schema_goes_out_as_response_format_where_the_endpoint_supports_it() -> None:
    endpoint = Endpoint(name="e", base_url="http://test/v1", model="m", supports_json_schema=True)

    body = _body_of(endpoint)

    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == MATCH_SCHEMA
    assert body["max_tokens"] == 64


def test_without_schema_support_the_prompt_alone_asks_for_json() -> None:
    endpoint = Endpoint(name="e", base_url="http://test/v1", model="m", supports_json_schema=False)

    body = _body_of(endpoint)

    assert "response_format" not in body


# 13: field-level early stop.


def test_stop_after_fields_goes_into_the_request_and_is_watched() -> None:
    client = FakeChatClient([GOOD])
    ask(Agent("matcher", "system", client, stop_after_fields=("supplier_id",)))

    assert client.requests[0].stop_after_fields == ("supplier_id",)
    assert "supplier_id" in client.requests[0].watch_fields


def test_a_reply_cut_after_supplier_id_becomes_a_full_answer_marked_partial() -> None:
    cut = response('{"supplier_id":"S1","registration_id":"R-', stopped_early=True)
    agent = Agent("matcher", "system", ScriptedClient(cut), stop_after_fields=("supplier_id",))

    reply = ask(agent)

    assert reply.parse_error is None and reply.partial
    assert reply.parsed == GOOD
    assert reply.filled_fields == ("num_batteries", "num_panels", "registration_id")


def test_a_partial_answer_is_completed_when_the_zip_could_not_be_sent() -> None:
    task = render_task(
        Task(kind="match", registration={**REGISTRATION, "Contact_Zip": "n/a"}, suppliers=[])
    )
    cut = response('{"supplier_id":"NO MATCH FOUND"', stopped_early=True)
    agent = Agent("matcher", "system", ScriptedClient(cut), stop_after_fields=("supplier_id",))

    reply = ask(agent, content=task)

    assert reply.parsed == {**GOOD, "supplier_id": "NO MATCH FOUND"}


def test_a_partial_object_parsed_by_the_client_is_completed_too() -> None:
    cut = response('{"supplier_id":"S1"', stopped_early=True, parsed={"supplier_id": "S1"})
    agent = Agent("matcher", "system", ScriptedClient(cut), stop_after_fields=("supplier_id",))

    reply = ask(agent)

    assert reply.partial and reply.parsed == GOOD


def test_a_partial_answer_takes_the_fields_the_caller_fills_in() -> None:
    cut = response('{"supplier_id":"S1"', stopped_early=True)
    agent = Agent("matcher", "system", ScriptedClient(cut), stop_after_fields=("supplier_id",))

    reply = ask(agent, fill={"num_panels": 12, "num_batteries": 1})

    assert reply.parsed == GOOD


def test_a_cut_reply_for_another_registration_is_not_an_answer() -> None:
    cut = response('{"registration_id":"R-9","supplier_id":"S1","num_p', stopped_early=True)
    agent = Agent("matcher", "system", ScriptedClient(cut), stop_after_fields=("supplier_id",))

    reply = ask(agent)

    assert reply.parsed is None and "'R-9'" in (reply.parse_error or "")


def test_a_reply_cut_before_supplier_id_closed_is_not_an_answer() -> None:
    cut = response('{"supplier_id":"S', stopped_early=True)
    agent = Agent("matcher", "system", ScriptedClient(cut), stop_after_fields=("supplier_id",))

    assert ask(agent).parsed is None


# 13: JSON is read by the agent; every attempt's usage is kept.


def test_a_billed_reply_that_is_not_json_keeps_its_usage() -> None:
    billed = Usage(prompt_tokens=1000, completion_tokens=500, cost_usd=0.0075)
    reply_text = "I am sorry, I cannot decide this one."
    agent = Agent("matcher", "system", ScriptedClient(response(reply_text, usage=billed)))

    reply = ask(agent)

    assert reply.parsed is None and "no JSON object" in (reply.parse_error or "")
    assert (reply.call.prompt_tokens, reply.call.completion_tokens) == (1000, 500)
    assert reply.call.cost_usd == pytest.approx(0.0075)


def test_every_attempt_of_a_call_is_counted() -> None:
    failed = Attempt(duration_s=1.5, usage=Usage(800, 20, 0.0022), error="stream cut")
    answered = Attempt(duration_s=0.5, usage=Usage(800, 30, 0.0023))
    ok = response(json.dumps(GOOD), usage=answered.usage)
    ok.attempts = [failed, answered]  # type: ignore[attr-defined]
    agent = Agent("matcher", "system", ScriptedClient(ok))

    call = ask(agent).call

    assert (call.prompt_tokens, call.completion_tokens) == (1600, 50)
    assert call.cost_usd == pytest.approx(0.0045)
    assert call.duration_s == pytest.approx(2.0)
    assert [a.error for a in call.attempts] == ["stream cut", None]


def test_a_call_that_failed_after_retries_reports_what_it_cost() -> None:
    error = ModelCallError("endpoint 'e' returned HTTP 500", endpoint="e", model="m", status=500)
    error.attempts = [  # type: ignore[attr-defined]
        Attempt(duration_s=0.25, usage=Usage(), error="HTTP 500"),
        Attempt(duration_s=0.75, usage=Usage(900, 3, 0.0023), error="stream cut"),
    ]
    agent = Agent("matcher", "system", ScriptedClient(error))

    with pytest.raises(AgentCallError) as caught:
        ask(agent)

    assert isinstance(caught.value, ModelCallError) and caught.value.status == 500
    call = caught.value.call
    assert call.failed and call.prompt_tokens == 900 and call.duration_s == pytest.approx(1.0)
    assert len(call.attempts) == 2


# 14.4: an answer is the reply's own JSON, for this registration, in shape.


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        pytest.param(
            '{"supplier_id":"S1","products":["Solar","Battery"],"used":2,"capacity":10,'
            '"used_pct":0.2}',
            "copied from the prompt",
            id="copied-candidate-row",
        ),
        pytest.param(MATCH_TASK, "copied from the prompt", id="echoed-task"),
        pytest.param(
            json.dumps({**GOOD, "registration_id": "R-2"}), "'R-2'", id="other-registration"
        ),
        pytest.param(json.dumps({**GOOD, "num_panels": "twelve"}), "num_panels", id="wrong-type"),
        pytest.param(json.dumps({"supplier_id": "S1"}), "lacks", id="missing-fields"),
        pytest.param("[1, 2]", "expected a JSON object", id="not-an-object"),
    ],
)
def test_an_answer_that_is_not_this_registrations_own_is_refused(reply: str, error: str) -> None:
    result = ask(Agent("matcher", "system", FakeChatClient([reply])))

    assert result.parsed is None
    assert error in (result.parse_error or "")


def test_the_own_answer_after_an_echo_in_the_same_reply_is_taken() -> None:
    row = (
        '{"supplier_id":"S1","products":["Solar","Battery"],"used":2,"capacity":10,"used_pct":0.2}'
    )
    text = f"The data says {row}. My answer: {json.dumps(GOOD)}"

    assert ask(Agent("matcher", "system", FakeChatClient([text]))).parsed == GOOD


@pytest.mark.parametrize(
    ("role", "prompt"),
    [("matcher", "matcher"), ("pricer", "pricer"), ("critic", "critic_match")],
)
def test_the_prompts_example_echoed_back_is_never_an_answer(role: Any, prompt: Any) -> None:
    from igent.agents import load_prompt

    system = load_prompt(prompt)
    client = FakeChatClient([system])

    reply = ask(Agent(role, system, client))

    assert reply.parsed is None and reply.parse_error


# 14.5: a critic's verdict names this registration and is its own.


def test_a_critic_reply_carries_its_verdict() -> None:
    approve = {"registration_id": "R-1", "verdict": "APPROVE", "issues": []}
    reply = ask(Agent("critic", "system", FakeChatClient([approve])))

    assert reply.verdict is not None and reply.verdict.approved is True
    assert reply.parsed == approve


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"registration_id": "R-7", "verdict": "APPROVE", "issues": []}', id="other"),
        pytest.param('{"verdict": "APPROVE", "issues": []}', id="no-id"),
        pytest.param("Looks fine to me.", id="no-verdict"),
        pytest.param("VERDICT: APPROVE", id="line-without-id"),
    ],
)
def test_a_critic_reply_without_this_registrations_verdict_is_an_error(text: str) -> None:
    reply = ask(Agent("critic", "system", FakeChatClient([text])))

    assert reply.verdict is not None and reply.verdict.approved is None
    assert reply.parsed is None and reply.parse_error
