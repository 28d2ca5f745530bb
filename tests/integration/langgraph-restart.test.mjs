// Durability of the LangGraph API across restarts: assistants, threads,
// runs and registered graphs come back after a stop; an interrupted thread
// can be resumed by the next process; a run killed (SIGKILL) in the middle
// continues from its last checkpoint when the server starts again, and
// ends in the same state as an uninterrupted run (no step applied twice).
// What a client was told exists (a created thread or run) survives a
// SIGKILL right after the answer, and a finished run's stream replays the
// same events after a restart (Last-Event-ID or a whole join).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { startLoom } from "./harness.mjs";
import { spinGraph } from "./graphs.mjs";

const STEPS = 4000;
const SPIN = spinGraph(STEPS);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("rows, graphs and interrupted threads survive a restart", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-restart-"));
  try {
    let loom = await startLoom({ dataDir });
    let client = new Client({ apiUrl: loom.url });
    const put = await fetch(`${loom.url}/graphs/spin`, { method: "PUT", body: SPIN });
    assert.equal(put.status, 201);
    const a = await client.assistants.create({ graphId: "approval", name: "kept", metadata: { k: 1 } });
    await client.assistants.update(a.assistant_id, { name: "kept v2" });
    const t = await client.threads.create({ metadata: { user: "ann" } });
    const first = await client.runs.wait(t.thread_id, a.assistant_id, { input: { topic: "restarts" } });
    assert.ok(first.__interrupt__);
    await sleep(100); // rows are written behind the answers
    await loom.stop();

    loom = await startLoom({ dataDir });
    client = new Client({ apiUrl: loom.url });
    const a2 = await client.assistants.get(a.assistant_id);
    assert.equal(a2.name, "kept v2");
    assert.equal(a2.version, 2);
    const th = await client.threads.get(t.thread_id);
    assert.equal(th.status, "interrupted");
    assert.equal(th.metadata.user, "ann");
    const runs = await client.runs.list(t.thread_id);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].status, "interrupted");
    const done = await client.runs.wait(t.thread_id, a.assistant_id, { command: { resume: { approved: true } } });
    assert.deepEqual(done.log, ["write", "publish"]);
    const graphs = (await (await fetch(`${loom.url}/graphs`)).json()).map((g) => g.graph_id);
    assert.ok(graphs.includes("spin"));
    await loom.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a run killed mid-way continues after the restart, steps applied once", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-crash-"));
  try {
    let loom = await startLoom({ dataDir });
    let client = new Client({ apiUrl: loom.url });
    assert.equal((await fetch(`${loom.url}/graphs/spin`, { method: "PUT", body: SPIN })).status, 201);
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "spin", {
      input: {},
      config: { recursion_limit: 100000 },
      durability: "sync",
    });
    // Let it take some steps, then kill the process without warning.
    for (;;) {
      const s = await client.threads.getState(t.thread_id);
      if ((s.values.i ?? 0) > 200) break;
      await sleep(20);
    }
    await loom.stop({ signal: "SIGKILL", keepData: true });

    loom = await startLoom({ dataDir });
    client = new Client({ apiUrl: loom.url });
    const out = await client.runs.join(t.thread_id, run.run_id);
    assert.equal(out.i, STEPS);
    assert.equal((await client.runs.get(t.thread_id, run.run_id)).status, "success");
    assert.equal((await client.threads.get(t.thread_id)).status, "idle");
    await loom.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a graceful stop pauses a running run; the next start finishes it", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-term-"));
  try {
    let loom = await startLoom({ dataDir });
    let client = new Client({ apiUrl: loom.url });
    assert.equal((await fetch(`${loom.url}/graphs/spin`, { method: "PUT", body: SPIN })).status, 201);
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "spin", { input: {}, config: { recursion_limit: 100000 } });
    for (;;) {
      const s = await client.threads.getState(t.thread_id);
      if ((s.values.i ?? 0) > 200) break;
      await sleep(20);
    }
    const { code } = await loom.stop({ keepData: true });
    assert.equal(code, 0);

    loom = await startLoom({ dataDir });
    client = new Client({ apiUrl: loom.url });
    const out = await client.runs.join(t.thread_id, run.run_id);
    assert.equal(out.i, STEPS);
    assert.equal((await client.runs.get(t.thread_id, run.run_id)).status, "success");
    await loom.stop();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

const TEXT = "cats purr. dogs bark. birds sing.";

async function collect(iter) {
  const out = [];
  for await (const p of iter) out.push(p);
  return out;
}

test("runs acknowledged just before a SIGKILL exist after the restart and complete", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-ack-"));
  let loom;
  try {
    loom = await startLoom({ dataDir });
    let client = new Client({ apiUrl: loom.url });
    // Many at once, so the store is busy when the process dies.
    const made = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => {
        const t = await client.threads.create({ metadata: { n } });
        const run = await client.runs.create(t.thread_id, "map_reduce", { input: { text: TEXT } });
        return { thread: t.thread_id, run: run.run_id };
      }),
    );
    await loom.stop({ signal: "SIGKILL", keepData: true });

    loom = await startLoom({ dataDir });
    client = new Client({ apiUrl: loom.url });
    for (const m of made) {
      const out = await client.runs.join(m.thread, m.run);
      assert.equal(out.summary, "BIRDS SING / CATS PURR / DOGS BARK");
      assert.equal((await client.runs.get(m.thread, m.run)).status, "success");
    }
    assert.equal((await loom.stop()).code, 0);
  } finally {
    await loom?.stop(); // also when an assertion failed
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a finished run's stream replays identically after a restart", async () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-replay-"));
  let loom;
  try {
    loom = await startLoom({ dataDir });
    let client = new Client({ apiUrl: loom.url });
    const t = await client.threads.create();
    const all = await collect(
      client.runs.stream(t.thread_id, "map_reduce", {
        input: { text: TEXT },
        streamMode: ["values", "updates", "custom"],
      }),
    );
    const runId = all[0].data.run_id;
    assert.equal(all.at(-1).event, "end");
    assert.ok(all.length > 6);
    await loom.stop({ keepData: true });

    loom = await startLoom({ dataDir });
    client = new Client({ apiUrl: loom.url });
    const missed = await collect(client.runs.joinStream(t.thread_id, runId, { lastEventId: all[2].id }));
    assert.deepEqual(missed, all.slice(3));
    const whole = await collect(client.runs.joinStream(t.thread_id, runId));
    assert.deepEqual(whole, all);
    assert.equal((await loom.stop()).code, 0);
  } finally {
    await loom?.stop(); // also when an assertion failed
    rmSync(dataDir, { recursive: true, force: true });
  }
});
