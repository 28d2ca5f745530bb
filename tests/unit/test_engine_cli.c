/*
 * test_engine_cli — `loom run` and `loom resume` as a user types them:
 * the approval example from input to publish through two human answers,
 * with the output captured from stdout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli/run.h"
#include "engine_helpers.h"

static char dir[] = "/tmp/loom-cli-XXXXXX";

/* Runs fn(argv) with file descriptor `which` (1: stdout, 2: stderr)
 * captured; returns the exit code, output in buf. */
static int capture_fd(int which, int (*fn)(int, char **), char **argv,
                      char *buf, size_t cap) {
  int argc = 0;
  while (argv[argc])
    argc++;
  char path[128];
  snprintf(path, sizeof(path), "%s/out.txt", dir);
  fflush(stdout);
  fflush(stderr);
  int saved = dup(which);
  int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  dup2(fd, which);
  close(fd);
  int rc = fn(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(saved, which);
  close(saved);
  FILE *f = fopen(path, "r");
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return rc;
}

static int capture(int (*fn)(int, char **), char **argv, char *buf,
                   size_t cap) {
  return capture_fd(1, fn, argv, buf, cap);
}

static void test_run_and_resume(void **st) {
  (void)st;
  assert_non_null(mkdtemp(dir));
  char file[512], out[16384];
  const char *src = getenv("LOOM_SOURCE_DIR");
  snprintf(file, sizeof(file), "%s/examples/graphs/approval.yaml",
           src ? src : ".");
  char *run[] = {"run",      file,   "--input", "{\"topic\":\"otters\"}",
                 "--thread", "cli1", "--db",    dir,
                 NULL};
  assert_int_equal(capture(loom_cli_run, run, out, sizeof(out)), 0);
  assert_non_null(
      strstr(out, "write        {\"draft\":\"Draft about otters\""));
  assert_non_null(strstr(out, "\"status\": \"interrupted\""));
  assert_non_null(strstr(out, "Approve this draft?"));
  char *no[] = {"resume",  "cli1",
                "--value", "{\"approved\":false,\"feedback\":\"short\"}",
                "--db",    dir,
                NULL};
  assert_int_equal(capture(loom_cli_resume, no, out, sizeof(out)), 0);
  assert_non_null(strstr(out, "(revised: short)"));
  /* --data-dir, as serve, ingest and search spell it, works too. */
  char *yes[] = {"resume",     "cli1", "--value", "{\"approved\":true}",
                 "--data-dir", dir,    "--quiet", NULL};
  assert_int_equal(capture(loom_cli_resume, yes, out, sizeof(out)), 0);
  assert_non_null(strstr(out, "\"status\": \"success\""));
  assert_non_null(strstr(out, "\"publish\""));
  assert_null(strstr(out, "step ")); /* --quiet */
  /* Once more: the thread finished, nothing waits; say what to do. */
  assert_int_equal(capture_fd(2, loom_cli_resume, yes, out, sizeof(out)), 1);
  assert_non_null(strstr(out, "thread cli1 is not waiting on an interrupt, "
                              "so there is nothing to resume; start a new "
                              "run on it with input instead"));
  /* Bad input is a usage error, an unknown thread a run error. */
  char *bad[] = {"run", file, "--input", "topic=otters", "--db", dir, NULL};
  assert_int_equal(capture_fd(2, loom_cli_run, bad, out, sizeof(out)), 2);
  /* Says it wants JSON, and shows some. */
  assert_non_null(strstr(out, "--input: invalid JSON"));
  assert_non_null(strstr(out, "e.g. --input '{\"topic\": \"otters\"}'"));
  char *missing[] = {"resume", "nobody", "--db", dir, NULL};
  assert_int_equal(capture_fd(2, loom_cli_resume, missing, out, sizeof(out)),
                   1);
  /* Says how to get such a thread, or where else it may be. */
  assert_non_null(strstr(out, "no thread 'nobody' here: start one with "
                              "`loom run FILE --thread nobody`"));
  assert_non_null(strstr(out, "--db DIR"));
  char *help[] = {"run", "--help", NULL};
  assert_int_equal(capture(loom_cli_run, help, out, sizeof(out)), 0);
  assert_non_null(strstr(out, "usage: loom run FILE [--input JSON]"));
  char cmd[64];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_and_resume),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
