// `loom run` resolves a `retrieve` node's index as `loom serve` does
// (src/agents/rag_backends.c): LOOM_EMBED_MODEL's embedder (here the
// scripted model server's embeddings through the OpenAI-compatible layer)
// and vectors in the data directory, or in a remote Pinecone index
// (LOOM_PINECONE_URL: another loom's Pinecone-compatible API).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loomBin, startLoom, startModelServer } from "./harness.mjs";

let models, remote, dir;

before(async () => {
  models = await startModelServer();
  remote = await startLoom();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loom-cli-backends-"));
  fs.writeFileSync(path.join(dir, "owls.txt"), "Owls fly silently at night thanks to soft feathers.");
  fs.writeFileSync(path.join(dir, "bread.txt"), "Bread rises because yeast ferments the dough.");
  fs.writeFileSync(path.join(dir, "qa.yaml"),
    "name: qa\n" +
    "state:\n  question: {type: string}\n  documents: {type: array}\n" +
    "nodes:\n  search:\n    retrieve: {index: kb, query: question, top_k: 1, mode: vector}\n" +
    "edges: ['START -> search', 'search -> END']\n");
});

after(async () => {
  await remote?.stop();
  models?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function loom(data, env, ...args) {
  const r = spawnSync(loomBin, args, {
    encoding: "utf8",
    env: { ...process.env, LOOM_DATA_DIR: data, LOOM_LOG_LEVEL: "warn",
           LOOM_EMBED_MODEL: "openai/text-embedding-3-small",
           OPENAI_BASE_URL: `${models.url}/v1`, OPENAI_API_KEY: "sk-test", ...env },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const post = (url, body) => fetch(url, { method: "POST", headers: { "content-type": "application/json" },
                                        body: JSON.stringify(body) });

const embedded = async () => {
  const log = await (await fetch(`${models.url}/__requests`)).json();
  return log.filter((r) => r.path.endsWith("/embeddings")).flatMap((r) => [].concat(r.json.input));
};

// The scripted vectors are a hash of the text: the exact text of a
// document is nearest to it and to nothing else.
async function runFinds(data, env) {
  await post(`${models.url}/__reset`, {});
  const r = loom(data, env, "run", path.join(dir, "qa.yaml"), "--db", data, "--quiet",
                 "--input", JSON.stringify({ question: "Bread rises because yeast ferments the dough." }));
  assert.equal(r.code, 0, r.err);
  const final = JSON.parse(r.out);
  assert.equal(final.status, "success");
  assert.equal(final.values.documents.length, 1);
  assert.match(final.values.documents[0].source, /bread\.txt$/);
  // The query went to the provider, not to the built-in hash embedder.
  assert.ok((await embedded()).includes("Bread rises because yeast ferments the dough."));
}

test("loom run's retrieve node uses LOOM_EMBED_MODEL over a local index", async () => {
  const data = path.join(dir, "data-local");
  for (const f of ["owls.txt", "bread.txt"]) {
    const r = loom(data, {}, "ingest", path.join(dir, f), "--index", "kb", "--data-dir", data);
    assert.equal(r.code, 0, r.err);
  }
  await runFinds(data, {});
  // Without the setting the index (8 dimensions) does not fit the hash
  // embedder: the run fails and says why, rather than searching wrongly.
  const r = loom(data, { LOOM_EMBED_MODEL: "" }, "run", path.join(dir, "qa.yaml"), "--db", data, "--quiet",
                 "--input", JSON.stringify({ question: "owls" }));
  assert.match(r.out + r.err, /dimension 8; the hash embedder makes 384/);
});

test("loom run's retrieve node reads a remote index at LOOM_PINECONE_URL", async () => {
  const res = await post(`${remote.url}/indexes`, { name: "kb", dimension: 8, metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } } });
  assert.equal(res.status, 201, await res.text());
  const data = path.join(dir, "data-remote");
  const env = { LOOM_PINECONE_URL: remote.url, PINECONE_API_KEY: "remote-key" };
  for (const f of ["owls.txt", "bread.txt"]) {
    const r = loom(data, env, "ingest", path.join(dir, f), "--index", "kb", "--data-dir", data);
    assert.equal(r.code, 0, r.err);
  }
  const stats = await (await post(`${remote.url}/indexes/kb/describe_index_stats`, {})).json();
  assert.equal(stats.totalVectorCount, 2);
  assert.ok(!fs.existsSync(path.join(data, "indexes", "kb")), "no local copy of the vectors");
  await runFinds(data, env);
});

// `loom search` and `loom ingest` open their collection through the same
// resolver as `loom serve` and `loom run`: same settings, same errors.
test("loom search and loom ingest resolve and fail as loom serve does", async () => {
  const data = path.join(dir, "data-local"); // kb: 8 dimensions, from the first test
  const bread = "Bread rises because yeast ferments the dough.";
  let r = loom(data, {}, "search", bread, "--index", "kb", "--mode", "vector", "--top-k", "1",
               "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(JSON.parse(r.out)[0].source, /bread\.txt$/);
  // The flag wins over the setting.
  r = loom(data, { LOOM_EMBED_MODEL: "" }, "search", bread, "--index", "kb", "--mode", "vector",
           "--embed-model", "openai/text-embedding-3-small", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(JSON.parse(r.out)[0].source, /bread\.txt$/);
  // The server's words for a dimension mismatch, for search and ingest.
  for (const args of [["search", "owls"], ["ingest", path.join(dir, "owls.txt")]]) {
    r = loom(data, { LOOM_EMBED_MODEL: "" }, ...args, "--index", "kb", "--data-dir", data);
    assert.equal(r.code, 1);
    assert.match(r.err, /index 'kb' has dimension 8; the hash embedder makes 384/);
  }
  // And for a remote index that does not exist.
  r = loom(data, { LOOM_PINECONE_URL: remote.url, PINECONE_API_KEY: "remote-key" }, "search", "x",
           "--index", "nowhere", "--data-dir", data);
  assert.equal(r.code, 1);
  assert.match(r.err, /no index 'nowhere' at http\S+ \(HTTP 404: create it there first\)/);
  // A missing local index.
  r = loom(data, {}, "search", "x", "--index", "nowhere", "--data-dir", data);
  assert.equal(r.code, 1);
  assert.match(r.err, /no index 'nowhere' \(ingest into it first\)/);
});

// Opening the data directory's indexes loads none of them: `loom search`
// and `loom ingest` load the index they use, so a corrupt index next to
// it does not stop them, and searching the corrupt one says what is wrong.
test("loom search works beside a corrupt index and names the broken one", async () => {
  const data = path.join(dir, "data-corrupt");
  const hash = { LOOM_EMBED_MODEL: "" };
  for (const index of ["kb", "other"]) {
    const r = loom(data, hash, "ingest", path.join(dir, "owls.txt"), "--index", index, "--data-dir", data);
    assert.equal(r.code, 0, r.err);
  }
  const other = path.join(data, "indexes", "other");
  const snaps = fs.readdirSync(other).filter((f) => f.endsWith(".snap"));
  assert.ok(snaps.length > 0, "the ingest left a snapshot");
  for (const f of snaps) fs.writeFileSync(path.join(other, f), "not a snapshot");

  let r = loom(data, hash, "search", "owls at night", "--index", "kb", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(JSON.parse(r.out)[0].source, /owls\.txt$/);
  r = loom(data, hash, "ingest", path.join(dir, "bread.txt"), "--index", "kb", "--data-dir", data);
  assert.equal(r.code, 0, r.err);

  r = loom(data, hash, "search", "owls", "--index", "other", "--data-dir", data);
  assert.equal(r.code, 1);
  assert.match(r.err, /index 'other' could not be opened: .*\.snap/);
  // A command runs once: it does not promise an attempt it will not make.
  assert.doesNotMatch(r.err, /next attempt/);
});

// An index has one owner at a time, across processes: while `loom serve`
// holds it, `loom ingest` and `loom search` on the same data directory are
// refused and say why (a second process replaying the log would cut off
// what the server is appending); once the server stops they work.
test("loom ingest and loom search refuse an index that loom serve holds", async () => {
  const data = path.join(dir, "data-owned");
  const hash = { LOOM_EMBED_MODEL: "" };
  let r = loom(data, hash, "ingest", path.join(dir, "owls.txt"), "--index", "kb", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  const server = await startLoom({ dataDir: data, env: hash });
  try {
    // The server loads its indexes in the background once started.
    for (let i = 0; i < 100; i++) {
      r = loom(data, hash, "search", "owls", "--index", "kb", "--data-dir", data);
      if (r.code !== 0) break;
      await new Promise((ok) => setTimeout(ok, 50));
    }
    assert.equal(r.code, 1);
    assert.match(r.err, /open elsewhere \(another loom process, such as loom serve, has it\)/);
    assert.doesNotMatch(r.err, /next attempt/);
    r = loom(data, hash, "ingest", path.join(dir, "bread.txt"), "--index", "kb", "--data-dir", data);
    assert.equal(r.code, 1);
    assert.match(r.err, /open elsewhere/);
    assert.doesNotMatch(r.err, /next attempt/);
  } finally {
    await server.stop({ keepData: true });
  }
  r = loom(data, hash, "ingest", path.join(dir, "bread.txt"), "--index", "kb", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  r = loom(data, hash, "search", "yeast", "--index", "kb", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(JSON.parse(r.out)[0].source, /bread\.txt$/);
});
