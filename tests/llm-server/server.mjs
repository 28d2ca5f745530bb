// A scripted model server for loom's tests.
//
// What: speaks the OpenAI chat-completions + embeddings and the Anthropic
// Messages wire formats (JSON and streaming), answering from a queue of
// scripted responses, and records every request it received so a test can
// assert on exactly what loom sent.
//
// How: plain node:http, no dependencies. `node server.mjs [--port N]
// [--delay-ms N]` listens on 127.0.0.1 (port 0 = a free one) and prints
// one line `PORT <n>` on stdout once it listens.
//
// Control endpoints:
//   POST /__script    body: a response spec or an array of them; appended
//                     to the queue (each real request takes the next one)
//   POST /__reset     empties the queue and the request log
//   GET  /__requests  the request log: [{method, path, headers, body, json}]
//   POST /__default   body: {delay_ms} for requests when the queue is empty
//
// A response spec (all fields optional unless said):
//   {kind: "openai", content, tool_calls: [{id, name, arguments}],
//    finish_reason, usage: {prompt_tokens, completion_tokens}, model,
//    omit_index, arg_chunk, content_chunk}          chat completion; streams
//                                                  when the request says so
//   {kind: "anthropic", content: [{type:"text", text} | {type:"tool_use",
//    id, name, input}], stop_reason, usage: {input_tokens, output_tokens},
//    arg_chunk, ping}                              Messages API; same
//   {kind: "embeddings", vectors: [[...]]}         else deterministic vectors
//   {kind: "error", status, error: {...} | body, headers}   an error reply
//   {kind: "raw", status, headers, body | chunks: ["..."]}  bytes as given
//   Any spec may add: delay_ms (before the status line), chunk_delay_ms
//   (between stream chunks), stall_after: n (stop after n chunks, never
//   finish), error_after: n (a stream error event after n chunks), and
//   headers (extra response headers).
import http from 'node:http';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

let queue = [];
let requests = [];
let defaults = { delay_ms: opt('--delay-ms', 0) };
const quiet = args.includes('--no-record');
let seq = 0;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

// Splits a string into pieces of at most n characters (n <= 0: one piece).
function pieces(s, n) {
  if (!n || n <= 0 || s.length === 0) return [s];
  const out = [];
  for (let i = 0; i < s.length; i += n) out.push(s.slice(i, i + n));
  return out;
}

