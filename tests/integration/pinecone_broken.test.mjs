// An index whose files are damaged does not break the control plane for
// the official clients (6.x, 8.x, 9.x): listIndexes still answers (client 9
// refuses a whole list holding an index without a dimension), the damaged
// index is described as not ready, and it can be deleted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { Pinecone } from "@pinecone-database/pinecone";
import { Pinecone as Pinecone6 } from "pinecone-6";
import { Pinecone as Pinecone9 } from "pinecone-9";
import { startLoom } from "./harness.mjs";

const CLIENTS = [["8.x", Pinecone], ["6.x", Pinecone6], ["9.x", Pinecone9]];
const SPEC = { serverless: { cloud: "aws", region: "us-east-1" } };

// Two indexes made through the API, then the server stopped and `damage`
// applied to index "bad"'s directory; returns the restarted server.
async function withDamagedIndex(damage) {
  const first = await startLoom();
  const pc = new Pinecone({ apiKey: "k", controllerHostUrl: first.url });
  for (const name of ["good", "bad"])
    await pc.createIndex({ name, dimension: 4, metric: "cosine", spec: SPEC, waitUntilReady: true });
  await first.stop({ keepData: true });
  damage(`${first.dataDir}/indexes/bad`);
  return startLoom({ dataDir: first.dataDir });
}

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

test("an index of unknown shape is left out of the list but can be described and deleted", async () => {
  const loom = await withDamagedIndex((dir) => {
    writeFileSync(`${dir}/config.json`, "{garbage");
    const info = JSON.parse(readFileSync(`${dir}/info.json`, "utf8"));
    delete info.dimension; // as an index made before info.json kept its shape
    writeFileSync(`${dir}/info.json`, JSON.stringify(info));
  });
  try {
    for (const [version, C] of CLIENTS) {
      const pc = new C({ apiKey: "k", controllerHostUrl: loom.url });
      assert.deepEqual((await pc.listIndexes()).indexes.map((i) => i.name), ["good"], version);
    }
    const pc = new Pinecone({ apiKey: "k", controllerHostUrl: loom.url });
    assert.equal((await pc.describeIndex("bad")).status.state, "InitializationFailed");
    await pc.deleteIndex("bad");
    await assert.rejects(pc.describeIndex("bad"), /404|not found/i);
  } finally {
    await loom.stop();
  }
});
