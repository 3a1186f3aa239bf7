"""The official `openai` Python SDK's Responses API against two modelrt gateway processes that
share one usage database (docs/clients.md).

Environment: MODELRT_BASE_URL and MODELRT_BASE_URL_2 (the two gateways, no trailing slash),
MODELRT_KEY (a gateway key). Both serve the logical model `chat` over one mock OpenAI
chat-completions upstream (tests/gateway/clients.rs) that answers "Hello there!", streams
"Hel" + "lo", and answers a request with `tool_choice: "required"` with the real recording of
a `get_user_country` tool call (call_iXFttys57ap0o16JSlC8yhYo). Prints `ok: <cell>` per cell;
exits non-zero on the first failure.
"""

import os

import openai

A = openai.OpenAI(base_url=os.environ["MODELRT_BASE_URL"] + "/v1",
                  api_key=os.environ["MODELRT_KEY"], max_retries=0)
B = openai.OpenAI(base_url=os.environ["MODELRT_BASE_URL_2"] + "/v1",
                  api_key=os.environ["MODELRT_KEY"], max_retries=0)
TOOLS = [{
    "type": "function",
    "name": "get_user_country",
    "description": "Get the user's country.",
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
    "strict": True,
}]
QUESTION = "What is the largest city in the user country?"


def ok(cell: str) -> None:
    print(f"ok: {cell}", flush=True)


def main() -> None:
    r = A.responses.create(model="chat", instructions="Be brief.", input="Say hi")
    assert r.object == "response" and r.status == "completed", r
    assert r.output_text == "Hello there!", r.output
    assert r.usage is not None and (r.usage.input_tokens, r.usage.output_tokens) == (9, 3), r.usage
    ok("create")

    # The raw event stream, then the SDK's stream helper with its accumulated response.
    kinds, text = [], ""
    for ev in A.responses.create(model="chat", input="Say hi", stream=True):
        kinds.append(ev.type)
        if ev.type == "response.output_text.delta":
            text += ev.delta
    assert text == "Hello", text
    assert kinds[:2] == ["response.created", "response.in_progress"], kinds
    assert kinds[-1] == "response.completed", kinds
    with A.responses.stream(model="chat", input="Say hi") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == "Hello" and final.output_text == "Hello", final
    assert final.usage is not None and final.usage.output_tokens == 2, final.usage
    # A streamed response is stored, and reads back.
    assert A.responses.retrieve(final.id).output_text == "Hello"
    ok("stream")

    # Function-call round trip, stateless: the client sends the whole conversation back.
    r1 = A.responses.create(model="chat", input=QUESTION, tools=TOOLS, tool_choice="required",
                            store=False)
    calls = [o for o in r1.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_user_country", r1.output
    assert calls[0].call_id == "call_iXFttys57ap0o16JSlC8yhYo", calls[0]
    assert calls[0].arguments == "{}", calls[0]
    history = [{"role": "user", "content": QUESTION}, *[o.model_dump() for o in r1.output]]
    r2 = A.responses.create(
        model="chat", tools=TOOLS, store=False,
        input=history + [{"type": "function_call_output", "call_id": calls[0].call_id,
                          "output": "Mexico"}],
    )
    assert r2.output_text == "Hello there!", r2.output
    ok("function-call round trip")

    # previous_response_id: turn 1 on one process, turn 2 on the other (one shared database).
    t1 = A.responses.create(model="chat", input=QUESTION, tools=TOOLS, tool_choice="required")
    call = next(o for o in t1.output if o.type == "function_call")
    assert B.responses.retrieve(t1.id).id == t1.id
    t2 = B.responses.create(
        model="chat", previous_response_id=t1.id, tools=TOOLS,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Mexico"}],
    )
    assert t2.previous_response_id == t1.id, t2
    assert t2.output_text == "Hello there!", t2.output
    # And back on the first process, streamed, continuing from the second's answer.
    with A.responses.stream(model="chat", previous_response_id=t2.id, input="Thanks!") as s:
        t3 = s.get_final_response()
    assert t3.previous_response_id == t2.id and t3.output_text == "Hello", t3
    A.responses.delete(t3.id)
    try:
        B.responses.retrieve(t3.id)
        raise AssertionError("a deleted response was still found")
    except openai.NotFoundError:
        pass
    ok("previous_response_id across two processes")

    try:
        A.responses.create(model="missing-model", input="hi")
        raise AssertionError("an unknown model did not fail")
    except openai.NotFoundError as err:
        assert err.code == "model_not_found", err.body
    try:
        A.responses.create(model="chat", input="hi", max_output_tokens=-1)
        raise AssertionError("a negative max_output_tokens did not fail")
    except openai.BadRequestError as err:
        assert err.param and "max_output_tokens" in err.param, err.body
    ok("typed errors")

    print("all checks passed")


if __name__ == "__main__":
    main()
