// Drives one LangGraph-compatible server with the official SDK and prints
// table rows: sequential runs.wait latency, runs.wait throughput at 1, 10
// and 100 concurrent clients, and streamed runs with the time to the last
// event and the time to the stream's close measured apart.
//   node bench.mjs URL LABEL [seconds per concurrency level]
// Env: SEQ_RUNS, STREAM_RUNS; CLIENT_THREADS (default 2): the concurrent
// clients are spread over that many worker threads, each with its own SDK
// client and event loop, so the client side can use every core and caps
// the server less; SERVER_PGID: the server's process group, whose CPU
// time (user + system, every process in it) is printed per run, so what a
// server costs shows even where the client is the limit; SDK_FETCH: http
// (the default) sends the SDK's requests through its callerOptions.fetch
// hook to a lean node:http fetch (httpfetch.mjs), global leaves the SDK on
// the global fetch (undici), whose client CPU per call caps every server
// (the no-op floor server included) before loom's own cost does.
import { readdirSync, readFileSync } from "node:fs";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { Client } from "@langchain/langgraph-sdk";
import { httpFetch } from "./httpfetch.mjs";

const graph = "chain3";
const input = { log: [] };
const transport = process.env.SDK_FETCH === "global" ? {} : { fetch: httpFetch };
const newClient = (url) =>
  new Client({ apiUrl: url, callerOptions: { maxConcurrency: 1000, maxRetries: 0, ...transport } });

async function waitOnce(client) {
  const t0 = performance.now();
  const out = await client.runs.wait(null, graph, { input });
  if (out.log?.length !== 3) throw new Error(`unexpected result ${JSON.stringify(out)}`);
  return performance.now() - t0;
}

// `clients` loops of runs.wait for `ms` milliseconds; their latencies.
async function loops(client, clients, ms) {
  const lat = [];
  const deadline = performance.now() + ms;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline) lat.push(await waitOnce(client));
    }),
  );
  return lat;
}

if (!isMainThread) {
  // A worker: warm up its own connections, say ready, run when told.
  const client = newClient(workerData.url);
  await Promise.all(Array.from({ length: Math.min(workerData.clients, 10) }, () => waitOnce(client)));
  parentPort.once("message", async (ms) => parentPort.postMessage(await loops(client, workerData.clients, ms)));
  parentPort.postMessage("ready");
} else {
  await main();
}

// CPU seconds (user + system) of every process in group `pgid`, or NaN.
function groupCpu(pgid) {
  if (!pgid) return NaN;
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / 100; // USER_HZ
}

async function main() {
  const [url, label, secondsArg] = process.argv.slice(2);
  const seconds = Number(secondsArg ?? 5);
  const threads = Math.max(1, Number(process.env.CLIENT_THREADS ?? 2));
  const pgid = Number(process.env.SERVER_PGID ?? 0);
  const client = newClient(url);

  const pct = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
  };
  const ms = (x) => x.toFixed(2);
  // cpu: the server's CPU seconds over the test (NaN: not measured).
  const row = (test, clients, n, lat, rate, cpu) =>
    console.log(
      `${label.padEnd(12)} ${test.padEnd(22)} ${String(clients).padStart(7)} ${String(n).padStart(7)} ` +
        `${ms(pct(lat, 50)).padStart(9)} ${ms(pct(lat, 95)).padStart(9)} ${rate.toFixed(0).padStart(9)} ` +
        `${(Number.isNaN(cpu) ? "-" : ((cpu * 1000) / n).toFixed(3)).padStart(11)}`,
    );

  async function sequential(n) {
    const lat = [];
    const c0 = groupCpu(pgid);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) lat.push(await waitOnce(client));
    row("wait sequential", 1, n, lat, n / ((performance.now() - t0) / 1000), groupCpu(pgid) - c0);
  }

  // The clients, spread over worker threads (their own SDK clients).
  async function concurrent(clients) {
    const n = Math.min(threads, clients);
    const workers = Array.from({ length: n }, (_, i) => {
      const share = Math.floor(clients / n) + (i < clients % n ? 1 : 0);
      return new Worker(new URL(import.meta.url), { workerData: { url, clients: share } });
    });
    await Promise.all(workers.map((w) => new Promise((ok, fail) => w.once("message", ok).once("error", fail))));
    const c0 = groupCpu(pgid);
    const t0 = performance.now();
    const parts = await Promise.all(
      workers.map(
        (w) =>
          new Promise((ok, fail) => {
            w.once("message", ok).once("error", fail);
            w.postMessage(seconds * 1000);
          }),
      ),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = groupCpu(pgid) - c0;
    await Promise.all(workers.map((w) => w.terminate()));
    const lat = parts.flat();
    row("wait throughput", clients, lat.length, lat, lat.length / elapsed, cpu);
  }

  async function streamed(n) {
    const last = [],
      closed = [];
    const c0 = groupCpu(pgid);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      let tLast = t0;
      for await (const part of client.runs.stream(null, graph, { input, streamMode: "values" })) {
        if (part.event === "values") tLast = performance.now();
      }
      last.push(tLast - t0);
      closed.push(performance.now() - t0);
    }
    const cpu = groupCpu(pgid) - c0;
    row("stream: last values", 1, n, last, 0, cpu);
    row("stream: closed", 1, n, closed, 0, cpu);
  }

  for (let i = 0; i < 20; i++) await waitOnce(client); // warm-up
  await sequential(Number(process.env.SEQ_RUNS ?? 100));
  for (const c of [1, 10, 100]) await concurrent(c);
  await streamed(Number(process.env.STREAM_RUNS ?? 50));
}
