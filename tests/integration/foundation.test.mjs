// The foundation as a user meets it: the server comes up with no
// configuration, answers health/info/metrics, refuses bad input with the
// right 4xx and a JSON error, keeps serving, and stops cleanly on SIGTERM.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import http from "node:http";
import net from "node:net";
import { startLoom } from "./harness.mjs";

let loom;
before(async () => {
  loom = await startLoom({ env: { LOOM_MAX_BODY: "65536", LOOM_IDLE_TIMEOUT: "2" } });
});
after(async () => {
  const { code } = await loom.stop();
  assert.equal(code, 0, "SIGTERM ends the server with exit code 0");
});

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test("healthz, readyz and info answer JSON", async () => {
  const health = await fetch(`${loom.url}/healthz`);
  assert.equal(health.status, 200);
  assert.match(health.headers.get("content-type"), /application\/json/);
  assert.match(health.headers.get("x-request-id"), uuid);
  assert.deepEqual(await health.json(), { status: "ok" });

  const ready = await fetch(`${loom.url}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal((await ready.json()).database, "sqlite");

  const info = await (await fetch(`${loom.url}/info`)).json();
  assert.equal(info.name, "loom");
  assert.match(info.version, /^\d+\.\d+\.\d+$/);
  assert.equal(info.backends.database, "sqlite");
  assert.equal(info.backends.cache, "memory");
});

test("metrics are Prometheus text that promtool accepts", async () => {
  await fetch(`${loom.url}/healthz`);
  const res = await fetch(`${loom.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/plain; version=0\.0\.4/);
  const page = await res.text();
  assert.match(page, /http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\} [1-9]/);
  assert.match(page, /process_resident_memory_bytes \d/);
  const check = spawnSync("promtool", ["check", "metrics"], { input: page });
  if (check.error?.code === "ENOENT") return; // promtool comes with `make test`
  assert.equal(check.status, 0, check.stdout.toString() + check.stderr.toString());
});

test("unknown route is 404 and wrong method 405 with Allow, as JSON", async () => {
  const missing = await fetch(`${loom.url}/no/such/route`);
  assert.equal(missing.status, 404);
  const body = await missing.json();
  assert.equal(body.error, "not_found");
  assert.match(body.message, /\/no\/such\/route/);

  const wrong = await fetch(`${loom.url}/healthz`, { method: "DELETE" });
  assert.equal(wrong.status, 405);
  assert.match(wrong.headers.get("allow"), /GET/);
  assert.equal((await wrong.json()).error, "method_not_allowed");
});

test("malformed JSON is 400 saying where it broke", async () => {
  const res = await fetch(`${loom.url}/threads`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"metadata": {"a": 1,}}',
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.equal(body.error, "invalid_json");
  assert.match(body.message, /line 1, column \d+/);
});

test("wrong content type is 415", async () => {
  const res = await fetch(`${loom.url}/threads`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "a=1",
  });
  assert.equal(res.status, 415);
  assert.equal((await res.json()).error, "unsupported_media_type");
});

test("a body over the limit is 413 and the server keeps serving", async () => {
  const res = await fetch(`${loom.url}/threads`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ metadata: { blob: "x".repeat(200000) } }),
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error, "too_large");
  assert.equal((await fetch(`${loom.url}/healthz`)).status, 200);
});

test("keep-alive: consecutive requests reuse one connection", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = () =>
    new Promise((resolve, reject) => {
      const req = http.get(`${loom.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on("end", () =>
          resolve({ reused: req.reusedSocket, conn: res.headers.connection, hint: res.headers["keep-alive"] }),
        );
      });
      req.on("error", reject);
    });
  const first = await get();
  const second = await get();
  const third = await get();
  agent.destroy();
  assert.equal(first.reused, false);
  assert.notEqual(first.conn, "close");
  // the idle timeout is announced, so clients retire connections first
  assert.equal(first.hint, "timeout=2");
  assert.equal(second.reused, true);
  assert.equal(third.reused, true);
});

test("a stalled client does not block others and is timed out", async () => {
  const sock = net.connect(loom.port, "127.0.0.1");
  await new Promise((r) => sock.on("connect", r));
  sock.write("POST /threads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"meta");
  const closed = new Promise((r) => sock.on("close", r));
  // others are served meanwhile
  for (let i = 0; i < 20; i++) assert.equal((await fetch(`${loom.url}/healthz`)).status, 200);
  const t0 = Date.now();
  await closed; // LOOM_IDLE_TIMEOUT=2
  assert.ok(Date.now() - t0 < 5000, "stalled connection closed by the idle timeout");
  assert.equal((await fetch(`${loom.url}/healthz`)).status, 200);
});

test("many concurrent requests all succeed", async () => {
  const results = await Promise.all(
    Array.from({ length: 500 }, () => fetch(`${loom.url}/healthz`).then((r) => r.status)),
  );
  assert.ok(results.every((s) => s === 200));
});

test("loom version and --help exit 0; a bad setting exits 2 with the reason", () => {
  assert.match(execFileSync(loom.child.spawnfile, ["version"]).toString(), /^loom \d/);
  for (const cmd of ["serve", "run", "migrate", "ingest", "search"]) {
    const help = spawnSync(loom.child.spawnfile, [cmd, "--help"]);
    assert.equal(help.status, 0, `loom ${cmd} --help: ${help.stderr}`);
    assert.match(help.stdout.toString(), new RegExp(`usage: loom ${cmd}`));
  }
  assert.match(execFileSync(loom.child.spawnfile, ["serve", "--help"]).toString(), /LOOM_DATA_DIR/);
  const bad = spawnSync(loom.child.spawnfile, ["serve", "--auth", "maybe"]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr.toString(), /LOOM_AUTH must be/);
  // the embedded default, whatever DATABASE_URL the test run exports
  const migrate = spawnSync(loom.child.spawnfile, ["migrate", "--data-dir", loom.dataDir], {
    env: { ...process.env, DATABASE_URL: "" },
  });
  assert.equal(migrate.status, 0, migrate.stderr.toString());
  assert.match(migrate.stdout.toString(), /sqlite schema at version \d+/);
});
