// A lean fetch for the SDK's callerOptions.fetch: node:http with
// keep-alive connections instead of the global fetch (undici), which
// costs the client more CPU per call than loom spends on the whole run.
// Returns a real Response; the body streams (SSE arrives as it is sent).
import http from "node:http";
import { Readable } from "node:stream";

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

export function httpFetch(input, init = {}) {
  const url = new URL(typeof input === "string" ? input : input.url);
  const headers = {};
  new Headers(init.headers).forEach((v, k) => (headers[k] = v));
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? "GET", headers, agent, signal: init.signal ?? undefined },
      (res) => {
        const h = new Headers();
        for (let i = 0; i < res.rawHeaders.length; i += 2) h.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
        const status = res.statusCode;
        const opts = { status, statusText: res.statusMessage, headers: h };
        if (status === 204 || status === 304 || init.method === "HEAD") {
          res.resume();
          return resolve(new Response(null, opts));
        }
        if (String(res.headers["content-type"]).startsWith("text/event-stream"))
          return resolve(new Response(Readable.toWeb(res), opts)); // as it comes
        const chunks = []; // anything else: whole, as the SDK reads it whole
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(new Response(Buffer.concat(chunks), opts)));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body ?? undefined);
  });
}
