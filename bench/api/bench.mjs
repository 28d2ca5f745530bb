// Drives one LangGraph-compatible server with the official SDK and prints
// table rows: sequential runs.wait latency, runs.wait throughput at 1, 10
// and 100 concurrent clients, and streamed runs with the time to the last
// event and the time to the stream's close measured apart.
//   node bench.mjs URL LABEL [seconds per concurrency level]
import { Client } from "@langchain/langgraph-sdk";

const [url, label, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg ?? 5);
const graph = "chain3";
const client = new Client({ apiUrl: url, callerOptions: { maxConcurrency: 1000, maxRetries: 0 } });
const input = { log: [] };

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => x.toFixed(2);
const row = (test, clients, n, lat, rate) =>
  console.log(
    `${label.padEnd(12)} ${test.padEnd(22)} ${String(clients).padStart(7)} ${String(n).padStart(7)} ` +
      `${ms(pct(lat, 50)).padStart(9)} ${ms(pct(lat, 95)).padStart(9)} ${rate.toFixed(0).padStart(9)}`,
  );

async function waitOnce() {
  const t0 = performance.now();
  const out = await client.runs.wait(null, graph, { input });
  if (out.log?.length !== 3) throw new Error(`unexpected result ${JSON.stringify(out)}`);
  return performance.now() - t0;
}

async function sequential(n) {
  const lat = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) lat.push(await waitOnce());
  row("wait sequential", 1, n, lat, n / ((performance.now() - t0) / 1000));
}

async function concurrent(clients) {
  const lat = [];
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) lat.push(await waitOnce());
    }),
  );
  row("wait throughput", clients, lat.length, lat, lat.length / ((performance.now() - t0) / 1000));
}

async function streamed(n) {
  const last = [], closed = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    let tLast = t0;
    for await (const part of client.runs.stream(null, graph, { input, streamMode: "values" })) {
      if (part.event === "values") tLast = performance.now();
    }
    last.push(tLast - t0);
    closed.push(performance.now() - t0);
  }
  row("stream: last values", 1, n, last, 0);
  row("stream: closed", 1, n, closed, 0);
}

for (let i = 0; i < 20; i++) await waitOnce(); // warm-up
await sequential(Number(process.env.SEQ_RUNS ?? 100));
for (const c of [1, 10, 100]) await concurrent(c);
await streamed(Number(process.env.STREAM_RUNS ?? 50));
