/*
 * test_vector_kernels — every SIMD kernel this CPU runs agrees with the
 * portable one on random data, at odd lengths (tails) and offsets
 * (unaligned pointers), so search results do not depend on the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stores/vector_kernels.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_u32(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}
static float next_f(void) {
  return (float)(next_u32() % 20001) / 10000.0f - 1.0f;
}

static void near(float got, float want, size_t n) {
  float tol = 1e-4f * (float)n * 0.05f + 1e-4f + fabsf(want) * 1e-4f;
  if (fabsf(got - want) > tol)
    fail_msg("n=%zu got %g want %g", n, got, want);
}

static void check_one(const struct loom_vk *vk) {
  const struct loom_vk *ref = loom_vk_portable();
  enum { MAXN = 1100 };
  float *a = malloc((MAXN + 3) * sizeof *a),
        *b = malloc((MAXN + 3) * sizeof *b);
  int8_t *qa = malloc(MAXN + 3), *qb = malloc(MAXN + 3);
  for (size_t n = 0; n <= MAXN; n += (n < 70 ? 1 : 37)) {
    for (size_t off = 0; off < 3; off++) {
      for (size_t i = 0; i < n + 3; i++) {
        a[i] = next_f();
        b[i] = next_f();
        qa[i] = (int8_t)(next_u32() % 255 - 127); /* the quantizer's range */
        qb[i] = (int8_t)(next_u32() % 255 - 127);
      }
      near(vk->dot(a + off, b + off, n), ref->dot(a + off, b + off, n), n);
      near(vk->l2sq(a + off, b + off, n), ref->l2sq(a + off, b + off, n), n);
      near(vk->cosine(a + off, b + off, n), ref->cosine(a + off, b + off, n),
           1);
      assert_int_equal(vk->dot_i8(qa + off, qb + off, n),
                       ref->dot_i8(qa + off, qb + off, n));
      assert_int_equal(vk->l2sq_i8(qa + off, qb + off, n),
                       ref->l2sq_i8(qa + off, qb + off, n));
      const int8_t *four8[4] = {qb + off, qb, qb + 1, qb + 2};
      int32_t d8[4];
      vk->dot_i8_x4(qa + off, four8, n, d8);
      for (int k = 0; k < 4; k++)
        assert_int_equal(d8[k], ref->dot_i8(qa + off, four8[k], n));
      /* four at once: the query against b at four offsets */
      const float *four[4] = {b + off, b, b + 1, b + 2};
      float dx[4], lx[4];
      vk->dot_x4(a + off, four, n, dx);
      vk->l2sq_x4(a + off, four, n, lx);
      for (int k = 0; k < 4; k++) {
        near(dx[k], ref->dot(a + off, four[k], n), n);
        near(lx[k], ref->l2sq(a + off, four[k], n), n);
      }
    }
  }
  free(a), free(b), free(qa), free(qb);
}

/* The quantizer kernels of `vk` give the portable ones' bits exactly:
 * random values, values on the rounding and clamping edges, -0.0. */
static void check_quantize(const struct loom_vk *vk) {
  const struct loom_vk *ref = loom_vk_portable();
  static const size_t lens[] = {1, 7, 8, 9, 15, 16, 17, 33, 64, 100, 784, 1031};
  enum { MAXN = 1031 };
  float *v = malloc(MAXN * sizeof *v);
  int8_t *got = malloc(MAXN), *want = malloc(MAXN);
  for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
    size_t n = lens[t];
    for (int round = 0; round < 3; round++) {
      for (size_t i = 0; i < n; i++) {
        static const float edge[] = {-0.0f,  0.5f,    -0.5f,  1.5f,  -1.5f,
                                     126.5f, -126.5f, 127.0f, 200.f, -1e6f};
        v[i] = round == 0   ? next_f() * 300.0f
               : round == 1 ? edge[next_u32() % 10]
                            : (float)(next_u32() % 256); /* pixels */
      }
      float lo, hi, rlo, rhi;
      vk->minmax(v, n, &lo, &hi);
      ref->minmax(v, n, &rlo, &rhi);
      assert_true(lo == rlo && hi == rhi);
      float off = round == 1 ? 0.0f : 0.5f * (lo + hi);
      float inv = round == 1 ? 1.0f : 254.0f / (hi - lo > 0 ? hi - lo : 1.0f);
      int32_t s = vk->quantize_i8(v, n, off, inv, got);
      assert_int_equal(s, ref->quantize_i8(v, n, off, inv, want));
      assert_memory_equal(got, want, n);
      for (size_t i = 0; i < n; i++)
        assert_true(got[i] >= -127 && got[i] <= 127);
    }
  }
  /* the definition: clamped, rounded half away from zero */
  float e[6] = {0.5f, -0.5f, 1.49f, -2.5f, 300.0f, -300.0f};
  int8_t q[6];
  assert_int_equal(vk->quantize_i8(e, 6, 0.0f, 1.0f, q), 1 - 1 + 1 - 3);
  assert_int_equal(q[0], 1);
  assert_int_equal(q[1], -1);
  assert_int_equal(q[2], 1);
  assert_int_equal(q[3], -3);
  assert_int_equal(q[4], 127);
  assert_int_equal(q[5], -127);
  free(v), free(got), free(want);
}

