/*
 * rag_pool — retrieval's own worker threads, for its blocking work:
 * embedding, searching and ingesting, from the `retrieve` node and tool
 * and the document routes.
 *
 * Not libuv's pool, which the HTTP handlers share: with LOOM_PINECONE_URL
 * at this same server, that work waits for a Pinecone request which needs
 * a thread of libuv's pool; holding one while waiting could run it dry.
 */
#ifndef LOOM_AGENTS_RAG_POOL_H
#define LOOM_AGENTS_RAG_POOL_H

struct loom_pool;

/* The threads (started on first use; NULL if they cannot start). */
struct loom_pool *loom_rag_pool(void);

/* Stops them once the work queued on them is done (searches whose tasks
 * were cancelled or whose runs stopped included). Call before clearing
 * the resolver or freeing what it resolves; the next use starts them
 * again. */
void loom_rag_pool_shutdown(void);

#endif
