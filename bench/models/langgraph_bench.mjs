// The bench_models workload in LangGraph.js: N concurrent runs of a
// one-node graph whose node makes one chat call (ChatOpenAI) to the same
// local server, all started at once. Prints the same table row as
// bench_models: calls, ok, failed, wall seconds, peak RSS (MB), CPU seconds.
//   node langgraph_bench.mjs BASE_URL [runs] [stream]
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import { ChatOpenAI } from '@langchain/openai';

const [baseURL, n = '10000', mode = 'json'] = process.argv.slice(2);
const runs = Number(n);
const model = new ChatOpenAI({
  model: 'bench-model',
  apiKey: 'none',
  configuration: { baseURL },
  maxRetries: 0,
  timeout: 60000,
  streaming: mode === 'stream',
});
const State = Annotation.Root({
  question: Annotation(),
  answer: Annotation(),
});
const graph = new StateGraph(State)
  .addNode('llm', async (s) => {
    const msg = await model.invoke([{ role: 'user', content: s.question }]);
    return { answer: msg.content };
  })
  .addEdge(START, 'llm')
  .addEdge('llm', END)
  .compile();

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const results = await Promise.allSettled(
  Array.from({ length: runs }, () => graph.invoke({ question: 'Hello?' })));
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const ok = results.filter((r) => r.status === 'fulfilled').length;
const failed = runs - ok;
const rssMB = process.resourceUsage().maxRSS / 1024;
console.log([String(runs).padEnd(8), String(ok).padEnd(6), String(failed).padEnd(7),
  wall.toFixed(2).padEnd(9), rssMB.toFixed(1).padEnd(10),
  ((cpu.user + cpu.system) / 1e6).toFixed(2).padEnd(8), mode].join(' '));
const firstError = results.find((r) => r.status === 'rejected');
if (firstError) console.error('first error:', String(firstError.reason).slice(0, 300));
