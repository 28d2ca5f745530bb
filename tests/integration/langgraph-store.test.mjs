// LangGraph's long-term memory store (/store/...) driven by the official
// SDK's client.store, unchanged: put/get/update/delete, search with
// prefix, filter, paging and order, namespace listing, ttl (expired items
// never read back, and deleted from the database), the 422s for bad input,
// and items surviving a restart.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@langchain/langgraph-sdk";
import { startLoom } from "./harness.mjs";

let loom, client;
const dataDir = mkdtempSync(path.join(os.tmpdir(), "loom-store-"));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  loom = await startLoom({ dataDir });
  client = new Client({ apiUrl: loom.url, defaultHeaders: {}, callerOptions: { maxRetries: 0 } });
});
after(async () => {
  await loom.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

// A raw request, for what the SDK checks before sending.
async function send(method, route, body) {
  const res = await fetch(`${loom.url}${route}`, {
    method, headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

test("put then get returns the item; a second put updates it in place", async () => {
  await client.store.putItem(["users", "u1"], "prefs", { theme: "dark" });
  const first = await client.store.getItem(["users", "u1"], "prefs");
  assert.deepEqual(first.namespace, ["users", "u1"]);
  assert.equal(first.key, "prefs");
  assert.deepEqual(first.value, { theme: "dark" });
  assert.match(first.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
  assert.equal(first.createdAt, first.created_at); // the SDK's own mapping

  await sleep(5);
  await client.store.putItem(["users", "u1"], "prefs", { theme: "light", size: 2 });
  const second = await client.store.getItem(["users", "u1"], "prefs");
  assert.deepEqual(second.value, { theme: "light", size: 2 });
  assert.equal(second.created_at, first.created_at);
  assert.ok(new Date(second.updated_at) > new Date(first.updated_at));
});

test("a missing item reads as null; delete removes it and is quiet when absent", async () => {
  assert.equal(await client.store.getItem(["users", "nobody"], "prefs"), null);
  await client.store.putItem(["tmp"], "gone", { x: 1 });
  await client.store.deleteItem(["tmp"], "gone");
  assert.equal(await client.store.getItem(["tmp"], "gone"), null);
  await client.store.deleteItem(["tmp"], "gone"); // 204 again
  const { status } = await send("DELETE", "/store/items", { namespace: ["tmp"], key: "never" });
  assert.equal(status, 204);
});

test("search: namespace prefix on whole labels, newest first, filter, paging", async () => {
  await client.store.putItem(["docs", "a"], "1", { kind: "note", n: 1 });
  await sleep(3);
  await client.store.putItem(["docs", "a", "deep"], "2", { kind: "todo", n: 5 });
  await sleep(3);
  await client.store.putItem(["docs", "b"], "3", { kind: "note", n: 9 });
  await sleep(3);
  await client.store.putItem(["docsx"], "4", { kind: "note", n: 7 });

  const all = await client.store.searchItems(["docs"]);
  assert.deepEqual(all.items.map((i) => i.key), ["3", "2", "1"]); // not docsx
  assert.equal(all.items[0].score, null);
  assert.deepEqual(all.items[0].namespace, ["docs", "b"]);

  const under = await client.store.searchItems(["docs", "a"]);
  assert.deepEqual(under.items.map((i) => i.key), ["2", "1"]);

  const notes = await client.store.searchItems(["docs"], { filter: { kind: "note" } });
  assert.deepEqual(notes.items.map((i) => i.key), ["3", "1"]);
  const big = await client.store.searchItems([], { filter: { n: { $gte: 5, $lt: 9 } } });
  assert.deepEqual(big.items.map((i) => i.key).sort(), ["2", "4"]);
  const ne = await client.store.searchItems(["docs"], { filter: { kind: { $ne: "note" } } });
  assert.deepEqual(ne.items.map((i) => i.key), ["2"]);

  const page = await client.store.searchItems(["docs"], { limit: 1, offset: 1 });
  assert.deepEqual(page.items.map((i) => i.key), ["2"]);
  const filteredPage = await client.store.searchItems(["docs"], { filter: { kind: "note" }, offset: 1 });
  assert.deepEqual(filteredPage.items.map((i) => i.key), ["1"]);

  // No embedding index: a query is accepted and changes nothing.
  const q = await client.store.searchItems(["docs"], { query: "anything" });
  assert.deepEqual(q.items.map((i) => i.key), ["3", "2", "1"]);
});

test("namespaces: distinct and sorted, prefix, suffix, wildcard, max_depth, paging", async () => {
  await client.store.putItem(["ns", "x", "mem"], "k", { v: 1 });
  await client.store.putItem(["ns", "x", "mem"], "k2", { v: 2 });
  await client.store.putItem(["ns", "y", "mem"], "k", { v: 1 });
  await client.store.putItem(["ns", "y"], "k", { v: 1 });
  await client.store.putItem(["ns", "z", "other"], "k", { v: 1 });

  const { namespaces } = await client.store.listNamespaces({ prefix: ["ns"] });
  assert.deepEqual(namespaces, [["ns", "x", "mem"], ["ns", "y"], ["ns", "y", "mem"], ["ns", "z", "other"]]);
  const mem = await client.store.listNamespaces({ prefix: ["ns"], suffix: ["mem"] });
  assert.deepEqual(mem.namespaces, [["ns", "x", "mem"], ["ns", "y", "mem"]]);
  const wild = await client.store.listNamespaces({ prefix: ["ns", "*", "mem"] });
  assert.deepEqual(wild.namespaces, [["ns", "x", "mem"], ["ns", "y", "mem"]]);
  const depth = await client.store.listNamespaces({ prefix: ["ns"], maxDepth: 2 });
  assert.deepEqual(depth.namespaces, [["ns", "x"], ["ns", "y"], ["ns", "z"]]);
  const paged = await client.store.listNamespaces({ prefix: ["ns"], maxDepth: 2, limit: 1, offset: 1 });
  assert.deepEqual(paged.namespaces, [["ns", "y"]]);
});

test("ttl: an item expires after its minutes; refresh_ttl on read pushes the expiry", async () => {
  await client.store.putItem(["ttl"], "short", { a: 1 }, { ttl: 0.01 }); // 600 ms
  await client.store.putItem(["ttl"], "kept", { a: 2 }, { ttl: 0.01 });
  assert.deepEqual((await client.store.getItem(["ttl"], "short")).value, { a: 1 });
  for (let i = 0; i < 4; i++) { // 1.2 s in all, refreshed every 300 ms
    await sleep(300);
    assert.ok(await client.store.getItem(["ttl"], "kept", { refreshTtl: true }), `read ${i}`);
  }
  assert.equal(await client.store.getItem(["ttl"], "short"), null);
  const found = await client.store.searchItems(["ttl"]);
  assert.deepEqual(found.items.map((i) => i.key), ["kept"]);
  const ns = await client.store.listNamespaces({ prefix: ["ttl"] });
  assert.deepEqual(ns.namespaces, [["ttl"]]);
  await sleep(700);
  assert.equal(await client.store.getItem(["ttl"], "kept"), null);
  assert.deepEqual((await client.store.listNamespaces({ prefix: ["ttl"] })).namespaces, []);
});

// The expired-items counter on /metrics (0 before the first deletion).
async function expiredDeleted() {
  const text = await (await fetch(`${loom.url}/metrics`)).text();
  const m = text.match(/^loom_store_items_expired_total (\S+)$/m);
  return m ? Number(m[1]) : 0;
}

test("expired items are never read back, and leave the database without another write to their namespace", async () => {
  const before = await expiredDeleted();
  // One item per namespace: nothing is ever written to these again.
  for (let i = 0; i < 5; i++)
    await client.store.putItem(["lapsed", `n${i}`], "k", { i, tag: "lapsed" }, { ttl: 0.005 }); // 300 ms
  await client.store.putItem(["lapsed", "kept"], "k", { tag: "lapsed" });
  await sleep(400);
  // Every read path: none shows them.
  assert.equal(await client.store.getItem(["lapsed", "n0"], "k"), null);
  assert.equal(await client.store.getItem(["lapsed", "n1"], "k", { refreshTtl: true }), null);
  const found = await client.store.searchItems(["lapsed"], { filter: { tag: "lapsed" }, limit: 100 });
  assert.deepEqual(found.items.map((i) => i.namespace), [["lapsed", "kept"]]);
  const all = await client.store.searchItems([], { limit: 1000 });
  assert.ok(!all.items.some((i) => /^n\d$/.test(i.namespace[1] ?? "")), JSON.stringify(all.items));
  assert.deepEqual((await client.store.listNamespaces({ prefix: ["lapsed"] })).namespaces, [["lapsed", "kept"]]);
  // Deleted from the database by the reads' sweep (at most one a second).
  let deleted = 0;
  for (let i = 0; i < 30 && deleted < 5; i++) {
    await client.store.getItem(["lapsed", "kept"], "k");
    deleted = (await expiredDeleted()) - before;
    if (deleted < 5) await sleep(100);
  }
  assert.ok(deleted >= 5, `${deleted} expired items deleted`);
  assert.ok(await client.store.getItem(["lapsed", "kept"], "k"));
});

test("bad input is a 422 naming the field", async () => {
  const cases = [
    [{ namespace: ["a.b"], key: "k", value: {} }, /namespace: label 0 .*without '\.'/],
    [{ namespace: [], key: "k", value: {} }, /namespace: must hold at least one label/],
    [{ namespace: ["a", ""], key: "k", value: {} }, /namespace: label 1/],
    [{ namespace: ["a"], key: "k", value: [1, 2] }, /value: must be an object/],
    [{ namespace: ["a"], key: "", value: {} }, /key: must be a non-empty string/],
    [{ namespace: ["a"], key: "k", value: {}, ttl: -1 }, /ttl: must be a positive number/],
  ];
  for (const [body, message] of cases) {
    const r = await send("PUT", "/store/items", body);
    assert.equal(r.status, 422, JSON.stringify(body));
    assert.equal(r.body.error, "invalid_request");
    assert.match(r.body.message, message);
  }
  const f = await send("POST", "/store/items/search", { namespace_prefix: [], filter: { a: { $regex: "x" } } });
  assert.equal(f.status, 422);
  assert.match(f.body.message, /^filter: .*\$regex/);
  // The SDK refuses a dotted label before sending, as against LangGraph.
  await assert.rejects(client.store.putItem(["a.b"], "k", {}), /cannot contain periods/);
});

test("items survive a restart on the same data directory", async () => {
  await client.store.putItem(["durable", "x"], "k", { kept: true });
  const before = await client.store.getItem(["durable", "x"], "k");
  await loom.stop({ keepData: true });
  loom = await startLoom({ dataDir });
  client = new Client({ apiUrl: loom.url, callerOptions: { maxRetries: 0 } });
  const afterRestart = await client.store.getItem(["durable", "x"], "k");
  assert.deepEqual(afterRestart, before);
  const found = await client.store.searchItems(["durable"]);
  assert.deepEqual(found.items.map((i) => i.value), [{ kept: true }]);
});
