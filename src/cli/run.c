/*
 * run — the `run` and `resume` subcommands.
 *
 * Both open the embedded SQLite store under the data directory, start a
 * run with durable checkpoints and print events while it goes: one line
 * per finished task (node, writes, interrupt or error) and custom events,
 * then the final state as JSON. `run` records the graph file in the
 * checkpoints' metadata so `resume` finds the graph from the thread alone.
 * A run parked on model calls (llm, agent nodes) continues on the main
 * thread as their answers are posted back (loom_run_wait).
 */
#include "cli/run.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents/nodes.h"
#include "agents/rag_backends.h"
#include "agents/rag_node.h"
#include "agents/rag_pool.h"
#include "agents/tools.h"
#include "core/alloc.h"
#include "core/config.h"
#include "core/json.h"
#include "engine/engine.h"
#include "stores/store.h"

static const char run_usage[] =
    "usage: loom run FILE [--input JSON] [options]\n"
    "\n"
    "Runs the graph in FILE (YAML or JSON) on a thread, with checkpoints in\n"
    "the embedded database, printing each node's result as it happens and\n"
    "the final state.\n"
    "\n"
    "  --input JSON            initial channel values, e.g. "
    "'{\"topic\":\"x\"}' (default {})\n"
    "  --thread ID             thread id (default: a new one)\n"
    "  --db DIR                data directory holding loom.db (also\n"
    "                          --data-dir; default: $LOOM_DATA_DIR or ./data)\n"
    "  --recursion-limit N     most steps this run may take (default 25)\n"
    "  --durability MODE       sync | async | exit (default sync)\n"
    "  --interrupt-before N,.. stop before these nodes\n"
    "  --interrupt-after N,..  stop after these nodes\n"
    "  --quiet                 print only the final state\n";

static const char resume_usage[] =
    "usage: loom resume THREAD --value JSON [options]\n"
    "\n"
    "Continues a thread stopped at an interrupt; the value answers it (an\n"
    "object {interrupt_id: value} answers several). Without --value the\n"
    "thread just continues (after a crash or an interrupt_before/after).\n"
    "\n"
    "  --value JSON            the resume value\n"
    "  --update JSON           channel values to write first (Command.update)\n"
    "  --goto NODE             also run NODE next (Command.goto)\n"
    "  --graph FILE            the graph (default: the one the thread ran)\n"
    "  --db DIR, --recursion-limit N, --durability MODE, --quiet: as for run\n";

struct cli {
  const char *file, *thread, *db, *input, *value, *update, *go;
  int limit;
  enum loom_durability durability;
  char **before, **after;
  size_t nbefore, nafter;
  bool quiet;
};

static void print_cb(const struct loom_event *ev, void *arg) {
  const struct cli *c = arg;
  if (c->quiet ||
      (ev->type != LOOM_EVENT_TASK_RESULT && ev->type != LOOM_EVENT_CUSTOM))
    return;
  char *data = NULL;
  const char *ns = ev->ns && *ev->ns ? ev->ns : NULL;
  if (ev->type == LOOM_EVENT_CUSTOM) {
    data = loom_json_dump(ev->data);
    printf("step %-3d custom  %s%s%s\n", ev->step + 1, ns ? ns : "",
           ns ? " " : "", data);
  } else {
    const char *name = json_string_value(json_object_get(ev->data, "name"));
    const char *what = json_object_get(ev->data, "result")       ? "result"
                       : json_object_get(ev->data, "interrupts") ? "interrupts"
                                                                 : "error";
    data = loom_json_dump(json_object_get(ev->data, what));
    printf("step %-3d %s%s%-12s %s%s%s\n", ev->step + 1, ns ? ns : "",
           ns ? "/" : "", name, strcmp(what, "result") ? what : "",
           strcmp(what, "result") ? " " : "", data);
  }
  loom_free(data);
  fflush(stdout);
}

static char **split_names(const char *s, size_t *n) {
  char *copy = loom_strdup(s), *save = NULL;
  char **out = loom_calloc(strlen(s) + 1, sizeof(*out));
  for (char *tok = strtok_r(copy, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save))
    out[(*n)++] = loom_strdup(tok);
  loom_free(copy);
  return out;
}

