// `loom serve` with configured retrieval backends: embeddings from a
// provider (the scripted model server, reached as LOOM_EMBED_MODEL through
// the OpenAI-compatible layer) and vectors in a remote Pinecone index
// (LOOM_PINECONE_URL: a second loom's Pinecone-compatible API). The
// document routes and a graph's `retrieve` node both use them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { root, startLoom } from "./harness.mjs";

let models, modelsUrl, remote, loom;

before(async () => {
  models = spawn(process.execPath, [path.join(root, "tests/llm-server/server.mjs")],
    { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve) => {
    let out = "";
    models.stdout.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  modelsUrl = `http://127.0.0.1:${port}`;
  remote = await startLoom();
  // The scripted server's embeddings have 8 dimensions.
  const res = await fetch(`${remote.url}/indexes`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "kb", dimension: 8, metric: "cosine",
      spec: { serverless: { cloud: "aws", region: "us-east-1" } } }),
  });
  assert.equal(res.status, 201, await res.text());
  loom = await startLoom({
    env: {
      LOOM_EMBED_MODEL: "openai/text-embedding-3-small",
      OPENAI_BASE_URL: `${modelsUrl}/v1`,
      OPENAI_API_KEY: "sk-test",
      LOOM_PINECONE_URL: remote.url,
      PINECONE_API_KEY: "remote-key",
    },
  });
});

after(async () => {
  await loom?.stop();
  await remote?.stop();
  models?.kill();
});

const post = (base, route, body) => fetch(base + route, {
  method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
});

const remoteCount = async () =>
  (await (await post(remote.url, "/indexes/kb/describe_index_stats", {})).json()).totalVectorCount;

test("documents are embedded by the provider and stored in the remote index", async () => {
  await post(modelsUrl, "/__reset", {});
  let res = await post(loom.url, "/indexes/kb/documents", {
    source: "owls.md", text: "# Owls\n\nOwls fly silently at night thanks to soft feathers.",
  });
  assert.equal(res.status, 201, await res.text());
  res = await post(loom.url, "/indexes/kb/documents", {
    source: "bread.txt", text: "Bread rises because yeast ferments the dough.",
  });
  assert.equal(res.status, 201, await res.text());
  assert.equal(await remoteCount(), 2);

  const log = await (await fetch(`${modelsUrl}/__requests`)).json();
  const sent = log.filter((r) => r.path.endsWith("/embeddings"))
    .flatMap((r) => [].concat(r.json.input)).join("\n");
  assert.match(sent, /Owls fly silently/);
  assert.match(sent, /yeast ferments/);
  assert.equal(log.find((r) => r.path.endsWith("/embeddings")).headers.authorization, "Bearer sk-test");

  // Vector search: the query is embedded by the provider too (the scripted
  // vectors are a hash of the text, so the exact chunk text is nearest).
  const before = log.length;
  res = await post(loom.url, "/indexes/kb/search", { query: "silent flight", mode: "hybrid", top_k: 2 });
  const hits = (await res.json()).hits;
  assert.equal(res.status, 200);
  assert.ok(hits.length >= 1);
  const after2 = await (await fetch(`${modelsUrl}/__requests`)).json();
  assert.ok(after2.length > before, "the query was embedded by the provider");
  assert.ok(after2.slice(before).some((r) => [].concat(r.json.input).includes("silent flight")));

  // Deleting a document deletes its remote vectors.
  const doc = (await (await fetch(`${loom.url}/indexes/kb/documents`)).json())
    .documents.find((d) => d.source === "bread.txt");
  assert.equal((await fetch(`${loom.url}/indexes/kb/documents/${doc.document_id}`, { method: "DELETE" })).status, 204);
  assert.equal(await remoteCount(), 1);
});

test("a retrieve node reads through the same backends", async () => {
  const spec = {
    name: "kbqa",
    state: { question: { type: "string" }, documents: { type: "array" } },
    nodes: { search: { retrieve: { index: "kb", query: "question", top_k: 1, mode: "keyword" } } },
    edges: ["START -> search", "search -> END"],
  };
  let res = await fetch(loom.url + "/graphs/kbqa", {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(spec),
  });
  assert.ok(res.status < 300, await res.text());
  res = await post(loom.url, "/runs/wait", { assistant_id: "kbqa", input: { question: "feathers" } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal(JSON.parse(text).documents[0].source, "owls.md");
  // vector mode goes to the remote index with a provider embedding
  spec.nodes.search.retrieve.mode = "vector";
  spec.name = "kbqa2";
  res = await fetch(loom.url + "/graphs/kbqa2", {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(spec),
  });
  assert.ok(res.status < 300, await res.text());
  res = await post(loom.url, "/runs/wait", { assistant_id: "kbqa2", input: { question: "anything" } });
  assert.equal(res.status, 200);
  assert.equal(JSON.parse(await res.text()).documents[0].source, "owls.md"); // the only one left
});

test("a missing remote index and a dimension mismatch are clear errors", async () => {
  let res = await post(loom.url, "/indexes/nowhere/search", { query: "x" });
  assert.equal(res.status, 404);
  assert.match(await res.text(), /no index 'nowhere' at http/);
  await post(remote.url, "/indexes", { name: "wide", dimension: 16, metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } } });
  res = await post(loom.url, "/indexes/wide/documents", { source: "a.txt", text: "hello" });
  assert.equal(res.status, 422);
  assert.match(await res.text(), /dimension 16; the openai\/text-embedding-3-small embedder makes 8/);
});
