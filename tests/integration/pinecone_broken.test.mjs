// An index whose files are damaged does not break the control plane for
// the official clients (6.x, 8.x, 9.x): listIndexes still answers (client 9
// refuses a whole list holding an index without a dimension), the damaged
// index is described as not ready, and it can be deleted. Its data plane
// answers 503 saying why, loom re-reads its files only once per backoff
// window, and fixed files are served once the window is over.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { Pinecone } from "@pinecone-database/pinecone";
import { Pinecone as Pinecone6 } from "pinecone-6";
import { Pinecone as Pinecone9 } from "pinecone-9";
import { startLoom } from "./harness.mjs";

const CLIENTS = [["8.x", Pinecone], ["6.x", Pinecone6], ["9.x", Pinecone9]];
const SPEC = { serverless: { cloud: "aws", region: "us-east-1" } };

// Two indexes made through the API ("bad" with `metric`, and `records` in
// it when given), then the server stopped and `damage` applied to index
// "bad"'s directory; returns the restarted server.
async function withDamagedIndex(damage, { metric = "cosine", records } = {}) {
  const first = await startLoom();
  const pc = new Pinecone({ apiKey: "k", controllerHostUrl: first.url });
  for (const name of ["good", "bad"])
    await pc.createIndex({ name, dimension: 4, metric: name === "bad" ? metric : "cosine", spec: SPEC, waitUntilReady: true });
  if (records) await pc.index({ name: "bad" }).upsert({ records });
  await first.stop({ keepData: true });
  damage(`${first.dataDir}/indexes/bad`);
  return startLoom({ dataDir: first.dataDir });
}

// Data-plane errors as Pinecone sends them: {code, message, details}.
async function rawQuery(url, name) {
  const res = await fetch(`${url}/indexes/${name}/query`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ topK: 2, vector: [1, 0, 0, 0] }),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

// Seconds until loom tries the index again, as its 503 message says.
function nextAttempt(body) {
  const m = /\(next attempt in (\d+\.\d) s\)$/.exec(body.message);
  assert.ok(m, body.message);
  return Number(m[1]);
}

test("a corrupt index answers 503 saying why, is not re-read within the backoff, and serves once fixed", async () => {
  const first = await startLoom();
  const pc = new Pinecone({ apiKey: "k", controllerHostUrl: first.url });
  await pc.createIndex({ name: "bad", dimension: 4, metric: "cosine", spec: SPEC, waitUntilReady: true });
  await pc.index({ name: "bad" }).upsert({ records: [{ id: "a", values: [1, 0, 0, 0] }, { id: "b", values: [0, 1, 0, 0] }] });
  await first.stop({ keepData: true });
  const snap = `${first.dataDir}/indexes/bad/ns-.snap`;
  const saved = readFileSync(snap);
  writeFileSync(snap, "garbage");
  const loom = await startLoom({ dataDir: first.dataDir });
  try {
    const r = await rawQuery(loom.url, "bad");
    assert.equal(r.status, 503);
    assert.equal(r.body.code, 14); // gRPC UNAVAILABLE
    assert.deepEqual(r.body.details, []);
    assert.match(r.body.message, /^index 'bad' could not be opened: .*ns-\.snap/);
    assert.ok(Number(r.retryAfter) >= 1, `Retry-After: ${r.retryAfter}`);

    // What the clients make of the 503: 6.x names it; 8.x and 9.x retry
    // every 5xx and then say the retries ran out.
    const pc6 = new Pinecone6({ apiKey: "k", controllerHostUrl: loom.url });
    await assert.rejects(pc6.index("bad").query({ topK: 1, vector: [1, 0, 0, 0] }), { name: "PineconeUnavailableError" });
    // (Another API key: 8.x caches an index's host per key, and the one it
    // saw is the first server's.)
    const pc8 = new Pinecone({ apiKey: "k2", controllerHostUrl: loom.url, maxRetries: 0 });
    await assert.rejects(pc8.index({ name: "bad" }).query({ topK: 1, vector: [1, 0, 0, 0] }), { name: "PineconeMaxRetriesExceededError" });

    // Fixed within the window: loom does not read the files again yet
    // (checked when the window has time left for the next request).
    const before = await rawQuery(loom.url, "bad");
    assert.equal(before.status, 503);
    writeFileSync(snap, saved);
    const early = await rawQuery(loom.url, "bad");
    if (nextAttempt(before.body) >= 0.3) assert.equal(early.status, 503);

    // Once the window is over, the next request loads the fixed files.
    if (early.status === 503) await new Promise((res) => setTimeout(res, nextAttempt(early.body) * 1000 + 100));
    const q = await pc8.index({ name: "bad" }).query({ topK: 2, vector: [1, 0, 0, 0] });
    assert.deepEqual(q.matches.map((m) => m.id), ["a", "b"]);
    const desc = await pc8.describeIndex("bad");
    assert.equal(desc.status.ready, true);
    assert.equal(desc.status.state, "Ready");
  } finally {
    await loom.stop();
  }
});

