// A stateless run that asks for many steps, the first runs of a graph
// whose Lua is heavy, or a run of a proven-quick graph that its input makes
// heavy, do not hold the loop that took their request: with one loop, the
// server answers other requests while they run (on a held loop they would
// wait for the run's end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spinGraph } from "./graphs.mjs";
import { startLoom } from "./harness.mjs";

test("a long stateless wait leaves its loop free for other requests", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    const put = await fetch(`${loom.url}/graphs/spin`, { method: "PUT", body: spinGraph(200000) });
    assert.equal(put.status, 201);
    const order = [];
    const long = fetch(`${loom.url}/runs/wait`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "spin", input: {}, config: { recursion_limit: 1000000 } }),
    }).then(async (res) => { order.push("run"); return res.json(); });
    // Its request is in before this one (the run takes seconds; this waits
    // a tenth of one): on a held loop this answer would follow the run's.
    await new Promise((r) => setTimeout(r, 100));
    const ok = await fetch(`${loom.url}/healthz`);
    order.push("healthz");
    assert.equal(ok.status, 200);
    assert.equal((await long).i, 200000);
    assert.deepEqual(order, ["healthz", "run"]);
  } finally {
    await loom.stop();
  }
});

test("the first run of a heavy Lua graph leaves its loop free too", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    const heavy = [
      "name: heavy",
      "state:",
      "  i: {type: integer, reducer: add, default: 0}",
      "nodes:",
      "  work: {lua: 'local s = 0 for k = 1, 1000000 do s = s + k % 7 end return { i = 1 }'}",
      "edges:",
      "  - START -> work",
      '  - "work -> work: i < 10"',
      '  - "work -> END: i >= 10"',
    ].join("\n");
    assert.equal((await fetch(`${loom.url}/graphs/heavy`, { method: "PUT", body: heavy })).status, 201);
    const order = [];
    const long = fetch(`${loom.url}/runs/wait`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "heavy", input: {} }),
    }).then(async (res) => { order.push("run"); return res.json(); });
    await new Promise((r) => setTimeout(r, 100)); // its request is in first
    const ok = await fetch(`${loom.url}/healthz`);
    order.push("healthz");
    assert.equal(ok.status, 200);
    assert.equal((await long).i, 10);
    assert.deepEqual(order, ["healthz", "run"]);
  } finally {
    await loom.stop();
  }
});

test("a quick graph's run that its input makes heavy gives its loop back", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    const adaptive = [
      "name: adaptive",
      "state:",
      "  n: {type: integer}",
      "  i: {type: integer, reducer: add, default: 0}",
      "nodes:",
      "  work: {lua: 'local s = 0 for k = 1, state.n do s = s + k % 7 end return { i = 1 }'}",
      "edges:",
      "  - START -> work",
      '  - "work -> work: i < 10"',
      '  - "work -> END: i >= 10"',
    ].join("\n");
    assert.equal((await fetch(`${loom.url}/graphs/adaptive`, { method: "PUT", body: adaptive })).status, 201);
    const wait = (n) => fetch(`${loom.url}/runs/wait`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "adaptive", input: { n } }),
    });
    // Light runs prove the graph quick: from the fourth on, its waits run
    // on the request's loop.
    for (let k = 0; k < 5; k++) assert.equal((await (await wait(10)).json()).i, 10);
    const order = [];
    const long = wait(3000000).then(async (res) => { order.push("run"); return res.json(); });
    await new Promise((r) => setTimeout(r, 100)); // its request is in first
    const ok = await fetch(`${loom.url}/healthz`);
    order.push("healthz");
    assert.equal(ok.status, 200);
    assert.equal((await long).i, 10);
    assert.deepEqual(order, ["healthz", "run"]);
  } finally {
    await loom.stop();
  }
});
