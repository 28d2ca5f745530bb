/*
 * vector_kernels — portable, AVX2+FMA and AVX-512 distance kernels.
 *
 * How: the SIMD versions are ordinary functions carrying
 * __attribute__((target("..."))), so the file compiles without -mavx* and
 * the binary still runs on any x86-64 (or other) CPU; loom_vk_best() asks
 * __builtin_cpu_supports once and hands out a table of function pointers.
 * Float kernels keep four independent accumulators so the FMA latency is
 * hidden; tails are done with masks (AVX-512) or scalar code (AVX2).
 * Int8 kernels widen to int16 and use madd (pairs summed into int32), exact
 * for lengths up to 30,000.
 */
#include "stores/vector_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define LOOM_X86 1
#include <immintrin.h>
#endif

/* ---- portable ---------------------------------------------------------- */

static float dot_portable(const float *a, const float *b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++)
    s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

static float l2sq_portable(const float *a, const float *b, size_t n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1];
    float d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < n; i++)
    s0 += (a[i] - b[i]) * (a[i] - b[i]);
  return (s0 + s1) + (s2 + s3);
}

static float cos_from(float ab, float aa, float bb) {
  if (aa <= 0.0f || bb <= 0.0f)
    return 0.0f;
  return ab / (sqrtf(aa) * sqrtf(bb));
}

static float cosine_portable(const float *a, const float *b, size_t n) {
  float ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return cos_from(ab, aa, bb);
}

static int32_t dot_i8_portable(const int8_t *a, const int8_t *b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; i++)
    s += (int32_t)a[i] * b[i];
  return s;
}

static int32_t l2sq_i8_portable(const int8_t *a, const int8_t *b, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t d = (int32_t)a[i] - b[i];
    s += d * d;
  }
  return s;
}

static void dot_x4_portable(const float *q, const float *const *v, size_t n,
                            float *out) {
  for (int k = 0; k < 4; k++)
    out[k] = dot_portable(q, v[k], n);
}

static void l2sq_x4_portable(const float *q, const float *const *v, size_t n,
                             float *out) {
  for (int k = 0; k < 4; k++)
    out[k] = l2sq_portable(q, v[k], n);
}

static void dot_i8_x4_portable(const int8_t *q, const int8_t *const *v,
                               size_t n, int32_t *out) {
  for (int k = 0; k < 4; k++)
    out[k] = dot_i8_portable(q, v[k], n);
}

static void minmax_portable(const float *v, size_t n, float *lo, float *hi) {
  float l = v[0], h = v[0];
  for (size_t i = 1; i < n; i++) {
    l = v[i] < l ? v[i] : l;
    h = v[i] > h ? v[i] : h;
  }
  *lo = l;
  *hi = h;
}

static int32_t quantize_i8_portable(const float *v, size_t n, float off,
                                    float inv, int8_t *out) {
  int32_t sum = 0;
  for (size_t i = 0; i < n; i++) {
    float x = (v[i] - off) * inv;
    x = x > 127.0f ? 127.0f : x < -127.0f ? -127.0f : x;
    int32_t q = (int32_t)(x + (x >= 0 ? 0.5f : -0.5f));
    out[i] = (int8_t)q;
    sum += q;
  }
  return sum;
}

static const struct loom_vk vk_portable = {
    "portable",      dot_portable,         l2sq_portable,
    cosine_portable, dot_i8_portable,      l2sq_i8_portable,
    dot_x4_portable, l2sq_x4_portable,     dot_i8_x4_portable,
    minmax_portable, quantize_i8_portable,
};

#ifdef LOOM_X86

/* ---- AVX2 + FMA -------------------------------------------------------- */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

AVX2 static inline int32_t hsum256_i32(__m256i v) {
  __m128i s =
      _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8),
                         s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16),
                         _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24),
                         _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s =
      hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; i++)
    s += a[i] * b[i];
  return s;
}

AVX2 static float l2sq_avx2(const float *a, const float *b, size_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 =
        _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 =
        _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 =
        _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; i + 8 <= n; i += 8) {
    __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  float s =
      hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; i++)
    s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

AVX2 static float cosine_avx2(const float *a, const float *b, size_t n) {
  __m256 ab = _mm256_setzero_ps(), aa = ab, bb = ab;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(a + i), y = _mm256_loadu_ps(b + i);
    ab = _mm256_fmadd_ps(x, y, ab);
    aa = _mm256_fmadd_ps(x, x, aa);
    bb = _mm256_fmadd_ps(y, y, bb);
  }
  float sab = hsum256(ab), saa = hsum256(aa), sbb = hsum256(bb);
  for (; i < n; i++) {
    sab += a[i] * b[i];
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
  }
  return cos_from(sab, saa, sbb);
}