test("an index whose config.json is lost is listed, not ready, with its shape", async () => {
  const loom = await withDamagedIndex((dir) => writeFileSync(`${dir}/config.json`, "{garbage"));
  try {
    for (const [version, C] of CLIENTS) {
      const pc = new C({ apiKey: "k", controllerHostUrl: loom.url });
      const list = await pc.listIndexes();
      const bad = list.indexes.find((i) => i.name === "bad");
      assert.equal(bad.dimension, 4, version);
      assert.equal(bad.status.ready, false, version);
      assert.equal(bad.status.state, "InitializationFailed", version);
      assert.equal(list.indexes.find((i) => i.name === "good").status.ready, true, version);
    }
    const pc = new Pinecone({ apiKey: "k", controllerHostUrl: loom.url });
    await pc.deleteIndex("bad");
    assert.deepEqual((await pc.listIndexes()).indexes.map((i) => i.name), ["good"]);
  } finally {
    await loom.stop();
  }
});

// Loses config.json, and `keys` of info.json (as an index made before
// info.json kept its shape).
function loseShape(...keys) {
  return (dir) => {
    writeFileSync(`${dir}/config.json`, "{garbage");
    const info = JSON.parse(readFileSync(`${dir}/info.json`, "utf8"));
    for (const k of keys) delete info[k];
    writeFileSync(`${dir}/info.json`, JSON.stringify(info));
  };
}

// GET /indexes/bad as any client sees it, checked for the fields the
// Python client requires to parse an index model (name, metric, host,
// spec, status).
async function describeRaw(url) {
  const res = await fetch(`${url}/indexes/bad`);
  assert.equal(res.status, 200);
  const m = await res.json();
  for (const k of ["name", "metric", "host", "spec", "status"]) assert.ok(m[k] !== undefined, `${k} in ${JSON.stringify(m)}`);
  assert.deepEqual(m.status, { ready: false, state: "InitializationFailed" });
  assert.equal(m.schema.fields._values.metric, m.metric); // what client 9 reads
  return m;
}

test("an index of unknown dimension is left out of the list, described with the metric info.json kept, and deleted", async () => {
  const loom = await withDamagedIndex(loseShape("dimension"), { metric: "dotproduct" });
  try {
    for (const [version, C] of CLIENTS) {
      const pc = new C({ apiKey: "k", controllerHostUrl: loom.url });
      assert.deepEqual((await pc.listIndexes()).indexes.map((i) => i.name), ["good"], version);
    }
    const m = await describeRaw(loom.url);
    assert.equal(m.metric, "dotproduct");
    assert.equal(m.dimension, undefined);
    for (const [version, C] of CLIENTS) {
      const d = await new C({ apiKey: "k", controllerHostUrl: loom.url }).describeIndex("bad");
      assert.equal(d.metric, "dotproduct", version);
      assert.equal(d.status.state, "InitializationFailed", version);
    }
    const pc = new Pinecone({ apiKey: "k", controllerHostUrl: loom.url });
    await pc.deleteIndex("bad");
    await assert.rejects(pc.describeIndex("bad"), /404|not found/i);
  } finally {
    await loom.stop();
  }
});

test("an index whose files no longer record its metric is described with the default, cosine", async () => {
  const loom = await withDamagedIndex(loseShape("dimension", "metric"), { metric: "euclidean" });
  try {
    const m = await describeRaw(loom.url);
    assert.equal(m.metric, "cosine");
    assert.equal(m.dimension, undefined);
    for (const [version, C] of CLIENTS) {
      const d = await new C({ apiKey: "k", controllerHostUrl: loom.url }).describeIndex("bad");
      assert.equal(d.metric, "cosine", version);
      assert.equal(d.dimension, undefined, version);
    }
  } finally {
    await loom.stop();
  }
});

test("an index whose config.json and info.json lost its shape gets it back from a snapshot", async () => {
  const records = [{ id: "a", values: [1, 0, 0, 0] }];
  const loom = await withDamagedIndex(loseShape("dimension", "metric"), { metric: "euclidean", records });
  try {
    for (const [version, C] of CLIENTS) {
      const pc = new C({ apiKey: "k", controllerHostUrl: loom.url });
      const bad = (await pc.listIndexes()).indexes.find((i) => i.name === "bad");
      assert.equal(bad?.dimension, 4, version);
      assert.equal(bad.metric, "euclidean", version);
      assert.equal(bad.status.state, "InitializationFailed", version);
    }
    const m = await describeRaw(loom.url);
    assert.equal(m.metric, "euclidean");
    assert.equal(m.dimension, 4);
  } finally {
    await loom.stop();
  }
});
