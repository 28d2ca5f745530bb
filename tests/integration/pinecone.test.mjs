// The official Pinecone clients (9.x, 8.x and 6.x) against loom's built-in
// vector index: loom's base URL is the client's controllerHostUrl, and every
// call a RAG app makes works unchanged, including filters, limits and a
// restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Pinecone } from "@pinecone-database/pinecone";
import { Pinecone as Pinecone6 } from "pinecone-6";
import { Pinecone as Pinecone9 } from "pinecone-9";
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

const spec = { serverless: { cloud: "aws", region: "us-east-1" } };

// The whole data plane, run with 8.x on "movies" and with 9.x (which speaks
// the 2026-07 control plane: schema fields and deployments) on "movies9".
async function dataPlane(pc, name, { describeShape }) {
  await pc.createIndex({ name, dimension: 4, metric: "cosine", spec, waitUntilReady: true });
  const desc = await pc.describeIndex(name);
  describeShape(desc);
  assert.equal(desc.status.ready, true);
  assert.match(desc.host, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/indexes/${name}$`));
  const list = await pc.listIndexes();
  assert.ok(list.indexes.map((i) => i.name).includes(name));
  await assert.rejects(pc.createIndex({ name, dimension: 4, spec }), /already exists|409|Conflict/i);

  const index = pc.index({ name });
  const records = [];
  for (let i = 0; i < 50; i++) {
    records.push({
      id: `m${String(i).padStart(2, "0")}`,
      values: [1, i / 10, (i % 7) / 7, 0.5],
      metadata: { genre: i % 2 ? "drama" : "comedy", year: 1990 + i, tags: [`t${i % 3}`, "all"] },
    });
  }
  await index.upsert({ records });
  await index.upsert({ records: records.slice(0, 5), namespace: "other" });

  const q = await index.query({ vector: [1, 0.1, 1 / 7, 0.5], topK: 3, includeMetadata: true, includeValues: true });
  assert.equal(q.matches.length, 3);
  assert.equal(q.matches[0].id, "m01");
  assert.ok(q.matches[0].score > 0.999);
  assert.equal(q.matches[0].metadata.genre, "drama");
  assert.equal(q.matches[0].values.length, 4);

  const f = await index.query({
    vector: [1, 0, 0, 0.5], topK: 100, includeMetadata: true,
    filter: { $and: [{ genre: { $eq: "drama" } }, { year: { $gte: 2030 } }, { tags: { $in: ["t0"] } }] },
  });
  const expect = records.filter((r) => r.metadata.genre === "drama" && r.metadata.year >= 2030 && r.metadata.tags.includes("t0"));
  assert.deepEqual(f.matches.map((m) => m.id).sort(), expect.map((r) => r.id).sort());

  const byId = await index.query({ id: "m10", topK: 1 });
  assert.equal(byId.matches[0].id, "m10");

  const fetched = await index.fetch({ ids: ["m03", "nope"] });
  assert.deepEqual(Object.keys(fetched.records), ["m03"]);
  assert.equal(fetched.records.m03.metadata.year, 1993);

  await index.update({ id: "m03", metadata: { genre: "noir" } });
  const after1 = await index.fetch({ ids: ["m03"] });
  assert.equal(after1.records.m03.metadata.genre, "noir");
  assert.equal(after1.records.m03.metadata.year, 1993);

  await index.deleteMany({ ids: ["m00", "m02"] });
  await index.deleteMany({ filter: { genre: { $eq: "noir" } } });
  const stats = await index.describeIndexStats();
  assert.equal(stats.dimension, 4);
  assert.equal(stats.totalRecordCount, 47 + 5);

  const page1 = await index.listPaginated({ prefix: "m1", limit: 5 });
  assert.deepEqual(page1.vectors.map((v) => v.id), ["m10", "m11", "m12", "m13", "m14"]);
  const page2 = await index.listPaginated({ prefix: "m1", limit: 5, paginationToken: page1.pagination.next });
  assert.deepEqual(page2.vectors.map((v) => v.id), ["m15", "m16", "m17", "m18", "m19"]);

  await index.deleteAll({ namespace: "other" });
  const stats2 = await index.describeIndexStats();
  assert.equal(stats2.totalRecordCount, 47);

  await assert.rejects(index.query({ vector: [1, 0, 0, 0], topK: 10001 }), /topK/);
  await assert.rejects(index.upsert({ records: [{ id: "bad", values: [1, 2] }] }), /dimension/);
  await assert.rejects(index.query({ vector: [1, 0, 0, 0], topK: 1, filter: { genre: { $regex: "d" } } }), /\$regex/);
}

test("client 8.x: indexes, upsert, query, fetch, update, delete, list, stats", async () => {
  const pc = new Pinecone({ apiKey: "loom", controllerHostUrl: loom.url });
  await dataPlane(pc, "movies", {
    describeShape(desc) {
      assert.equal(desc.dimension, 4);
      assert.equal(desc.metric, "cosine");
    },
  });
});

test("client 9.x: the same calls over the 2026-07 control plane", async () => {
  const pc = new Pinecone9({ apiKey: "loom", controllerHostUrl: loom.url });
  await dataPlane(pc, "movies9", {
    describeShape(desc) {
      assert.equal(desc.deployment.deploymentType, "managed");
      assert.deepEqual(
        { dimension: desc.schema.fields._values.dimension, metric: desc.schema.fields._values.metric },
        { dimension: 4, metric: "cosine" },
      );
    },
  });
  await pc.deleteIndex("movies9");
  assert.ok(!(await pc.listIndexes()).indexes.map((i) => i.name).includes("movies9"));
});

test("client 6.x: the same index through the older API", async () => {
  const pc = new Pinecone6({ apiKey: "loom", controllerHostUrl: loom.url });
  const index = pc.index("movies");
  const q = await index.query({ vector: [1, 0.5, 0, 0.5], topK: 2, includeMetadata: true });
  assert.equal(q.matches.length, 2);
  await index.namespace("six").upsert([{ id: "s1", values: [0, 1, 0, 0], metadata: { v: 6 } }]);
  const got = await index.namespace("six").fetch(["s1"]);
  assert.equal(got.records.s1.metadata.v, 6);
  const desc = await pc.describeIndex("movies");
  assert.equal(desc.dimension, 4);
});

test("indexes survive a restart, and can be deleted", async () => {
  const dataDir = loom.dataDir;
  await loom.stop({ keepData: true });
  loom = await startLoom({ dataDir });
  const pc = new Pinecone({ apiKey: "loom", controllerHostUrl: loom.url });
  // The client caches index hosts by name; the restarted server has a new port.
  const { host } = await pc.describeIndex("movies");
  const index = pc.index({ host });
  const stats = await index.describeIndexStats();
  assert.equal(stats.totalRecordCount, 48);
  await pc.deleteIndex("movies");
  assert.deepEqual((await pc.listIndexes()).indexes, []);
});
