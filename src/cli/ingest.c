/*
 * ingest — `loom ingest PATH... --index NAME` and `loom search TEXT
 * --index NAME`: documents into a retrieval collection, and queries of it.
 *
 * PATH is a file or a directory tree (files ending in .md, .markdown,
 * .html, .htm, .txt or .text; hidden entries skipped), ingested in sorted
 * order. The collection is a vector index plus the documents and chunks
 * rows of the configured database. The embedder and the index are
 * resolved by agents/rag_backends.h, as in `loom serve` (LOOM_EMBED_MODEL,
 * LOOM_PINECONE_URL; --embed-model and --pinecone override them): the
 * local index `<data dir>/indexes/NAME` (created by `ingest` with the
 * embedder's dimension and the cosine metric when absent, the same files
 * the Pinecone-compatible API serves) or a Pinecone index. Ingesting is
 * idempotent per file (see agents/rag.h). On a terminal a progress bar is
 * redrawn on stderr; otherwise one plain line per file is printed.
 *
 * The flags of this command are taken out of argv before the rest goes to
 * loom_cli_load_config, so every setting flag (--data-dir, ...) works too.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agents/rag.h"
#include "agents/rag_backends.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/config.h"
#include "stores/store.h"

#define MAX_FILE_BYTES (16u << 20)
#define MAX_FILES 100000
#define BAR_WIDTH 30

static const char ingest_usage[] =
    "usage: loom ingest PATH... --index NAME [--chunk-size N] [--overlap N]\n"
    "                   [--embed-model MODEL] [--pinecone URL] [--tenant T]\n"
    "                   [--data-dir DIR]\n"
    "\n"
    "Chunks, embeds (the built-in hash embedder, or MODEL through the\n"
    "provider layer, e.g. openai/text-embedding-3-small) and indexes text,\n"
    "Markdown, HTML and PDF files (a directory is walked for .md, .markdown,\n"
    ".html, .htm, .txt, .text and .pdf; a file named is taken whatever its\n"
    "extension). Chunks are 1000 bytes with 150 of overlap unless said.\n"
    "Unchanged files are skipped; a changed file replaces its chunks. The\n"
    "index is created on first use. With --pinecone URL (a\n"
    "Pinecone control plane such as https://api.pinecone.io, key in\n"
    "PINECONE_API_KEY) the vectors go to the existing Pinecone index NAME.\n"
    "LOOM_EMBED_MODEL and LOOM_PINECONE_URL set the same for every command\n"
    "(and for `loom serve`); the flags win.";

static const char search_usage[] =
    "usage: loom search TEXT --index NAME [--top-k N]\n"
    "                   [--mode hybrid|vector|keyword] [--filter JSON]\n"
    "                   [--embed-model MODEL] [--pinecone URL] [--tenant T]\n"
    "                   [--data-dir DIR]\n"
    "\n"
    "Searches a collection made by `loom ingest`; prints the hits as JSON.\n"
    "Defaults: --top-k 5, --mode hybrid (vector and keyword results fused).";

struct opts {
  const char *index, *tenant, *mode, *filter, *embed_model, *pinecone;
  size_t chunk_size, overlap, top_k;
  bool overlap_set;
  const char **paths;
  size_t npaths;
  char **rest; /* argv for loom_cli_load_config */
  int nrest;
};

struct files {
  char **v;
  size_t n, cap;
};

static bool parse_size(const char *s, size_t *out) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || v > (1u << 20))
    return false;
  *out = (size_t)v;
  return true;
}

/* This command's own flags, each taking a value; any other --flag is
 * left for loom_cli_load_config. */
enum flag {
  F_INDEX,
  F_CHUNK_SIZE,
  F_OVERLAP,
  F_TENANT,
  F_MODE,
  F_FILTER,
  F_TOP_K,
  F_EMBED_MODEL,
  F_PINECONE
};

static const char *const flag_names[] = {
    [F_INDEX] = "--index",       [F_CHUNK_SIZE] = "--chunk-size",
    [F_OVERLAP] = "--overlap",   [F_TENANT] = "--tenant",
    [F_MODE] = "--mode",         [F_FILTER] = "--filter",
    [F_TOP_K] = "--top-k",       [F_EMBED_MODEL] = "--embed-model",
    [F_PINECONE] = "--pinecone", NULL};

/* The flag `a` names, or -1 when it is not one of ours. */
static int flag_of(const char *a) {
  for (int j = 0; flag_names[j]; j++)
    if (!strcmp(a, flag_names[j]))
      return j;
  return -1;
}

