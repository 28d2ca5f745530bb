// Model text in the LangGraph stream modes `messages`, `messages-tuple`
// and `events`, through the official SDK, with an agent node that calls
// the scripted model server twice (a tool call with some text, then the
// answer): each model call is a message of its own, whose id is the id of
// the assistant message the agent leaves in the state; and a `messages`
// stream read again (joined whole, from a Last-Event-ID, after a restart,
// or through the thread's stream) is the live one, byte for byte.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { postOk as post, startLoom, startModelServer } from "./harness.mjs";

const GRAPH = `name: helper
state:
  q: {type: string}
  answer: {}
  messages: {type: array}
nodes:
  agent:
    kind: agent
    model: scripted/small
    prompt: "{q}"
    tools: [calculator]
    output: answer
    messages: messages
edges:
  - START -> agent
  - agent -> END
`;

const FIRST = "Let me work that out with the calculator first.";
const ANSWER = "Six times seven is 42, as the calculator says.";

let models, loom, client, dir, dataDir;

async function startServer() {
  loom = await startLoom({ dataDir, env: { LOOM_GRAPHS: dir, LOOM_ENDPOINTS: `scripted=${models.url}/v1` } });
  client = new Client({ apiUrl: loom.url });
}

before(async () => {
  models = await startModelServer();
  dir = mkdtempSync(path.join(os.tmpdir(), "loom-messages-"));
  dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-messages-data-"));
  writeFileSync(path.join(dir, "helper.yaml"), GRAPH);
  await startServer();
});

after(async () => {
  await loom?.stop();
  models?.stop();
  for (const d of [dir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

// Two model answers, streamed a few characters at a time with a pause
// between chunks, so each arrives as several deltas. With `burst`, the
// first comes without pauses: the call ends, its (sync) tool runs and the
// next call starts on the model loop before the run's side has emitted
// the first call's text, which must still go out under the first id.
async function script({ burst = false } = {}) {
  await post(`${models.url}/__reset`, {});
  await post(`${models.url}/__script`, [
    {
      kind: "openai",
      content: FIRST,
      tool_calls: [{ id: "c1", name: "calculator", arguments: JSON.stringify({ expression: "6*7" }) }],
      chunk_delay_ms: burst ? 0 : 3,
    },
    { kind: "openai", content: ANSWER, chunk_delay_ms: 3 },
  ]);
}

async function collect(iter) {
  const out = [];
  for await (const part of iter) out.push(part);
  return out;
}

// The assistant messages the agent left in the thread's state.
async function stateMessages(threadId) {
  const state = await client.threads.getState(threadId);
  return state.values.messages.filter((m) => m.role === "assistant");
}

test("an agent's two model calls stream as two messages, with the ids of the state's messages", async () => {
  await script({ burst: true });
  const t = await client.threads.create();
  const parts = await collect(
    client.runs.stream(t.thread_id, "helper", {
      input: { q: "What is six times seven?" },
      streamMode: ["messages", "messages-tuple", "events"],
    }),
  );
  const kept = await stateMessages(t.thread_id);
  assert.equal(kept.length, 2);
  assert.deepEqual(kept.map((m) => m.content), [FIRST, ANSWER]);
  assert.equal(kept[0].tool_calls[0].name, "calculator");
  const ids = kept.map((m) => m.id);
  assert.ok(ids[0] && ids[1] && ids[0] !== ids[1]);

  // messages: one messages/metadata per model call, then the text so far,
  // each message growing from its own start.
  const metas = parts.filter((p) => p.event === "messages/metadata").map((p) => Object.keys(p.data)[0]);
  assert.deepEqual(metas, ids);
  const partials = parts.filter((p) => p.event === "messages/partial").map((p) => p.data[0]);
  for (const [i, id] of ids.entries()) {
    const mine = partials.filter((m) => m.id === id);
    assert.ok(mine.length >= 1, `partials of message ${i}`);
    mine.forEach((m, k) => k && assert.ok(m.content.startsWith(mine[k - 1].content)));
    assert.equal(mine.at(-1).content, kept[i].content);
  }
  assert.equal(partials.filter((m) => !ids.includes(m.id)).length, 0);

  // messages-tuple: each chunk names its message; a message's chunks add
  // up to its text.
  const chunks = parts.filter((p) => p.event === "messages").map((p) => p.data[0]);
  assert.deepEqual([...new Set(chunks.map((c) => c.id))], ids);
  for (const [i, id] of ids.entries())
    assert.equal(chunks.filter((c) => c.id === id).map((c) => c.content).join(""), kept[i].content);

  // events: on_chat_model_stream chunks carry the same ids.
  const streamed = parts
    .filter((p) => p.event === "events" && p.data.event === "on_chat_model_stream")
    .map((p) => p.data.data.chunk);
  assert.deepEqual([...new Set(streamed.map((c) => c.id))], ids);
  assert.equal(streamed.filter((c) => c.id === ids[1]).map((c) => c.content).join(""), ANSWER);
});

test("a `messages` stream read again is the live one: joined, from a Last-Event-ID, through the thread, after a restart", async () => {
  await script();
  const t = await client.threads.create();
  const live = await collect(
    client.runs.stream(t.thread_id, "helper", { input: { q: "What is six times seven?" }, streamMode: ["messages"] }),
  );
  const runId = live[0].data.run_id;
  assert.equal(live.at(-1).event, "end");
  const partials = live.filter((p) => p.event === "messages/partial");
  assert.ok(partials.length >= 4);
  assert.equal(partials.at(-1).data[0].content, ANSWER);

  const whole = await collect(client.runs.joinStream(t.thread_id, runId, { streamMode: ["messages"] }));
  assert.deepEqual(whole, live);
  // From the middle of the second message: its first partials are rebuilt
  // from deltas the stream does not send.
  const cut = live.indexOf(partials.at(-2));
  const rest = await collect(
    client.runs.joinStream(t.thread_id, runId, { streamMode: ["messages"], lastEventId: live[cut - 1].id }),
  );
  assert.deepEqual(rest, live.slice(cut));

  // The thread's stream, from the same event of the run (it never ends by
  // itself: stop at the run's end).
  const ac = new AbortController();
  const seen = [];
  try {
    for await (const p of client.threads.joinStream(t.thread_id, {
      streamMode: ["messages"],
      lastEventId: `${runId}:${live[cut - 1].id}`,
      signal: ac.signal,
    })) {
      seen.push(p);
      if (p.event === "end") ac.abort();
    }
  } catch (err) {
    if (err.name !== "AbortError") throw err;
  }
  assert.deepEqual(
    seen.map((p) => [p.event, p.data]),
    live.slice(cut).map((p) => [p.event, p.data]),
  );

  // After a restart the events come from the store.
  await loom.stop({ keepData: true });
  await startServer();
  const stored = await collect(client.runs.joinStream(t.thread_id, runId, { streamMode: ["messages"] }));
  assert.deepEqual(stored, live);
  const storedRest = await collect(
    client.runs.joinStream(t.thread_id, runId, { streamMode: ["messages"], lastEventId: live[cut - 1].id }),
  );
  assert.deepEqual(storedRest, live.slice(cut));
});
