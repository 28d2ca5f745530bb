// More of the LangGraph-compatible API through the official SDK
// (@langchain/langgraph-sdk 1.x): the x-api-key placeholder, the thread
// stream (threads.joinStream), patching a thread's state metadata, run
// timeouts (LOOM_RUN_TIMEOUT), and that a cancel is durable before its
// answer (it survives a SIGKILL right after).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";
import { startLoom } from "./harness.mjs";

let loom, client;

const CHAIN = `
name: chain
state:
  log: {type: array, reducer: append}
nodes:
  a: {lua: 'return { log = { "a" } }'}
  b: {lua: 'return { log = { "b" } }'}
edges:
  - START -> a
  - a -> b
  - b -> END
`;

// A long run: one cheap step many times.
const SPIN = `
name: spin
state:
  i: {type: integer, reducer: add, default: 0}
nodes:
  tick: {lua: 'return { i = 1 }'}
edges:
  - START -> tick
  - "tick -> tick: i < 1000000"
  - "tick -> END: i >= 1000000"
`;

async function putGraph(server, id, spec) {
  const res = await fetch(`${server.url}/graphs/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/yaml" },
    body: spec,
  });
  assert.equal(res.status, 201);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitStatus(c, threadId, runId, want, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const run = await c.runs.get(threadId, runId);
    if (want.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run still ${run.status}`);
    await sleep(10);
  }
}

before(async () => {
  loom = await startLoom();
  client = new Client({ apiUrl: loom.url });
  await putGraph(loom, "chain", CHAIN);
  await putGraph(loom, "spin", SPIN);
});

after(async () => {
  await loom?.stop();
});

describe("x-api-key", () => {
  test("the SDK's apiKey reaches the run's config as LangGraph's auth user", async () => {
    const key = "lsv2-test-key-123";
    const keyed = new Client({ apiUrl: loom.url, apiKey: key });
    const identity = `api-key:${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
    const t = await keyed.threads.create();
    const run = await keyed.runs.create(t.thread_id, "chain", { input: {} });
    await keyed.runs.join(t.thread_id, run.run_id);
    const got = await keyed.runs.get(t.thread_id, run.run_id);
    const conf = got.kwargs.config.configurable;
    assert.equal(conf.langgraph_auth_user_id, identity);
    assert.equal(conf.langgraph_auth_user.identity, identity);
    assert.equal(conf.langgraph_auth_user.is_authenticated, false);
    assert.deepEqual(conf.langgraph_auth_permissions, []);
    // The key itself is stored nowhere a client can read it back.
    assert.ok(!JSON.stringify(got).includes(key));
  });

  test("without a key, a client cannot claim an identity", async () => {
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "chain", {
      input: {},
      config: { configurable: { langgraph_auth_user_id: "admin", mine: 1 } },
    });
    const conf = (await client.runs.get(t.thread_id, run.run_id)).kwargs.config.configurable;
    assert.equal(conf.langgraph_auth_user_id, undefined);
    assert.equal(conf.mine, 1);
  });
});
