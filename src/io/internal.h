/*
 * internal — what the io layer's HTTP files share and nobody else sees:
 * the request object, the per-loop daemon, and the calls SSE needs to
 * suspend and wake a connection.
 */
#ifndef LOOM_IO_INTERNAL_H
#define LOOM_IO_INTERNAL_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>

#include "core/buf.h"
#include "core/id.h"
#include "io/http.h"
#include "io/http_server.h"
#include "io/router.h"

struct loom_sse;

/* One MHD daemon on one loop; owned by that loop's thread. */
struct io_daemon {
  struct loom_http_server *srv;
  struct loom_loop *loop;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;             /* readable epoll fd of MHD */
  uv_timer_t timer;           /* re-armed from MHD_get_timeout after each run */
  uv_idle_t idle;             /* runs MHD once after resumes, then stops */
  uv_timer_t grace;           /* shutdown: grace period, then the final wait */
  uv_timer_t watch;           /* checks suspended clients for hang-ups */
  int open_handles;           /* uv handles not yet closed */
  bool started;               /* handles initialised */
  bool stopping;              /* quiesced: no new connections */
  bool abandoned;             /* grace period over */
  bool finished;              /* daemon stopped, handles closing */
  struct loom_http_req *reqs; /* live requests (doubly linked) */
  unsigned live;
  struct loom_error start_error;
};

struct io_header {
  struct io_header *next;
  char *name;
  char *value;
};

/* One request from first byte to completion; lives on its loop. */
struct loom_http_req {
  struct io_daemon *d;
  struct MHD_Connection *conn;
  struct loom_http_req *prev, *next;
  char method[24]; /* copied: read again at completion */
  const char *url; /* MHD's; valid until the request completes */
  char id[LOOM_ID_LEN + 1];
  double start_s;
  struct loom_http_match match;
  struct loom_buf body;
  bool too_large;     /* body went over max_body; being drained */
  bool handled;       /* routing + handler done */
  bool in_handler;    /* the handler is on the stack */
  bool want_suspend;  /* handler called loom_http_suspend */
  bool mhd_suspended; /* MHD_suspend_connection in effect */
  bool answered;
  unsigned status;
  struct MHD_Response *response; /* ready, not yet queued */
  struct io_header *headers;     /* extra response headers */
  loom_http_abort_cb abort_cb;
  void *abort_ud;
  loom_http_disconnect_cb disconnect_cb;
  void *disconnect_ud;
  bool hung_up; /* the client closed while we were suspended */
  void *ctx;
  void (*ctx_free)(void *);
  struct loom_sse *sse; /* set while an event stream is attached */
};

/* Schedules one MHD run on the daemon's loop (after resumes). */
void loom_io_schedule_run(struct io_daemon *d);

/* Resumes a suspended connection and schedules the run that serves it. */
void loom_io_resume(struct loom_http_req *req);

/* Hands a finished response to the request: adds x-request-id and the
 * extra headers, then queues it (now or on resume). Takes `resp`. */
void loom_io_answer(struct loom_http_req *req, unsigned status,
                    struct MHD_Response *resp);

/* SSE hooks, implemented in sse.c: the connection ended (request
 * completed), and the server wants the stream closed (shutdown). */
void loom_io_sse_conn_gone(struct loom_sse *stream);
void loom_io_sse_server_close(struct loom_sse *stream);

/* The watch saw the client of a suspended stream hang up. */
void loom_io_sse_peer_closed(struct loom_sse *stream);

/* Releases the request (from the completion callback). */
void loom_io_req_free(struct loom_http_req *req);

#endif
