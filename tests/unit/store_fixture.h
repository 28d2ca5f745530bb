/*
 * store_fixture — a real SQLite store in a fresh temporary directory, for
 * the unit tests that need one, and its removal afterwards. Header-only:
 * each test program includes it once.
 */
#ifndef LOOM_TESTS_STORE_FIXTURE_H
#define LOOM_TESTS_STORE_FIXTURE_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "stores/store.h"

static int store_fixture_remove_cb(const char *path, const struct stat *sb,
                                   int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/*
 * Makes `dir` (room for `cap` bytes) a new directory $TMPDIR/<prefix>-XXXXXX
 * and opens a migrated store in it, or in dir/<sub> when `sub` is not NULL
 * (the store creates the missing directories). Returns the store, or NULL
 * with the reason on stderr. Undo with store_fixture_close.
 */
static inline struct loom_store *
store_fixture_open(char *dir, size_t cap, const char *prefix, const char *sub) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, cap, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix);
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return NULL;
  }
  char data[512];
  snprintf(data, sizeof data, "%s%s%s", dir, sub ? "/" : "", sub ? sub : "");
  struct loom_store *store = NULL;
  struct loom_error e = {0};
  if (loom_store_open("", data, &store, &e) != LOOM_OK) {
    fprintf(stderr, "open: %s\n", e.message);
    return NULL;
  }
  if (loom_store_migrate(store, &e) != LOOM_OK) {
    fprintf(stderr, "migrate: %s\n", e.message);
    loom_store_close(store);
    return NULL;
  }
  return store;
}

/* Closes `store` (may be NULL) and removes `dir` with all it holds, unless
 * `dir` is empty (a fixture that made none). */
static inline void store_fixture_close(struct loom_store *store,
                                       const char *dir) {
  if (store)
    loom_store_close(store);
  if (dir[0])
    nftw(dir, store_fixture_remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The fixture of tests that need only a store: store_fixture_setup makes
 * *state a struct store_fixture (directory $TMPDIR/loom-store-XXXXXX),
 * store_fixture_teardown undoes it. Shaped for cmocka's setup/teardown. */
struct store_fixture {
  char dir[256];
  struct loom_store *store;
};

static inline int store_fixture_setup(void **state) {
  struct store_fixture *f = calloc(1, sizeof *f);
  if (!f)
    abort();
  *state = f;
  f->store = store_fixture_open(f->dir, sizeof f->dir, "loom-store", NULL);
  return f->store ? 0 : -1;
}

static inline int store_fixture_teardown(void **state) {
  struct store_fixture *f = *state;
  store_fixture_close(f->store, f->dir);
  free(f);
  return 0;
}

#endif
