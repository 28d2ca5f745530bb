// LangGraph.js side of bench/engine/run.sh: the same graphs as
// bench_engine.c, compiled with MemorySaver, timed per super-step.
//   node bench/engine/langgraph.mjs [runs]
import {
  Annotation,
  MemorySaver,
  Send,
  StateGraph,
  START,
  END,
} from "@langchain/langgraph";

const runs = Number(process.argv[2] || 200);
const concat = { reducer: (a, b) => a.concat(b), default: () => [] };

function chain(n) {
  const State = Annotation.Root({
    log: Annotation(concat),
    big: Annotation(),
  });
  let g = new StateGraph(State);
  for (let i = 0; i < n; i++) g = g.addNode(`n${i}`, () => ({ log: [`n${i}`] }));
  g = g.addEdge(START, "n0");
  for (let i = 0; i + 1 < n; i++) g = g.addEdge(`n${i}`, `n${i + 1}`);
  g = g.addEdge(`n${n - 1}`, END);
  return g;
}

function fanout() {
  const State = Annotation.Root({
    items: Annotation(),
    out: Annotation(concat),
  });
  return new StateGraph(State)
    .addNode("split", () => ({ items: Array.from({ length: 100 }, (_, i) => i + 1) }))
    .addNode("work", (s) => ({ out: [s.item * 2] }))
    .addNode("join", () => ({}))
    .addEdge(START, "split")
    .addConditionalEdges("split", (s) => s.items.map((item) => new Send("work", { item })))
    .addEdge("work", "join")
    .addEdge("join", END);
}

async function time(name, builder, steps, n, saver) {
  const app = saver ? builder.compile({ checkpointer: new MemorySaver() })
                    : builder.compile();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await app.invoke({}, {
      configurable: { thread_id: `t${i}` },
      recursionLimit: 1000,
    });
  }
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / (n * steps);
  const store = saver ? "memory" : "none";
  console.log(`${name.padEnd(28)} ${store.padEnd(8)} ${String(steps).padStart(6)} ` +
              `${us.toFixed(2).padStart(14)} ${(us * steps).toFixed(1).padStart(14)}`);
  console.log(`RESULT ${name}/${store} ${us.toFixed(3)}`);
}

// Warm up the JIT before measuring.
await time("warmup", chain(10), 10, 20, true);
console.log("case                         store     steps        us/step         us/run");
await time("linear10", chain(10), 10, runs, false);
await time("linear10", chain(10), 10, runs, true);
await time("chain200", chain(200), 200, Math.max(1, runs / 10), true);
await time("fanout100", fanout(), 3, Math.max(1, runs / 4), true);
