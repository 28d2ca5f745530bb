/*
 * rag_chunk — chunking of text and Markdown (HTML: see rag_html.c).
 *
 * The size cutter works on one section at a time and only ever moves
 * forward: each chunk's end is chosen first (paragraph, sentence, space,
 * or the hard limit when a "word" is longer than the chunk), then the next
 * start is placed `overlap` bytes back and moved forward to a sentence or
 * word start, but always past the previous start, so it terminates.
 */
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "agents/rag_chunk.h"
#include "core/alloc.h"

#define MAX_HEADING_DEPTH 6

enum loom_rag_format loom_rag_format_of(const char *path) {
  const char *dot = path ? strrchr(path, '.') : NULL;
  if (!dot)
    return LOOM_RAG_TEXT;
  if (!strcasecmp(dot, ".md") || !strcasecmp(dot, ".markdown"))
    return LOOM_RAG_MARKDOWN;
  if (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm"))
    return LOOM_RAG_HTML;
  if (!strcasecmp(dot, ".pdf"))
    return LOOM_RAG_PDF;
  return LOOM_RAG_TEXT;
}

const char *loom_rag_format_mime(enum loom_rag_format f) {
  switch (f) {
  case LOOM_RAG_MARKDOWN:
    return "text/markdown";
  case LOOM_RAG_HTML:
    return "text/html";
  case LOOM_RAG_PDF:
    return "application/pdf";
  case LOOM_RAG_TEXT:
    break;
  }
  return "text/plain";
}

void loom_rag_chunks_cleanup(struct loom_rag_chunks *c) {
  for (size_t i = 0; i < c->n; i++) {
    loom_free(c->v[i].text);
    loom_free(c->v[i].heading);
  }
  loom_free(c->v);
  memset(c, 0, sizeof *c);
}

/* Adds s[0..len) trimmed, unless it is blank. */
static void push(struct loom_rag_chunks *c, const char *s, size_t len,
                 const char *heading) {
  while (len && isspace((unsigned char)*s))
    s++, len--;
  while (len && isspace((unsigned char)s[len - 1]))
    len--;
  if (!len)
    return;
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->v = loom_realloc(c->v, c->cap * sizeof *c->v);
  }
  char *t = loom_malloc(len + 1);
  memcpy(t, s, len);
  t[len] = 0;
  c->v[c->n].text = t;
  c->v[c->n].heading = heading && *heading ? loom_strdup(heading) : NULL;
  c->v[c->n].page = 0;
  c->n++;
}

static bool sentence_end(const char *s, size_t i, size_t len) {
  return (s[i] == '.' || s[i] == '!' || s[i] == '?') &&
         (i + 1 == len || isspace((unsigned char)s[i + 1]));
}

/* Where a chunk starting at `start` should end (exclusive), given the
 * section length; prefers a paragraph break, then a sentence end, then a
 * space, in the second half of the window. */
static size_t chunk_end(const char *s, size_t start, size_t len, size_t size) {
  if (len - start <= size)
    return len;
  size_t limit = start + size, floor = start + size / 2;
  for (size_t i = limit; i > floor; i--)
    if (s[i - 1] == '\n' && i >= 2 && s[i - 2] == '\n')
      return i;
  for (size_t i = limit; i > floor; i--)
    if (sentence_end(s, i - 1, len))
      return i;
  for (size_t i = limit; i > floor; i--)
    if (isspace((unsigned char)s[i - 1]))
      return i;
  /* No break: do not split a UTF-8 sequence. */
  while (limit > start + 1 && ((unsigned char)s[limit] & 0xC0) == 0x80)
    limit--;
  return limit;
}

/* Where the chunk after [start, end) starts: `overlap` back from end,
 * moved to a sentence start, else a word start, within [.., end). */
static size_t next_start(const char *s, size_t start, size_t end,
                         size_t overlap) {
  if (overlap == 0 || end - start <= overlap)
    return end;
  size_t from = end - overlap;
  for (size_t i = from; i + 1 < end; i++)
    if (i > 0 && sentence_end(s, i - 1, end) && isspace((unsigned char)s[i]))
      return i + 1;
  for (size_t i = from; i < end; i++)
    if (i > 0 && isspace((unsigned char)s[i - 1]) &&
        !isspace((unsigned char)s[i]))
      return i;
  return end;
}

/* Cuts one section by size. */
static void cut_by_size(struct loom_rag_chunks *c, const char *s, size_t len,
                        size_t size, size_t overlap, const char *heading) {
  size_t start = 0;
  while (start < len) {
    while (start < len && isspace((unsigned char)s[start]))
      start++;
    if (start >= len)
      break;
    size_t end = chunk_end(s, start, len, size);
    push(c, s + start, end - start, heading);
    if (end >= len)
      break;
    size_t ns = next_start(s, start, end, overlap);
    start = ns > start ? ns : end;
  }
}

/* Length of a Markdown ATX heading marker at line `l` ("## "), 0 if none. */
static int heading_level(const char *l, size_t n) {
  int lvl = 0;
  while ((size_t)lvl < n && l[lvl] == '#')
    lvl++;
  if (lvl == 0 || lvl > MAX_HEADING_DEPTH || (size_t)lvl >= n ||
      (l[lvl] != ' ' && l[lvl] != '\t'))
    return 0;
  return lvl;
}

