/*
 * rag_pdf — the text of a PDF, page by page, through poppler-glib
 * (Debian's libpoppler-glib-dev).
 *
 * How: the bytes are wrapped in a GBytes (no copy) and opened with
 * poppler_document_new_from_bytes; each page's text comes from
 * poppler_page_get_text in reading order. Encrypted documents need a
 * password and are refused with a message saying so, as are bytes that
 * are not a PDF. Pages without text (scans) give empty strings; chunking
 * skips them.
 */
#include <poppler.h>
#include <stdbool.h>
#include <string.h>

#include "agents/rag_chunk.h"
#include "core/alloc.h"

loom_err loom_rag_pdf_pages(const char *data, size_t len, char ***pages,
                            size_t *n, struct loom_error *e) {
  *pages = NULL;
  *n = 0;
  if (len < 5 || memcmp(data, "%PDF-", 5) != 0)
    return loom_error_set(e, LOOM_ERR_PARSE,
                          "not a PDF (it does not start with %%PDF-)");
  GBytes *bytes = g_bytes_new_static(data, len);
  GError *gerr = NULL;
  PopplerDocument *doc = poppler_document_new_from_bytes(bytes, NULL, &gerr);
  g_bytes_unref(bytes);
  if (!doc) {
    bool locked = gerr && gerr->domain == POPPLER_ERROR &&
                  gerr->code == POPPLER_ERROR_ENCRYPTED;
    loom_err err = loom_error_set(
        e, locked ? LOOM_ERR_UNSUPPORTED : LOOM_ERR_PARSE, "%s%s",
        locked ? "encrypted PDF (needs a password): " : "unreadable PDF: ",
        gerr && gerr->message ? gerr->message : "unknown error");
    if (gerr)
      g_error_free(gerr);
    return err;
  }
  int count = poppler_document_get_n_pages(doc);
  *pages = loom_calloc((size_t)(count > 0 ? count : 1), sizeof **pages);
  for (int i = 0; i < count; i++) {
    PopplerPage *page = poppler_document_get_page(doc, i);
    char *text = page ? poppler_page_get_text(page) : NULL;
    (*pages)[i] = loom_strdup(text ? text : "");
    g_free(text);
    if (page)
      g_object_unref(page);
  }
  *n = (size_t)count;
  g_object_unref(doc);
  return LOOM_OK;
}
