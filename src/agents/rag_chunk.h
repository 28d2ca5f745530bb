/*
 * rag_chunk — cutting documents into chunks for retrieval.
 *
 * Text is cut by size with overlap: a chunk ends at the last paragraph
 * break, else sentence end, else space before the size limit, and the next
 * one starts `overlap` bytes earlier, moved forward to the next sentence
 * or word start, so no chunk begins or ends inside a word. Markdown is
 * first cut into sections at its headings (ignoring '#' lines inside
 * fenced code), each chunk carrying its heading path ("Guide > Install");
 * sections are then cut by size. HTML is reduced to Markdown-like text
 * (scripts, styles and comments dropped, tags stripped, entities decoded,
 * h1..h6 kept as headings) and chunked as Markdown. A PDF's text is taken
 * page by page (rag_pdf.c, poppler-glib); each page is cut by size on its
 * own and its chunks carry the page number.
 */
#ifndef LOOM_AGENTS_RAG_CHUNK_H
#define LOOM_AGENTS_RAG_CHUNK_H

#include <stddef.h>

#include "core/err.h"

#define LOOM_RAG_DEFAULT_CHUNK_SIZE 1000
#define LOOM_RAG_DEFAULT_OVERLAP 150
#define LOOM_RAG_MAX_CHUNK_SIZE 32000

enum loom_rag_format {
  LOOM_RAG_TEXT,     /* plain text */
  LOOM_RAG_MARKDOWN, /* sections by heading */
  LOOM_RAG_HTML,     /* stripped, then as Markdown */
  LOOM_RAG_PDF,      /* text per page */
};

struct loom_rag_chunk {
  char *text;    /* trimmed, never empty */
  char *heading; /* "A > B" heading path, or NULL */
  unsigned page; /* PDF: 1-based page number; else 0 */
};

struct loom_rag_chunks {
  struct loom_rag_chunk *v;
  size_t n, cap;
};

/* The format a file name suggests: .md/.markdown, .html/.htm, .pdf, else
 * text. */
enum loom_rag_format loom_rag_format_of(const char *path);
/* "text/plain", "text/markdown", "text/html" or "application/pdf". */
const char *loom_rag_format_mime(enum loom_rag_format f);

/*
 * Cuts `len` bytes of `text` into `out` (initialised by the caller with
 * {0}; free with loom_rag_chunks_cleanup even on failure). `size` 0 means
 * the default; LOOM_ERR_INVALID when size exceeds LOOM_RAG_MAX_CHUNK_SIZE
 * or overlap is not below half the size.
 */
loom_err loom_rag_chunk(const char *text, size_t len, enum loom_rag_format f,
                        size_t size, size_t overlap,
                        struct loom_rag_chunks *out,
                        struct loom_error *e) LOOM_MUST_USE;

void loom_rag_chunks_cleanup(struct loom_rag_chunks *c);

/*
 * The text of each page of the PDF in `data`: *pages gets *n strings
 * (loom_free each and the array). LOOM_ERR_PARSE for bytes that are not a
 * readable PDF, LOOM_ERR_UNSUPPORTED for an encrypted one.
 */
loom_err loom_rag_pdf_pages(const char *data, size_t len, char ***pages,
                            size_t *n, struct loom_error *e) LOOM_MUST_USE;

/* HTML reduced to Markdown-like text (see above); loom_free the result. */
char *loom_rag_html_to_text(const char *html, size_t len);

#endif
