// The example graphs `make run` loads work end to end on a fresh server
// with no model configured: the research example's agent calls its tools
// in the order declared, and every model answer is the offline provider's,
// labelled as such.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startLoom } from "./harness.mjs";

const NO_MODEL = { OPENAI_API_KEY: "", ANTHROPIC_API_KEY: "", LOOM_MODEL: "", LOOM_ENDPOINTS: "" };

test("the research example runs on the offline provider", async () => {
  const loom = await startLoom({ env: NO_MODEL });
  try {
    const res = await fetch(`${loom.url}/runs/wait`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "research", input: { question: "What is 17% of 2,340, and what day is it?" } }),
    });
    assert.equal(res.status, 200);
    const v = await res.json();
    assert.match(v.findings, /^\[offline extractive answer: no model is configured\]/);
    assert.match(v.analysis, /^\[offline extractive answer/);
    assert.equal(typeof v.brief.title, "string");
    assert.equal(typeof v.brief.summary, "string");
    // The llm nodes answer from what their prompt gives them (the findings,
    // the analysis), never with a sentence of their own instructions, and
    // the label of an answer they quote is not repeated.
    const systems = v.transcript.filter((m) => m.role === "system").map((m) => m.content);
    for (const [name, text] of [["analysis", v.analysis], ["brief.title", v.brief.title], ["brief.summary", v.brief.summary]]) {
      assert.doesNotMatch(text, /You are an analyst|Say what the findings establish|You write short, plain briefs/, name);
      assert.match(text, /The tools returned: \d{4}-\d{2}-\d{2}T/, name);
      assert.equal(text.match(/offline extractive answer/g)?.length ?? 0, name === "analysis" ? 1 : 0, name);
    }
    assert.equal(systems.length, 1); // the researcher's; its answer came from the tools
    const calls = v.transcript.flatMap((m) => m.tool_calls ?? []).map((c) => c.name);
    assert.deepEqual(calls, ["current_time", "calculator"]);
    const clock = v.transcript.find((m) => m.role === "tool" && m.name === "current_time");
    assert.match(clock.content, /^\d{4}-\d{2}-\d{2}T/);
  } finally {
    await loom.stop();
  }
});
