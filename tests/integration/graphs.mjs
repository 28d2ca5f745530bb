// Graph specs several integration files register (PUT /graphs/{id}, or a
// file in LOOM_GRAPHS).

// A long run: one cheap step `steps` times; state `i` counts them.
export const spinGraph = (steps) => `
name: spin
state:
  i: {type: integer, reducer: add, default: 0}
nodes:
  tick: {lua: 'return { i = 1 }'}
edges:
  - START -> tick
  - "tick -> tick: i < ${steps}"
  - "tick -> END: i >= ${steps}"
`;

// One llm node asking the scripted model server (LOOM_ENDPOINTS names it
// `scripted`) the question `q`; the answer lands in `answer`.
export const ASK1_GRAPH = `name: ask1
state:
  q: {type: string}
  answer: {}
nodes:
  ask: {kind: llm, model: scripted/small, prompt: "{q}", output: answer}
edges:
  - START -> ask
  - ask -> END
`;
