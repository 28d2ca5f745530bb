// Starts a real loom server for a test: a free loopback port, a fresh data
// directory, the example graphs; stops it (and removes the directory) after.
// Also starts the scripted model server (tests/llm-server) for tests whose
// graphs call a model.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const loomBin = process.env.LOOM_BIN ?? path.join(root, "build/loom");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function waitReady(url, child, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`loom exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`loom not ready within ${ms} ms`);
}

// Options: env (extra environment), args (extra `loom serve` flags),
// dataDir (reuse one, e.g. across a restart), port (known in advance, e.g.
// for a setting that points the server at itself).
export async function startLoom(opts = {}) {
  const port = opts.port ?? (await freePort());
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "loom-it-"));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(loomBin, ["serve", ...(opts.args ?? [])], {
    env: {
      ...process.env,
      DATABASE_URL: "",
      REDIS_URL: "",
      LOOM_ADDR: `127.0.0.1:${port}`,
      LOOM_DATA_DIR: dataDir,
      LOOM_GRAPHS: `${root}/examples/graphs:${root}/examples/crews`,
      LOOM_LOG_LEVEL: "warn",
      ...(opts.env ?? {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  try {
    await waitReady(url, child, 10000);
  } catch (err) {
    child.kill("SIGKILL");
    throw new Error(`${err.message}\n${output}`);
  }
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    url,
    port,
    dataDir,
    child,
    output: () => output,
    // SIGTERM, wait for exit; returns {code, signal}.
    async stop({ keepData = false, signal = "SIGTERM" } = {}) {
      if (child.exitCode === null) child.kill(signal);
      const result = await exited;
      if (!keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return result;
    },
  };
}

// The scripted model server on a free port: `url` is its base (the
// OpenAI-compatible API is under /v1; /__script, /__default, /__reset and
// /__requests drive it); `stop()` ends it.
export async function startModelServer() {
  const child = spawn(process.execPath, [path.join(root, "tests/llm-server/server.mjs")],
                      { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`model server exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child, stop: () => child.kill() };
}

// POSTs `body` as JSON, asserts a 200 (the body in the message if not) and
// returns the parsed answer.
export async function postOk(url, body) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" },
                                 body: JSON.stringify(body) });
  assert.equal(res.status, 200, await res.clone().text());
  return res.json();
}