static void free_names(char **v, size_t n) {
  for (size_t i = 0; i < n; i++)
    loom_free(v[i]);
  loom_free(v);
}

static int parse_durability(const char *s, enum loom_durability *out) {
  static const char *const names[] = {"sync", "async", "exit"};
  for (int i = 0; i < 3; i++)
    if (!strcmp(s, names[i])) {
      *out = (enum loom_durability)i;
      return 0;
    }
  fprintf(stderr, "loom: --durability must be sync, async or exit\n");
  return 2;
}

/* getopt_long codes of the long options (past any single character). */
enum {
  O_INPUT = 256,
  O_THREAD,
  O_DB,
  O_LIMIT,
  O_DUR,
  O_BEFORE,
  O_AFTER,
  O_QUIET,
  O_VALUE,
  O_UPDATE,
  O_GOTO,
  O_GRAPH,
  O_HELP
};

static const struct option long_opts[] = {
    {"input", required_argument, 0, O_INPUT},
    {"thread", required_argument, 0, O_THREAD},
    {"db", required_argument, 0, O_DB},
    /* The name every other command (serve, ingest, search) uses. */
    {"data-dir", required_argument, 0, O_DB},
    {"recursion-limit", required_argument, 0, O_LIMIT},
    {"durability", required_argument, 0, O_DUR},
    {"interrupt-before", required_argument, 0, O_BEFORE},
    {"interrupt-after", required_argument, 0, O_AFTER},
    {"quiet", no_argument, 0, O_QUIET},
    {"value", required_argument, 0, O_VALUE},
    {"update", required_argument, 0, O_UPDATE},
    {"goto", required_argument, 0, O_GOTO},
    {"graph", required_argument, 0, O_GRAPH},
    {"help", no_argument, 0, O_HELP},
    {0, 0, 0, 0}};

/* Applies one option `ch` (optarg holds its value) to c; returns -1 to
 * go on, or an exit code. */
static int take_option(int ch, const char *usage, struct cli *c) {
  int rc = -1;
  switch (ch) {
  case O_INPUT:
    c->input = optarg;
    break;
  case O_THREAD:
    c->thread = optarg;
    break;
  case O_DB:
    c->db = optarg;
    break;
  case O_LIMIT:
    c->limit = atoi(optarg);
    if (c->limit <= 0)
      rc = 2, fprintf(stderr, "loom: --recursion-limit must be positive\n");
    break;
  case O_DUR:
    rc = parse_durability(optarg, &c->durability) ? 2 : -1;
    break;
  case O_BEFORE:
    c->before = split_names(optarg, &c->nbefore);
    break;
  case O_AFTER:
    c->after = split_names(optarg, &c->nafter);
    break;
  case O_QUIET:
    c->quiet = true;
    break;
  case O_VALUE:
    c->value = optarg;
    break;
  case O_UPDATE:
    c->update = optarg;
    break;
  case O_GOTO:
    c->go = optarg;
    break;
  case O_GRAPH:
    c->file = optarg;
    break;
  case 'h':
  case O_HELP:
    fputs(usage, stdout);
    rc = 0;
    break;
  default:
    fputs(usage, stderr);
    rc = 2;
  }
  return rc;
}

/* Returns -1 to go on, or an exit code. */
static int parse_args(int argc, char **argv, const char *usage, struct cli *c) {
  optind = 1;
  int ch, rc = -1;
  while (rc < 0 && (ch = getopt_long(argc, argv, "h", long_opts, NULL)) != -1)
    rc = take_option(ch, usage, c);
  return rc;
}

static json_t *json_arg(const char *flag, const char *text) {
  struct loom_error e = {0};
  json_t *v = loom_json_parse(text, strlen(text), &e);
  /* The usual slip is shell-style text (topic=otters, yes): show JSON. */
  if (!v)
    fprintf(stderr,
            "loom: %s: %s; it takes JSON in single quotes, e.g. %s '%s'\n",
            flag, e.message, flag,
            strcmp(flag, "--input") == 0   ? "{\"topic\": \"otters\"}"
            : strcmp(flag, "--value") == 0 ? "{\"approved\": true}' or '\"yes\""
                                           : "{\"channel\": \"value\"}");
  return v;
}

