// A C tool from a plug-in (LOOM_TOOL_PLUGINS) used by an agent node through
// the API: the model asks for `word_count`, loom runs the example plug-in's
// code and sends the result back in the next request; a plug-in that cannot
// be loaded stops `loom serve` at start with a message naming it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loomBin, postOk as post, startLoom, startModelServer } from "./harness.mjs";

const PLUGIN = path.join(path.dirname(loomBin), "plugins/word_count.so");
const GRAPH = `name: count
state:
  q: {type: string}
  answer: {}
nodes:
  count:
    kind: agent
    model: scripted/small
    prompt: "{q}"
    tools: [word_count]
    output: answer
edges:
  - START -> count
  - count -> END
`;

let models, loom, dir;

before(async () => {
  models = await startModelServer();
  dir = mkdtempSync(path.join(os.tmpdir(), "loom-plugins-"));
  writeFileSync(path.join(dir, "count.yaml"), GRAPH);
  loom = await startLoom({
    env: { LOOM_GRAPHS: dir, LOOM_ENDPOINTS: `scripted=${models.url}/v1`, LOOM_TOOL_PLUGINS: PLUGIN },
  });
});

after(async () => {
  await loom?.stop();
  models?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("an agent calls a plug-in's C tool and gets its result", async () => {
  await post(`${models.url}/__reset`, {});
  const text = "Hello there. How are you?";
  await post(`${models.url}/__script`, [
    { kind: "openai", tool_calls: [{ id: "c1", name: "word_count", arguments: JSON.stringify({ text }) }] },
    { kind: "openai", content: "Five words." },
  ]);
  const out = await post(`${loom.url}/runs/wait`, { assistant_id: "count", input: { q: `Count: ${text}` } });
  assert.equal(out.answer, "Five words.");
  const sent = (await (await fetch(`${models.url}/__requests`)).json())
    .filter((r) => r.path.endsWith("/chat/completions")).map((r) => r.json);
  assert.equal(sent.length, 2);
  const decl = sent[0].tools.find((t) => t.function.name === "word_count");
  assert.equal(decl.function.parameters.required[0], "text");
  const result = sent[1].messages.find((m) => m.role === "tool");
  assert.equal(result.tool_call_id, "c1");
  assert.equal(result.content, "5 words, 2 sentences, 25 characters");
});

test("a plug-in that cannot be loaded stops the server at start, named", async () => {
  await assert.rejects(
    startLoom({ env: { LOOM_TOOL_PLUGINS: "/nonexistent/tools.so" } }),
    /cannot load '\/nonexistent\/tools\.so'/,
  );
});
