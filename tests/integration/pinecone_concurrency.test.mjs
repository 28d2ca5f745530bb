// The Pinecone data plane runs on the worker pool and the index links new
// vectors under its read lock: while one client upserts 1,000 vectors in a
// single request, another client's queries are answered, with results.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Pinecone } from "@pinecone-database/pinecone";
import { rmSync } from "node:fs";
import { startLoom } from "./harness.mjs";

let loom;
before(async () => {
  loom = await startLoom();
});
after(async () => {
  await loom?.stop();
  rmSync(loom.dataDir, { recursive: true, force: true });
});

const DIM = 192;
let seed = 7;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
const vec = () => Array.from({ length: DIM }, () => Math.round(rand() * 1000) / 1000);
const batch = (from, n) =>
  Array.from({ length: n }, (_, i) => ({ id: `v${from + i}`, values: vec(), metadata: { part: from } }));

test("queries are answered while a large upsert is in progress", async () => {
  const pc = new Pinecone({ apiKey: "loom", controllerHostUrl: loom.url });
  await pc.createIndex({
    name: "busy", dimension: DIM, metric: "euclidean",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } }, waitUntilReady: true,
  });
  const index = pc.index({ name: "busy" });
  for (let b = 0; b < 3000; b += 500) await index.upsert({ records: batch(b, 500) });

  // A second client (its own connections) queries while the first upserts.
  const reader = new Pinecone({ apiKey: "loom", controllerHostUrl: loom.url }).index({ name: "busy" });
  const big = batch(3000, 1000);
  let upsertDone = false;
  const t0 = performance.now();
  const upsert = index.upsert({ records: big }).then(() => {
    upsertDone = true;
    return performance.now() - t0;
  });
  const during = [];
  while (!upsertDone) {
    const t = performance.now();
    const r = await reader.query({ vector: vec(), topK: 5, filter: { part: { $lt: 3000 } } });
    if (!upsertDone) during.push(performance.now() - t);
    assert.equal(r.matches.length, 5);
    assert.ok(r.matches.every((m) => Number(m.id.slice(1)) < 3000));
  }
  const upsertMs = await upsert;
  assert.ok(during.length >= 3,
    `only ${during.length} queries answered during a ${upsertMs.toFixed(0)} ms upsert`);
  const stats = await index.describeIndexStats();
  assert.equal(stats.totalRecordCount, 4000);
});
