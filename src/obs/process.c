/*
 * process — reads /proc/self/stat, /proc/self/fd and RLIMIT_NOFILE; the
 * field positions are those of proc(5).
 */
#include "obs/process.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"

struct stat_fields {
  double cpu_seconds;
  double start_seconds; /* since boot */
  double vsize;
  double rss_pages;
};

static int read_stat(struct stat_fields *out) {
  char text[1024];
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f)
    return -1;
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  /* The command name may hold spaces and parentheses: skip past the last
   * ')' and count fields from field 3 (state). */
  char *p = strrchr(text, ')');
  if (!p)
    return -1;
  unsigned long utime, stime, vsize;
  unsigned long long starttime;
  long rss;
  if (sscanf(p + 2,
             "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d "
             "%*d %*d %*d %*d %llu %lu %ld",
             &utime, &stime, &starttime, &vsize, &rss) != 5)
    return -1;
  double ticks = (double)sysconf(_SC_CLK_TCK);
  out->cpu_seconds = (double)(utime + stime) / ticks;
  out->start_seconds = (double)starttime / ticks;
  out->vsize = (double)vsize;
  out->rss_pages = (double)rss;
  return 0;
}

static double boot_time(void) {
  FILE *f = fopen("/proc/stat", "r");
  char line[256];
  double btime = 0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "btime %lf", &btime) == 1)
      break;
  if (f)
    fclose(f);
  return btime;
}

static double open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  double n = 0;
  if (!d)
    return 0;
  while (readdir(d))
    n++;
  closedir(d);
  return n - 3; /* ".", ".." and the descriptor of the listing itself */
}

size_t loom_process_rss_bytes(void) {
  struct stat_fields s;
  if (read_stat(&s) != 0)
    return 0;
  return (size_t)(s.rss_pages * (double)sysconf(_SC_PAGESIZE));
}

void loom_process_metrics_update(void) {
  struct stat_fields s;
  if (read_stat(&s) != 0)
    return;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  loom_metric_set(loom_metrics_counter("process_cpu_seconds_total",
                                       "Total user and system CPU time spent "
                                       "in seconds.",
                                       NULL),
                  NULL, s.cpu_seconds);
  loom_metric_set(loom_metrics_gauge("process_resident_memory_bytes",
                                     "Resident memory size in bytes.", NULL),
                  NULL, s.rss_pages * (double)sysconf(_SC_PAGESIZE));
  loom_metric_set(loom_metrics_gauge("process_virtual_memory_bytes",
                                     "Virtual memory size in bytes.", NULL),
                  NULL, s.vsize);
  loom_metric_set(loom_metrics_gauge("process_open_fds",
                                     "Number of open file descriptors.", NULL),
                  NULL, open_fds());
  loom_metric_set(loom_metrics_gauge("process_max_fds",
                                     "Maximum number of open file "
                                     "descriptors.",
                                     NULL),
                  NULL, (double)rl.rlim_cur);
  loom_metric_set(loom_metrics_gauge("process_start_time_seconds",
                                     "Start time of the process since unix "
                                     "epoch in seconds.",
                                     NULL),
                  NULL, boot_time() + s.start_seconds);
}