/*
 * |a| times (b with a's sign) gives a*b with the first operand unsigned,
 * which is what maddubs multiplies: one instruction for 32 products summed
 * in pairs into int16, exact because |a|, |b| <= 127 (2 * 127 * 127 fits).
 * A madd with ones then widens the pairs into int32.
 */
AVX2 static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b, size_t n) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(a + i));
    __m256i y0 = _mm256_loadu_si256((const __m256i *)(b + i));
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(a + i + 32));
    __m256i y1 = _mm256_loadu_si256((const __m256i *)(b + i + 32));
    __m256i p0 =
        _mm256_maddubs_epi16(_mm256_abs_epi8(x0), _mm256_sign_epi8(y0, x0));
    __m256i p1 =
        _mm256_maddubs_epi16(_mm256_abs_epi8(x1), _mm256_sign_epi8(y1, x1));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, ones));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, ones));
  }
  for (; i + 32 <= n; i += 32) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
    __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
    __m256i p =
        _mm256_maddubs_epi16(_mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p, ones));
  }
  int32_t s = hsum256_i32(_mm256_add_epi32(acc0, acc1));
  for (; i < n; i++)
    s += (int32_t)a[i] * b[i];
  return s;
}

AVX2 static int32_t l2sq_i8_avx2(const int8_t *a, const int8_t *b, size_t n) {
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i x = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
    __m256i y = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
    __m256i d = _mm256_sub_epi16(x, y);
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(d, d));
  }
  int32_t s = hsum256_i32(acc);
  for (; i < n; i++) {
    int32_t d = (int32_t)a[i] - b[i];
    s += d * d;
  }
  return s;
}

/* Four vectors per pass, two accumulators each (eight FMA chains). */
#define X4_AVX2(name, step)                                                    \
  AVX2 static void name(const float *q, const float *const *v, size_t n,       \
                        float *out) {                                          \
    __m256 s[4], t[4];                                                         \
    for (int k = 0; k < 4; k++)                                                \
      s[k] = t[k] = _mm256_setzero_ps();                                       \
    size_t i = 0;                                                              \
    for (; i + 16 <= n; i += 16) {                                             \
      __m256 x = _mm256_loadu_ps(q + i), y = _mm256_loadu_ps(q + i + 8);       \
      for (int k = 0; k < 4; k++) {                                            \
        s[k] = step(x, _mm256_loadu_ps(v[k] + i), s[k]);                       \
        t[k] = step(y, _mm256_loadu_ps(v[k] + i + 8), t[k]);                   \
      }                                                                        \
    }                                                                          \
    for (; i + 8 <= n; i += 8) {                                               \
      __m256 x = _mm256_loadu_ps(q + i);                                       \
      for (int k = 0; k < 4; k++)                                              \
        s[k] = step(x, _mm256_loadu_ps(v[k] + i), s[k]);                       \
    }                                                                          \
    for (int k = 0; k < 4; k++) {                                              \
      float r = hsum256(_mm256_add_ps(s[k], t[k]));                            \
      for (size_t j = i; j < n; j++)                                           \
        r += scalar_##step(q[j], v[k][j]);                                     \
      out[k] = r;                                                              \
    }                                                                          \
  }

AVX2 static inline __m256 dot_step(__m256 a, __m256 b, __m256 acc) {
  return _mm256_fmadd_ps(a, b, acc);
}
AVX2 static inline __m256 l2_step(__m256 a, __m256 b, __m256 acc) {
  __m256 d = _mm256_sub_ps(a, b);
  return _mm256_fmadd_ps(d, d, acc);
}
static inline float scalar_dot_step(float a, float b) { return a * b; }
static inline float scalar_l2_step(float a, float b) {
  return (a - b) * (a - b);
}

X4_AVX2(dot_x4_avx2, dot_step)
X4_AVX2(l2sq_x4_avx2, l2_step)

/* As dot_i8_avx2 for four vectors per pass: each 32-byte chunk of the
 * query is loaded and made absolute once, and the four vectors' loads go
 * out together (four memory streams in flight). */
