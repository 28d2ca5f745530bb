// Runs parked on model calls through the API: with only 4 worker threads
// (UV_THREADPOOL_SIZE=4), 100 runs whose llm node waits one second for
// the scripted model server all finish in about a second — each run in
// flight costs memory, not a worker. A parked run is cancelled at once,
// and the thread takes its next run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { postOk as post, startLoom, startModelServer } from "./harness.mjs";
import { ASK1_GRAPH } from "./graphs.mjs";


let models, modelsUrl, loom, dir;

before(async () => {
  models = await startModelServer();
  modelsUrl = models.url;
  dir = mkdtempSync(path.join(os.tmpdir(), "loom-park-"));
  writeFileSync(path.join(dir, "ask1.yaml"), ASK1_GRAPH);
  loom = await startLoom({
    env: {
      LOOM_GRAPHS: dir,
      LOOM_ENDPOINTS: `scripted=${modelsUrl}/v1`,
      UV_THREADPOOL_SIZE: "4",
    },
  });
});

after(async () => {
  await loom?.stop();
  models?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test("100 runs parked on 1 s model calls finish together on 4 workers", async () => {
  await post(`${modelsUrl}/__reset`, {});
  await post(`${modelsUrl}/__default`, { delay_ms: 1000 });
  try {
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      post(`${loom.url}/runs/wait`, { assistant_id: "ask1", input: { q: `q${i}` } })));
    const secs = (Date.now() - t0) / 1000;
    for (const a of answers) assert.equal(typeof a.answer, "string");
    // Holding a worker each, 100 runs on 4 workers would take 25 s.
    assert.ok(secs < 8, `100 runs took ${secs} s`);
  } finally {
    await post(`${modelsUrl}/__default`, { delay_ms: 0 });
  }
});

test("cancelling a parked run stops it at once; the thread goes on", async () => {
  await post(`${modelsUrl}/__reset`, {});
  await post(`${modelsUrl}/__script`, [{ stall_before_headers: true }, { content: "Next." }]);
  const { thread_id } = await post(`${loom.url}/threads`, {});
  const run = await post(`${loom.url}/threads/${thread_id}/runs`,
                         { assistant_id: "ask1", input: { q: "stall" } });
  // Parked once the model server holds the request.
  for (let i = 0; i < 200; i++) {
    const reqs = await (await fetch(`${modelsUrl}/__requests`)).json();
    if (reqs.length) break;
    await sleep(10);
  }
  const t0 = Date.now();
  const res = await fetch(`${loom.url}/threads/${thread_id}/runs/${run.run_id}/cancel?wait=true`,
                          { method: "POST" });
  assert.ok(res.status === 200 || res.status === 202 || res.status === 204, String(res.status));
  let status;
  for (let i = 0; i < 200; i++) {
    status = (await (await fetch(`${loom.url}/threads/${thread_id}/runs/${run.run_id}`)).json()).status;
    if (status !== "running" && status !== "pending") break;
    await sleep(10);
  }
  assert.equal(status, "interrupted");
  assert.ok(Date.now() - t0 < 2000, `cancel took ${Date.now() - t0} ms`);
  const next = await post(`${loom.url}/threads/${thread_id}/runs/wait`,
                          { assistant_id: "ask1", input: { q: "again" } });
  assert.equal(next.answer, "Next.");
});
