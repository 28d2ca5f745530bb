// A stateless run that asks for many steps, the first runs of a graph
// whose Lua is heavy, or a run of a proven-quick graph that its input makes
// heavy, do not hold the loop that took their request: with one loop, the
// server answers other requests while they run (on a held loop they would
// wait for the run's end).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spinGraph } from "./graphs.mjs";
import { startLoom } from "./harness.mjs";

// Starts the run `start()` makes, asks /healthz a tenth of a second later
// (the run's request is in first; it takes far longer), and checks that
// the health answer came first: on a held loop it would follow the run's.
// Returns the run's answer.
async function loopAnswersDuring(loom, start) {
  const order = [];
  const run = start().then(async (res) => { order.push("run"); return res.json(); });
  await new Promise((r) => setTimeout(r, 100));
  const ok = await fetch(`${loom.url}/healthz`);
  order.push("healthz");
  assert.equal(ok.status, 200);
  const result = await run;
  assert.deepEqual(order, ["healthz", "run"]);
  return result;
}

// Ten steps, each a Lua loop of `n` turns: light or heavy by its input.
const tenSteps = [
  "name: work10",
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

const wait = (loom, body) => fetch(`${loom.url}/runs/wait`, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
});

test("a long stateless wait leaves its loop free for other requests", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    const put = await fetch(`${loom.url}/graphs/spin`, { method: "PUT", body: spinGraph(200000) });
    assert.equal(put.status, 201);
    const out = await loopAnswersDuring(loom, () =>
      wait(loom, { assistant_id: "spin", input: {}, config: { recursion_limit: 1000000 } }));
    assert.equal(out.i, 200000);
  } finally {
    await loom.stop();
  }
});

test("the first run of a heavy Lua graph leaves its loop free too", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    assert.equal((await fetch(`${loom.url}/graphs/work10`, { method: "PUT", body: tenSteps })).status, 201);
    const out = await loopAnswersDuring(loom, () => wait(loom, { assistant_id: "work10", input: { n: 1000000 } }));
    assert.equal(out.i, 10);
  } finally {
    await loom.stop();
  }
});

test("a quick graph's run that its input makes heavy gives its loop back", async () => {
  const loom = await startLoom({ env: { LOOM_THREADS: "1" } });
  try {
    assert.equal((await fetch(`${loom.url}/graphs/work10`, { method: "PUT", body: tenSteps })).status, 201);
    const adaptiveRun = (n) => wait(loom, { assistant_id: "work10", input: { n } });
    // Light runs prove the graph quick: from the fourth on, its waits run
    // on the request's loop.
    for (let k = 0; k < 5; k++) assert.equal((await (await adaptiveRun(10)).json()).i, 10);
    const out = await loopAnswersDuring(loom, () => adaptiveRun(3000000));
    assert.equal(out.i, 10);
  } finally {
    await loom.stop();
  }
});
