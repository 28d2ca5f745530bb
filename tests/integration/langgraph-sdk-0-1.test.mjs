// The core LangGraph flows again with the older SDK line (0.1.x), which
// many deployed apps still pin: assistants, threads, runs.wait, streaming,
// interrupt and resume, state and history, join, stateless runs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Client } from "langgraph-sdk-0-1";
import { startLoom } from "./harness.mjs";

let loom, client;

before(async () => {
  loom = await startLoom();
  client = new Client({ apiUrl: loom.url });
});

after(async () => {
  await loom?.stop();
});

async function collect(iter) {
  const out = [];
  for await (const part of iter) out.push(part);
  return out;
}

test("0.1: assistant and thread, then wait, interrupt and resume", async () => {
  const a = await client.assistants.create({ graphId: "approval", metadata: { sdk: "0.1" } });
  const found = await client.assistants.search({ metadata: { sdk: "0.1" } });
  assert.equal(found[0].assistant_id, a.assistant_id);
  const t = await client.threads.create({ metadata: { sdk: "0.1" } });
  const first = await client.runs.wait(t.thread_id, a.assistant_id, { input: { topic: "0.1" } });
  assert.equal(first.draft, "Draft about 0.1");
  assert.ok(first.__interrupt__);
  const state = await client.threads.getState(t.thread_id);
  assert.deepEqual(state.next, ["review"]);
  const done = await client.runs.wait(t.thread_id, a.assistant_id, { command: { resume: { approved: true } } });
  assert.deepEqual(done.log, ["write", "publish"]);
  const history = await client.threads.getHistory(t.thread_id);
  assert.ok(history.length > 2);
  assert.deepEqual(history[0].values.log, ["write", "publish"]);
});

test("0.1: stream values and updates", async () => {
  const t = await client.threads.create();
  const parts = await collect(
    client.runs.stream(t.thread_id, "approval", { input: { topic: "s" }, streamMode: ["values", "updates"] }),
  );
  assert.equal(parts[0].event, "metadata");
  assert.ok(parts.some((p) => p.event === "values" && p.data.draft === "Draft about s"));
  assert.ok(parts.some((p) => p.event === "updates" && p.data.__interrupt__));
});

test("0.1: background run, join, list; stateless wait", async () => {
  const t = await client.threads.create();
  const run = await client.runs.create(t.thread_id, "map_reduce", { input: { text: "a b. c." } });
  const out = await client.runs.join(t.thread_id, run.run_id);
  assert.equal(out.words, 3);
  const runs = await client.runs.list(t.thread_id);
  assert.equal(runs[0].status, "success");
  const stateless = await client.runs.wait(null, "map_reduce", { input: { text: "x y z." } });
  assert.equal(stateless.words, 3);
});