AVX2 static void dot_i8_x4_avx2(const int8_t *q, const int8_t *const *v,
                                size_t n, int32_t *out) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[4];
  for (int k = 0; k < 4; k++)
    acc[k] = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(q + i));
    __m256i ax = _mm256_abs_epi8(x);
    for (int k = 0; k < 4; k++) {
      __m256i y = _mm256_loadu_si256((const __m256i *)(v[k] + i));
      __m256i p = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(y, x));
      acc[k] = _mm256_add_epi32(acc[k], _mm256_madd_epi16(p, ones));
    }
  }
  for (int k = 0; k < 4; k++) {
    int32_t s = hsum256_i32(acc[k]);
    for (size_t j = i; j < n; j++)
      s += (int32_t)q[j] * v[k][j];
    out[k] = s;
  }
}

AVX2 static void minmax_avx2(const float *v, size_t n, float *lo, float *hi) {
  float l = v[0], h = v[0];
  size_t i = 0;
  if (n >= 8) {
    __m256 vl = _mm256_loadu_ps(v), vh = vl;
    for (i = 8; i + 8 <= n; i += 8) {
      __m256 x = _mm256_loadu_ps(v + i);
      vl = _mm256_min_ps(vl, x);
      vh = _mm256_max_ps(vh, x);
    }
    __m128 a =
        _mm_min_ps(_mm256_castps256_ps128(vl), _mm256_extractf128_ps(vl, 1));
    __m128 b =
        _mm_max_ps(_mm256_castps256_ps128(vh), _mm256_extractf128_ps(vh, 1));
    a = _mm_min_ps(a, _mm_movehl_ps(a, a));
    b = _mm_max_ps(b, _mm_movehl_ps(b, b));
    l = _mm_cvtss_f32(_mm_min_ss(a, _mm_movehdup_ps(a)));
    h = _mm_cvtss_f32(_mm_max_ss(b, _mm_movehdup_ps(b)));
  }
  for (; i < n; i++) {
    l = v[i] < l ? v[i] : l;
    h = v[i] > h ? v[i] : h;
  }
  *lo = l;
  *hi = h;
}

/* As quantize_i8_portable, eight at a time: the same operations in the
 * same order (sub, mul, clamp, add +-0.5 by sign, truncate), so the same
 * bits; the int32 results are packed down to int8 with saturating packs
 * (exact: they are within [-127, 127]). */
AVX2 static int32_t quantize_i8_avx2(const float *v, size_t n, float off,
                                     float inv, int8_t *out) {
  const __m256 vo = _mm256_set1_ps(off), vi = _mm256_set1_ps(inv);
  const __m256 top = _mm256_set1_ps(127.0f), bot = _mm256_set1_ps(-127.0f);
  const __m256 half = _mm256_set1_ps(0.5f), sign = _mm256_set1_ps(-0.0f);
  __m256i acc = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(v + i), vo), vi);
    x = _mm256_min_ps(_mm256_max_ps(x, bot), top);
    __m256 r = _mm256_or_ps(half, _mm256_and_ps(x, sign));
    __m256i q = _mm256_cvttps_epi32(_mm256_add_ps(x, r));
    acc = _mm256_add_epi32(acc, q);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q),
                                _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64((__m128i *)(out + i), _mm_packs_epi16(w, w));
  }
  return hsum256_i32(acc) +
         quantize_i8_portable(v + i, n - i, off, inv, out + i);
}

static const struct loom_vk vk_avx2 = {
    "avx2",         dot_avx2,     l2sq_avx2,        cosine_avx2,
    dot_i8_avx2,    l2sq_i8_avx2, dot_x4_avx2,      l2sq_x4_avx2,
    dot_i8_x4_avx2, minmax_avx2,  quantize_i8_avx2,
};

/* ---- AVX-512 (F + BW + VL) --------------------------------------------------
 */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

AVX512 static inline __mmask16 tail_mask16(size_t left) {
  return (__mmask16)((1u << left) - 1u);
}

