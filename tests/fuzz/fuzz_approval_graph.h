/*
 * fuzz_approval_graph — the graph the checkpoint targets continue a thread
 * of (fuzz_checkpoint: checkpoint JSON; fuzz_checkpoint_rows: damaged
 * SQLite rows): a write, an interrupt for approval, a conditional loop
 * back, so a resumed thread exercises channels, reducers and interrupts.
 */
#ifndef LOOM_FUZZ_APPROVAL_GRAPH_H
#define LOOM_FUZZ_APPROVAL_GRAPH_H

static const char GRAPH[] =
    "name: approval\n"
    "state:\n"
    "  topic: {type: string}\n"
    "  draft: {type: string}\n"
    "  approved: {type: boolean, default: false}\n"
    "  log: {type: array, reducer: append}\n"
    "nodes:\n"
    "  write:\n"
    "    lua: return { draft = 'about ' .. tostring(state.topic), log = "
    "{'w'} }\n"
    "  review:\n"
    "    interrupt: { question: 'Approve?', show: [draft] }\n"
    "  publish:\n"
    "    lua: return { log = { 'p' } }\n"
    "edges:\n"
    "  - START -> write\n"
    "  - write -> review\n"
    "  - review -> publish: approved == true\n"
    "  - review -> write: approved != true\n"
    "  - publish -> END\n";

static const char THREAD[] = "0190a0b0-0000-7000-8000-000000000001";

#endif