static loom_err open_store(const struct cli *c, struct loom_store **out,
                           struct loom_error *e) {
  const char *dir = c->db ? c->db : getenv("LOOM_DATA_DIR");
  loom_err rc = loom_store_open("", dir && *dir ? dir : "./data", out, e);
  if (!rc)
    rc = loom_store_migrate(*out, e);
  return rc;
}

static void print_final(struct loom_run *r) {
  json_t *out =
      json_pack("{sssssssO}", "thread_id", loom_run_thread_id(r), "status",
                loom_run_status_name(loom_run_status(r)), "checkpoint_id",
                loom_run_checkpoint_id(r), "values", loom_run_values(r));
  if (loom_run_status(r) == LOOM_RUN_INTERRUPTED)
    json_object_set(out, "interrupts", (json_t *)loom_run_interrupts(r));
  char *text = json_dumps(out, JSON_INDENT(2));
  puts(text);
  free(text);
  json_decref(out);
}

static int execute(const struct cli *c, struct loom_store *store,
                   const struct loom_graph *g, const json_t *input,
                   const json_t *command) {
  char path[PATH_MAX];
  json_t *meta =
      json_pack("{ss}", "graph_file", realpath(c->file, path) ? path : c->file);
  struct loom_run_opts o = {.store = store,
                            .thread_id = c->thread,
                            .input = input,
                            .command = command,
                            .recursion_limit = c->limit,
                            .durability = c->durability,
                            .interrupt_before = (const char *const *)c->before,
                            .ninterrupt_before = c->nbefore,
                            .interrupt_after = (const char *const *)c->after,
                            .ninterrupt_after = c->nafter,
                            .metadata = meta};
  struct loom_run *r = NULL;
  struct loom_error e = {0};
  int rc = 1;
  if (loom_run_new(g, &o, &r, &e)) {
    fprintf(stderr, "loom: %s\n", e.message);
    goto out;
  }
  loom_run_subscribe(r, print_cb, (void *)c);
  enum loom_run_status st = loom_run_start(r);
  /* Parked on model calls: their continuations run on this thread. */
  if (st == LOOM_RUN_WAITING)
    st = loom_run_wait(r);
  print_final(r);
  if (st == LOOM_RUN_ERROR) {
    fprintf(stderr, "loom: run failed: %s\n", loom_run_error(r)->message);
  } else {
    rc = 0;
    if (st == LOOM_RUN_INTERRUPTED)
      fprintf(stderr, "waiting for a human: loom resume %s --value JSON\n",
              loom_run_thread_id(r));
  }
out:
  loom_run_free(r);
  json_decref(meta);
  return rc;
}

/* execute() with retrieve nodes and the retrieve tool resolving indexes
 * as `loom serve` does (agents/rag_backends.h): LOOM_EMBED_MODEL's
 * embedder, vectors under the data directory or at LOOM_PINECONE_URL. */
static int execute_rag(const struct cli *c, struct loom_store *store,
                       const struct loom_graph *g, const json_t *input,
                       const json_t *cmd) {
  struct loom_config cfg = {0};
  struct loom_error e = {0};
  if (loom_config_load(&cfg, &e)) {
    fprintf(stderr, "loom: %s\n", e.message);
    loom_config_cleanup(&cfg);
    return 1;
  }
  const char *dir = c->db ? c->db : getenv("LOOM_DATA_DIR");
  char *indexes = loom_asprintf("%s/indexes", dir && *dir ? dir : "./data");
  struct loom_rag_backends_opts o = {
      .config = &cfg, .store = store, .indexes_dir = indexes};
  struct loom_rag_backends *be = loom_rag_backends_new(&o);
  struct loom_rag_resolver rag = loom_rag_backends_resolver(be);
  loom_rag_set_resolver(&rag);
  int rc = execute(c, store, g, input, cmd);
  loom_rag_pool_shutdown();
  loom_rag_set_resolver(NULL);
  loom_rag_backends_free(be);
  loom_free(indexes);
  loom_config_cleanup(&cfg);
  return rc;
}

static void cli_cleanup(struct cli *c) {
  free_names(c->before, c->nbefore);
  free_names(c->after, c->nafter);
}

/* The llm and agent node kinds, configured from the environment like
 * `loom serve`, so graphs with model nodes run from the command line. */
