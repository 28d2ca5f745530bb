// A stateless run that asks for many steps does not hold the loop that
// took its request: with one loop, the server still answers other
// requests while it runs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spinGraph } from "./graphs.mjs";
import { startLoom } from "./harness.mjs";

test("a long stateless wait leaves its loop free for other requests", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    const put = await fetch(`${loom.url}/graphs/spin`, { method: "PUT", body: spinGraph(200000) });
    assert.equal(put.status, 201);
    const t0 = Date.now();
    const long = fetch(`${loom.url}/runs/wait`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "spin", input: {}, config: { recursion_limit: 1000000 } }),
    });
    await new Promise((r) => setTimeout(r, 100)); // it has started
    const t1 = Date.now();
    const ok = await fetch(`${loom.url}/healthz`);
    const waited = Date.now() - t1;
    assert.equal(ok.status, 200);
    const out = await (await long).json();
    const total = Date.now() - t0;
    assert.equal(out.i, 200000);
    assert.ok(waited < total / 4, `healthz waited ${waited} ms of the run's ${total} ms`);
  } finally {
    await loom.stop();
  }
});
