// PDF ingestion over HTTP: POST /indexes/{index}/documents with
// {"format": "pdf", "data": <base64 of the file>}; its pages become
// chunks carrying their page number, and what is not a PDF (or not
// base64, or over the size cap) is refused with a JSON error saying so.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startLoom } from "./harness.mjs";

let loom;
const post = (p, body) =>
  fetch(loom.url + p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

// A small valid PDF, one page per string shown in Helvetica (as
// tests/unit/test_rag.c builds it). Strings: no parentheses or backslashes.
function makePdf(pages) {
  let out = "%PDF-1.4\n";
  const off = [];
  const put = (n, s) => {
    off[n] = Buffer.byteLength(out);
    out += s;
  };
  put(1, "1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n");
  const kids = pages.map((_, i) => ` ${4 + 2 * i} 0 R`).join("");
  put(2, `2 0 obj << /Type /Pages /Count ${pages.length} /Kids [${kids} ] >> endobj\n`);
  put(3, "3 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n");
  pages.forEach((text, i) => {
    const stream = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
    put(4 + 2 * i, `${4 + 2 * i} 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] ` +
        `/Resources << /Font << /F1 3 0 R >> >> /Contents ${5 + 2 * i} 0 R >> endobj\n`);
    put(5 + 2 * i, `${5 + 2 * i} 0 obj << /Length ${stream.length} >> stream\n${stream}\nendstream endobj\n`);
  });
  const nobj = 4 + 2 * pages.length;
  const xref = Buffer.byteLength(out);
  out += `xref\n0 ${nobj}\n0000000000 65535 f \n`;
  for (let i = 1; i < nobj; i++) out += `${String(off[i]).padStart(10, "0")} 00000 n \n`;
  out += `trailer << /Size ${nobj} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, "latin1");
}

const pages = [
  "Lighthouses guide ships along dangerous coasts at night.",
  "The Fresnel lens focuses the lamp into a beam seen for miles.",
];

before(async () => {
  // A body cap above the PDF cap (8 MB decoded), so the route's own cap answers.
  loom = await startLoom({ env: { LOOM_MAX_BODY: String(16 << 20) } });
});
after(async () => {
  await loom?.stop();
});

test("a PDF posted as base64 is indexed page by page and searchable", async () => {
  const pdf = makePdf(pages).toString("base64");
  const res = await post("/indexes/pdfs/documents",
                         { source: "lighthouses.pdf", format: "pdf", data: pdf, metadata: { topic: "sea" } });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  assert.equal(JSON.parse(text).chunks, 2);

  const again = await post("/indexes/pdfs/documents", { source: "lighthouses.pdf", format: "pdf", data: pdf, metadata: { topic: "sea" } });
  assert.equal(again.status, 200);
  assert.equal((await again.json()).unchanged, true);

  const hits = (await (await post("/indexes/pdfs/search", { query: "Fresnel lens beam", top_k: 1 })).json()).hits;
  assert.equal(hits[0].source, "lighthouses.pdf");
  assert.match(hits[0].content, /Fresnel lens/);
  assert.equal(hits[0].metadata.page, 2);
  assert.equal(hits[0].metadata.topic, "sea");

  const docs = (await (await fetch(loom.url + "/indexes/pdfs/documents")).json()).documents;
  assert.equal(docs.length, 1);
  assert.equal(docs[0].content_type, "application/pdf");
});

test("what is not a PDF is a 400 that says so", async () => {
  const cases = [
    [Buffer.from("hello, plain text").toString("base64"), /not a PDF/],
    ["%%% not base64 %%%", /base64/],
    [makePdf(pages).subarray(0, 40).toString("base64"), /PDF/], // truncated: poppler refuses it
  ];
  for (const [data, why] of cases) {
    const res = await post("/indexes/pdfs/documents", { source: "bad.pdf", format: "pdf", data });
    assert.equal(res.status, 400);
    assert.match(res.headers.get("content-type"), /application\/json/);
    const body = await res.json();
    assert.match(JSON.stringify(body), why);
    assert.match(JSON.stringify(body), /invalid_pdf/);
  }
  // "format": "pdf" wants the file in "data", not "text".
  const res = await post("/indexes/pdfs/documents", { source: "x.pdf", format: "pdf", text: "words" });
  assert.equal(res.status, 422);
  assert.match(JSON.stringify(await res.json()), /base64/);
  // Nothing of the refused documents was indexed.
  const docs = (await (await fetch(loom.url + "/indexes/pdfs/documents")).json()).documents;
  assert.deepEqual(docs.map((d) => d.source), ["lighthouses.pdf"]);
});

test("a PDF over the 8 MB cap is a 413", async () => {
  const big = Buffer.alloc(9 << 20, 0x20);
  big.write("%PDF-1.4\n");
  const res = await post("/indexes/pdfs/documents", { source: "big.pdf", format: "pdf", data: big.toString("base64") });
  assert.equal(res.status, 413);
  assert.match(JSON.stringify(await res.json()), /over 8 MB/);
});
