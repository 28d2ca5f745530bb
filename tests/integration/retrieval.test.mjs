// Retrieval from the command line, as a user meets it: `loom ingest` a
// directory of Markdown, HTML and text files about distinct topics,
// `loom search` it in every mode, re-ingest (nothing to do), change a file
// (its chunks are replaced), and run a graph whose `retrieve` node reads
// the same index.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const bin = process.env.LOOM_BIN || "build/loom";
let dir, docs, data;

function loom(...args) {
  const r = spawnSync(bin, args, { encoding: "utf8", env: { ...process.env, LOOM_DATA_DIR: data } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function search(text, mode) {
  const r = loom("search", text, "--index", "kb", "--mode", mode, "--top-k", "3", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loom-retrieval-"));
  docs = path.join(dir, "docs");
  data = path.join(dir, "data");
  fs.mkdirSync(path.join(docs, "nested"), { recursive: true });
  fs.writeFileSync(path.join(docs, "bees.md"),
    "# Honey bees\n\nBees collect nectar and pollen.\n\n## Hive\n\n" +
    "Worker bees build wax combs and the queen lays eggs in the hive.\n");
  fs.writeFileSync(path.join(docs, "nested", "rockets.html"),
    "<html><head><script>launch()</script></head><body><h1>Rockets</h1>" +
    "<p>A rocket engine burns propellant and oxidizer to make thrust.</p></body></html>");
  fs.writeFileSync(path.join(docs, "tea.txt"),
    "Green tea is steeped at 80 degrees for two minutes; black tea wants boiling water.");
  fs.writeFileSync(path.join(docs, "photo.png"), "not a document");
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("ingest a directory, then again: the second time nothing changes", () => {
  let r = loom("ingest", docs, "--index", "kb", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /3 files: 3 ingested \(\d+ chunks\), 0 unchanged, 0 failed/);
  assert.doesNotMatch(r.out, /photo\.png/);
  r = loom("ingest", docs, "--index", "kb", "--data-dir", data);
  assert.match(r.out, /3 files: 0 ingested \(0 chunks\), 3 unchanged, 0 failed/);
});

test("docs/ and ./docs name the same documents as docs; a missing path fails", () => {
  // Relative paths, as a user types them: the sources must not differ by
  // the trailing slash or the "./" (they did: "docs//bees.md", stored twice).
  const rel = (...args) => {
    const r = spawnSync(bin.startsWith("/") ? bin : path.resolve(bin), args,
                        { encoding: "utf8", cwd: dir, env: { ...process.env, LOOM_DATA_DIR: data } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  for (const arg of ["docs", "docs/", "./docs/", ".//docs//"]) {
    const r = rel("ingest", arg, "--index", "rel", "--data-dir", data);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /\/\//);
    if (arg !== "docs") assert.match(r.out, /3 files: 0 ingested \(0 chunks\), 3 unchanged/, arg);
  }
  const r = rel("ingest", "docs", "no-such-dir", "--index", "rel", "--data-dir", data);
  assert.equal(r.code, 1);
  assert.match(r.err, /no-such-dir: No such file or directory/);
  assert.match(r.out, /3 files: 0 ingested \(0 chunks\), 3 unchanged/);
});

test("`loom ingest .` and `loom ingest a.md` name a file the same: no ./, no dir/.., no trailing /", () => {
  const docsDir = path.join(dir, "docs");
  const at = (cwd, ...args) => {
    const r = spawnSync(bin.startsWith("/") ? bin : path.resolve(bin), args,
                        { encoding: "utf8", cwd, env: { ...process.env, LOOM_DATA_DIR: data } });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  let r = at(docsDir, "ingest", ".", "--index", "dot", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^ingested bees\.md /m);
  assert.match(r.out, /^ingested nested\/rockets\.html /m);
  assert.match(r.out, /3 files: 3 ingested/);
  // The same three files named every other way: the same documents.
  const ways = [["bees.md", "nested/rockets.html", "tea.txt"], ["./bees.md", "./nested/", "tea.txt"],
                ["nested/../bees.md", ".//nested//rockets.html", "./nested/.././tea.txt"],
                ["./"], ["nested/.."]];
  for (const args of ways) {
    r = at(docsDir, "ingest", ...args, "--index", "dot", "--data-dir", data);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /3 files: 0 ingested \(0 chunks\), 3 unchanged, 0 failed/, args.join(" "));
  }
  // From the parent: docs, ./docs/../docs and docs/ are one set of sources.
  for (const arg of ["./docs/../docs", "docs/", "docs/nested/../"]) {
    r = at(dir, "ingest", arg, "--index", "up", "--data-dir", data);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^(ingested|unchanged) docs\/nested\/rockets\.html /m, arg);
    assert.doesNotMatch(r.out, /\.\/|\.\.|\/\//, arg);
  }
  r = at(dir, "search", "propellant thrust", "--index", "dot", "--mode", "keyword", "--data-dir", data);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out)[0].source, "nested/rockets.html");
});

test("the right document comes first for keyword, vector and hybrid search", () => {
  assert.match(search("propellant thrust", "keyword")[0].source, /rockets\.html$/);
  assert.match(search("steeping green tea", "vector")[0].source, /tea\.txt$/);
  const hits = search("where does the queen lay eggs", "hybrid");
  assert.match(hits[0].source, /bees\.md$/);
  assert.equal(hits[0].heading, "Honey bees > Hive");
  // Scripts never reach the index.
  assert.equal(search("launch", "keyword").length, 0);
});

test("a changed file replaces its chunks", () => {
  fs.writeFileSync(path.join(docs, "tea.txt"), "Espresso is coffee forced through fine grounds.");
  const r = loom("ingest", docs, "--index", "kb", "--data-dir", data);
  assert.match(r.out, /3 files: 1 ingested \(1 chunks\), 2 unchanged, 0 failed/);
  assert.equal(search("green tea", "keyword").length, 0);
  assert.match(search("espresso coffee", "hybrid")[0].source, /tea\.txt$/);
});

test("bad invocations say what is wrong", () => {
  let r = loom("ingest", docs, "--data-dir", data);
  assert.equal(r.code, 2);
  assert.match(r.err, /--index NAME is required/);
  r = loom("search", "x", "--index", "missing", "--data-dir", data);
  assert.equal(r.code, 1);
  assert.match(r.err, /no index 'missing'/);
});

test("a graph's retrieve node reads the index", () => {
  const graph = path.join(dir, "qa.yaml");
  fs.writeFileSync(graph,
    "name: qa\n" +
    "state:\n  question: {type: string}\n  documents: {type: array}\n" +
    "nodes:\n  search:\n    retrieve: {index: kb, query: question, top_k: 1}\n" +
    "edges: ['START -> search', 'search -> END']\n");
  const r = loom("run", graph, "--input", JSON.stringify({ question: "rocket engine thrust" }),
    "--db", data, "--quiet");
  assert.equal(r.code, 0, r.err);
  const final = JSON.parse(r.out);
  assert.equal(final.status, "success");
  assert.equal(final.values.documents.length, 1);
  assert.match(final.values.documents[0].content, /propellant/);
});