/* Int8 products at the extremes of the quantizer's range (maddubs sums
 * pairs into int16: 2 * 127 * 127 must not saturate), four at once too. */
static void check_i8_edges(const struct loom_vk *vk) {
  const struct loom_vk *ref = loom_vk_portable();
  static const size_t lens[] = {1, 7, 33, 64, 784, 832};
  int8_t a[832], b[832], c[832];
  for (size_t t = 0; t < sizeof lens / sizeof *lens; t++) {
    size_t n = lens[t];
    for (size_t i = 0; i < n; i++) {
      a[i] = 127;
      b[i] = i % 2 ? 127 : -127;
      c[i] = -127;
    }
    const int8_t *four[4] = {a, b, c, a};
    int32_t d[4];
    vk->dot_i8_x4(a, four, n, d);
    assert_int_equal(d[0], 127 * 127 * (int32_t)n);
    assert_int_equal(d[2], -127 * 127 * (int32_t)n);
    for (int k = 0; k < 4; k++)
      assert_int_equal(d[k], ref->dot_i8(a, four[k], n));
    vk->dot_i8_x4(c, four, n, d);
    assert_int_equal(d[2], 127 * 127 * (int32_t)n);
    assert_int_equal(vk->dot_i8(c, c, n), 127 * 127 * (int32_t)n);
    assert_int_equal(vk->dot_i8(a, b, n), ref->dot_i8(a, b, n));
  }
}

static void portable_matches_definitions(void **state) {
  (void)state;
  const struct loom_vk *vk = loom_vk_portable();
  float a[3] = {1, 2, 3}, b[3] = {4, -5, 6};
  assert_float_equal(vk->dot(a, b, 3), 12.0f, 1e-6);
  assert_float_equal(vk->l2sq(a, b, 3), 9 + 49 + 9, 1e-6);
  assert_float_equal(vk->cosine(a, a, 3), 1.0f, 1e-6);
  float z[3] = {0, 0, 0};
  assert_float_equal(vk->cosine(a, z, 3), 0.0f, 0);
  int8_t x[2] = {-127, 127}, y[2] = {127, -127};
  assert_int_equal(vk->dot_i8(x, y, 2), -127 * 127 * 2);
  assert_int_equal(vk->l2sq_i8(x, y, 2), 254 * 254 * 2);
}

static void avx2_matches_portable(void **state) {
  (void)state;
  const struct loom_vk *vk = loom_vk_avx2();
  if (!vk)
    skip();
  check_one(vk);
  check_quantize(vk);
  check_i8_edges(vk);
}

static void avx512_matches_portable(void **state) {
  (void)state;
  const struct loom_vk *vk = loom_vk_avx512();
  if (!vk)
    skip();
  check_one(vk);
  check_quantize(vk);
  check_i8_edges(vk);
}

static void best_is_supported(void **state) {
  (void)state;
  const struct loom_vk *best = loom_vk_best();
  assert_non_null(best);
  check_one(best);
  check_quantize(best);
  check_i8_edges(best);
  check_quantize(loom_vk_portable());
  check_i8_edges(loom_vk_portable());
  assert_int_equal(loom_metric_parse("cosine"), LOOM_METRIC_COSINE);
  assert_int_equal(loom_metric_parse("dotproduct"), LOOM_METRIC_DOT);
  assert_int_equal(loom_metric_parse("euclidean"), LOOM_METRIC_EUCLIDEAN);
  assert_int_equal(loom_metric_parse("manhattan"), -1);
  assert_string_equal(loom_metric_name(LOOM_METRIC_DOT), "dotproduct");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(portable_matches_definitions),
      cmocka_unit_test(avx2_matches_portable),
      cmocka_unit_test(avx512_matches_portable),
      cmocka_unit_test(best_is_supported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
