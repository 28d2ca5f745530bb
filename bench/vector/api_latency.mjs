// Query latency through loom's Pinecone-compatible HTTP API, measured with
// the official Pinecone client (the one tests/integration installs):
// 20,000 random 128-dim vectors with metadata, then 1,000 sequential
// topK=10 queries without a filter, with a 10 % filter and with a very
// selective one (exact path). Prints p50/p99/mean in milliseconds.
//
//   node bench/vector/api_latency.mjs        (after `make build`)
import { createRequire } from "node:module";
import path from "node:path";
import { rmSync } from "node:fs";
import { root, startLoom } from "../../tests/integration/harness.mjs";

const require = createRequire(path.join(root, "tests/integration/package.json"));
const { Pinecone } = require("@pinecone-database/pinecone");

const N = 20000, DIM = 128, Q = 1000;
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
const vec = () => Array.from({ length: DIM }, rand);

const loom = await startLoom();
try {
  const pc = new Pinecone({ apiKey: "loom", controllerHostUrl: loom.url });
  await pc.createIndex({ name: "bench", dimension: DIM, metric: "cosine",
    spec: { serverless: { cloud: "aws", region: "us-east-1" } }, waitUntilReady: true });
  const index = pc.index({ name: "bench" });
  let t0 = performance.now();
  for (let b = 0; b < N; b += 500) {
    const records = [];
    for (let i = b; i < b + 500; i++)
      records.push({ id: `v${i}`, values: vec(), metadata: { genre: `g${i % 10}`, n: i } });
    await index.upsert({ records });
  }
  const upsertS = (performance.now() - t0) / 1000;
  console.log(`upserted ${N} vectors of ${DIM} dims in batches of 500: ${upsertS.toFixed(1)} s (${Math.round(N / upsertS)} vectors/s)`);

  const cases = [
    ["no filter", undefined],
    ["filter genre = g3 (10 %)", { genre: { $eq: "g3" } }],
    ["filter n in 5 ids (0.025 %)", { n: { $in: [1, 500, 9000, 12345, 19999] } }],
  ];
  console.log("\ncase                              p50 ms   p99 ms  mean ms");
  for (const [name, filter] of cases) {
    const lat = [];
    for (let i = 0; i < Q; i++) {
      const q = vec();
      const t = performance.now();
      const r = await index.query({ vector: q, topK: 10, filter, includeMetadata: true });
      lat.push(performance.now() - t);
      if (r.matches.length === 0) throw new Error("no matches");
    }
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    const mean = lat.reduce((a, b) => a + b, 0) / lat.length;
    console.log(`${name.padEnd(32)} ${pct(0.5).toFixed(2).padStart(7)} ${pct(0.99).toFixed(2).padStart(8)} ${mean.toFixed(2).padStart(8)}`);
  }
} finally {
  await loom.stop();
  rmSync(loom.dataDir, { recursive: true, force: true });
}