function openaiUsage(u = {}) {
  const p = u.prompt_tokens ?? 9;
  const c = u.completion_tokens ?? 12;
  return {
    prompt_tokens: p,
    completion_tokens: c,
    total_tokens: p + c,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

function openaiJson(spec, req) {
  const id = `chatcmpl-${++seq}`;
  const message = { role: 'assistant', content: spec.content ?? null, refusal: null, annotations: [] };
  if (spec.tool_calls) {
    message.tool_calls = spec.tool_calls.map((t) => ({
      id: t.id,
      type: 'function',
      function: { name: t.name, arguments: t.arguments },
    }));
  }
  if (!spec.tool_calls && message.content === null) message.content = 'Hello from the scripted server.';
  return {
    id,
    object: 'chat.completion',
    created: 1732572000,
    model: spec.model ?? req.json?.model ?? 'gpt-4o-mini',
    choices: [{
      index: 0,
      message,
      logprobs: null,
      finish_reason: spec.finish_reason ?? (spec.tool_calls ? 'tool_calls' : 'stop'),
    }],
    usage: openaiUsage(spec.usage),
    service_tier: 'default',
    system_fingerprint: 'fp_scripted',
  };
}

// The chunks of an OpenAI stream, as the `data:` payloads (objects).
function openaiChunks(spec, req) {
  const id = `chatcmpl-${++seq}`;
  const model = spec.model ?? req.json?.model ?? 'gpt-4o-mini';
  const withUsage = req.json?.stream_options?.include_usage === true;
  const chunk = (delta, finish = null) => {
    const c = {
      id, object: 'chat.completion.chunk', created: 1732572000, model,
      system_fingerprint: 'fp_scripted',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (withUsage) c.usage = null;
    return c;
  };
  const out = [chunk({ role: 'assistant', content: '', refusal: null })];
  const text = spec.content ?? (spec.tool_calls ? null : 'Hello from the scripted server.');
  if (text) for (const p of pieces(text, spec.content_chunk ?? 4)) out.push(chunk({ content: p }));
  (spec.tool_calls ?? []).forEach((t, i) => {
    const head = { id: t.id, type: 'function', function: { name: t.name, arguments: '' } };
    out.push(chunk({ tool_calls: [spec.omit_index ? head : { index: i, ...head }] }));
    for (const p of pieces(t.arguments, spec.arg_chunk ?? 5)) {
      const d = { function: { arguments: p } };
      out.push(chunk({ tool_calls: [spec.omit_index ? d : { index: i, ...d }] }));
    }
  });
  out.push(chunk({}, spec.finish_reason ?? (spec.tool_calls ? 'tool_calls' : 'stop')));
  if (withUsage) {
    out.push({
      id, object: 'chat.completion.chunk', created: 1732572000, model,
      system_fingerprint: 'fp_scripted', choices: [], usage: openaiUsage(spec.usage),
    });
  }
  return out.map((c) => `data: ${JSON.stringify(c)}\n\n`).concat(['data: [DONE]\n\n']);
}

function anthropicJson(spec, req) {
  return {
    id: `msg_${++seq}`,
    type: 'message',
    role: 'assistant',
    model: spec.model ?? req.json?.model ?? 'claude-3-5-haiku-latest',
    content: spec.content ?? [{ type: 'text', text: 'Hello from the scripted server.' }],
    stop_reason: spec.stop_reason ??
      ((spec.content ?? []).some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
    stop_sequence: null,
    usage: {
      input_tokens: spec.usage?.input_tokens ?? 25,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      output_tokens: spec.usage?.output_tokens ?? 15,
    },
  };
}

function anthropicEvents(spec, req) {
  const full = anthropicJson(spec, req);
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const start = { ...full, content: [], stop_reason: null,
    usage: { ...full.usage, output_tokens: 1 } };
  const out = [ev('message_start', { message: start })];
  full.content.forEach((b, index) => {
    if (b.type === 'text') {
      out.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
      if (index === 0 && spec.ping !== false) out.push(ev('ping', {}));
      for (const p of pieces(b.text, spec.content_chunk ?? 4))
        out.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: p } }));
    } else if (b.type === 'tool_use') {
      out.push(ev('content_block_start', { index,
        content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }));
      for (const p of pieces(JSON.stringify(b.input ?? {}), spec.arg_chunk ?? 5))
        out.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: p } }));
    }
    out.push(ev('content_block_stop', { index }));
  });
  out.push(ev('message_delta', { delta: { stop_reason: full.stop_reason, stop_sequence: null },
    usage: { output_tokens: full.usage.output_tokens } }));
  out.push(ev('message_stop', {}));
  return out;
}

// Deterministic vector for input text: values in [-1, 1] from a string hash.
function vectorFor(text, dims) {
  let h = 2166136261;
  for (const ch of String(text)) h = Math.imul(h ^ ch.codePointAt(0), 16777619) >>> 0;
  const v = [];
  for (let i = 0; i < dims; i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
    v.push(Math.fround(((h % 2001) - 1000) / 1000));
  }
  return v;
}

