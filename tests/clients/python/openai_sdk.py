"""The official `openai` Python SDK against a running modelrt gateway (docs/clients.md).

Environment: MODELRT_BASE_URL (the gateway, no trailing slash), MODELRT_KEY (a gateway key).
The gateway serves the logical models `chat` (type chat) and `embed` (type embedding) over a
mock OpenAI upstream (tests/gateway/clients.rs). Prints `ok: <cell>` per cell; exits non-zero
on the first failure.
"""

import base64
import os
import struct

import openai

BASE = os.environ["MODELRT_BASE_URL"]
KEY = os.environ["MODELRT_KEY"]
MESSAGES = [{"role": "user", "content": "Say hi"}]


def ok(cell: str) -> None:
    print(f"ok: {cell}", flush=True)


def main() -> None:
    client = openai.OpenAI(base_url=BASE + "/v1", api_key=KEY, max_retries=0)

    r = client.chat.completions.create(model="chat", messages=MESSAGES)
    assert r.choices[0].message.content == "Hello there!", r
    assert r.choices[0].finish_reason == "stop", r
    assert r.usage is not None and r.usage.total_tokens == 12, r.usage
    ok("chat")

    stream = client.chat.completions.create(
        model="chat", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert (text, finish) == ("Hello", "stop"), (text, finish)
    assert usage is not None and usage.completion_tokens == 2, usage
    ok("chat stream")

    # The SDK asks for base64 by default and decodes it itself.
    e = client.embeddings.create(model="embed", input=["a", "b"])
    assert [d.index for d in e.data] == [0, 1], e
    assert list(e.data[1].embedding) == [0.5, -0.25, 1.0], e.data[1].embedding
    raw = client.embeddings.with_raw_response.create(
        model="embed", input="c", encoding_format="base64"
    ).http_response.json()
    packed = base64.b64decode(raw["data"][0]["embedding"])
    assert list(struct.unpack("<3f", packed)) == [0.5, -0.25, 0.0], packed
    ok("embeddings base64")

    e = client.embeddings.create(model="embed", input="d", encoding_format="float")
    assert list(e.data[0].embedding) == [0.5, -0.25, 0.0], e.data[0].embedding
    ok("embeddings float")

    e = client.embeddings.create(model="embed", input=[[1, 2, 3], [4, 5]])
    assert [d.index for d in e.data] == [0, 1], e
    e = client.embeddings.create(model="embed", input=[9, 8, 7])
    assert len(e.data) == 1, e
    ok("embeddings token arrays")

    ids = [m.id for m in client.models.list()]
    assert "chat" in ids and "embed" in ids, ids
    ok("models")

    # A chat request on the embedding model is a clear 400, an unknown model a 404 naming only
    # what this key may use; both as the SDK's typed errors.
    try:
        client.chat.completions.create(model="embed", messages=MESSAGES)
        raise AssertionError("chat on an embedding model did not fail")
    except openai.BadRequestError as err:
        assert err.code == "model_kind_mismatch", err.body
    try:
        client.chat.completions.create(model="missing-model", messages=MESSAGES)
        raise AssertionError("an unknown model did not fail")
    except openai.NotFoundError as err:
        assert err.code == "model_not_found", err.body
        assert "chat" in err.message and "secret-model" not in err.message, err.message
    ok("typed errors")

    # A base URL without /v1.
    bare = openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0)
    r = bare.chat.completions.create(model="chat", messages=MESSAGES)
    assert r.choices[0].message.content == "Hello there!", r
    e = bare.embeddings.create(model="embed", input="e")
    assert len(e.data) == 1, e
    assert "chat" in [m.id for m in bare.models.list()]
    ok("base URL without /v1")

    print("all checks passed")


if __name__ == "__main__":
    main()
