"""The official `anthropic` Python SDK against a running modelrt gateway (docs/clients.md).

Environment: MODELRT_BASE_URL (the gateway, no trailing slash), MODELRT_KEY (a gateway key).
The gateway serves (tests/gateway/clients.rs):
- `chat`: an OpenAI-type upstream (wiremock) answering "Hello there!", and for a streamed
  request with tools the real recording of two parallel tool calls (get_country,
  get_product_name);
- `claude`: an Anthropic upstream (wiremock) answering with the real recordings of
  crates/runtime-dialects/tests/fixtures/anthropic_messages/ (basic-system, stream-thinking,
  stream-tool-use, count-tokens);
- `limited` (upstream 429), `busy` (upstream 503) and `embed` (an embedding model).
Prints `ok: <cell>` per cell; exits non-zero on the first failure.
"""

import os

import anthropic

BASE = os.environ["MODELRT_BASE_URL"]
KEY = os.environ["MODELRT_KEY"]
MESSAGES = [{"role": "user", "content": "Say hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the current weather in a given location",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
COUNTRY_TOOLS = [
    {"name": "get_country", "input_schema": {"type": "object", "properties": {}}},
    {"name": "get_product_name", "input_schema": {"type": "object", "properties": {}}},
]


def ok(cell: str) -> None:
    print(f"ok: {cell}", flush=True)


def expect(kind, call) -> Exception:
    """Runs `call`, which must raise the SDK's typed error `kind`; returns it."""
    try:
        call()
    except kind as err:
        return err
    raise AssertionError(f"expected {kind.__name__}")


def main() -> None:
    # The SDK sends the key as x-api-key, with anthropic-version; base URL without /v1.
    client = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0)

    # create, over an OpenAI upstream and over an Anthropic one.
    m = client.messages.create(
        model="chat", max_tokens=64, system="Be brief.", messages=MESSAGES
    )
    assert m.type == "message" and m.role == "assistant", m
    assert [b.type for b in m.content] == ["text"], m.content
    assert m.content[0].text == "Hello there!", m.content
    assert m.stop_reason == "end_turn", m.stop_reason
    assert (m.usage.input_tokens, m.usage.output_tokens) == (9, 3), m.usage
    m = client.messages.create(model="claude", max_tokens=64, messages=MESSAGES)
    assert m.id == "msg_01Fg1JVgvCYUHWsxrj9GkpEv", m.id
    assert m.content[0].text == "The capital of France is Paris.", m.content
    assert (m.usage.input_tokens, m.usage.output_tokens) == (20, 10), m.usage
    ok("create")

    # Plain text stream (OpenAI upstream): the SDK's text_stream and final message.
    with client.messages.stream(model="chat", max_tokens=64, messages=MESSAGES) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello", text
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens == 2, final.usage
    ok("stream")

    # Stream with tools over an OpenAI upstream: two parallel tool calls become two tool_use
    # blocks whose streamed input_json_delta the SDK parses.
    with client.messages.stream(
        model="chat",
        max_tokens=256,
        messages=[{"role": "user", "content": "The capital and the product name?"}],
        tools=COUNTRY_TOOLS,
        tool_choice={"type": "any"},
    ) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert "content_block_start" in kinds and "input_json" in kinds, kinds
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [u.name for u in uses] == ["get_country", "get_product_name"], final.content
    assert all(u.id.startswith("call_") and u.input == {} for u in uses), uses
    assert final.stop_reason == "tool_use", final.stop_reason
    assert final.usage.input_tokens == 364 and final.usage.output_tokens == 40, final.usage

    # Stream with tools over an Anthropic upstream: text, then a tool_use with its input.
    with client.messages.stream(
        model="claude",
        max_tokens=1024,
        messages=[{"role": "user", "content": "What's the weather like in Paris?"}],
        tools=[WEATHER_TOOL],
    ) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"], final.content
    assert final.content[1].name == "get_weather", final.content
    assert final.content[1].input == {"location": "Paris"}, final.content[1]
    assert final.stop_reason == "tool_use", final.stop_reason
    ok("stream with tools")

    # Stream with thinking (Anthropic upstream): thinking deltas and the signature arrive.
    with client.messages.stream(
        model="claude",
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "How do I cross the street?"}],
    ) as s:
        thinking = ""
        signature = None
        for e in s:
            if e.type == "thinking":
                thinking += e.thinking
            elif e.type == "signature":
                signature = e.signature
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"], final.content
    assert thinking and final.content[0].thinking == thinking, thinking
    assert signature and final.content[0].signature == signature, signature
    assert final.content[1].text, final.content
    ok("stream with thinking")

    # count_tokens: Anthropic's exact count, and the estimate elsewhere (the header says which).
    raw = client.messages.with_raw_response.count_tokens(
        model="claude", messages=MESSAGES, tools=[WEATHER_TOOL]
    )
    assert raw.headers["x-modelrt-token-count"] == "exact", raw.headers
    assert raw.parse().input_tokens == 1114, raw.parse()
    raw = client.messages.with_raw_response.count_tokens(model="chat", messages=MESSAGES)
    assert raw.headers["x-modelrt-token-count"] == "estimate", raw.headers
    assert 0 < raw.parse().input_tokens < 50, raw.parse()
    ok("count_tokens")

    # Typed errors, each from the gateway's Anthropic envelope.
    err = expect(
        anthropic.NotFoundError,
        lambda: client.messages.create(model="missing-model", max_tokens=8, messages=MESSAGES),
    )
    assert err.type == "not_found_error", err.body
    assert "secret-model" not in str(err.body), err.body
    err = expect(
        anthropic.BadRequestError,
        lambda: client.messages.create(model="embed", max_tokens=8, messages=MESSAGES),
    )
    assert err.type == "invalid_request_error", err.body
    err = expect(
        anthropic.RateLimitError,
        lambda: client.messages.create(model="limited", max_tokens=8, messages=MESSAGES),
    )
    assert err.type == "rate_limit_error", err.body
    assert err.response.headers["retry-after"] == "7", err.response.headers
    err = expect(
        anthropic.OverloadedError,
        lambda: client.messages.create(model="busy", max_tokens=8, messages=MESSAGES),
    )
    assert err.status_code == 529 and err.type == "overloaded_error", err.body
    bad = anthropic.Anthropic(base_url=BASE, api_key="sk-wrong", max_retries=0)
    err = expect(
        anthropic.AuthenticationError,
        lambda: bad.messages.create(model="chat", max_tokens=8, messages=MESSAGES),
    )
    assert err.type == "authentication_error", err.body
    assert err.body["request_id"], err.body
    ok("typed errors")

    print("all checks passed")


if __name__ == "__main__":
    main()
