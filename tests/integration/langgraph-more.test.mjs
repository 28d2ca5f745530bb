// More of the LangGraph-compatible API through the official SDK
// (@langchain/langgraph-sdk 1.x): the x-api-key placeholder and the
// headers a run's configurable gets, the thread
// stream (threads.joinStream), patching a thread's state metadata, run
// timeouts (LOOM_RUN_TIMEOUT), that a cancel is durable before its
// answer (it survives a SIGKILL right after), and what LangGraph's server
// merges into a run and its checkpoints (assistant, thread and run
// metadata and config) and into an interrupted thread's interrupts.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Client } from "@langchain/langgraph-sdk";
import { startLoom } from "./harness.mjs";
import { spinGraph } from "./graphs.mjs";

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

// A long run for cancel and multitask tests.
const SPIN = spinGraph(1000000);

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

  test("user-agent and x-* headers reach the run's configurable and its checkpoints, secrets do not", async () => {
    const key = "lsv2-header-key";
    const c = new Client({ apiUrl: loom.url, apiKey: key,
                           defaultHeaders: { "X-Team": "blue", "x-tenant-id": "t9",
                                             "X-Forwarded-Access-Token": "s3cret" } });
    const t = await c.threads.create();
    const run = await c.runs.create(t.thread_id, "chain", { input: {} });
    const conf = run.kwargs.config.configurable;
    assert.equal(conf["x-team"], "blue");
    assert.equal(typeof conf["user-agent"], "string");
    assert.equal(conf["x-api-key"], undefined);
    assert.equal(conf["x-tenant-id"], undefined);
    assert.equal(conf["x-forwarded-access-token"], undefined);
    await c.runs.join(t.thread_id, run.run_id);
    const history = await c.threads.getHistory(t.thread_id, { metadata: { "x-team": "blue" } });
    assert.equal(history.length, 4); // input, start, a, b
    assert.ok(!JSON.stringify(history).includes(key));
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

describe("run timeout", () => {
  let slow, sc;
  before(async () => {
    slow = await startLoom({ env: { LOOM_RUN_TIMEOUT: "0.3" } });
    sc = new Client({ apiUrl: slow.url });
    await putGraph(slow, "spin", SPIN);
    await putGraph(slow, "chain", CHAIN);
  });
  after(async () => {
    await slow?.stop();
  });

  test("a run past LOOM_RUN_TIMEOUT ends as timeout, its thread in error", async () => {
    const t = await sc.threads.create();
    const t0 = Date.now();
    const run = await sc.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    const result = await sc.runs.join(t.thread_id, run.run_id);
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(result.__error__.error, "TIMEOUT");
    assert.match(result.__error__.message, /LOOM_RUN_TIMEOUT/);
    assert.equal((await sc.runs.get(t.thread_id, run.run_id)).status, "timeout");
    assert.equal((await sc.threads.get(t.thread_id)).status, "error");
    // What it did before the timeout is kept, and the thread runs again.
    assert.ok((await sc.threads.getState(t.thread_id)).values.i > 0);
    const next = await sc.runs.wait(t.thread_id, "chain", { input: {} });
    assert.deepEqual(next.log, ["a", "b"]);
  });

  test("a short run is not affected", async () => {
    const out = await sc.runs.wait(null, "chain", { input: {} });
    assert.deepEqual(out.log, ["a", "b"]);
  });
});

describe("durable cancel", () => {
  test("a cancelled pending run is still cancelled after a SIGKILL right after the answer", async () => {
    const first = await startLoom();
    const c1 = new Client({ apiUrl: first.url });
    await putGraph(first, "spin", SPIN);
    const t = await c1.threads.create();
    const busy = await c1.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    await waitStatus(c1, t.thread_id, busy.run_id, ["running"]);
    const queued = await c1.runs.create(t.thread_id, "spin", { input: {}, multitaskStrategy: "enqueue" });
    assert.equal(queued.status, "pending");
    await c1.runs.cancel(t.thread_id, queued.run_id);
    await first.stop({ keepData: true, signal: "SIGKILL" });

    const second = await startLoom({ dataDir: first.dataDir });
    try {
      const c2 = new Client({ apiUrl: second.url });
      const run = await c2.runs.get(t.thread_id, queued.run_id);
      assert.equal(run.status, "interrupted");
      await c2.runs.cancel(t.thread_id, busy.run_id, true);
    } finally {
      await second.stop();
    }
  });
});

describe("thread stream and state patch", () => {
  test("threads.joinStream follows the thread's runs as they come", async () => {
    const t = await client.threads.create();
    const ac = new AbortController();
    const seen = [];
    const reader = (async () => {
      try {
        for await (const part of client.threads.joinStream(t.thread_id, { signal: ac.signal })) {
          seen.push(part);
          if (seen.filter((p) => p.event === "end").length === 2) ac.abort();
        }
      } catch (err) {
        if (err.name !== "AbortError" && !ac.signal.aborted) throw err;
      }
    })();
    await sleep(100); // the stream is open before the runs exist
    const r1 = await client.runs.wait(t.thread_id, "chain", { input: {} });
    const r2 = await client.runs.create(t.thread_id, "chain", { input: {}, streamMode: ["updates"] });
    await reader;
    assert.deepEqual(r1.log, ["a", "b"]);
    const ends = seen.filter((p) => p.event === "end");
    assert.equal(ends.length, 2);
    const metas = seen.filter((p) => p.event === "metadata").map((p) => p.data.run_id);
    assert.equal(metas.length, 2);
    assert.equal(metas[1], r2.run_id);
    // Each run shows its own modes: values for the first, updates for the second.
    const second = seen.slice(seen.findIndex((p) => p.event === "metadata" && p.data.run_id === r2.run_id));
    assert.ok(second.some((p) => p.event === "updates"));
    assert.ok(!second.some((p) => p.event === "values"));
    assert.ok(seen.every((p) => /^[0-9a-f-]+:\d+$/.test(p.id)));
  });

  test("joinStream with Last-Event-ID goes on after that event; unknown thread is 404", async () => {
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    await waitStatus(client, t.thread_id, run.run_id, ["running"]);
    const ac = new AbortController();
    const parts = [];
    try {
      for await (const part of client.threads.joinStream(t.thread_id, {
        signal: ac.signal,
        lastEventId: `${run.run_id}:1`,
        streamMode: ["values"],
      })) {
        parts.push(part);
        if (parts.length === 3) ac.abort();
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
    await client.runs.cancel(t.thread_id, run.run_id, true);
    // The metadata event (1) is not sent again; ids go on in that run.
    const seqs = parts.map((p) => Number(p.id.split(":")[1]));
    assert.ok(parts.every((p) => p.id.startsWith(`${run.run_id}:`)));
    assert.ok(seqs[0] > 1 && seqs[1] > seqs[0] && seqs[2] > seqs[1]);
    assert.ok(parts.every((p) => p.event === "values"));
    const res = await fetch(`${loom.url}/threads/00000000-0000-0000-0000-000000000000/stream`);
    assert.equal(res.status, 404);
  });

  test("threads.patchState merges metadata into the latest checkpoint", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "chain", { input: {} });
    const before = await client.threads.getState(t.thread_id);
    await client.threads.patchState(t.thread_id, { reviewed: true, by: "ann" });
    const after = await client.threads.getState(t.thread_id);
    assert.equal(after.checkpoint.checkpoint_id, before.checkpoint.checkpoint_id);
    assert.equal(after.metadata.reviewed, true);
    assert.equal(after.metadata.by, "ann");
    assert.equal(after.metadata.run_id, before.metadata.run_id);
    assert.deepEqual(after.values, before.values);
    const history = await client.threads.getHistory(t.thread_id, { metadata: { reviewed: true } });
    assert.equal(history.length, 1);
    const empty = await client.threads.create();
    await assert.rejects(client.threads.patchState(empty.thread_id, { x: 1 }), /404/);
  });
});

describe("what LangGraph's server merges into runs and checkpoints", () => {
  test("a run's metadata and kwargs merge its assistant's, its thread's and its own", async () => {
    const as = await client.assistants.create({
      graphId: "chain",
      metadata: { owner: "ann", project: "from-assistant" },
      config: { configurable: { model: "m1", temperature: 1 } },
      context: { lang: "en" },
    });
    const t = await client.threads.create({ metadata: { project: "p1", team: "blue" } });
    const run = await client.runs.create(t.thread_id, as.assistant_id, {
      input: {},
      metadata: { ticket: "T-1", team: "red" },
      config: { configurable: { temperature: 0 } },
    });
    // Later wins: the assistant's, then the thread's, then the run's own.
    assert.deepEqual(run.metadata, {
      owner: "ann", project: "p1", team: "red", ticket: "T-1",
      graph_id: "chain", assistant_id: as.assistant_id,
    });
    const conf = run.kwargs.config.configurable;
    assert.equal(conf.model, "m1");
    assert.equal(conf.temperature, 0);
    assert.equal(conf.run_id, run.run_id);
    assert.equal(conf.thread_id, t.thread_id);
    assert.equal(conf.graph_id, "chain");
    assert.equal(conf.assistant_id, as.assistant_id);
    assert.deepEqual(run.kwargs.config.metadata, run.metadata);
    assert.deepEqual(run.kwargs.context, { lang: "en" });
    assert.equal(run.kwargs.temporary, false);
    await client.runs.join(t.thread_id, run.run_id);
    assert.deepEqual((await client.runs.get(t.thread_id, run.run_id)).metadata, run.metadata);
  });

  test("every checkpoint carries that metadata, the configurable and the ids; history filters on them", async () => {
    const as = await client.assistants.create({
      graphId: "chain", metadata: { owner: "bea" }, config: { configurable: { model: "m2" } },
    });
    const t = await client.threads.create({ metadata: { project: "p2" } });
    const events = [];
    for await (const part of client.runs.stream(t.thread_id, as.assistant_id, {
      input: {}, metadata: { ticket: "T-2" }, streamMode: ["checkpoints"],
    })) events.push(part);
    const runId = events.find((e) => e.event === "metadata").data.run_id;
    const want = {
      owner: "bea", project: "p2", ticket: "T-2", model: "m2",
      graph_id: "chain", assistant_id: as.assistant_id, thread_id: t.thread_id, run_id: runId,
    };
    const streamed = events.filter((e) => e.event === "checkpoints");
    assert.ok(streamed.length >= 3);
    for (const e of streamed) assert.deepEqual(pick(e.data.metadata, want), want);
    const history = await client.threads.getHistory(t.thread_id);
    assert.equal(history.length, streamed.length);
    for (const h of history) assert.deepEqual(pick(h.metadata, want), want);
    assert.deepEqual(pick((await client.threads.getState(t.thread_id)).metadata, want), want);
    // A user finds a thread's checkpoints by their assistant's or thread's metadata.
    const byOwner = await client.threads.getHistory(t.thread_id, { metadata: { owner: "bea", project: "p2" } });
    assert.equal(byOwner.length, history.length);
    assert.equal((await client.threads.getHistory(t.thread_id, { metadata: { owner: "ann" } })).length, 0);
  });

  test("a thread keeps its runs' config: the next run inherits it, never an identity", async () => {
    const as = await client.assistants.create({ graphId: "chain", config: { configurable: { model: "m3" } } });
    const keyed = new Client({ apiUrl: loom.url, apiKey: "lsv2-thread-key" });
    const t = await keyed.threads.create();
    await keyed.runs.wait(t.thread_id, as.assistant_id, { input: {}, config: { configurable: { lang: "fr" } } });
    const thread = await client.threads.get(t.thread_id);
    assert.equal(thread.config.configurable.model, "m3");
    assert.equal(thread.config.configurable.lang, "fr");
    assert.equal(thread.config.configurable.langgraph_auth_user_id, undefined);
    // A later run without a key or config reads the thread's, not its caller's identity.
    const run = await client.runs.create(t.thread_id, "chain", { input: {} });
    assert.equal(run.kwargs.config.configurable.lang, "fr");
    assert.equal(run.kwargs.config.configurable.langgraph_auth_user_id, undefined);
    await client.runs.join(t.thread_id, run.run_id);
  });

  test("an assistant's config applies to its runs, but never an identity", async () => {
    const as = await client.assistants.create({
      graphId: "chain",
      config: { recursion_limit: 1, configurable: { langgraph_auth_user_id: "mallory" } },
    });
    const t = await client.threads.create();
    await assert.rejects(client.runs.wait(t.thread_id, as.assistant_id, { input: {} }), /recursion limit of 1/);
    const [run] = await client.runs.list(t.thread_id);
    assert.equal(run.kwargs.config.recursion_limit, 1);
    assert.equal(run.kwargs.config.configurable.langgraph_auth_user_id, undefined);
    // The run's own config wins over the assistant's.
    const t2 = await client.threads.create();
    const ok = await client.runs.wait(t2.thread_id, as.assistant_id, { input: {}, config: { recursion_limit: 5 } });
    assert.deepEqual(ok.log, ["a", "b"]);
  });

  test("interrupt_before/after: the thread's interrupts name the task it stopped at", async () => {
    for (const opts of [{ interruptBefore: ["b"] }, { interruptAfter: ["a"] }]) {
      const t = await client.threads.create();
      const out = await client.runs.wait(t.thread_id, "chain", { input: {}, ...opts });
      assert.deepEqual(out.log, ["a"]);
      const thread = await client.threads.get(t.thread_id);
      const state = await client.threads.getState(t.thread_id);
      assert.equal(thread.status, "interrupted");
      assert.deepEqual(state.next, ["b"]);
      assert.deepEqual(thread.interrupts, { [state.tasks[0].id]: [] });
      await client.runs.wait(t.thread_id, "chain", { input: null });
      const done = await client.threads.get(t.thread_id);
      assert.equal(done.status, "idle");
      assert.deepEqual(done.interrupts, {});
    }
    // An interrupt of the node's own is listed under the same task id.
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "approval", { input: { topic: "otters" } });
    const thread = await client.threads.get(t.thread_id);
    const state = await client.threads.getState(t.thread_id);
    const [id] = Object.keys(thread.interrupts);
    assert.equal(id, state.tasks[0].id);
    assert.equal(thread.interrupts[id].length, 1);
    assert.deepEqual(thread.interrupts[id][0].value, state.tasks[0].interrupts[0].value);
  });

  test("a task that finished beside an interrupted one shows its result in the state", async () => {
    const spec = [
      "name: beside",
      "state:",
      "  log: {type: array, reducer: append}",
      "  approved: {type: boolean}",
      "nodes:",
      "  work: {lua: 'return { log = { \"work\" } }'}",
      "  ask: {interrupt: {question: 'go on?'}}",
      "edges:",
      "  - START -> work",
      "  - START -> ask",
      "  - work -> END",
      "  - ask -> END",
    ].join("\n");
    await putGraph(loom, "beside", spec);
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "beside", { input: {} });
    const state = await client.threads.getState(t.thread_id);
    const byName = Object.fromEntries(state.tasks.map((x) => [x.name, x]));
    assert.deepEqual(byName.work.result, { log: ["work"] });
    assert.equal(byName.work.interrupts.length, 0);
    assert.equal(byName.ask.result, null);
    assert.equal(byName.ask.interrupts.length, 1);
  });
});

// The keys of `want` in `obj`.
function pick(obj, want) {
  return Object.fromEntries(Object.keys(want).map((k) => [k, obj?.[k]]));
}