/* Sets flag k to v; false when a number was wanted and v is none. */
static bool set_flag(struct opts *o, int k, const char *v) {
  bool ok = true;
  switch (k) {
  case F_INDEX:
    o->index = v;
    break;
  case F_CHUNK_SIZE:
    ok = parse_size(v, &o->chunk_size);
    break;
  case F_OVERLAP:
    ok = parse_size(v, &o->overlap);
    o->overlap_set = true;
    break;
  case F_TENANT:
    o->tenant = v;
    break;
  case F_MODE:
    o->mode = v;
    break;
  case F_FILTER:
    o->filter = v;
    break;
  case F_TOP_K:
    ok = parse_size(v, &o->top_k);
    break;
  case F_EMBED_MODEL:
    o->embed_model = v;
    break;
  default: /* F_PINECONE */
    o->pinecone = v;
    break;
  }
  return ok;
}

/* Takes this command's flags and positional arguments out of argv. */
static int take_flags(int argc, char **argv, struct opts *o) {
  o->paths = loom_calloc((size_t)argc, sizeof *o->paths);
  o->rest = loom_calloc((size_t)argc + 1, sizeof *o->rest);
  o->rest[o->nrest++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int k = flag_of(a);
    if (k < 0 && strncmp(a, "--", 2) == 0) {
      o->rest[o->nrest++] = argv[i];
      if (!strchr(a, '=') && strcmp(a, "--help") && i + 1 < argc)
        o->rest[o->nrest++] = argv[++i];
      continue;
    }
    if (k < 0) {
      o->paths[o->npaths++] = a;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "loom: %s needs a value\n", a);
      return 2;
    }
    const char *v = argv[++i];
    if (!set_flag(o, k, v)) {
      fprintf(stderr, "loom: %s wants a number, got '%s'\n", a, v);
      return 2;
    }
  }
  return -1;
}

static bool wanted(const char *name) {
  static const char *const exts[] = {".md",  ".markdown", ".html", ".htm",
                                     ".txt", ".text",     ".pdf",  NULL};
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && exts[i]; i++)
    if (!strcasecmp(dot, exts[i]))
      return true;
  return false;
}

static void add_file(struct files *f, const char *path) {
  if (f->n == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 64;
    f->v = loom_realloc(f->v, f->cap * sizeof *f->v);
  }
  f->v[f->n++] = loom_strdup(path);
}

/*
 * `path` as the user typed it, less what does not change the file it
 * names: "." components, empty ones (repeated and trailing '/') and a
 * "dir/.." pair, taken out as text (like Go's filepath.Clean: a ".."
 * after a symbolic link is not resolved). A document's id comes from its
 * source path, so without this `loom ingest .` (sources "./a.md") and
 * `loom ingest a.md`, or `docs/` and `docs`, stored every document twice.
 * "" and "." are "."; the caller frees the result.
 */
static char *clean_path(const char *path) {
  size_t len = strlen(path);
  bool abs = path[0] == '/';
  char *out = loom_malloc(len + 2), *w = out;
  size_t *starts = loom_malloc((len / 2 + 2) * sizeof *starts), depth = 0;
  if (abs)
    *w++ = '/';
  char *base = w; /* components start here */
  for (const char *p = path; *p;) {
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    bool dotdot = n == 2 && p[0] == '.' && p[1] == '.';
    bool up = dotdot && depth > 0 &&
              !(w - out - starts[depth - 1] == 2 &&
                !strncmp(out + starts[depth - 1], "..", 2));
    if (up) { /* drop the last component and its separator */
      w = out + starts[--depth];
      if (w > base)
        w--;
    } else if (n && !(n == 1 && p[0] == '.') && !(dotdot && abs && !depth)) {
      if (w > base)
        *w++ = '/';
      starts[depth++] = (size_t)(w - out);
      memcpy(w, p, n);
      w += n;
    }
    p += n + (end != NULL);
  }
  if (w == out)
    *w++ = '.';
  *w = '\0';
  loom_free(starts);
  return out;
}

/* `dir`'s entry `name`: "." adds no "./" (see clean_path). */
static char *join_path(const char *dir, const char *name) {
  if (!strcmp(dir, "."))
    return loom_strdup(name);
  return loom_asprintf("%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/",
                       name);
}

/* Adds `path` (a file, or a directory walked recursively). */
static void collect(struct files *f, const char *path, bool top) {
  struct stat st;
  if (stat(path, &st) != 0 || f->n >= MAX_FILES)
    return;
  if (S_ISREG(st.st_mode)) {
    if (top || wanted(path))
      add_file(f, path);
    return;
  }
  if (!S_ISDIR(st.st_mode))
    return;
  DIR *d = opendir(path);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.')
      continue;
    char *sub = join_path(path, de->d_name);
    collect(f, sub, false);
    loom_free(sub);
  }
  closedir(d);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path, size_t *len, struct loom_error *e) {
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    loom_error_set(e, LOOM_ERR_IO, "cannot open %s", path);
    return NULL;
  }
  char *buf = loom_malloc(MAX_FILE_BYTES + 1);
  *len = fread(buf, 1, MAX_FILE_BYTES + 1, fp);
  fclose(fp);
  if (*len > MAX_FILE_BYTES) {
    loom_free(buf);
    loom_error_set(e, LOOM_ERR_TOO_LARGE, "%s is over %u MB", path,
                   MAX_FILE_BYTES >> 20);
    return NULL;
  }
  buf[*len] = 0;
  return buf;
}

