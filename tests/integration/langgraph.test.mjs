// The LangGraph-compatible API driven by the official SDK
// (@langchain/langgraph-sdk 1.x): graphs, assistants, threads, state and
// time travel, runs (wait, stream in every mode, join, cancel, multitask
// strategies, Last-Event-ID reconnects, stateless), and errors (404, 422).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { Client } from "@langchain/langgraph-sdk";
import http from "node:http";
import { startLoom } from "./harness.mjs";
import { spinGraph } from "./graphs.mjs";

let loom, client;

const CHAIN = `
name: chain
description: three steps in a row
state:
  n:   {type: integer, reducer: add, default: 0}
  log: {type: array, reducer: append}
nodes:
  a: {lua: 'return { n = 1, log = { "a" } }'}
  b: {lua: 'return { n = 1, log = { "b" } }'}
  c: {lua: 'emit({ at = "c" }); return { n = 1, log = { "c" } }'}
edges:
  - START -> a
  - a -> b
  - b -> c
  - c -> END
`;

// A long run for cancel and multitask tests.
const SPIN = spinGraph(1000000);

const BOOM = `
name: boom
state:
  x: {type: integer}
nodes:
  fail: {lua: 'error("boom at the node")'}
edges:
  - START -> fail
  - fail -> END
`;

async function putGraph(id, spec) {
  const res = await fetch(`${loom.url}/graphs/${id}`, {
    method: "PUT",
    headers: { "content-type": "application/yaml" },
    body: spec,
  });
  return res;
}

