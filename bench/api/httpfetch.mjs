// A lean fetch for the SDK's callerOptions.fetch: node:http with
// keep-alive connections instead of the global fetch (undici), which
// costs the client more CPU per call than loom spends on the whole run.
// An event stream comes back as a real Response whose body streams (SSE
// arrives as it is sent). Any other answer is read whole, as the SDK reads
// it, into a minimal response: the members the SDK uses (status, ok,
// statusText, headers.get, text, json) without building undici's Headers
// and Response for every call, which on two cores shared by client and
// server was a third of the client's CPU per run.
import http from "node:http";
import { Readable } from "node:stream";

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

// A whole answer, read; what the SDK reads of a fetch Response.
class WholeResponse {
  constructor(res, bytes) {
    this.status = res.statusCode;
    this.statusText = res.statusMessage;
    this.ok = this.status >= 200 && this.status < 300;
    this.body = null;
    this.bodyUsed = false;
    this.bytes = bytes;
    const raw = res.headers; // node's, names lower-cased
    this.headers = {
      get: (name) => {
        const v = raw[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(", ") : String(v);
      },
      has: (name) => raw[name.toLowerCase()] !== undefined,
    };
  }
  async text() {
    this.bodyUsed = true;
    return this.bytes.toString("utf8");
  }
  async json() {
    return JSON.parse(await this.text());
  }
}

function streamedResponse(res) {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  return new Response(Readable.toWeb(res), { status: res.statusCode, statusText: res.statusMessage, headers });
}

export function httpFetch(input, init = {}) {
  const url = typeof input === "string" ? input : input.url;
  const headers = {}; // the SDK passes a Headers; node:http takes an object
  if (init.headers instanceof Headers) init.headers.forEach((v, k) => (headers[k] = v));
  else Object.assign(headers, init.headers);
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: init.method ?? "GET", headers, agent, signal: init.signal ?? undefined },
      (res) => {
        if (String(res.headers["content-type"]).startsWith("text/event-stream")) return resolve(streamedResponse(res));
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve(new WholeResponse(res, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(init.body ?? undefined);
  });
}
