// Documents and hybrid search over HTTP: POST documents into an index
// (created on first use), search it in every mode, re-POST (unchanged),
// list, delete; the same index is visible to the Pinecone API, and a
// registered graph with a `retrieve` node reads it through a run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startLoom } from "./harness.mjs";

let loom;
const post = (p, body) =>
  fetch(loom.url + p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

before(async () => {
  loom = await startLoom();
});
after(async () => {
  await loom?.stop();
});

const corpus = [
  { source: "owls.md", text: "# Owls\n\nOwls hunt mice at night with silent flight and sharp hearing.\n" },
  { source: "bridges.html", text: "<h1>Bridges</h1><p>Suspension bridges hang the deck from steel cables.</p><script>x()</script>" },
  { source: "bread.txt", text: "Knead the dough until it is elastic, then let the yeast rise." },
];

test("POST documents, then search in every mode", async () => {
  for (const d of corpus) {
    const res = await post("/indexes/kb/documents", d);
    const text = await res.text();
    assert.equal(res.status, 201, text);
    const body = JSON.parse(text);
    assert.equal(body.unchanged, false);
    assert.ok(body.chunks >= 1);
  }
  const again = await post("/indexes/kb/documents", corpus[0]);
  assert.equal(again.status, 200);
  assert.equal((await again.json()).unchanged, true);

  const first = async (query, mode) => {
    const res = await post("/indexes/kb/search", { query, mode, top_k: 2 });
    assert.equal(res.status, 200);
    return (await res.json()).hits[0];
  };
  assert.equal((await first("steel cables", "keyword")).source, "bridges.html");
  assert.equal((await first("owls hunting mice", "vector")).source, "owls.md");
  const hit = await first("kneading dough with yeast", "hybrid");
  assert.equal(hit.source, "bread.txt");
  assert.match(hit.content, /elastic/);
  const filtered = await post("/indexes/kb/search", { query: "steel cables", filter: { source: "owls.md" } });
  assert.equal((await filtered.json()).hits[0].source, "owls.md");
});

test("the index is a Pinecone index too; listing and deleting documents", async () => {
  const stats = await (await post("/indexes/kb/describe_index_stats", {})).json();
  assert.equal(stats.dimension, 384);
  assert.equal(stats.totalVectorCount, 3);

  const list = await (await fetch(loom.url + "/indexes/kb/documents")).json();
  assert.equal(list.documents.length, 3);
  const bread = list.documents.find((d) => d.source === "bread.txt");
  assert.equal(bread.content_type, "text/plain");

  const del = await fetch(`${loom.url}/indexes/kb/documents/${bread.document_id}`, { method: "DELETE" });
  assert.equal(del.status, 204);
  const gone = await fetch(`${loom.url}/indexes/kb/documents/${bread.document_id}`);
  assert.equal(gone.status, 404);
  const hits = (await (await post("/indexes/kb/search", { query: "yeast dough" })).json()).hits;
  assert.ok(hits.every((h) => h.source !== "bread.txt"));
});

test("bad requests say what is wrong", async () => {
  let res = await post("/indexes/kb/documents", { text: "no source" });
  assert.equal(res.status, 422);
  res = await post("/indexes/kb/search", { query: "x", mode: "fuzzy" });
  assert.equal(res.status, 422);
  res = await post("/indexes/nothing-here/search", { query: "x" });
  assert.equal(res.status, 404);
  // Sizes of the wrong type were read as the default (or, negative, as huge).
  res = await post("/indexes/kb/documents", { source: "s.md", text: "x", chunk_size: "big" });
  assert.equal(res.status, 422);
  assert.match((await res.json()).message, /^'chunk_size' must be a number of bytes/);
  res = await post("/indexes/kb/documents", { source: "s.md", text: "x", overlap: -1 });
  assert.equal(res.status, 422);
  assert.match((await res.json()).message, /^'overlap' must be a number of bytes/);
  res = await post("/indexes/kb/documents", { source: "s.md", text: "x", chunk_size: 5 });
  assert.equal(res.status, 422);
  assert.match((await res.json()).message, /chunk size \(chunk_size, --chunk-size\) must be between 16/);
});

test("a graph's retrieve node searches the index during a run", async () => {
  const spec = {
    name: "kbqa",
    state: { question: { type: "string" }, documents: { type: "array" } },
    nodes: { search: { retrieve: { index: "kb", query: "question", top_k: 1 } } },
    edges: ["START -> search", "search -> END"],
  };
  let res = await fetch(loom.url + "/graphs/kbqa", {
    method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(spec),
  });
  assert.ok(res.status < 300, await res.text());
  res = await post("/runs/wait", { assistant_id: "kbqa", input: { question: "silent flight at night" } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  const values = JSON.parse(text);
  assert.equal(values.documents[0].source, "owls.md");
});
