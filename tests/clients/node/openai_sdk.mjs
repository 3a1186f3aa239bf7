// The official `openai` Node SDK against a running modelrt gateway (docs/clients.md).
// Environment: MODELRT_BASE_URL, MODELRT_KEY. Prints `ok: <cell>` per cell; exits non-zero on
// the first failure.
import assert from "node:assert/strict";
import OpenAI from "openai";

const base = process.env.MODELRT_BASE_URL;
const key = process.env.MODELRT_KEY;
const ok = (cell) => console.log(`ok: ${cell}`);
const messages = [{ role: "user", content: "Say hi" }];

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: key, maxRetries: 0 });

const r = await client.chat.completions.create({ model: "chat", messages });
assert.equal(r.choices[0].message.content, "Hello there!");
assert.equal(r.usage.total_tokens, 12);
ok("chat");

const stream = await client.chat.completions.create({
  model: "chat",
  messages,
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) text += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
assert.equal(text, "Hello");
assert.equal(usage.completion_tokens, 2);
ok("chat stream");

// The SDK asks for base64 by default and decodes it itself.
let e = await client.embeddings.create({ model: "embed", input: ["a", "b"] });
assert.deepEqual(e.data.map((d) => d.index), [0, 1]);
assert.deepEqual(Array.from(e.data[1].embedding), [0.5, -0.25, 1.0]);
e = await client.embeddings.create({ model: "embed", input: "x", encoding_format: "float" });
assert.deepEqual(e.data[0].embedding, [0.5, -0.25, 0.0]);
ok("embeddings");

const models = [];
for await (const m of client.models.list()) models.push(m.id);
assert.ok(models.includes("chat") && models.includes("embed"), String(models));
ok("models");

try {
  await client.chat.completions.create({ model: "missing-model", messages });
  assert.fail("an unknown model did not fail");
} catch (err) {
  assert.ok(err instanceof OpenAI.NotFoundError, String(err));
  assert.equal(err.code, "model_not_found");
}
ok("typed errors");

const bare = new OpenAI({ baseURL: base, apiKey: key, maxRetries: 0 });
const b = await bare.chat.completions.create({ model: "chat", messages });
assert.equal(b.choices[0].message.content, "Hello there!");
ok("base URL without /v1");

console.log("all checks passed");
