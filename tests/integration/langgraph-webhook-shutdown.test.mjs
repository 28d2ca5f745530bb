// A webhook still in flight when the server is told to stop: the server
// waits for its answer (within a grace period) and exits cleanly, without
// closing the call's handles by force (it used to leak them, and before
// that, to hang at exit).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startLoom } from "./harness.mjs";

test("a webhook in flight at shutdown is answered and the server exits cleanly", async () => {
  let hooked;
  const got = new Promise((r) => (hooked = r));
  const receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      hooked(JSON.parse(body));
      setTimeout(() => res.end("ok"), 800); // a slow receiver
    });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  // The receiver is on loopback: allowed explicitly.
  const loom = await startLoom({ env: { LOOM_WEBHOOK_ALLOW_PRIVATE: "true" } });
  try {
    const res = await fetch(`${loom.url}/runs/wait`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        assistant_id: "map_reduce",
        input: { text: "a. b." },
        webhook: `http://127.0.0.1:${receiver.address().port}/hook`,
      }),
    });
    assert.equal(res.status, 200);
    const hook = await got; // the call is out, its answer 0.8 s away
    assert.equal(hook.status, "success");
    const started = Date.now();
    const exit = await loom.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(Date.now() - started < 5000, "stopped within the grace period");
    assert.doesNotMatch(loom.output(), /still open at shutdown|still active/);
  } finally {
    receiver.close();
  }
});
