// Input that is valid but awkward still gets a JSON error with its
// message: a long path id of multi-byte characters, quoted in a message
// whose cap cut one in half, answered a bare `null` (found by probing
// beside fuzz_api, whose oracle now refuses a null answer).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startLoom } from "./harness.mjs";

let loom;
before(async () => {
  loom = await startLoom();
});
after(async () => {
  await loom.stop();
});

test("a long multi-byte thread id is a 404 with a message", async () => {
  const id = "é".repeat(300);
  const res = await fetch(`${loom.url}/threads/${encodeURIComponent(id)}`);
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error, "not_found");
  assert.match(body.message, /^thread 'é+/);
});

test("a long multi-byte index name is a 404 with a message", async () => {
  const name = "é".repeat(300);
  const res = await fetch(`${loom.url}/indexes/${encodeURIComponent(name)}`);
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.match(body.error.message, /é/);
});
