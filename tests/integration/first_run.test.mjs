// What a new user meets when a start goes wrong: `loom serve` twice on one
// port, settings for the production shape that is not built yet. Each must
// stop the start with a message that says what is wrong and what to do,
// never start "ready" doing something else than what was asked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLoom, loomBin, root } from "./harness.mjs";

let loom, scratch;

before(async () => {
  loom = await startLoom();
  scratch = mkdtempSync(path.join(os.tmpdir(), "loom-first-run-"));
});

after(async () => {
  await loom.stop();
  rmSync(scratch, { recursive: true, force: true });
});

// `loom serve` with `env` on top of a clean environment; it must exit by
// itself within the timeout (a server that starts is killed: a failure).
function serve(env, args = []) {
  const base = { ...process.env };
  for (const name of ["DATABASE_URL", "REDIS_URL", "LOOM_AUTH", "LOOM_ROLE", "LOOM_CONFIG"]) delete base[name];
  const r = spawnSync(loomBin, ["serve", ...args], {
    env: { ...base, LOOM_ADDR: "127.0.0.1:0", LOOM_DATA_DIR: path.join(scratch, "data"), ...env },
    encoding: "utf8",
    timeout: 5000,
  });
  return { code: r.status, signal: r.signal, err: r.stderr };
}

