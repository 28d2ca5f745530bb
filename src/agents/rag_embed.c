/*
 * rag_embed — the built-in `hash` embedder.
 *
 * Feature hashing (the "hashing trick"): each feature of the text — a
 * lower-cased word, a pair of adjacent words, a character trigram of a
 * word padded with spaces — is hashed (FNV-1a, 64-bit); the low bits pick
 * one of `dim` buckets and the top bit a sign, so collisions cancel on
 * average instead of piling up. Words weigh 1, bigrams 0.5 and trigrams
 * 0.25 (trigrams let "embedding" meet "embeddings"). A short list of
 * English stop words is left out, since they would make unrelated texts
 * look alike. The vector is L2-normalised, so cosine similarity is a dot
 * product. Same text, same vector, on every machine.
 */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "agents/rag.h"

#define MAX_WORD 48

static uint64_t fnv1a(const char *s, size_t n, uint64_t h) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static void add(float *v, uint32_t dim, uint64_t h, float w) {
  /* Finalise (murmur3 fmix64) so nearby hashes spread over the buckets. */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  v[h % dim] += (h >> 63) ? -w : w;
}

static bool stop_word(const char *w, size_t n) {
  static const char *const stop[] = {
      "a",    "an",   "the",  "and",  "or",   "of",  "to",   "in",    "on",
      "for",  "with", "is",   "are",  "was",  "be",  "by",   "at",    "as",
      "it",   "its",  "this", "that", "from", "how", "what", "which", "do",
      "does", "can",  "i",    "you",  "we",   NULL};
  for (size_t i = 0; stop[i]; i++)
    if (strlen(stop[i]) == n && !memcmp(stop[i], w, n))
      return true;
  return false;
}

/* Next word of s[*i..len) lower-cased into w (at most MAX_WORD bytes);
 * returns its length, 0 at the end. */
static size_t next_word(const char *s, size_t len, size_t *i, char *w) {
  while (*i < len && !isalnum((unsigned char)s[*i]) &&
         !((unsigned char)s[*i] & 0x80))
    (*i)++;
  size_t n = 0;
  while (*i < len &&
         (isalnum((unsigned char)s[*i]) || ((unsigned char)s[*i] & 0x80))) {
    if (n < MAX_WORD)
      w[n++] = (char)tolower((unsigned char)s[*i]);
    (*i)++;
  }
  return n;
}

static void add_trigrams(float *v, uint32_t dim, const char *w, size_t n) {
  char padded[MAX_WORD + 2];
  padded[0] = ' ';
  memcpy(padded + 1, w, n);
  padded[n + 1] = ' ';
  for (size_t j = 0; j + 3 <= n + 2; j++)
    add(v, dim, fnv1a(padded + j, 3, 0x84222325cbf29ce4ULL), 0.25f);
}

void loom_rag_hash_embed(const char *text, size_t len, uint32_t dim,
                         float *out) {
  memset(out, 0, dim * sizeof *out);
  char prev[MAX_WORD], w[MAX_WORD];
  size_t prevn = 0, i = 0, n;
  while ((n = next_word(text, len, &i, w)) > 0) {
    if (stop_word(w, n))
      continue;
    add(out, dim, fnv1a(w, n, 0xcbf29ce484222325ULL), 1.0f);
    add_trigrams(out, dim, w, n);
    if (prevn) {
      uint64_t h = fnv1a(prev, prevn, 0x9e3779b97f4a7c15ULL);
      h = fnv1a(" ", 1, h);
      add(out, dim, fnv1a(w, n, h), 0.5f);
    }
    memcpy(prev, w, n);
    prevn = n;
  }
  double norm = 0;
  for (uint32_t d = 0; d < dim; d++)
    norm += (double)out[d] * out[d];
  if (norm > 0) {
    float inv = (float)(1.0 / sqrt(norm));
    for (uint32_t d = 0; d < dim; d++)
      out[d] *= inv;
  } else {
    out[0] = 1.0f; /* no feature at all: a fixed unit vector, not zero */
  }
}

static loom_err hash_embed_cb(void *self, const char *const *texts, size_t n,
                              float *out, struct loom_error *e) {
  (void)e;
  uint32_t dim = (uint32_t)(uintptr_t)self;
  for (size_t i = 0; i < n; i++)
    loom_rag_hash_embed(texts[i], strlen(texts[i]), dim, out + i * dim);
  return LOOM_OK;
}

struct loom_rag_embedder loom_rag_hash_embedder(uint32_t dim) {
  if (dim == 0)
    dim = LOOM_RAG_HASH_DIM;
  return (struct loom_rag_embedder){.name = "hash",
                                    .dim = dim,
                                    .embed = hash_embed_cb,
                                    .self = (void *)(uintptr_t)dim};
}
