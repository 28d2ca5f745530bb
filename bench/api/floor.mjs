// The SDK's own floor: a trivial Node HTTP server that answers runs.wait
// with the chain3 result and runs.stream with the same SSE events loom
// sends for it (metadata, four values: the input state and one per node,
// end), doing no work at all. Driven by bench.mjs like the real servers,
// it shows what the client side costs.
//   node floor.mjs PORT
import http from "node:http";

const result = JSON.stringify({ log: ["a", "b", "c"] });
const states = [[], ["a"], ["a", "b"], ["a", "b", "c"]];

http
  .createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url.endsWith("/stream")) {
        res.writeHead(200, { "content-type": "text/event-stream", "content-location": "/runs/floor" });
        res.write(`event: metadata\nid: 1\ndata: {"run_id":"floor","attempt":1}\n\n`);
        states.forEach((log, i) => res.write(`event: values\nid: ${i + 2}\ndata: ${JSON.stringify({ log })}\n\n`));
        res.end(`event: end\nid: 5\ndata: null\n\n`);
        return;
      }
      res.writeHead(200, { "content-type": "application/json", "content-location": "/runs/floor" });
      res.end(result);
    });
  })
  .listen(Number(process.argv[2]), "127.0.0.1");
