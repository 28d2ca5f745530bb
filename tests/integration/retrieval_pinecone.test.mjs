// The remote Pinecone backend: `loom ingest/search --pinecone URL` keep a
// collection's vectors in a Pinecone index through its REST API. The
// "Pinecone" here is a second loom serving its Pinecone-compatible API;
// the ingesting loom has its own data directory (documents, chunks and the
// keyword index stay local), and never creates a local vector index.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startLoom, loomBin } from "./harness.mjs";

let remote, dir, docs, data;

function loom(...args) {
  const r = spawnSync(loomBin, args, {
    encoding: "utf8",
    env: { ...process.env, PINECONE_API_KEY: "test-key", LOOM_DATA_DIR: data },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const stats = async () =>
  (await (await fetch(`${remote.url}/indexes/far/describe_index_stats`, { method: "POST",
    headers: { "content-type": "application/json" }, body: "{}" })).json()).totalVectorCount;

before(async () => {
  remote = await startLoom();
  const res = await fetch(`${remote.url}/indexes`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "far", dimension: 384, metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } } }),
  });
  assert.equal(res.status, 201, await res.text());
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loom-remote-"));
  docs = path.join(dir, "docs");
  data = path.join(dir, "data");
  fs.mkdirSync(docs);
  fs.writeFileSync(path.join(docs, "glaciers.md"), "# Glaciers\n\nGlaciers carve valleys as the ice slowly flows downhill.\n");
  fs.writeFileSync(path.join(docs, "jazz.txt"), "Jazz musicians improvise over chord changes and swing rhythms.");
});

after(async () => {
  await remote?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test("ingest puts the vectors in the remote index, search reads them back", async () => {
  const r = loom("ingest", docs, "--index", "far", "--pinecone", remote.url, "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /2 files: 2 ingested \(2 chunks\)/);
  assert.equal(await stats(), 2);
  assert.ok(!fs.existsSync(path.join(data, "indexes", "far")), "no local vector index");
  for (const [q, mode, want] of [["ice flowing downhill", "vector", "glaciers.md"],
    ["improvise swing", "hybrid", "jazz.txt"]]) {
    const s = loom("search", q, "--index", "far", "--mode", mode, "--pinecone", remote.url, "--data-dir", data);
    assert.equal(s.code, 0, s.err);
    assert.match(JSON.parse(s.out)[0].source, new RegExp(want + "$"));
  }
});

test("a shrinking document deletes its stale remote vectors", async () => {
  const long = Array.from({ length: 30 }, (_, i) => `Sentence ${i} about jazz harmony and rhythm.`).join(" ");
  fs.writeFileSync(path.join(docs, "jazz.txt"), long);
  loom("ingest", docs, "--index", "far", "--pinecone", remote.url, "--chunk-size", "200", "--data-dir", data);
  const grown = await stats();
  assert.ok(grown > 3, `expected several chunks, got ${grown}`);
  fs.writeFileSync(path.join(docs, "jazz.txt"), "Jazz is short now.");
  loom("ingest", docs, "--index", "far", "--pinecone", remote.url, "--chunk-size", "200", "--data-dir", data);
  assert.equal(await stats(), 2);
});

test("a missing remote index is a clear error", () => {
  const r = loom("search", "x", "--index", "nowhere", "--pinecone", remote.url, "--data-dir", data);
  assert.equal(r.code, 1);
  assert.match(r.err, /HTTP 404/);
});