AVX512 static float dot_avx512(const float *a, const float *b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16),
                         _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32),
                         _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48),
                         _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    __mmask16 m = tail_mask16(n - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i),
                         _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512 static float l2sq_avx512(const float *a, const float *b, size_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    __m512 d1 =
        _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    __m512 d2 =
        _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    __m512 d3 =
        _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  for (; i + 16 <= n; i += 16) {
    __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  if (i < n) {
    __mmask16 m = tail_mask16(n - i);
    __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i),
                             _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(d, d, s1);
  }
  return _mm512_reduce_add_ps(
      _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

AVX512 static float cosine_avx512(const float *a, const float *b, size_t n) {
  __m512 ab = _mm512_setzero_ps(), aa = ab, bb = ab;
  size_t i = 0;
  for (; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail_mask16(n - i);
    __m512 x = _mm512_maskz_loadu_ps(m, a + i);
    __m512 y = _mm512_maskz_loadu_ps(m, b + i);
    ab = _mm512_fmadd_ps(x, y, ab);
    aa = _mm512_fmadd_ps(x, x, aa);
    bb = _mm512_fmadd_ps(y, y, bb);
  }
  return cos_from(_mm512_reduce_add_ps(ab), _mm512_reduce_add_ps(aa),
                  _mm512_reduce_add_ps(bb));
}

/* As dot_i8_avx2: |a| times (b negated where a < 0), via maddubs. */
AVX512 static int32_t dot_i8_avx512(const int8_t *a, const int8_t *b,
                                    size_t n) {
  const __m512i ones = _mm512_set1_epi16(1), zero = _mm512_setzero_si512();
  __m512i acc = zero;
  size_t i = 0;
  for (; i < n; i += 64) {
    __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
    __m512i x = _mm512_maskz_loadu_epi8(m, a + i);
    __m512i y = _mm512_maskz_loadu_epi8(m, b + i);
    __m512i ys = _mm512_mask_sub_epi8(y, _mm512_movepi8_mask(x), zero, y);
    __m512i p = _mm512_maddubs_epi16(_mm512_abs_epi8(x), ys);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(p, ones));
  }
  return _mm512_reduce_add_epi32(acc);
}

AVX512 static int32_t l2sq_i8_avx512(const int8_t *a, const int8_t *b,
                                     size_t n) {
  __m512i acc = _mm512_setzero_si512();
  size_t i = 0;
  for (; i < n; i += 32) {
    __mmask32 m = n - i >= 32 ? (__mmask32)0xffffffffu
                              : (__mmask32)((1u << (n - i)) - 1u);
    __m512i x = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, a + i));
    __m512i y = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, b + i));
    __m512i d = _mm512_sub_epi16(x, y);
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(d, d));
  }
  return _mm512_reduce_add_epi32(acc);
}

AVX512 static void dot_x4_avx512(const float *q, const float *const *v,
                                 size_t n, float *out) {
  for (int k = 0; k < 4; k++)
    out[k] = dot_avx512(q, v[k], n);
}

AVX512 static void l2sq_x4_avx512(const float *q, const float *const *v,
                                  size_t n, float *out) {
  for (int k = 0; k < 4; k++)
    out[k] = l2sq_avx512(q, v[k], n);
}

/* Four-at-once int8 and quantizing: AVX-512 CPUs reuse the AVX2 kernels
 * (the int8 walk is bound by memory, not by vector width). */
static const struct loom_vk vk_avx512 = {
    "avx512",       dot_avx512,     l2sq_avx512,      cosine_avx512,
    dot_i8_avx512,  l2sq_i8_avx512, dot_x4_avx512,    l2sq_x4_avx512,
    dot_i8_x4_avx2, minmax_avx2,    quantize_i8_avx2,
};

#endif /* LOOM_X86 */

const struct loom_vk *loom_vk_portable(void) { return &vk_portable; }

const struct loom_vk *loom_vk_avx2(void) {
#ifdef LOOM_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return &vk_avx2;
#endif
  return NULL;
}

const struct loom_vk *loom_vk_avx512(void) {
#ifdef LOOM_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    return &vk_avx512;
#endif
  return NULL;
}

const struct loom_vk *loom_vk_best(void) {
  /* Racing first calls compute the same answer; the store is idempotent. */
  static const struct loom_vk *best;
  const struct loom_vk *b = __atomic_load_n(&best, __ATOMIC_ACQUIRE);
  if (b)
    return b;
  b = loom_vk_avx512();
  if (!b)
    b = loom_vk_avx2();
  if (!b)
    b = &vk_portable;
  __atomic_store_n(&best, b, __ATOMIC_RELEASE);
  return b;
}

int loom_metric_parse(const char *name) {
  if (!name)
    return -1;
  if (strcmp(name, "cosine") == 0)
    return LOOM_METRIC_COSINE;
  if (strcmp(name, "dotproduct") == 0)
    return LOOM_METRIC_DOT;
  if (strcmp(name, "euclidean") == 0)
    return LOOM_METRIC_EUCLIDEAN;
  return -1;
}

const char *loom_metric_name(enum loom_metric m) {
  switch (m) {
  case LOOM_METRIC_COSINE:
    return "cosine";
  case LOOM_METRIC_DOT:
    return "dotproduct";
  case LOOM_METRIC_EUCLIDEAN:
    return "euclidean";
  }
  return "unknown";
}