static loom_err model_kinds(struct loom_error *e) {
  struct loom_config cfg = {0};
  loom_err err = loom_config_load(&cfg, e);
  if (!err)
    err = loom_agents_nodes_register(&cfg, e);
  if (!err)
    err = loom_rag_node_kind_register(e);
  if (!err && !loom_tools_has(loom_agents_tools(), "retrieve"))
    err = loom_rag_tool_add(loom_agents_tools(), NULL, e);
  loom_config_cleanup(&cfg);
  return err;
}

int loom_cli_run(int argc, char **argv) {
  struct cli c = {0};
  int rc = parse_args(argc, argv, run_usage, &c);
  struct loom_graph *g = NULL;
  struct loom_store *store = NULL;
  json_t *input = NULL;
  struct loom_error e = {0};
  if (rc >= 0)
    goto out;
  rc = 2;
  if (optind + 1 != argc) {
    fputs(run_usage, stderr);
    goto out;
  }
  c.file = argv[optind];
  if (!(input = json_arg("--input", c.input ? c.input : "{}")))
    goto out;
  rc = 1;
  if (model_kinds(&e) || loom_graph_load_file(c.file, &g, &e) ||
      open_store(&c, &store, &e)) {
    fprintf(stderr, "loom: %s\n", e.message);
    goto out;
  }
  rc = execute_rag(&c, store, g, input, NULL);
out:
  json_decref(input);
  loom_graph_free(g);
  loom_store_close(store);
  loom_agents_nodes_shutdown();
  cli_cleanup(&c);
  return rc;
}

/* The graph file the thread's latest checkpoint was made with. */
static char *thread_graph(struct loom_store *store, const char *thread,
                          struct loom_error *e) {
  struct loom_checkpoint *cp = NULL;
  loom_err err =
      store->ops->get_checkpoint(store, "default", thread, "", NULL, &cp, e);
  if (err == LOOM_ERR_NOT_FOUND)
    loom_error_set(e, err,
                   "no thread '%s' here: start one with `loom run FILE "
                   "--thread %s`, or name the data directory it ran in with "
                   "--db DIR",
                   thread, thread);
  if (err)
    return NULL;
  const char *f =
      json_string_value(json_object_get(cp->metadata, "graph_file"));
  char *out = f ? loom_strdup(f) : NULL;
  if (!f)
    loom_error_set(e, LOOM_ERR_NOT_FOUND,
                   "thread %s does not record its graph; pass --graph FILE",
                   thread);
  loom_checkpoint_free(cp);
  return out;
}

static json_t *build_command(const struct cli *c) {
  json_t *cmd = json_object(), *v;
  if (c->value) {
    if (!(v = json_arg("--value", c->value)))
      goto bad;
    json_object_set_new(cmd, "resume", v);
  }
  if (c->update) {
    if (!(v = json_arg("--update", c->update)))
      goto bad;
    json_object_set_new(cmd, "update", v);
  }
  if (c->go)
    json_object_set_new(cmd, "goto", json_string(c->go));
  return cmd;
bad:
  json_decref(cmd);
  return NULL;
}

int loom_cli_resume(int argc, char **argv) {
  struct cli c = {0};
  int rc = parse_args(argc, argv, resume_usage, &c);
  struct loom_graph *g = NULL;
  struct loom_store *store = NULL;
  json_t *cmd = NULL;
  char *file = NULL;
  struct loom_error e = {0};
  if (rc >= 0)
    goto out;
  rc = 2;
  if (optind + 1 != argc) {
    fputs(resume_usage, stderr);
    goto out;
  }
  c.thread = argv[optind];
  if (!(cmd = build_command(&c)))
    goto out;
  rc = 1;
  if (model_kinds(&e) || open_store(&c, &store, &e) ||
      (!c.file && !(file = thread_graph(store, c.thread, &e))) ||
      loom_graph_load_file(c.file ? c.file : file, &g, &e)) {
    fprintf(stderr, "loom: %s\n", e.message);
    goto out;
  }
  if (!c.file)
    c.file = file;
  rc = execute_rag(&c, store, g, NULL, json_object_size(cmd) ? cmd : NULL);
out:
  json_decref(cmd);
  loom_free(file);
  loom_graph_free(g);
  loom_store_close(store);
  loom_agents_nodes_shutdown();
  cli_cleanup(&c);
  return rc;
}