struct md_state {
  char *titles[MAX_HEADING_DEPTH];
  size_t size, overlap;
  struct loom_rag_chunks *out;
};

static char *heading_path(const struct md_state *m) {
  size_t n = 1;
  for (int i = 0; i < MAX_HEADING_DEPTH; i++)
    if (m->titles[i])
      n += strlen(m->titles[i]) + 3;
  char *p = loom_malloc(n), *w = p;
  *w = 0;
  for (int i = 0; i < MAX_HEADING_DEPTH; i++) {
    if (!m->titles[i])
      continue;
    if (w != p)
      w = stpcpy(w, " > ");
    w = stpcpy(w, m->titles[i]);
  }
  return p;
}

/* Emits the section s[0..len) (its heading line included) unless it holds
 * nothing but the heading line. */
static void md_section(struct md_state *m, const char *s, size_t len,
                       size_t body_off) {
  bool blank = true;
  for (size_t i = body_off; i < len && blank; i++)
    blank = isspace((unsigned char)s[i]);
  if (blank)
    return;
  char *path = heading_path(m);
  cut_by_size(m->out, s, len, m->size, m->overlap, path);
  loom_free(path);
}

/* Records a heading of `lvl` with its title line l[0..n). */
static void md_heading(struct md_state *m, int lvl, const char *l, size_t n) {
  const char *t = l + lvl;
  size_t tn = n - (size_t)lvl;
  while (tn && isspace((unsigned char)*t))
    t++, tn--;
  while (tn && (isspace((unsigned char)t[tn - 1]) || t[tn - 1] == '#'))
    tn--;
  for (int i = lvl - 1; i < MAX_HEADING_DEPTH; i++) {
    loom_free(m->titles[i]);
    m->titles[i] = NULL;
  }
  char *title = loom_malloc(tn + 1);
  memcpy(title, t, tn);
  title[tn] = 0;
  m->titles[lvl - 1] = title;
}

static void chunk_markdown(const char *s, size_t len, struct md_state *m) {
  size_t sec = 0, body = 0;
  bool fenced = false;
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(s + i, '\n', len - i);
    size_t n = nl ? (size_t)(nl - (s + i)) : len - i;
    const char *l = s + i;
    if (n >= 3 && (!strncmp(l, "```", 3) || !strncmp(l, "~~~", 3)))
      fenced = !fenced;
    int lvl = fenced ? 0 : heading_level(l, n);
    if (lvl) {
      md_section(m, s + sec, i - sec, body - sec);
      md_heading(m, lvl, l, n);
      sec = i;
      body = i + n;
    }
    i += n + (nl ? 1 : 0);
  }
  md_section(m, s + sec, len - sec, body - sec);
  for (int i = 0; i < MAX_HEADING_DEPTH; i++)
    loom_free(m->titles[i]);
}

/* Each page cut by size on its own; its chunks carry the page number. */
static loom_err chunk_pdf(const char *data, size_t len, size_t size,
                          size_t overlap, struct loom_rag_chunks *out,
                          struct loom_error *e) {
  char **pages;
  size_t n;
  loom_err err = loom_rag_pdf_pages(data, len, &pages, &n, e);
  if (err)
    return err;
  for (size_t i = 0; i < n; i++) {
    size_t first = out->n;
    cut_by_size(out, pages[i], strlen(pages[i]), size, overlap, NULL);
    for (size_t c = first; c < out->n; c++)
      out->v[c].page = (unsigned)i + 1;
    loom_free(pages[i]);
  }
  loom_free(pages);
  return LOOM_OK;
}

loom_err loom_rag_chunk(const char *text, size_t len, enum loom_rag_format f,
                        size_t size, size_t overlap,
                        struct loom_rag_chunks *out, struct loom_error *e) {
  if (size == 0)
    size = LOOM_RAG_DEFAULT_CHUNK_SIZE;
  if (size > LOOM_RAG_MAX_CHUNK_SIZE || size < 16)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "chunk size (chunk_size, --chunk-size) must be "
                          "between 16 and %d bytes",
                          LOOM_RAG_MAX_CHUNK_SIZE);
  if (overlap * 2 >= size)
    return loom_error_set(e, LOOM_ERR_INVALID,
                          "overlap (%zu) must be less than half the chunk "
                          "size (%zu)",
                          overlap, size);
  if (f == LOOM_RAG_PDF)
    return chunk_pdf(text, len, size, overlap, out, e);
  /* Chunks are C strings: NUL bytes (binary junk, UTF-16) become spaces. */
  char *clean = NULL;
  if (memchr(text, 0, len)) {
    clean = loom_malloc(len + 1);
    for (size_t i = 0; i < len; i++)
      clean[i] = text[i] ? text[i] : ' ';
    clean[len] = 0;
    text = clean;
  }
  if (f == LOOM_RAG_TEXT) {
    cut_by_size(out, text, len, size, overlap, NULL);
  } else {
    char *html = f == LOOM_RAG_HTML ? loom_rag_html_to_text(text, len) : NULL;
    struct md_state m = {.size = size, .overlap = overlap, .out = out};
    chunk_markdown(html ? html : text, html ? strlen(html) : len, &m);
    loom_free(html);
  }
  loom_free(clean);
  return LOOM_OK;
}
