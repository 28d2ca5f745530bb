/*
 * tmp_dir — a fresh directory under $TMPDIR (or /tmp) for a test, and its
 * removal with everything in it.
 */
#ifndef LOOM_TESTS_TMP_DIR_H
#define LOOM_TESTS_TMP_DIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

static inline int tmp_dir_remove_cb(const char *path, const struct stat *sb,
                                    int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* "$TMPDIR/<prefix>-XXXXXX" made; free() it. Aborts when it cannot be. */
static inline char *tmp_dir_new(const char *prefix) {
  const char *tmp = getenv("TMPDIR");
  size_t n =
      (size_t)snprintf(NULL, 0, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix) + 1;
  char *d = malloc(n);
  snprintf(d, n, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix);
  if (!mkdtemp(d)) {
    perror("mkdtemp");
    abort();
  }
  return d;
}

/* Removes `dir` and all it holds. */
static inline void tmp_dir_remove(const char *dir) {
  nftw(dir, tmp_dir_remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