async function collect(iter) {
  const out = [];
  for await (const part of iter) out.push(part);
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitStatus(threadId, runId, want, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const run = await client.runs.get(threadId, runId);
    if (want.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run still ${run.status}`);
    await sleep(10);
  }
}

before(async () => {
  // The webhook test's receiver listens on loopback, which webhooks may
  // only reach when the operator allows it.
  loom = await startLoom({ env: { LOOM_WEBHOOK_ALLOW_PRIVATE: "true" } });
  client = new Client({ apiUrl: loom.url });
  for (const [id, spec] of [["chain", CHAIN], ["spin", SPIN], ["boom", BOOM]])
    assert.equal((await putGraph(id, spec)).status, 201);
});

after(async () => {
  await loom?.stop();
});

describe("graphs", () => {
  test("graphs from LOOM_GRAPHS and from PUT are listed", async () => {
    const list = await (await fetch(`${loom.url}/graphs`)).json();
    const ids = list.map((g) => g.graph_id);
    for (const id of ["approval", "chain", "spin"]) assert.ok(ids.includes(id), id);
    const one = await (await fetch(`${loom.url}/graphs/chain`)).json();
    assert.deepEqual(one.nodes, ["a", "b", "c"]);
  });

  test("an invalid spec is 422 with the file position", async () => {
    const res = await putGraph("broken", "name: broken\nnodes:\n  a: {lua: 'return {}'}\nedges:\n  - START -> nowhere\n");
    assert.equal(res.status, 422);
    const body = await res.json();
    assert.match(body.message, /:\d+:/);
    assert.match(body.message, /nowhere/);
    assert.equal((await fetch(`${loom.url}/graphs/broken`)).status, 404);
  });

  test("DELETE unregisters a graph", async () => {
    assert.equal((await putGraph("tmp", CHAIN.replace("name: chain", "name: tmp"))).status, 201);
    assert.equal((await fetch(`${loom.url}/graphs/tmp`, { method: "DELETE" })).status, 204);
    await assert.rejects(client.runs.wait(null, "tmp", { input: {} }), /404/);
  });
});

describe("assistants", () => {
  test("create, get, update, versions, latest, delete", async () => {
    const a = await client.assistants.create({ graphId: "chain", name: "first", metadata: { team: "x" } });
    assert.equal(a.graph_id, "chain");
    assert.equal(a.version, 1);
    assert.equal((await client.assistants.get(a.assistant_id)).name, "first");
    const b = await client.assistants.update(a.assistant_id, { name: "second", metadata: { stage: "b" } });
    assert.equal(b.version, 2);
    assert.deepEqual(b.metadata, { team: "x", stage: "b" });
    const versions = await client.assistants.getVersions(a.assistant_id);
    assert.deepEqual(versions.map((v) => v.version), [2, 1]);
    const back = await client.assistants.setLatest(a.assistant_id, 1);
    assert.equal(back.name, "first");
    assert.equal((await client.assistants.get(a.assistant_id)).name, "first");
    await client.assistants.delete(a.assistant_id);
    await assert.rejects(client.assistants.get(a.assistant_id), /404/);
  });

  test("if_exists do_nothing returns the existing one; raise is 409", async () => {
    const a = await client.assistants.create({ graphId: "chain" });
    const again = await client.assistants.create({ graphId: "spin", assistantId: a.assistant_id, ifExists: "do_nothing" });
    assert.equal(again.graph_id, "chain");
    await assert.rejects(client.assistants.create({ graphId: "chain", assistantId: a.assistant_id }), /409/);
  });

  test("search by metadata and graph, count, sort, page", async () => {
    const tag = `t${Date.now()}`;
    for (let i = 0; i < 3; i++)
      await client.assistants.create({ graphId: "chain", name: `n${i}`, metadata: { tag } });
    const found = await client.assistants.search({ metadata: { tag }, sortBy: "name", sortOrder: "asc", limit: 2 });
    assert.deepEqual(found.map((a) => a.name), ["n0", "n1"]);
    const next = await client.assistants.search({ metadata: { tag }, sortBy: "name", sortOrder: "asc", limit: 2, offset: 2 });
    assert.deepEqual(next.map((a) => a.name), ["n2"]);
    assert.equal(await client.assistants.count({ metadata: { tag } }), 3);
    const system = await client.assistants.search({ graphId: "approval", metadata: { created_by: "system" } });
    assert.equal(system.length, 1);
  });

  test("graph for drawing and schemas from the state channels", async () => {
    const g = await client.assistants.getGraph("chain");
    assert.deepEqual(g.nodes.map((n) => n.id), ["__start__", "a", "b", "c", "__end__"]);
    // Node data as LangGraph draws it: data.id a path naming what runs it.
    assert.deepEqual(g.nodes[1], { id: "a", type: "runnable", data: { id: ["loom", "lua"], name: "a" }, metadata: {} });
    assert.deepEqual(g.edges.map((e) => `${e.source}>${e.target}`), ["__start__>a", "a>b", "b>c", "c>__end__"]);
    const s = await client.assistants.getSchemas("approval");
    assert.equal(s.state_schema.properties.approved.type, "boolean");
    assert.equal(s.state_schema.properties.approved.default, false);
    assert.equal(s.input_schema.type, "object");
  });
});

describe("threads", () => {
  test("create, get, search, update metadata, delete", async () => {
    const tag = `t${Date.now()}`;
    const t = await client.threads.create({ metadata: { tag } });
    assert.equal(t.status, "idle");
    assert.equal((await client.threads.get(t.thread_id)).metadata.tag, tag);
    await client.threads.update(t.thread_id, { metadata: { more: 1 } });
    const found = await client.threads.search({ metadata: { tag } });
    assert.equal(found.length, 1);
    assert.equal(found[0].metadata.more, 1);
    await client.threads.delete(t.thread_id);
    await assert.rejects(client.threads.get(t.thread_id), /404/);
  });

  test("prune deletes many threads", async () => {
    const a = await client.threads.create();
    const b = await client.threads.create();
    await client.runs.wait(a.thread_id, "chain", { input: {} });
    const out = await client.threads.prune([a.thread_id, b.thread_id, "00000000-0000-4000-8000-000000000001"]);
    assert.equal(out.pruned_count, 2);
    await assert.rejects(client.threads.get(a.thread_id), /404/);
    await assert.rejects(client.threads.get(b.thread_id), /404/);
  });

  test("if_exists: raise is 409, do_nothing returns it", async () => {
    const t = await client.threads.create();
    await assert.rejects(client.threads.create({ threadId: t.thread_id }), /409/);
    const same = await client.threads.create({ threadId: t.thread_id, ifExists: "do_nothing" });
    assert.equal(same.thread_id, t.thread_id);
  });

  test("a new thread has an empty state and history", async () => {
    const t = await client.threads.create();
    const s = await client.threads.getState(t.thread_id);
    assert.deepEqual(s.values, {});
    assert.deepEqual(s.next, []);
    assert.deepEqual(await client.threads.getHistory(t.thread_id), []);
  });

  test("supersteps at creation write state as the given nodes", async () => {
    const t = await client.threads.create({
      graphId: "approval",
      supersteps: [{ updates: [{ values: { topic: "pre", draft: "ready" }, asNode: "write" }] }],
    });
    const s = await client.threads.getState(t.thread_id);
    assert.equal(s.values.draft, "ready");
    assert.deepEqual(s.next, ["review"]);
    const out = await client.runs.wait(t.thread_id, "approval", { input: null });
    assert.ok(out.__interrupt__);
    await assert.rejects(
      client.threads.create({ supersteps: [{ updates: [{ values: {}, asNode: "write" }] }] }),
      /422/,
    );
  });

  test("copy keeps the state", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "chain", { input: {} });
    const c = await client.threads.copy(t.thread_id);
    assert.notEqual(c.thread_id, t.thread_id);
    const s = await client.threads.getState(c.thread_id);
    assert.deepEqual(s.values.log, ["a", "b", "c"]);
  });
});

describe("runs", () => {
  test("runs.wait with a graph id as the assistant", async () => {
    const t = await client.threads.create();
    const out = await client.runs.wait(t.thread_id, "chain", { input: { n: 10 } });
    assert.deepEqual(out, { n: 13, log: ["a", "b", "c"] });
    const th = await client.threads.get(t.thread_id);
    assert.equal(th.status, "idle");
    assert.deepEqual(th.values.log, ["a", "b", "c"]);
  });

  test("interrupt, then resume with a Command", async () => {
    const t = await client.threads.create();
    const first = await client.runs.wait(t.thread_id, "approval", { input: { topic: "otters" } });
    assert.equal(first.draft, "Draft about otters");
    assert.equal(first.__interrupt__.length, 1);
    assert.equal(first.__interrupt__[0].value.question, "Approve this draft?");
    assert.deepEqual(t.interrupts, {});
    const th = await client.threads.get(t.thread_id);
    assert.equal(th.status, "interrupted");
    // The thread's values are its state: the interrupts are a field apart.
    assert.deepEqual(th.values, { topic: "otters", draft: "Draft about otters", approved: false, log: ["write"] });
    // Keyed by the interrupted task's id, as in the task list of its state.
    const state = await client.threads.getState(t.thread_id);
    assert.deepEqual(state.next, ["review"]);
    assert.deepEqual(Object.keys(th.interrupts), [state.tasks[0].id]);
    assert.deepEqual(state.tasks[0].interrupts, [{ value: first.__interrupt__[0].value, id: first.__interrupt__[0].id }]);
    assert.deepEqual(state.interrupts, state.tasks[0].interrupts);
    const done = await client.runs.wait(t.thread_id, "approval", { command: { resume: { approved: true } } });
    assert.deepEqual(done.log, ["write", "publish"]);
    assert.equal(done.__interrupt__, undefined);
    assert.equal((await client.threads.get(t.thread_id)).status, "idle");
  });

  test("reject, loop back, approve: the full approval workflow", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "approval", { input: { topic: "cats" } });
    const again = await client.runs.wait(t.thread_id, "approval", {
      command: { resume: { approved: false, feedback: "shorter" } },
    });
    assert.equal(again.draft, "Draft about cats (revised: shorter)");
    assert.ok(again.__interrupt__);
    const done = await client.runs.wait(t.thread_id, "approval", { command: { resume: { approved: true } } });
    assert.deepEqual(done.log, ["write", "write", "publish"]);
  });

  test("interrupt_before, then continue", async () => {
    const t = await client.threads.create();
    const out = await client.runs.wait(t.thread_id, "chain", { input: {}, interruptBefore: ["b"] });
    assert.deepEqual(out.log, ["a"]);
    assert.deepEqual((await client.threads.getState(t.thread_id)).next, ["b"]);
    const rest = await client.runs.wait(t.thread_id, "chain", { input: null });
    assert.deepEqual(rest.log, ["a", "b", "c"]);
  });

  test("update state as a node, then continue", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "approval", { input: { topic: "owls" } });
    const upd = await client.threads.updateState(t.thread_id, { values: { approved: true }, asNode: "review" });
    assert.ok(upd.checkpoint.checkpoint_id);
    const s = await client.threads.getState(t.thread_id);
    assert.equal(s.values.approved, true);
    assert.deepEqual(s.next, ["publish"]);
    const done = await client.runs.wait(t.thread_id, "approval", { input: null });
    assert.deepEqual(done.log, ["write", "publish"]);
  });

  test("history newest first, state at a checkpoint, fork from it", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "chain", { input: {} });
    const history = await client.threads.getHistory(t.thread_id, { limit: 10 });
    assert.equal(history.length, 5);
    const steps = history.map((h) => h.metadata.step);
    assert.deepEqual(steps, [...steps].sort((x, y) => y - x));
    assert.deepEqual(history[0].values.log, ["a", "b", "c"]);
    // As LangGraph's: it begins with the input waiting on __start__
    // (step -1), then step 0 has it applied and a next.
    assert.deepEqual(history.map((h) => [h.metadata.step, h.metadata.source, h.next]).reverse(), [
      [-1, "input", ["__start__"]], [0, "loop", ["a"]], [1, "loop", ["b"]], [2, "loop", ["c"]], [3, "loop", []],
    ]);
    assert.deepEqual(history.at(-1).tasks.map((x) => x.name), ["__start__"]);
    // Replaying from the input checkpoint runs the input again.
    const replay = await client.threads.create();
    await client.runs.wait(replay.thread_id, "chain", { input: { n: 5 } });
    const [inputCp] = (await client.threads.getHistory(replay.thread_id)).slice(-1);
    assert.equal(inputCp.values.n, 0);
    const again = await client.runs.wait(replay.thread_id, "chain", {
      input: null, checkpointId: inputCp.checkpoint.checkpoint_id,
    });
    assert.equal(again.n, 8);
    assert.deepEqual(again.log, ["a", "b", "c"]);
    const afterA = history.find((h) => JSON.stringify(h.values.log) === '["a"]');
    assert.deepEqual(afterA.next, ["b"]);
    const at = await client.threads.getState(t.thread_id, afterA.checkpoint.checkpoint_id);
    assert.deepEqual(at.values.log, ["a"]);
    const older = await client.threads.getHistory(t.thread_id, { before: afterA.checkpoint, limit: 10 });
    assert.ok(older.every((h) => h.metadata.step < afterA.metadata.step));
    const limited = await client.threads.getHistory(t.thread_id, { limit: 2 });
    assert.equal(limited.length, 2);
    // Fork: replay from after "a" with a changed value.
    const fork = await client.threads.updateState(t.thread_id, {
      values: { n: 100 },
      checkpointId: afterA.checkpoint.checkpoint_id,
    });
    const out = await client.runs.wait(t.thread_id, "chain", {
      input: null,
      checkpointId: fork.checkpoint.checkpoint_id,
    });
    assert.deepEqual(out.log, ["a", "b", "c"]);
    assert.equal(out.n, 103);
  });

  test("a command's update to an undeclared channel says it was the command's", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "approval", { input: { topic: "otters" } });
    await assert.rejects(
      client.runs.wait(t.thread_id, "approval", { command: { resume: { approved: true }, update: { zzz: 1 } } }),
      /the command's update wrote to unknown channel 'zzz'/,
    );
  });

  test("an error in a node: __error__ from wait, error status", async () => {
    const t = await client.threads.create();
    await assert.rejects(client.runs.wait(t.thread_id, "boom", { input: {} }), /boom at the node/);
    const raw = await client.runs.wait(t.thread_id, "boom", { input: {}, raiseError: false });
    assert.match(raw.__error__.message, /boom at the node/);
    const runs = await client.runs.list(t.thread_id);
    assert.ok(runs.every((r) => r.status === "error"));
    assert.equal((await client.threads.get(t.thread_id)).status, "error");
  });

  test("background create (Content-Location), get, list, join, delete", async () => {
    const t = await client.threads.create();
    let meta;
    const run = await client.runs.create(t.thread_id, "chain", { input: {}, onRunCreated: (m) => (meta = m) });
    assert.equal(meta.run_id, run.run_id);
    assert.equal(meta.thread_id, t.thread_id);
    assert.ok(["pending", "running", "success"].includes(run.status));
    const joined = await client.runs.join(t.thread_id, run.run_id);
    assert.deepEqual(joined.log, ["a", "b", "c"]);
    assert.equal((await client.runs.get(t.thread_id, run.run_id)).status, "success");
    const list = await client.runs.list(t.thread_id);
    assert.equal(list[0].run_id, run.run_id);
    await client.runs.delete(t.thread_id, run.run_id);
    await assert.rejects(client.runs.get(t.thread_id, run.run_id), /404/);
  });

  test("cancel a running run (interrupt, wait)", async () => {
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    await waitStatus(t.thread_id, run.run_id, ["running"]);
    await client.runs.cancel(t.thread_id, run.run_id, true);
    const r = await client.runs.get(t.thread_id, run.run_id);
    assert.equal(r.status, "interrupted");
    const s = await client.threads.getState(t.thread_id);
    assert.ok(s.values.i > 0 && s.values.i < 1000000);
    assert.equal((await client.threads.get(t.thread_id)).status, "idle");
  });

  test("cancel with rollback removes the run and its writes", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "chain", { input: {} });
    const run = await client.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    await waitStatus(t.thread_id, run.run_id, ["running"]);
    await client.runs.cancel(t.thread_id, run.run_id, true, "rollback");
    await assert.rejects(client.runs.get(t.thread_id, run.run_id), /404/);
    const s = await client.threads.getState(t.thread_id);
    assert.equal(s.values.i, undefined);
    assert.deepEqual(s.values.log, ["a", "b", "c"]);
  });
});

describe("run options", () => {
  test("webhook: the finished run is POSTed with its values", async () => {
    let resolve;
    const got = new Promise((r) => (resolve = r));
    const srv = http.createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        res.end("ok");
        resolve(JSON.parse(body));
      });
    });
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const t = await client.threads.create();
      const run = await client.runs.create(t.thread_id, "chain", {
        input: {},
        webhook: `http://127.0.0.1:${srv.address().port}/hook`,
      });
      const hook = await got;
      assert.equal(hook.run_id, run.run_id);
      assert.equal(hook.status, "success");
      assert.deepEqual(hook.values.log, ["a", "b", "c"]);
    } finally {
      srv.close();
    }
  });

  test("on_disconnect cancel: a wait whose client leaves cancels the run", async () => {
    const t = await client.threads.create();
    const ctl = new AbortController();
    const pending = client.runs
      .wait(t.thread_id, "spin", {
        input: {},
        config: { recursion_limit: 2000000 },
        onDisconnect: "cancel",
        signal: ctl.signal,
      })
      .catch(() => "aborted");
    const [run] = await (async () => {
      for (;;) {
        const runs = await client.runs.list(t.thread_id);
        if (runs[0]?.status === "running") return runs;
        await sleep(10);
      }
    })();
    ctl.abort();
    assert.equal(await pending, "aborted");
    const r = await waitStatus(t.thread_id, run.run_id, ["interrupted"], 5000);
    assert.equal(r.status, "interrupted");
  });

  test("after_seconds delays the start", async () => {
    const t = await client.threads.create();
    const t0 = Date.now();
    const run = await client.runs.create(t.thread_id, "chain", { input: {}, afterSeconds: 0.3 });
    assert.equal((await client.runs.get(t.thread_id, run.run_id)).status, "pending");
    await client.runs.join(t.thread_id, run.run_id);
    assert.ok(Date.now() - t0 >= 300);
  });
});