test("a second loom serve on a port in use stops and says so; the first goes on", async () => {
  const r = serve({ LOOM_ADDR: `127.0.0.1:${loom.port}` });
  assert.equal(r.signal, null, "the second server started instead of stopping");
  assert.equal(r.code, 1);
  assert.match(r.err, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${loom.port}: the address is already in use`));
  assert.match(r.err, /--addr HOST:PORT/);
  // Every request still reaches the first server (none went to a second).
  for (let i = 0; i < 20; i++) assert.equal((await fetch(`${loom.url}/healthz`)).status, 200);
});

test("settings of the production shape that is not built yet stop the start", () => {
  const cases = [
    [{ LOOM_AUTH: "apikey" }, /LOOM_AUTH=apikey: .*not built yet.*unchecked.*unset LOOM_AUTH/],
    [{ LOOM_AUTH: "clerk" }, /LOOM_AUTH=clerk: /],
    [{ LOOM_ROLE: "worker" }, /LOOM_ROLE=worker: .*not built yet.*unset LOOM_ROLE/],
    [{ REDIS_URL: "redis://127.0.0.1:1/0" }, /REDIS_URL names Redis.*not built yet.*unset REDIS_URL/],
  ];
  for (const [env, message] of cases) {
    const r = serve(env);
    assert.equal(r.signal, null, `${JSON.stringify(env)}: the server started`);
    assert.equal(r.code, 1, JSON.stringify(env));
    assert.match(r.err, message);
  }
});

test("a LOOM_MODEL that cannot be called stops the start, naming the setting", () => {
  const cases = [
    [{ LOOM_MODEL: "gpt4" }, /LOOM_MODEL: model 'gpt4' must be provider\/model, e\.g\. openai\/gpt-4o-mini/],
    [{ LOOM_MODEL: "opnai/gpt-4o" }, /LOOM_MODEL: model 'opnai\/gpt-4o': unknown provider 'opnai'/],
    [{ LOOM_MODEL: "openai/gpt-4o-mini", OPENAI_API_KEY: "", OPENAI_BASE_URL: "" },
     /LOOM_MODEL: model 'openai\/gpt-4o-mini' needs OPENAI_API_KEY to be set/],
  ];
  for (const [env, message] of cases) {
    const r = serve(env);
    assert.equal(r.signal, null, `${JSON.stringify(env)}: the server started`);
    assert.equal(r.code, 1, JSON.stringify(env));
    assert.match(r.err, message);
  }
});

test("loom ingest beside a running server: the server lists and finds the new index at once", async () => {
  const docs = path.join(scratch, "docs");
  mkdirSync(docs);
  writeFileSync(path.join(docs, "stop.md"), "# Stopping\n\nSIGTERM stops the server gracefully.\n");
  const search = (index) => fetch(`${loom.url}/indexes/${index}/search`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "stop" }) });
  // Asked for before it exists: a 404 that says how to make it.
  const before = await search("kb");
  assert.equal(before.status, 404);
  assert.match((await before.json()).message,
    /^no index 'kb' \(make it by adding documents: POST \/indexes\/kb\/documents, or loom ingest PATH --index kb\)$/);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the server looks a missing name up again after 1 s
  const r = spawnSync(loomBin, ["ingest", docs, "--index", "kb"], {
    env: { ...process.env, LOOM_DATA_DIR: loom.dataDir }, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  // Listed by the Pinecone API before anything asked for it by name.
  const listed = await (await fetch(`${loom.url}/indexes`)).json();
  assert.ok(listed.indexes.some((ix) => ix.name === "kb"), JSON.stringify(listed));
  const found = await search("kb");
  assert.equal(found.status, 200);
  assert.match(JSON.stringify(await found.json()), /SIGTERM stops the server gracefully/);
  // The Pinecone API sees it too, and the server can add to it.
  const described = await fetch(`${loom.url}/indexes/kb`);
  assert.equal(described.status, 200);
  assert.equal((await described.json()).name, "kb");
  const post = await fetch(`${loom.url}/indexes/kb/documents`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source: "x.md", text: "hi" }) });
  assert.equal(post.status, 201);
  // An index the server makes itself is found at once, as before.
  const other = await fetch(`${loom.url}/indexes/kb2/documents`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ source: "x.md", text: "hi" }) });
  assert.equal(other.status, 201);
});

test("a run of a misspelt assistant id names the graphs there are", async () => {
  const res = await fetch(`${loom.url}/runs/wait`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ assistant_id: "aproval", input: { topic: "otters" } }) });
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error, "not_found");
  assert.match(body.message, /^assistant 'aproval' not found; a graph id is an assistant id, and the graphs are: .*\bapproval\b/);
  assert.match(body.message, /\bmap_reduce\b/);
  const graph = await fetch(`${loom.url}/graphs/aproval`);
  assert.equal(graph.status, 404);
  assert.match((await graph.json()).message, /^graph 'aproval' not found; the graphs are: .*\bapproval\b/);
});

test("a misspelt or borrowed flag says which one was meant", () => {
  const cases = [
    [["--port", "9000"], /unknown flag: --port \(did you mean --addr HOST:PORT\?\)/],
    [["--data-dri", "x"], /unknown flag: --data-dri \(did you mean --data-dir\?\)/],
    [["--graph", "x"], /did you mean --graphs\?/],
    [["--no-such-thing", "1"], /unknown flag: --no-such-thing \(see --help\)/],
  ];
  for (const [args, message] of cases) {
    const r = serve({}, args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, message);
  }
});

test("a LOOM_GRAPHS directory that is not there is named in the log with the reason", async () => {
  const other = await startLoom({ env: { LOOM_GRAPHS: `${path.join(scratch, "no-such-graphs")}` } });
  try {
    assert.match(other.output(), /cannot open directory .*no-such-graphs \(in LOOM_GRAPHS\): No such file or directory/);
  } finally {
    await other.stop();
  }
});

test("loom serve --help says which settings are not built yet", () => {
  const r = spawnSync(loomBin, ["serve", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0);
  for (const name of ["LOOM_AUTH", "LOOM_ROLE", "DATABASE_URL", "REDIS_URL", "SENTRY_DSN"])
    assert.match(r.stdout, new RegExp(`^  ${name} .*not built yet`, "m"), name);
});

test("LangGraph's health path /ok answers as LangGraph's server does", async () => {
  const res = await fetch(`${loom.url}/ok`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { ok: true });
});

test("surfaces not built yet answer 404 not_implemented saying so: crew kickoff, crons", async () => {
  const cases = [
    ["POST", "/crews/research/kickoff", /crews .* are not built yet; write the crew's steps as a graph/],
    ["POST", "/runs/crons", /crons \(scheduled runs\) are not built yet/],
  ];
  for (const [method, route, message] of cases) {
    const res = await fetch(`${loom.url}${route}`, {
      method, headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(res.status, 404, route);
    const body = await res.json();
    assert.equal(body.error, "not_implemented");
    assert.match(body.message, message);
  }
  // The LangGraph SDK's crons client shows the reason.
  const { Client } = await import("@langchain/langgraph-sdk");
  const client = new Client({ apiUrl: loom.url });
  await assert.rejects(client.crons.create("approval", { schedule: "* * * * *", input: {} }),
                       /404|not built yet/);
});

test("a data directory this user cannot write stops the start, naming it and the setting", () => {
  // As root, run as nobody on a directory root owns; as anyone else, on a
  // directory made read-only.
  const dir = path.join(scratch, "readonly-data");
  chmodSync(scratch, 0o755); // searchable, so the directory itself is judged
  mkdirSync(dir, { mode: 0o555 });
  const asRoot = process.getuid?.() === 0;
  const r = spawnSync(loomBin, ["serve", "--addr", "127.0.0.1:0", "--data-dir", dir], {
    env: { PATH: process.env.PATH }, encoding: "utf8", timeout: 5000,
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  assert.equal(r.signal, null, "the server started");
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`'${dir}' is not writable by this user .*--data-dir \\(LOOM_DATA_DIR\\)`));
  const file = path.join(scratch, "data-file");
  writeFileSync(file, "");
  const f = serve({}, ["--data-dir", file]);
  assert.equal(f.code, 1);
  assert.match(f.err, /data directory '.*data-file' is a file, not a directory/);
});

test("a spec in LOOM_GRAPHS that did not load is named, with why, when its graph is asked for", async () => {
  const dir = path.join(scratch, "graphs-with-typo");
  mkdirSync(dir);
  writeFileSync(path.join(dir, "mine.yaml"),
    "name: mine\nnodes:\n  a: {lua: 'return {}'}\nedges:\n  - START -> b\n");
  const other = await startLoom({ env: { LOOM_GRAPHS: `${root}/examples/graphs:${dir}` } });
  try {
    const res = await fetch(`${other.url}/runs/wait`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "mine", input: {} }) });
    assert.equal(res.status, 404);
    assert.match((await res.json()).message,
      /assistant 'mine' not found; .*the graphs are: .*approval.*; not loaded at start: .*mine\.yaml:5: edges\[0\]: unknown node 'b'/);
    // Once a graph 'mine' is registered, the old failure is no longer told.
    const put = await fetch(`${other.url}/graphs/mine`, {
      method: "PUT", headers: { "content-type": "application/yaml" },
      body: "name: mine\nnodes:\n  a: {lua: 'return {}'}\nedges:\n  - START -> a\n" });
    assert.ok(put.ok, await put.text());
    const gone = await fetch(`${other.url}/graphs/nosuch`);
    assert.equal(gone.status, 404);
    const message = (await gone.json()).message;
    assert.match(message, /mine/);
    assert.doesNotMatch(message, /not loaded at start/);
  } finally {
    await other.stop();
  }
});

test("a Pinecone that refuses the key: loom search says which setting to check", async () => {
  // A Pinecone stand-in that answers every call 401, as Pinecone does for
  // a missing or wrong key.
  const http = await import("node:http");
  const { execFile } = await import("node:child_process");
  const server = http.createServer((req, res) => {
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { code: "UNAUTHENTICATED", message: "Invalid API Key" }, status: 401 }));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  const search = (env) => new Promise((resolve) => {
    const base = { ...process.env, LOOM_DATA_DIR: path.join(scratch, "pc-data"), ...env };
    if (!env.PINECONE_API_KEY) delete base.PINECONE_API_KEY;
    execFile(loomBin, ["search", "owls", "--index", "kb", "--pinecone", url], { env: base },
             (err, stdout, stderr) => resolve({ code: err ? err.code : 0, err: stderr }));
  });
  try {
    let r = await search({});
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`the Pinecone at ${url} refused the key \\(HTTP 401\\): PINECONE_API_KEY is not set`));
    r = await search({ PINECONE_API_KEY: "wrong" });
    assert.equal(r.code, 1);
    assert.match(r.err, /refused the key \(HTTP 401\): check PINECONE_API_KEY/);
  } finally {
    server.close();
  }
});
