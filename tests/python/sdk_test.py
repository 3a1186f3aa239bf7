"""Drives a running modelrt gateway with the official `openai` Python SDK.

Usage: python3 tests/python/sdk_test.py BASE_URL API_KEY

The gateway must serve the provider instance `mock` (an OpenAI-compatible wiremock upstream, see
crates/runtime-gateway/tests/sdk.rs) and require API_KEY. Exits non-zero on the first failure.
"""

import sys

import openai


def main() -> None:
    base_url, api_key = sys.argv[1], sys.argv[2]
    client = openai.OpenAI(base_url=base_url + "/v1", api_key=api_key, max_retries=0)
    messages = [{"role": "user", "content": "Say hi"}]

    # Chat.
    r = client.chat.completions.create(model="mock/gpt-4o-mini", messages=messages)
    assert r.object == "chat.completion", r
    assert r.choices[0].message.role == "assistant", r
    assert r.choices[0].message.content == "Hello there!", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.usage is not None and r.usage.total_tokens == 12, r.usage

    # Raw response: the gateway's headers.
    raw = client.chat.completions.with_raw_response.create(
        model="mock/gpt-4o-mini", messages=messages, extra_headers={"x-request-id": "sdk-1"}
    )
    assert raw.headers.get("x-request-id") == "sdk-1", dict(raw.headers)
    assert raw.headers.get("x-modelrt-provider") == "mock", dict(raw.headers)

    # Streaming with usage.
    stream = client.chat.completions.create(
        model="mock/gpt-4o-mini",
        messages=messages,
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish, ids = "", None, None, set()
    for chunk in stream:
        ids.add(chunk.id)
        if chunk.choices:
            delta = chunk.choices[0].delta
            text += delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "Hello", text
    assert finish == "stop", finish
    assert len(ids) == 1, ids
    assert usage is not None and usage.prompt_tokens == 5 and usage.completion_tokens == 2, usage

    # Embeddings: the SDK asks for base64 by default and decodes it itself.
    e = client.embeddings.create(model="mock/text-embedding-3-small", input=["a", "b"])
    assert [d.index for d in e.data] == [0, 1], e
    assert list(e.data[1].embedding) == [0.5, -0.25, 1.0], e.data[1].embedding
    # A text not embedded before (the gateway caches embeddings per text).
    e = client.embeddings.create(
        model="mock/text-embedding-3-small", input="c", encoding_format="float"
    )
    assert list(e.data[0].embedding) == [0.5, -0.25, 0.0], e.data[0].embedding
    assert e.usage.prompt_tokens == 4, e.usage

    # Models.
    ids = [m.id for m in client.models.list()]
    assert "mock/gpt-4o-mini" in ids and "mock/text-embedding-3-small" in ids, ids
    m = client.models.retrieve("mock/gpt-4o-mini")
    assert m.id == "mock/gpt-4o-mini", m

    # Errors surface as the SDK's own exception types.
    try:
        client.chat.completions.create(model="nosuch/model", messages=messages)
        raise AssertionError("unknown model did not fail")
    except openai.NotFoundError as err:
        assert err.status_code == 404, err
        assert err.code == "model_not_found", err.body

    try:
        client.chat.completions.create(model="mock/gpt-4o-mini", messages=[])
        raise AssertionError("empty messages did not fail")
    except openai.BadRequestError as err:
        assert err.param == "messages", err.body

    bad = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-not-a-key", max_retries=0)
    try:
        bad.models.list()
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as err:
        assert err.status_code == 401, err

    print("openai sdk: all checks passed")


if __name__ == "__main__":
    main()