describe("multitask strategies", () => {
  async function busyThread() {
    const t = await client.threads.create();
    const first = await client.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    await waitStatus(t.thread_id, first.run_id, ["running"]);
    return [t, first];
  }

  test("reject: 409 while the thread is busy", async () => {
    const [t, first] = await busyThread();
    await assert.rejects(client.runs.create(t.thread_id, "chain", { input: {}, multitaskStrategy: "reject" }), /409/);
    await client.runs.cancel(t.thread_id, first.run_id, true);
  });

  test("interrupt: the first run is interrupted, the second runs", async () => {
    const [t, first] = await busyThread();
    const out = await client.runs.wait(t.thread_id, "chain", { input: {}, multitaskStrategy: "interrupt" });
    assert.deepEqual(out.log, ["a", "b", "c"]);
    assert.equal((await client.runs.get(t.thread_id, first.run_id)).status, "interrupted");
  });

  test("rollback: the first run is deleted, the second runs", async () => {
    const [t, first] = await busyThread();
    const out = await client.runs.wait(t.thread_id, "chain", { input: {}, multitaskStrategy: "rollback" });
    assert.deepEqual(out.log, ["a", "b", "c"]);
    assert.equal(out.i, undefined);
    await assert.rejects(client.runs.get(t.thread_id, first.run_id), /404/);
  });

  test("enqueue: runs one after the other", async () => {
    const t = await client.threads.create();
    const a = await client.runs.create(t.thread_id, "chain", { input: {} });
    const b = await client.runs.create(t.thread_id, "chain", { input: {}, multitaskStrategy: "enqueue" });
    const out = await client.runs.join(t.thread_id, b.run_id);
    assert.deepEqual(out.log, ["a", "b", "c", "a", "b", "c"]);
    assert.equal((await client.runs.get(t.thread_id, a.run_id)).status, "success");
  });
});

