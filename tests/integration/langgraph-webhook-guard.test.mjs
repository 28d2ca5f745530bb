// Run webhooks are guarded against server-side request forgery, driven by
// the official SDK (@langchain/langgraph-sdk): by default a webhook to a
// loopback, private or link-local address is refused when the run is
// created (422 naming the setting that allows it), a host name that
// resolves to loopback is refused when the webhook is sent (logged, the run
// unchanged), and with LOOM_WEBHOOK_ALLOW_PRIVATE=true the same webhooks
// are delivered. LOOM_WEBHOOK_ALLOWED_DOMAINS narrows the hosts further.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { Client } from "@langchain/langgraph-sdk";
import { startLoom } from "./harness.mjs";

// A receiver on loopback: `next()` resolves with the next POSTed run.
async function receiver() {
  const got = [];
  let wake = null;
  const srv = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      res.end("ok");
      got.push(JSON.parse(body));
      wake?.();
    });
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const port = srv.address().port;
  return {
    port,
    got,
    async next(ms = 10000) {
      const deadline = Date.now() + ms;
      while (!got.length && Date.now() < deadline)
        await new Promise((r) => { wake = r; setTimeout(r, 50); });
      assert.ok(got.length, "no webhook arrived");
      return got.shift();
    },
    close: () => srv.close(),
  };
}

async function untilOutput(loom, re, ms = 10000) {
  const deadline = Date.now() + ms;
  while (!re.test(loom.output())) {
    if (Date.now() > deadline) throw new Error(`no ${re} in the log:\n${loom.output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const input = { text: "a. b." };

test("by default a webhook to loopback is refused, with the setting that allows it", async () => {
  const hooks = await receiver();
  const loom = await startLoom();
  try {
    const client = new Client({ apiUrl: loom.url });
    const t = await client.threads.create();
    const refused = [
      [`http://127.0.0.1:${hooks.port}/hook`, /webhook: 127\.0\.0\.1 is a loopback address/],
      [`http://[::1]:${hooks.port}/hook`, /webhook: ::1 is a loopback address/],
      ["http://169.254.169.254/latest/meta-data", /169\.254\.169\.254 is a link-local address/],
      ["http://10.0.0.1/hook", /10\.0\.0\.1 is a private address/],
      [`http://0x7f000001:${hooks.port}/hook`, /loopback address/],
    ];
    for (const [webhook, says] of refused) {
      const err = await client.runs.create(t.thread_id, "map_reduce", { input, webhook })
        .then(() => null, (e) => e);
      assert.ok(err, `${webhook} was accepted`);
      assert.equal(err.status, 422, err.message);
      const body = JSON.parse(err.text);
      assert.equal(body.error, "invalid_request");
      assert.match(body.message, says);
      assert.match(body.message, /LOOM_WEBHOOK_ALLOW_PRIVATE=true allows them/);
    }
    for (const [webhook, says] of [
      [`http://user:pw@example.com/hook`, /webhook: the URL carries credentials/],
      ["ftp://example.com/hook", /webhook: only http and https URLs are allowed, not 'ftp'/],
      ["not a url", /webhook: 'not a url' is not a valid URL/],
    ]) {
      const err = await client.runs.wait(null, "map_reduce", { input, webhook }).then(() => null, (e) => e);
      assert.equal(err?.status, 422, webhook);
      assert.match(JSON.parse(err.text).message, says);
      assert.doesNotMatch(err.text, /pw@/);
    }
    assert.deepEqual(await client.runs.list(t.thread_id), [], "no run was created");

    // A name is resolved when the webhook is sent: localhost is refused
    // then, the run itself is a success, and the log says why.
    const run = await client.runs.create(t.thread_id, "map_reduce", {
      input,
      webhook: `http://localhost:${hooks.port}/hook`,
    });
    await client.runs.join(t.thread_id, run.run_id);
    assert.equal((await client.runs.get(t.thread_id, run.run_id)).status, "success");
    await untilOutput(loom, new RegExp(`webhook of run ${run.run_id} refused: localhost resolves to [^ ]+, a loopback address`));
    assert.match(loom.output(), /LOOM_WEBHOOK_ALLOW_PRIVATE=true allows them/);
    assert.equal(hooks.got.length, 0, "nothing reached the receiver");
  } finally {
    await loom.stop();
    hooks.close();
  }
});

test("LOOM_WEBHOOK_ALLOW_PRIVATE=true delivers webhooks to loopback", async () => {
  const hooks = await receiver();
  const loom = await startLoom({ env: { LOOM_WEBHOOK_ALLOW_PRIVATE: "true" } });
  try {
    const client = new Client({ apiUrl: loom.url });
    const t = await client.threads.create();
    for (const host of ["127.0.0.1", "localhost"]) {
      const run = await client.runs.create(t.thread_id, "map_reduce", {
        input,
        webhook: `http://${host}:${hooks.port}/hook`,
      });
      const hook = await hooks.next();
      assert.equal(hook.run_id, run.run_id);
      assert.equal(hook.status, "success");
    }
  } finally {
    await loom.stop();
    hooks.close();
  }
});

test("LOOM_WEBHOOK_ALLOWED_DOMAINS: only the hosts listed", async () => {
  const hooks = await receiver();
  const loom = await startLoom({
    env: { LOOM_WEBHOOK_ALLOW_PRIVATE: "true", LOOM_WEBHOOK_ALLOWED_DOMAINS: "localhost,*.example.com" },
  });
  try {
    const client = new Client({ apiUrl: loom.url });
    const err = await client.runs
      .wait(null, "map_reduce", { input, webhook: `http://127.0.0.1:${hooks.port}/hook` })
      .then(() => null, (e) => e);
    assert.equal(err?.status, 422);
    assert.match(JSON.parse(err.text).message,
                 /the host 127\.0\.0\.1 is not one of the allowed hosts in LOOM_WEBHOOK_ALLOWED_DOMAINS/);
    const t = await client.threads.create();
    const run = await client.runs.create(t.thread_id, "map_reduce", {
      input,
      webhook: `http://localhost:${hooks.port}/hook`,
    });
    assert.equal((await hooks.next()).run_id, run.run_id);
  } finally {
    await loom.stop();
    hooks.close();
  }
});
