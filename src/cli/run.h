/*
 * run — `loom run FILE --input JSON` and `loom resume THREAD --value JSON`:
 * a graph run from the terminal on the embedded database, printing each
 * node's result as it happens and the final state.
 */
#ifndef LOOM_CLI_RUN_H
#define LOOM_CLI_RUN_H

/* `loom run`: argv[0] is "run". Returns the exit code (0 when the run
 * finished or stopped at an interrupt, 1 on a run error, 2 on bad usage). */
int loom_cli_run(int argc, char **argv);

/* `loom resume`: continues an interrupted thread with a resume value. */
int loom_cli_resume(int argc, char **argv);

#endif