describe("streaming", () => {
  test("values: metadata first, ids on every event, the input state, then each step's", async () => {
    const t = await client.threads.create();
    const parts = await collect(client.runs.stream(t.thread_id, "chain", { input: { log: ["in"] }, streamMode: "values" }));
    assert.equal(parts[0].event, "metadata");
    assert.ok(parts[0].data.run_id);
    assert.ok(parts.every((p) => p.id !== undefined));
    const values = parts.filter((p) => p.event === "values").map((p) => p.data.log);
    assert.deepEqual(values, [["in"], ["in", "a"], ["in", "a", "b"], ["in", "a", "b", "c"]]);
    assert.equal(parts.at(-1).event, "end");
  });

  test("a resumed run's values stream starts from the state it resumes", async () => {
    const t = await client.threads.create();
    await client.runs.wait(t.thread_id, "approval", { input: { topic: "otters" } });
    const parts = await collect(
      client.runs.stream(t.thread_id, "approval", { command: { resume: { approved: true } }, streamMode: "values" }),
    );
    const logs = parts.filter((p) => p.event === "values").map((p) => p.data.log);
    assert.deepEqual(logs, [["write"], ["write"], ["write", "publish"]]);
  });

  test("updates, custom, tasks, checkpoints, debug in one stream", async () => {
    const t = await client.threads.create();
    const parts = await collect(
      client.runs.stream(t.thread_id, "chain", {
        input: {},
        streamMode: ["updates", "custom", "tasks", "checkpoints", "debug"],
      }),
    );
    const by = (e) => parts.filter((p) => p.event === e);
    assert.deepEqual(by("updates").map((p) => Object.keys(p.data)[0]), ["a", "b", "c"]);
    assert.deepEqual(by("updates")[0].data.a, { n: 1, log: ["a"] });
    assert.deepEqual(by("custom").map((p) => p.data), [{ at: "c" }]);
    // A task starting shows what it reads and what triggered it; its end,
    // its result with no error and no interrupts.
    const bStart = by("tasks").find((p) => p.data.name === "b" && !("result" in p.data));
    assert.deepEqual(bStart.data.input.log, ["a"]);
    assert.deepEqual(bStart.data.triggers, ["branch:to:b"]);
    const bEnd = by("tasks").find((p) => p.data.name === "b" && "result" in p.data);
    assert.deepEqual(bEnd.data, { id: bStart.data.id, name: "b", result: { n: 1, log: ["b"] }, interrupts: [], error: null });
    // A checkpoint shows the state it holds and the nodes that run next;
    // as LangGraph's, the first (step -1, "input") holds the input waiting
    // on __start__, and step 0 has it applied.
    const cps = by("checkpoints").map((p) => p.data);
    assert.ok(cps[0].config.configurable.checkpoint_id);
    assert.deepEqual(cps.map((c) => c.next), [["__start__"], ["a"], ["b"], ["c"], []]);
    assert.deepEqual(cps.map((c) => [c.metadata.step, c.metadata.source]),
                     [[-1, "input"], [0, "loop"], [1, "loop"], [2, "loop"], [3, "loop"]]);
    assert.deepEqual(cps.map((c) => c.values.log ?? []), [[], [], ["a"], ["a", "b"], ["a", "b", "c"]]);
    assert.deepEqual(cps[0].tasks.map((x) => x.name), ["__start__"]);
    assert.deepEqual(cps[2].tasks.map((x) => [x.id, x.name]), [["b:0", "b"]]);
    const types = new Set(by("debug").map((p) => p.data.type));
    for (const ty of ["task", "task_result", "checkpoint"]) assert.ok(types.has(ty), ty);
    // A task's debug events carry the step of the checkpoint its writes make.
    const debugStep = (ty, name) => by("debug").find((p) => p.data.type === ty && p.data.payload.name === name)?.data.step;
    const cpOf = (node) => by("debug").find((p) => p.data.type === "checkpoint" && p.data.payload.metadata.writes?.[node]);
    assert.equal(debugStep("task", "b"), cpOf("b").data.step);
    assert.equal(debugStep("task_result", "b"), cpOf("b").data.payload.metadata.step);
    assert.equal(by("values").length, 0);
  });

  test("messages-tuple: model text as [chunk, metadata] from an llm node", async () => {
    const spec = [
      "name: talk",
      "state:",
      "  question: {type: string}",
      "  answer: {type: string}",
      "nodes:",
      "  ask:",
      "    kind: llm",
      "    model: offline/extractive",
      '    prompt: "Cats purr. Dogs bark. {question}"',
      "    output: answer",
      "edges:",
      "  - START -> ask",
      "  - ask -> END",
    ].join("\n");
    assert.equal((await putGraph("talk", spec)).status, 201);
    const t = await client.threads.create();
    const parts = await collect(
      client.runs.stream(t.thread_id, "talk", { input: { question: "What do cats do?" }, streamMode: "messages-tuple" }),
    );
    const msgs = parts.filter((p) => p.event === "messages");
    assert.ok(msgs.length >= 1);
    assert.equal(parts.filter((p) => p.event.startsWith("messages/")).length, 0);
    const [chunk, meta] = msgs[0].data;
    assert.equal(meta.langgraph_node, "ask");
    const text = msgs.map((m) => m.data[0].content).join("");
    const state = await client.threads.getState(t.thread_id);
    assert.equal(text, state.values.answer);
    assert.equal(chunk.type, "AIMessageChunk");
    const history = await client.threads.getHistory(t.thread_id, { metadata: { graph_id: "talk" } });
    assert.ok(history.length >= 1);
    // The step is the one the node's writes make: the newest checkpoint's.
    assert.equal(meta.langgraph_step, state.metadata.step);
    assert.ok(msgs.every((m) => m.data[0].id === chunk.id));
  });

  test("messages: the message's metadata once, then the whole text so far; events: LangChain's stream events", async () => {
    const t = await client.threads.create();
    const parts = await collect(
      client.runs.stream(t.thread_id, "talk", { input: { question: "What do cats do?" }, streamMode: ["messages", "events"] }),
    );
    const answer = (await client.threads.getState(t.thread_id)).values.answer;
    assert.ok(answer.length > 0);
    // messages: no [chunk, metadata] tuples (that is messages-tuple).
    assert.equal(parts.filter((p) => p.event === "messages").length, 0);
    const meta = parts.filter((p) => p.event === "messages/metadata");
    assert.equal(meta.length, 1);
    const [id] = Object.keys(meta[0].data);
    assert.equal(meta[0].data[id].metadata.langgraph_node, "ask");
    const partials = parts.filter((p) => p.event === "messages/partial").map((p) => p.data[0]);
    assert.ok(partials.length >= 1);
    assert.ok(partials.every((m) => m.id === id && m.type === "ai"));
    partials.forEach((m, i) => i && assert.ok(m.content.startsWith(partials[i - 1].content)));
    assert.equal(partials.at(-1).content, answer);
    // events: the graph around its node, the model's text inside.
    const evs = parts.filter((p) => p.event === "events").map((p) => p.data);
    assert.deepEqual(
      evs.filter((e) => e.event !== "on_chat_model_stream").map((e) => `${e.event} ${e.name}`),
      ["on_chain_start LangGraph", "on_chain_start ask", "on_chain_end ask", "on_chain_end LangGraph"],
    );
    assert.deepEqual(evs[0].data.input, { question: "What do cats do?" });
    const node = evs.find((e) => e.name === "ask");
    assert.deepEqual(node.parent_ids, [evs[0].run_id]);
    assert.deepEqual(node.tags, [`graph:step:${node.metadata.langgraph_step}`]);
    const streamed = evs.filter((e) => e.event === "on_chat_model_stream").map((e) => e.data.chunk.content);
    assert.equal(streamed.join(""), answer);
    assert.equal(evs.at(-1).data.output.answer, answer);
  });

  test("events: each chain starts with the state as it was then", async () => {
    const t = await client.threads.create();
    const parts = await collect(client.runs.stream(t.thread_id, "chain", { input: { log: ["in"] }, streamMode: ["events"] }));
    const starts = parts.filter((p) => p.event === "events" && p.data.event === "on_chain_start").map((p) => p.data);
    assert.deepEqual(
      starts.map((e) => [e.name, e.data.input.log]),
      [["LangGraph", ["in"]], ["a", ["in"]], ["b", ["in", "a"]], ["c", ["in", "a", "b"]]],
    );
    const ends = parts.filter((p) => p.event === "events" && p.data.event === "on_chain_end").map((p) => p.data);
    assert.deepEqual(ends.at(-1).data.output.log, ["in", "a", "b", "c"]);
  });

  test("a failed task's end says why in its error", async () => {
    const t = await client.threads.create();
    const parts = await collect(client.runs.stream(t.thread_id, "boom", { input: {}, streamMode: ["tasks"] }));
    const end = parts.find((p) => p.event === "tasks" && p.data.error);
    assert.equal(typeof end.data.error, "string");
    assert.match(end.data.error, /boom at the node/);
  });

  test("an interrupt appears as __interrupt__ in updates", async () => {
    const t = await client.threads.create();
    const parts = await collect(client.runs.stream(t.thread_id, "approval", { input: { topic: "x" }, streamMode: "updates" }));
    const intr = parts.find((p) => p.event === "updates" && p.data.__interrupt__);
    assert.equal(intr.data.__interrupt__[0].value.question, "Approve this draft?");
  });

  test("an error is an error event", async () => {
    const t = await client.threads.create();
    const parts = await collect(client.runs.stream(t.thread_id, "boom", { input: {} }));
    const err = parts.find((p) => p.event === "error");
    assert.match(err.data.message, /boom at the node/);
  });

  test("join stream with Last-Event-ID replays what was missed", async () => {
    const t = await client.threads.create();
    const all = await collect(client.runs.stream(t.thread_id, "chain", { input: {}, streamMode: ["updates"] }));
    const runId = all[0].data.run_id;
    const ids = all.map((p) => Number(p.id));
    const again = await collect(client.runs.joinStream(t.thread_id, runId, { lastEventId: String(ids[1]) }));
    assert.deepEqual(again.map((p) => Number(p.id)), ids.slice(2));
    assert.deepEqual(again.map((p) => p.event), all.slice(2).map((p) => p.event));
  });

  test("join stream in several modes gets each of them", async () => {
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "chain", { input: {} });
    await client.runs.join(t.thread_id, run.run_id);
    const parts = await collect(
      client.runs.joinStream(t.thread_id, run.run_id, { streamMode: ["values", "updates"], lastEventId: "0" }),
    );
    const count = (e) => parts.filter((p) => p.event === e).length;
    assert.equal(count("values"), 4); // the starting state, then one per node
    assert.equal(count("updates"), 3);
    assert.equal(count("checkpoints"), 0);
    assert.equal(count("end"), 1);
  });

  test("join stream of a run in progress gets the rest live", async () => {
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 2000000 } });
    await waitStatus(t.thread_id, run.run_id, ["running"]);
    const seen = [];
    const reader = (async () => {
      for await (const p of client.runs.joinStream(t.thread_id, run.run_id, { streamMode: "updates" })) {
        seen.push(p);
        if (seen.length === 5) await client.runs.cancel(t.thread_id, run.run_id);
      }
    })();
    await reader;
    assert.ok(seen.length >= 5);
    assert.equal(seen.at(-1).event, "end");
  });

  test("SSE wire format: content type, Location, keep ids numeric", async () => {
    const t = await client.threads.create();
    const res = await fetch(`${loom.url}/threads/${t.thread_id}/runs/stream`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "chain", input: {} }),
    });
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    assert.match(res.headers.get("content-location"), new RegExp(`/threads/${t.thread_id}/runs/`));
    assert.match(res.headers.get("location"), /\/stream$/);
    const text = await res.text();
    assert.match(text, /^event: metadata\nid: 1\ndata: \{"run_id"/);
    assert.match(text, /event: end\nid: \d+\ndata: null\n\n$/);
  });
});

