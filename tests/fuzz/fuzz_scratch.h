/*
 * fuzz_scratch — for fuzz targets whose code under test reads a file
 * (settings, vector snapshots, logs): each input is written whole to one
 * scratch file, in a directory made on first use, in memory when /dev/shm
 * allows (opening a log syncs it) and removed at exit.
 */
#ifndef LOOM_FUZZ_SCRATCH_H
#define LOOM_FUZZ_SCRATCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char scratch_dir[64], scratch_path[96];

static void scratch_remove(void) {
  unlink(scratch_path);
  rmdir(scratch_dir);
}

/* Writes the input to the scratch file (`name` in a directory named after
 * `tag`) and returns its path; aborts when it cannot. */
static const char *scratch_write(const char *tag, const char *name,
                                 const uint8_t *data, size_t size) {
  if (!scratch_dir[0]) {
    snprintf(scratch_dir, sizeof scratch_dir, "/dev/shm/loom-fuzz-%s-XXXXXX",
             tag);
    if (!mkdtemp(scratch_dir)) {
      snprintf(scratch_dir, sizeof scratch_dir, "/tmp/loom-fuzz-%s-XXXXXX",
               tag);
      if (!mkdtemp(scratch_dir))
        abort();
    }
    snprintf(scratch_path, sizeof scratch_path, "%s/%s", scratch_dir, name);
    atexit(scratch_remove);
  }
  FILE *f = fopen(scratch_path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
    abort();
  return scratch_path;
}

#endif
