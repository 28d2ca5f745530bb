// A run's model usage through the API: two llm nodes calling the scripted
// model server; the run's metadata.usage is the sum of the two calls and
// the per-tenant metrics count the same tokens.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { postOk as post, startLoom, startModelServer } from "./harness.mjs";

const GRAPH = `name: usage2
state:
  text: {type: string}
  a: {}
  b: {}
nodes:
  first: {kind: llm, model: scripted/small, prompt: "Summarize: {text}", output: a}
  second: {kind: llm, model: scripted/small, prompt: "Shorter: {a}", output: b}
edges:
  - START -> first
  - first -> second
  - second -> END
`;

let models, modelsUrl, loom, dir;

before(async () => {
  models = await startModelServer();
  modelsUrl = models.url;
  dir = mkdtempSync(path.join(os.tmpdir(), "loom-usage-"));
  writeFileSync(path.join(dir, "usage2.yaml"), GRAPH);
  loom = await startLoom({
    env: {
      LOOM_GRAPHS: dir,
      LOOM_ENDPOINTS: `scripted=${modelsUrl}/v1`,
      LOOM_LLM_PRICES: JSON.stringify({ "scripted/small": { input: 1, output: 2 } }),
    },
  });
});

after(async () => {
  await loom?.stop();
  models?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("a run's metadata.usage sums its model calls; tenant metrics agree", async () => {
  await post(`${modelsUrl}/__script`, [
    { content: "Owls hunt.", usage: { prompt_tokens: 11, completion_tokens: 5 } },
    { content: "Owls.", usage: { prompt_tokens: 30, completion_tokens: 7 } },
  ]);
  const { thread_id } = await post(`${loom.url}/threads`, {});
  const values = await post(`${loom.url}/threads/${thread_id}/runs/wait`,
                            { assistant_id: "usage2", input: { text: "Owls hunt at night." } });
  assert.equal(values.b, "Owls.");
  const runs = await (await fetch(`${loom.url}/threads/${thread_id}/runs`)).json();
  const usage = runs[0].metadata.usage;
  assert.equal(usage.prompt_tokens, 41);
  assert.equal(usage.completion_tokens, 12);
  assert.equal(usage.total_tokens, 53);
  assert.equal(usage.calls, 2);
  assert.ok(Math.abs(usage.cost_usd - 65e-6) < 1e-12);
  assert.equal(usage.models["scripted/small"].prompt_tokens, 41);
  const metrics = await (await fetch(`${loom.url}/metrics`)).text();
  assert.match(metrics, /loom_llm_tenant_tokens_total\{tenant="default",model="scripted\/small",kind="prompt"\} 41/);
  assert.match(metrics, /loom_llm_tenant_tokens_total\{tenant="default",model="scripted\/small",kind="completion"\} 12/);
});
