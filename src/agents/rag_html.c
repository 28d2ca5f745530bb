/*
 * rag_html — HTML reduced to Markdown-like text for chunking.
 *
 * A single forward scan, no DOM: the content of <script>, <style>,
 * <head> (except <title>), <noscript>, <template> and comments is dropped;
 * <h1>..<h6> become "#" lines; block tags (p, div, li, br, tr, section,
 * ...) become line breaks; every other tag disappears. Common entities
 * and numeric references are decoded. Whitespace runs collapse to one
 * space, line breaks to at most a blank line. Malformed HTML degrades to
 * text, never to an error.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agents/rag_chunk.h"
#include "core/alloc.h"

struct out {
  char *p;
  size_t n, cap;
  int newlines; /* trailing '\n's written */
  bool space;   /* a space is pending */
};

static void put(struct out *o, const char *s, size_t n) {
  if (o->n + n + 1 > o->cap) {
    o->cap = (o->n + n + 1) * 2;
    o->p = loom_realloc(o->p, o->cap);
  }
  memcpy(o->p + o->n, s, n);
  o->n += n;
  o->p[o->n] = 0;
}

static void text_char(struct out *o, char c) {
  if (isspace((unsigned char)c)) {
    o->space = o->n > 0 && o->newlines == 0;
    return;
  }
  if (o->space)
    put(o, " ", 1);
  o->space = false;
  o->newlines = 0;
  put(o, &c, 1);
}

static void breaks(struct out *o, int want) {
  o->space = false;
  if (o->n == 0)
    return;
  while (o->newlines < want) {
    put(o, "\n", 1);
    o->newlines++;
  }
}

/* Decodes the entity at s (after '&'); writes it and returns the bytes
 * consumed after '&', or 0 when it is not one. */
static size_t entity(struct out *o, const char *s, const char *end) {
  static const struct {
    const char *name;
    const char *text;
  } named[] = {{"amp;", "&"},   {"lt;", "<"},    {"gt;", ">"},
               {"quot;", "\""}, {"apos;", "'"},  {"#39;", "'"},
               {"nbsp;", " "},  {"mdash;", "-"}, {"ndash;", "-"}};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    size_t n = strlen(named[i].name);
    if ((size_t)(end - s) >= n && !strncmp(s, named[i].name, n)) {
      for (const char *t = named[i].text; *t; t++)
        text_char(o, *t);
      return n;
    }
  }
  if (s < end && *s == '#') {
    /* The input is not NUL-terminated: parse a bounded copy. */
    char num[12] = {0};
    size_t n =
        (size_t)(end - s) < sizeof num - 1 ? (size_t)(end - s) : sizeof num - 1;
    memcpy(num, s, n);
    char *stop;
    bool hex = num[1] == 'x' || num[1] == 'X';
    unsigned long cp = strtoul(num + (hex ? 2 : 1), &stop, hex ? 16 : 10);
    if (*stop == ';' && cp > 0) {
      /* A non-ASCII reference is kept as a separator. */
      text_char(o, cp < 0x80 ? (char)cp : ' ');
      return (size_t)(stop - num) + 1;
    }
  }
  return 0;
}

/* Tag name of a tag starting after '<' (and '/'): lower-cased into `name`. */
static void tag_name(const char *s, const char *end, char *name, size_t cap) {
  size_t n = 0;
  while (s < end && n + 1 < cap && (isalnum((unsigned char)*s)))
    name[n++] = (char)tolower((unsigned char)*s++);
  name[n] = 0;
}

static bool is_block(const char *t) {
  static const char *const blocks[] = {
      "p",          "div",    "br",   "li",         "ul",      "ol",
      "tr",         "td",     "th",   "table",      "section", "article",
      "header",     "footer", "nav",  "blockquote", "pre",     "hr",
      "dd",         "dt",     "main", "aside",      "form",    "figure",
      "figcaption", NULL};
  for (size_t i = 0; blocks[i]; i++)
    if (!strcmp(t, blocks[i]))
      return true;
  return false;
}

static bool is_skipped(const char *t) {
  return !strcmp(t, "script") || !strcmp(t, "style") ||
         !strcmp(t, "noscript") || !strcmp(t, "template") || !strcmp(t, "svg");
}

/* Skips to after the closing tag `</name`, or to the end. */
static const char *skip_until_close(const char *s, const char *end,
                                    const char *name) {
  size_t n = strlen(name);
  for (; s < end; s++)
    if (s[0] == '<' && s + 1 < end && s[1] == '/' &&
        (size_t)(end - s - 2) >= n && !strncasecmp(s + 2, name, n)) {
      const char *gt = memchr(s, '>', (size_t)(end - s));
      return gt ? gt + 1 : end;
    }
  return end;
}

/* Handles one tag at s ('<'); returns where scanning resumes. */
static const char *tag(struct out *o, const char *s, const char *end,
                       bool *in_head) {
  if (end - s >= 4 && !strncmp(s, "<!--", 4)) {
    const char *c = memmem(s + 4, (size_t)(end - s - 4), "-->", 3);
    return c ? c + 3 : end;
  }
  bool closing = s + 1 < end && s[1] == '/';
  char name[16];
  tag_name(s + 1 + closing, end, name, sizeof name);
  const char *gt = memchr(s, '>', (size_t)(end - s));
  const char *after = gt ? gt + 1 : end;
  if (!name[0] && !closing && s + 1 < end && s[1] != '!' && s[1] != '?') {
    text_char(o, '<'); /* a lone '<' in text */
    return s + 1;
  }
  if (!strcmp(name, "head"))
    *in_head = !closing;
  else if (!closing && is_skipped(name))
    return skip_until_close(after, end, name);
  else if (name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && !name[2]) {
    breaks(o, 2);
    if (!closing) {
      for (int i = 0; i < name[1] - '0'; i++)
        put(o, "#", 1);
      put(o, " ", 1);
      o->newlines = 0;
    }
  } else if (!strcmp(name, "title") && !closing) {
    const char *close = skip_until_close(after, end, "title");
    breaks(o, 2);
    put(o, "# ", 2);
    o->newlines = 0;
    for (const char *t = after; t < close && *t != '<'; t++)
      text_char(o, *t);
    breaks(o, 2);
    return close;
  } else if (is_block(name)) {
    breaks(o, !strcmp(name, "br") || !strcmp(name, "li") ? 1 : 2);
  }
  return after;
}

char *loom_rag_html_to_text(const char *html, size_t len) {
  struct out o = {0};
  put(&o, "", 0);
  const char *s = html, *end = html + len;
  bool in_head = false;
  while (s < end) {
    if (*s == '<') {
      s = tag(&o, s, end, &in_head);
    } else if (in_head) {
      s++;
    } else if (*s == '&') {
      size_t n = entity(&o, s + 1, end);
      if (n == 0)
        text_char(&o, '&');
      s += n + 1;
    } else {
      text_char(&o, *s++);
    }
  }
  return o.p;
}