describe("stateless runs", () => {
  test("wait, stream and background without a thread", async () => {
    const out = await client.runs.wait(null, "chain", { input: {} });
    assert.deepEqual(out.log, ["a", "b", "c"]);
    const parts = await collect(client.runs.stream(null, "chain", { input: {}, streamMode: "updates" }));
    assert.equal(parts.filter((p) => p.event === "updates").length, 3);
    const res = await fetch(`${loom.url}/runs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "chain", input: {} }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-location"), /^\/runs\//);
  });

  // A graph of Lua nodes keeps no checkpoints unless a stream shows them;
  // once three runs in a row each cost at most 5 ms of CPU on the pool,
  // its stateless waits run on the request's loop. The heavy graph below
  // never qualifies and stays on the pool: the answers are the same.
  test("checkpoints, interrupts and long Lua nodes without a thread", async () => {
    const parts = await collect(client.runs.stream(null, "chain", { input: {}, streamMode: ["checkpoints", "values"] }));
    assert.ok(parts.filter((p) => p.event === "checkpoints").length >= 3);
    assert.deepEqual(parts.filter((p) => p.event === "values").at(-1).data.log, ["a", "b", "c"]);
    const stopped = await client.runs.wait(null, "chain", { input: {}, interruptBefore: ["b"] });
    assert.deepEqual(stopped.log, ["a"]);
    const spec = [
      "name: long",
      "state:",
      "  n: {type: integer}",
      "nodes:",
      "  sum: {lua: 'local s = 0 for i = 1, 300000 do s = s + i % 7 end return { n = s }'}",
      "edges:",
      "  - START -> sum",
      "  - sum -> END",
    ].join("\n");
    assert.equal((await putGraph("long", spec)).status, 201);
    for (let i = 0; i < 4; i++) assert.equal((await client.runs.wait(null, "long", { input: {} })).n, 899998);
  });
});

describe("errors", () => {
  test("unknown ids are 404", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    await assert.rejects(client.threads.get(missing), /404/);
    await assert.rejects(client.threads.getState(missing), /404/);
    await assert.rejects(client.assistants.get(missing), /404/);
    await assert.rejects(client.runs.wait(missing, "chain", { input: {} }), /404/);
    await assert.rejects(client.runs.wait(null, "no-such-graph", { input: {} }), /404/);
    const t = await client.threads.create();
    await assert.rejects(client.runs.get(t.thread_id, missing), /404/);
    await assert.rejects(client.runs.join(t.thread_id, missing), /404/);
  });

  test("if_not_exists create makes the thread", async () => {
    const id = "018f0000-0000-7000-8000-00000000abcd";
    const out = await client.runs.wait(id, "chain", { input: {}, ifNotExists: "create" });
    assert.deepEqual(out.log, ["a", "b", "c"]);
    assert.equal((await client.threads.get(id)).thread_id, id);
  });

  async function post(path, body) {
    const res = await fetch(`${loom.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return [res.status, await res.json()];
  }

  test("invalid run bodies are 422 naming the field", async () => {
    const t = await client.threads.create();
    const cases = [
      [{ input: {} }, /assistant_id/],
      [{ assistant_id: "chain", stream_mode: "everything" }, /stream_mode/],
      [{ assistant_id: "chain", multitask_strategy: "later" }, /multitask_strategy/],
      [{ assistant_id: "chain", config: { recursion_limit: "x" } }, /config\.recursion_limit/],
      [{ assistant_id: "chain", interrupt_before: ["zz"] }, /interrupt_before.*zz/],
      [{ assistant_id: "chain", command: 3 }, /command/],
      [{ assistant_id: "chain", durability: "forever" }, /durability/],
      [{ assistant_id: "chain", after_seconds: -1 }, /after_seconds/],
      [{ assistant_id: "chain", metadata: [] }, /metadata/],
      [{ assistant_id: "chain", webhook: "ftp://x" }, /webhook/],
    ];
    for (const [body, re] of cases) {
      const [status, out] = await post(`/threads/${t.thread_id}/runs`, body);
      assert.equal(status, 422, JSON.stringify(body));
      assert.match(out.message, re);
    }
    const [s2, o2] = await post("/assistants", { graph_id: 7 });
    assert.equal(s2, 422);
    assert.match(o2.message, /graph_id/);
    const [s3, o3] = await post("/threads/search", { limit: 0 });
    assert.equal(s3, 422);
    assert.match(o3.message, /limit/);
  });
});
