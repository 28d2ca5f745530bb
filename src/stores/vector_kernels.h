/*
 * vector_kernels — distance kernels for the vector index.
 *
 * Float32 dot product, squared Euclidean distance and cosine similarity, and
 * int8 dot product and squared L2 for quantized vectors, and the two steps of
 * quantizing a float vector to int8 (min/max, scale and round). Each exists in
 * a portable version and in AVX2+FMA and AVX-512 versions compiled with
 * __attribute__((target)) into the same binary; loom_vk_best() picks the
 * widest one the CPU supports (__builtin_cpu_supports), once, so one binary
 * runs everywhere. Every kernel accepts any length (tails are handled) and
 * unaligned pointers. Int8 inputs are what the quantizer produces: values
 * in [-127, 127] (-128 is never used, which lets dot_i8 use maddubs).
 */
#ifndef LOOM_STORES_VECTOR_KERNELS_H
#define LOOM_STORES_VECTOR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Similarity metrics, as Pinecone names them. */
enum loom_metric {
  LOOM_METRIC_COSINE,    /* 1 - cos(a, b) as distance */
  LOOM_METRIC_DOT,       /* -a.b as distance */
  LOOM_METRIC_EUCLIDEAN, /* |a-b|^2 as distance */
};

typedef float (*loom_vk_f32_fn)(const float *a, const float *b, size_t n);
typedef int32_t (*loom_vk_i8_fn)(const int8_t *a, const int8_t *b, size_t n);
/* One query against four vectors at once: out[k] = f(q, v[k]). Reading
 * four vectors in one pass keeps four memory streams in flight. */
typedef void (*loom_vk_f32x4_fn)(const float *q, const float *const *v,
                                 size_t n, float *out);

/* One int8 query against four int8 vectors: out[k] = dot_i8(q, v[k]). */
typedef void (*loom_vk_i8x4_fn)(const int8_t *q, const int8_t *const *v,
                                size_t n, int32_t *out);

/* One instruction set's kernels. */
struct loom_vk {
  const char *isa;           /* "avx512", "avx2", "portable" */
  loom_vk_f32_fn dot;        /* sum a[i]*b[i] */
  loom_vk_f32_fn l2sq;       /* sum (a[i]-b[i])^2 */
  loom_vk_f32_fn cosine;     /* a.b / (|a||b|); 0 when either is all zeros */
  loom_vk_i8_fn dot_i8;      /* exact sum a[i]*b[i] for values in [-127, 127] */
  loom_vk_i8_fn l2sq_i8;     /* exact integer sum (a[i]-b[i])^2 */
  loom_vk_f32x4_fn dot_x4;   /* dot of q with each of four vectors */
  loom_vk_f32x4_fn l2sq_x4;  /* l2sq of q with each of four vectors */
  loom_vk_i8x4_fn dot_i8_x4; /* dot_i8 of q with each of four vectors */
  /* Smallest and largest of v[0..n), n >= 1, values finite. */
  void (*minmax)(const float *v, size_t n, float *lo, float *hi);
  /* out[i] = (v[i] - off) * inv clamped to [-127, 127] and rounded half
   * away from zero (finite values); returns the sum of out[0..n). The
   * result is the same bit for bit in every kernel set. */
  int32_t (*quantize_i8)(const float *v, size_t n, float off, float inv,
                         int8_t *out);
};

/* The fastest kernels this CPU runs (chosen once; thread-safe). */
const struct loom_vk *loom_vk_best(void);

/* The portable kernels (reference for tests; always available). */
const struct loom_vk *loom_vk_portable(void);

/* AVX2+FMA kernels, or NULL when the CPU lacks AVX2 or FMA. */
const struct loom_vk *loom_vk_avx2(void);

/* AVX-512 (F + BW + VL) kernels, or NULL when the CPU lacks them. */
const struct loom_vk *loom_vk_avx512(void);

/* Parses "cosine" | "dotproduct" | "euclidean"; returns -1 when unknown. */
int loom_metric_parse(const char *name);

/* The Pinecone name of a metric ("cosine", "dotproduct", "euclidean"). */
const char *loom_metric_name(enum loom_metric m);

#endif
