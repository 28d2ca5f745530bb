/*
 * pinecone — the Pinecone-compatible API (control plane in pinecone.c,
 * data plane in pinecone_data.c) over stores/vector_indexes.h. The indexes
 * live under $LOOM_DATA_DIR/indexes/<name>/.
 */
#ifndef LOOM_API_PINECONE_H
#define LOOM_API_PINECONE_H

#include "api/app.h"
#include "core/err.h"
#include "io/http.h"
#include "io/router.h"

struct loom_vindexes;

/*
 * Opens the index directory (once per process) and registers the control
 * and data plane routes. LOOM_ERR_IO when the directory cannot be opened,
 * or a route clash.
 */
loom_err loom_api_pinecone_routes(struct loom_http_router *router,
                                  struct loom_app *app,
                                  struct loom_error *e) LOOM_MUST_USE;

/* Checkpoints and closes every index; call after the server stopped. */
void loom_api_pinecone_shutdown(void);

/* ---- shared by pinecone.c and pinecone_data.c ---- */

/* The open index table. */
struct loom_vindexes *pc_indexes(void);

/* A control-plane error: {"error": {"code", "message"}, "status"}. */
void pc_fail(struct loom_http_req *req, unsigned status, const char *fmt, ...)
    LOOM_PRINTF(3, 4);

/* The HTTP status Pinecone uses for a loom error code. */
unsigned pc_status(loom_err code);

/* Frees the document routes' embedder and remote indexes (documents.c);
 * called by loom_api_pinecone_shutdown. */
void loom_api_documents_shutdown(void);

/* Registers the data plane routes (pinecone_data.c). */
loom_err pc_data_routes(struct loom_http_router *router,
                        struct loom_error *e) LOOM_MUST_USE;

#endif
