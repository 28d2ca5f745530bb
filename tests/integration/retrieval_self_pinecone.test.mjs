// LOOM_PINECONE_URL pointing at the server itself (its own Pinecone API as
// the remote index), with libuv's pool cut to one thread: ingestion, search
// and a retrieve node each wait for a Pinecone request of the same server.
// They run on retrieval's own threads, so that request finds libuv's thread
// free; on libuv's pool they would hold it and wait for the 30 s timeout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { freePort, postOk, startLoom } from "./harness.mjs";

let loom;

before(async () => {
  const port = await freePort();
  loom = await startLoom({
    port,
    env: {
      LOOM_PINECONE_URL: `http://127.0.0.1:${port}`,
      PINECONE_API_KEY: "self",
      UV_THREADPOOL_SIZE: "1",
    },
  });
  // The built-in hash embedder makes 384 dimensions.
  const res = await fetch(`${loom.url}/indexes`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "kb", dimension: 384, metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } } }),
  });
  assert.equal(res.status, 201, await res.text());
});

after(async () => {
  await loom?.stop();
});

const TEXTS = [
  "Owls fly silently at night thanks to soft feathers.",
  "Bread rises because yeast ferments the dough.",
  "Tides follow the moon's pull on the oceans.",
  "Bees dance to tell the hive where flowers are.",
];

test("documents, search and a retrieve node through the server's own Pinecone API", async () => {
  const t0 = Date.now();
  const made = await Promise.all(TEXTS.map((text, i) =>
    fetch(`${loom.url}/indexes/kb/documents`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ source: `doc${i}.txt`, text }),
    })));
  for (const res of made) assert.equal(res.status, 201, await res.text());
  const stats = await postOk(`${loom.url}/indexes/kb/describe_index_stats`, {});
  assert.equal(stats.totalVectorCount, TEXTS.length);

  const found = await postOk(`${loom.url}/indexes/kb/search`, { query: "yeast dough", mode: "vector", top_k: 1 });
  assert.equal(found.hits[0].source, "doc1.txt");

  const spec = {
    name: "kbself",
    state: { question: { type: "string" }, documents: { type: "array" } },
    nodes: { search: { retrieve: { index: "kb", query: "question", top_k: 1, mode: "vector" } } },
    edges: ["START -> search", "search -> END"],
  };
  const put = await fetch(`${loom.url}/graphs/kbself`, {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(spec),
  });
  assert.ok(put.status < 300, await put.text());
  const runs = await Promise.all(["owls feathers", "moon tides"].map((question) =>
    postOk(`${loom.url}/runs/wait`, { assistant_id: "kbself", input: { question } })));
  assert.equal(runs[0].documents[0].source, "doc0.txt");
  assert.equal(runs[1].documents[0].source, "doc2.txt");
  const secs = (Date.now() - t0) / 1000;
  assert.ok(secs < 10, `took ${secs} s: something waited for a timeout`);
});
