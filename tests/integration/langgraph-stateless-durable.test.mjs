// Stateless runs in the background (POST /runs, POST /runs/batch) are
// acknowledged like any run: once the answer is out, a SIGKILL cannot
// lose them. The next process runs them again from their input (their
// checkpoints were in memory) and calls their webhook; their temporary
// threads are gone after, as when nothing had happened.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { postOk as post, startLoom, startModelServer } from "./harness.mjs";
import { ASK1_GRAPH } from "./graphs.mjs";


// A webhook receiver: `next(runId)` resolves with the POSTed run.
async function hookServer() {
  const got = new Map();
  const waiting = new Map();
  const srv = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      res.end("ok");
      const run = JSON.parse(body);
      got.set(run.run_id, run);
      waiting.get(run.run_id)?.(run);
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${srv.address().port}/hook`,
    next: (id) => got.get(id) ?? new Promise((r) => waiting.set(id, r)),
    seen: () => [...got.keys()],
    close: () => srv.close(),
  };
}

function within(ms, promise, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

test("background stateless runs acknowledged before a SIGKILL run after the restart", async () => {
  const models = await startModelServer();
  const hooks = await hookServer();
  const dir = mkdtempSync(path.join(os.tmpdir(), "loom-stateless-"));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-stateless-data-"));
  writeFileSync(path.join(dir, "ask1.yaml"), ASK1_GRAPH);
  const env = {
    LOOM_GRAPHS: dir,
    LOOM_ENDPOINTS: `scripted=${models.url}/v1`,
    LOOM_WEBHOOK_ALLOW_PRIVATE: "true", // the receiver is on loopback
  };
  let loom;
  try {
    // Every model call of the first process hangs: the runs are in flight
    // when it dies.
    await post(`${models.url}/__default`, { delay_ms: 60000 });
    loom = await startLoom({ dataDir, env });
    const one = await post(`${loom.url}/runs`, { assistant_id: "ask1", input: { q: "one" }, webhook: hooks.url });
    assert.equal(one.kwargs.temporary, true);
    const batch = await post(`${loom.url}/runs/batch`, [
      { assistant_id: "ask1", input: { q: "two" }, webhook: hooks.url },
      { assistant_id: "ask1", input: { q: "three" }, webhook: hooks.url },
    ]);
    assert.equal(batch.length, 2);
    await loom.stop({ signal: "SIGKILL", keepData: true });

    await post(`${models.url}/__default`, { delay_ms: 0 });
    loom = await startLoom({ dataDir, env });
    for (const run of [one, ...batch]) {
      const hook = await within(15000, hooks.next(run.run_id), `webhook of ${run.run_id}`);
      assert.equal(hook.status, "success");
      assert.equal(typeof hook.values.answer, "string");
      assert.equal(hook.values.q, run.kwargs.input.q); // run again from its own input
    }
    // Ended: gone from the table, and not brought back by the next start.
    const gone = await fetch(`${loom.url}/threads/${one.thread_id}`);
    assert.equal(gone.status, 404);
    await loom.stop({ keepData: true });
    loom = await startLoom({ dataDir, env });
    assert.equal((await fetch(`${loom.url}/threads/${batch[0].thread_id}`)).status, 404);
    const found = await post(`${loom.url}/threads/search`, { limit: 100 });
    assert.deepEqual(found, []);
  } finally {
    await loom?.stop();
    models.stop();
    hooks.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("a client cannot mark its thread's run temporary; a refused batch makes no runs", async () => {
  const hooks = await hookServer();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-stateless-data-"));
  let loom;
  try {
    loom = await startLoom({ dataDir, env: { LOOM_WEBHOOK_ALLOW_PRIVATE: "true" } });
    // `temporary` is the server's word: sent by a client, it is dropped
    // (kwargs say false, as LangGraph's do for a thread's run), and the
    // thread survives a restart with its run.
    const t = await post(`${loom.url}/threads`, {});
    const run = await post(`${loom.url}/threads/${t.thread_id}/runs`,
                           { assistant_id: "approval", input: { topic: "t" }, temporary: true });
    assert.equal(run.kwargs.temporary, false);
    await fetch(`${loom.url}/threads/${t.thread_id}/runs/${run.run_id}/join`);
    await loom.stop({ keepData: true });
    loom = await startLoom({ dataDir, env: { LOOM_WEBHOOK_ALLOW_PRIVATE: "true" } });
    assert.equal((await fetch(`${loom.url}/threads/${t.thread_id}`)).status, 200);
    const runs = await (await fetch(`${loom.url}/threads/${t.thread_id}/runs`)).json();
    assert.deepEqual(runs.map((r) => r.run_id), [run.run_id]);

    // All or nothing: the good first item of a refused batch never runs,
    // so the webhook of a later batch is the only one called.
    const refused = await fetch(`${loom.url}/runs/batch`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify([
        { assistant_id: "map_reduce", input: { text: "a. b." }, webhook: hooks.url },
        { assistant_id: "no-such-assistant", input: {} },
      ]),
    });
    assert.equal(refused.status, 404);
    const [later] = await post(`${loom.url}/runs/batch`, [
      { assistant_id: "map_reduce", input: { text: "c. d." }, webhook: hooks.url },
    ]);
    const hook = await within(15000, hooks.next(later.run_id), "the later batch's webhook");
    assert.equal(hook.status, "success");
    assert.deepEqual(hooks.seen(), [later.run_id]);
  } finally {
    await loom?.stop();
    hooks.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
