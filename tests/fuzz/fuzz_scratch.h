/*
 * fuzz_scratch — for fuzz targets whose code under test reads a file
 * (settings, vector snapshots, logs): each input is written whole to one
 * scratch file, in a directory made on first use, in memory when /dev/shm
 * allows (opening a log syncs it) and removed at exit. Targets whose code
 * keeps several files (a vector store's directory) use the directory
 * itself (scratch_dir) and empty it after each input (scratch_clear).
 */
#ifndef LOOM_FUZZ_SCRATCH_H
#define LOOM_FUZZ_SCRATCH_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char scratch_dir_name[64], scratch_path[96];

static inline int scratch_unlink_cb(const char *path, const struct stat *st,
                                    int kind, struct FTW *ftw) {
  (void)st;
  (void)kind;
  if (ftw->level > 0)
    remove(path);
  return 0;
}

/* Empties the scratch directory (files and directories in it). */
static inline void scratch_clear(void) {
  if (scratch_dir_name[0])
    nftw(scratch_dir_name, scratch_unlink_cb, 8, FTW_DEPTH | FTW_PHYS);
}

static inline void scratch_remove(void) {
  scratch_clear();
  rmdir(scratch_dir_name);
}

/* The scratch directory (named after `tag`), made on first use; aborts
 * when it cannot. */
static inline const char *scratch_dir(const char *tag) {
  if (!scratch_dir_name[0]) {
    snprintf(scratch_dir_name, sizeof scratch_dir_name,
             "/dev/shm/loom-fuzz-%s-XXXXXX", tag);
    if (!mkdtemp(scratch_dir_name)) {
      snprintf(scratch_dir_name, sizeof scratch_dir_name,
               "/tmp/loom-fuzz-%s-XXXXXX", tag);
      if (!mkdtemp(scratch_dir_name))
        abort();
    }
    atexit(scratch_remove);
  }
  return scratch_dir_name;
}

/* Writes the input to the scratch file (`name` in a directory named after
 * `tag`) and returns its path; aborts when it cannot. */
static inline const char *scratch_write(const char *tag, const char *name,
                                        const uint8_t *data, size_t size) {
  if (!scratch_path[0])
    snprintf(scratch_path, sizeof scratch_path, "%s/%s", scratch_dir(tag),
             name);
  FILE *f = fopen(scratch_path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
    abort();
  return scratch_path;
}

#endif