function embeddingsJson(spec, req) {
  const input = req.json?.input;
  const inputs = Array.isArray(input) ? input : [input];
  const dims = req.json?.dimensions ?? 8;
  const b64 = req.json?.encoding_format === 'base64';
  const data = inputs.map((t, index) => {
    const v = spec.vectors?.[index] ?? vectorFor(t, dims);
    const embedding = b64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v;
    return { object: 'embedding', index, embedding };
  });
  const tokens = inputs.reduce((n, t) => n + String(t).split(/\s+/).length, 0);
  return { object: 'list', data, model: req.json?.model ?? 'text-embedding-3-small',
    usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

// Which built-in format a request path asks for.
function kindFor(path) {
  if (path.endsWith('/chat/completions')) return 'openai';
  if (path.endsWith('/embeddings')) return 'embeddings';
  if (path.endsWith('/messages')) return 'anthropic';
  return 'unknown';
}

function streamError(kind) {
  if (kind === 'anthropic')
    return 'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';
  return 'data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}\n\n';
}

async function writeStream(res, spec, chunks, kind) {
  res.writeHead(spec.status ?? 200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...(spec.headers ?? {}),
  });
  for (let i = 0; i < chunks.length; i++) {
    if (spec.stall_after !== undefined && i === spec.stall_after) return; // never ends
    if (spec.error_after !== undefined && i === spec.error_after) {
      res.end(streamError(kind));
      return;
    }
    if (res.destroyed) return;
    res.write(chunks[i]);
    if (spec.chunk_delay_ms) await sleep(spec.chunk_delay_ms);
  }
  res.end();
}

async function answer(req, res, spec) {
  const kind = spec.kind ?? kindFor(req.path);
  if (spec.delay_ms ?? defaults.delay_ms) await sleep(spec.delay_ms ?? defaults.delay_ms);
  if (res.destroyed) return;
  if (spec.stall_before_headers) return;
  const headers = { 'x-request-id': `req_${seq + 1}`, ...(spec.headers ?? {}) };
  const streaming = req.json?.stream === true;
  switch (kind) {
    case 'openai':
      if (streaming) return writeStream(res, spec, openaiChunks(spec, req), kind);
      return send(res, 200, openaiJson(spec, req), headers);
    case 'anthropic':
      if (streaming) return writeStream(res, spec, anthropicEvents(spec, req), kind);
      return send(res, 200, anthropicJson(spec, req), headers);
    case 'embeddings':
      return send(res, 200, embeddingsJson(spec, req), headers);
    case 'error':
      return send(res, spec.status ?? 500, spec.body ?? { error: spec.error ?? {
        message: 'scripted error', type: 'server_error', param: null, code: null } }, headers);
    case 'raw':
      if (spec.chunks) return writeStream(res, spec, spec.chunks, kind);
      return send(res, spec.status ?? 200, spec.body ?? '', headers);
    default:
      return send(res, 404, { error: { message: `no route ${req.path}`, type: 'invalid_request_error',
        param: null, code: null } });
  }
}

async function control(req, res) {
  if (req.method === 'GET' && req.path === '/__requests') return send(res, 200, requests);
  if (req.method === 'POST' && req.path === '/__reset') {
    queue = [];
    requests = [];
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && req.path === '/__script') {
    const specs = Array.isArray(req.json) ? req.json : [req.json];
    queue.push(...specs);
    return send(res, 200, { queued: queue.length });
  }
  if (req.method === 'POST' && req.path === '/__default') {
    defaults = { ...defaults, ...req.json };
    return send(res, 200, defaults);
  }
  return send(res, 404, { error: 'unknown control endpoint' });
}

const server = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    const body = Buffer.concat(parts).toString('utf8');
    let json = null;
    try { json = body ? JSON.parse(body) : null; } catch { json = null; }
    const r = { method: req.method, path: req.url.split('?')[0], url: req.url,
      headers: req.headers, body, json };
    if (r.path.startsWith('/__')) return void control(r, res);
    if (!quiet) requests.push(r);
    answer(r, res, queue.length ? queue.shift() : {}).catch((err) => {
      if (!res.headersSent) send(res, 500, { error: { message: String(err) } });
    });
  });
});
server.keepAliveTimeout = 30000;
server.maxHeadersCount = 200;
server.headersTimeout = 120000;
server.requestTimeout = 0;
// A deep accept queue: benchmarks open thousands of connections at once.
server.listen(opt('--port', 0), '127.0.0.1', 8192, () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// --exit-with-stdin: exit when stdin closes, so a test that dies (and with
// it the pipe it holds) never leaves the server behind.
if (args.includes('--exit-with-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