static void progress(bool tty, size_t done, size_t total, const char *path,
                     const struct loom_rag_ingest_result *r,
                     const struct loom_error *e) {
  if (!tty) {
    if (e)
      printf("failed %s: %s\n", path, e->message);
    else
      printf("%s %s (%zu chunks)\n", r->unchanged ? "unchanged" : "ingested",
             path, r->chunks);
    fflush(stdout);
    return;
  }
  if (e)
    fprintf(stderr, "\r\033[Kfailed %s: %s\n", path, e->message);
  int fill = total ? (int)(BAR_WIDTH * done / total) : BAR_WIDTH;
  fprintf(stderr, "\r\033[K[%.*s%*s] %zu/%zu %s", fill,
          "##############################", BAR_WIDTH - fill, "", done, total,
          path);
  fflush(stderr);
}

static bool valid_index(const char *n) {
  size_t len = n ? strlen(n) : 0;
  if (len == 0 || len > 45 || n[0] == '-')
    return false;
  for (const char *p = n; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
      return false;
  return true;
}

struct collection {
  struct loom_store *store;
  struct loom_rag_backends *be;
  struct loom_rag_resolver resolver;
  struct loom_rag rag;
  bool open; /* rag was filled by the resolver */
};

/* --embed-model and --pinecone win over LOOM_EMBED_MODEL and
 * LOOM_PINECONE_URL: they are written into the settings the backends
 * read, so the rest goes exactly as in `loom serve`. */
static void apply_flags(struct loom_config *c, const struct opts *o) {
  if (o->embed_model) {
    loom_free(c->embed_model);
    c->embed_model = loom_strdup(o->embed_model);
  }
  if (o->pinecone) {
    loom_free(c->pinecone_url);
    c->pinecone_url = loom_strdup(o->pinecone);
  }
}

/*
 * Opens the database (migrated) and the collection through the configured
 * backends (agents/rag_backends.h, as `loom serve` does): the embedder,
 * and the index `<data dir>/indexes/NAME` (created when `create` and
 * absent) or the Pinecone index NAME at the configured URL.
 */
static loom_err open_collection(struct loom_config *c, const struct opts *o,
                                bool create, struct collection *col,
                                struct loom_error *e) {
  apply_flags(c, o);
  loom_err err = loom_store_open(c->database_url, c->data_dir, &col->store, e);
  if (!err)
    err = loom_store_migrate(col->store, e);
  if (err)
    return err;
  mkdir(c->data_dir, 0755);
  char *dir = loom_asprintf("%s/indexes", c->data_dir);
  struct loom_rag_backends_opts bo = {.config = c,
                                      .store = col->store,
                                      .tenant = o->tenant,
                                      .indexes_dir = dir};
  col->be = loom_rag_backends_new(&bo);
  loom_free(dir);
  col->resolver = loom_rag_backends_resolver(col->be);
  if (create && (err = loom_rag_backends_create(col->be, o->index, e)))
    return err;
  err = col->resolver.open(col->resolver.ud, o->index, &col->rag, e);
  col->open = !err;
  if (err == LOOM_ERR_NOT_FOUND && !(c->pinecone_url && *c->pinecone_url))
    loom_error_set(e, err, "no index '%s' (ingest into it first)", o->index);
  return err;
}

static void close_collection(struct collection *col) {
  if (col->open)
    col->resolver.close(col->resolver.ud, &col->rag);
  loom_rag_backends_free(col->be);
  loom_store_close(col->store);
}

/* The files under every PATH argument, sorted; a PATH that does not
 * exist is said on stderr (a typo must not look like "0 files, all
 * fine"). Returns how many were missing. */
static size_t collect_paths(struct files *f, const struct opts *o) {
  size_t missing = 0;
  for (size_t i = 0; i < o->npaths; i++) {
    struct stat st;
    /* The cleaned path is the one read: it must exist (it may not where
     * the text's "dir/.." went through a symbolic link). */
    char *path = clean_path(o->paths[i]);
    if (stat(path, &st) != 0) {
      fprintf(stderr, "loom ingest: %s: %s\n", o->paths[i], strerror(errno));
      missing++;
      loom_free(path);
      continue;
    }
    collect(f, path, true);
    loom_free(path);
  }
  qsort(f->v, f->n, sizeof *f->v, by_name);
  return missing;
}

/* Ingests every file; returns how many failed. */
static size_t ingest_all(struct collection *col, const struct opts *o,
                         const struct files *f) {
  bool tty = isatty(STDERR_FILENO);
  size_t failed = 0, changed = 0, chunks = 0;
  for (size_t i = 0; i < f->n; i++) {
    struct loom_error e = {0};
    struct loom_rag_ingest_result r = {0};
    size_t len = 0;
    char *data = read_file(f->v[i], &len, &e);
    struct loom_rag_ingest_opts io = {.chunk_size = o->chunk_size,
                                      .overlap = o->overlap,
                                      .default_overlap = !o->overlap_set,
                                      .format = loom_rag_format_of(f->v[i])};
    loom_err err =
        data ? loom_rag_ingest(&col->rag, f->v[i], data, len, &io, &r, &e)
             : e.code;
    loom_free(data);
    failed += err != LOOM_OK;
    changed += !err && !r.unchanged;
    chunks += err || r.unchanged ? 0 : r.chunks;
    progress(tty, i + 1, f->n, f->v[i], &r, err ? &e : NULL);
  }
  if (tty)
    fputc('\n', stderr);
  printf("%zu files: %zu ingested (%zu chunks), %zu unchanged, %zu failed\n",
         f->n, changed, chunks, f->n - changed - failed, failed);
  return failed;
}

int loom_cli_ingest(int argc, char **argv) {
  struct opts o = {0};
  struct loom_config c;
  struct files f = {0};
  struct collection col = {0};
  int rc = take_flags(argc, argv, &o);
  if (rc < 0)
    rc = loom_cli_load_config(o.nrest, o.rest, ingest_usage, &c);
  else
    goto done;
  if (rc >= 0)
    goto out;
  rc = 2;
  if (!valid_index(o.index) || o.npaths == 0) {
    fprintf(stderr, "loom ingest: %s\n\n%s\n",
            o.npaths ? "--index NAME is required: lower-case letters, "
                       "digits and '-', up to 45"
                     : "give a file or directory to ingest",
            ingest_usage);
    goto out;
  }
  size_t missing = collect_paths(&f, &o);
  struct loom_error e = {0};
  rc = 1;
  if (open_collection(&c, &o, true, &col, &e))
    fprintf(stderr, "loom ingest: %s\n", e.message);
  else
    rc = ingest_all(&col, &o, &f) || missing ? 1 : 0;
  close_collection(&col);
out:
  loom_config_cleanup(&c);
done:
  for (size_t i = 0; i < f.n; i++)
    loom_free(f.v[i]);
  loom_free(f.v);
  loom_free(o.paths);
  loom_free(o.rest);
  return rc;
}

static int run_search(struct loom_config *c, const struct opts *o) {
  struct loom_rag_query q = {.text = o->paths[0], .top_k = o->top_k};
  if (o->mode && !loom_rag_mode_parse(o->mode, &q.mode)) {
    fprintf(stderr, "loom search: --mode must be hybrid, vector or keyword\n");
    return 2;
  }
  json_error_t je;
  json_t *filter = o->filter ? json_loads(o->filter, 0, &je) : NULL;
  if (o->filter && !filter) {
    fprintf(stderr, "loom search: --filter: %s\n", je.text);
    return 2;
  }
  q.filter = filter;
  struct collection col = {0};
  struct loom_error e = {0};
  json_t *hits = NULL;
  int rc = 1;
  if (open_collection(c, o, false, &col, &e) ||
      loom_rag_search(&col.rag, &q, &hits, &e)) {
    fprintf(stderr, "loom search: %s\n", e.message);
  } else {
    json_dumpf(hits, stdout, JSON_INDENT(2));
    putchar('\n');
    rc = 0;
  }
  json_decref(hits);
  json_decref(filter);
  close_collection(&col);
  return rc;
}

int loom_cli_search(int argc, char **argv) {
  struct opts o = {0};
  struct loom_config c;
  int rc = take_flags(argc, argv, &o);
  if (rc < 0)
    rc = loom_cli_load_config(o.nrest, o.rest, search_usage, &c);
  else
    goto done;
  if (rc >= 0)
    goto out;
  if (!valid_index(o.index) || o.npaths != 1) {
    fprintf(stderr, "loom search: give one query text and --index NAME\n\n%s\n",
            search_usage);
    rc = 2;
    goto out;
  }
  rc = run_search(&c, &o);
out:
  loom_config_cleanup(&c);
done:
  loom_free(o.paths);
  loom_free(o.rest);
  return rc;
}
