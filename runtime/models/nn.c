/* Shared layers of the model graphs (see nn.h): registration by state-dict
 * name, activation slots, and forward recording. Nothing here waits on the
 * GPU; on the sizing pass (cmd == NULL) nothing is recorded at all. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "models/nn.h"

#define ALLOC_ALIGN 256u
/* Scores of the explicit attention path are computed in query-row chunks of
 * at most this many elements (64 MiB in fp32, under every device's binding limit). */
#define SCORE_CHUNK_ELEMS (16ull << 20)

const rv_attn_names rv_attn_names_diffusers = {"to_q", "to_k", "to_v", "to_out.0"};
const rv_attn_names rv_attn_names_clip = {"q_proj", "k_proj", "v_proj", "out_proj"};

const char *nn_name(char *buf, size_t cap, const char *prefix, const char *fmt, ...)
{
    size_t n = (size_t)snprintf(buf, cap, "%s%s", prefix, prefix[0] ? "." : "");
    if (n < cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf + n, cap - n, fmt, ap);
        va_end(ap);
    }
    return buf;
}

/* ---- registration ---- */

void nn_linear_init(rv_params *p, rv_linear *l, uint32_t in, uint32_t out, bool bias, const char *prefix)
{
    l->in = in;
    l->out = out;
    l->has_bias = bias;
    rv_params_tensor(p, &l->weight, 2, (uint64_t[]){out, in}, "%s.weight", prefix);
    if (bias)
        rv_params_tensor(p, &l->bias, 1, (uint64_t[]){out}, "%s.bias", prefix);
    else
        l->bias.block = UINT32_MAX;
}

void nn_conv_init(rv_params *p, rv_conv *c, uint32_t cin, uint32_t cout, uint32_t k, uint32_t stride, uint32_t pad,
                  bool bias, const char *prefix)
{
    c->cin = cin;
    c->cout = cout;
    c->k = k;
    c->stride = stride;
    c->pad = pad;
    c->has_bias = bias;
    rv_params_tensor(p, &c->weight, 4, (uint64_t[]){cout, cin, k, k}, "%s.weight", prefix);
    if (bias)
        rv_params_tensor(p, &c->bias, 1, (uint64_t[]){cout}, "%s.bias", prefix);
    else
        c->bias.block = UINT32_MAX;
}

void nn_norm_init(rv_params *p, rv_norm *n, uint32_t C, uint32_t groups, float eps, const char *prefix)
{
    n->C = C;
    n->groups = groups;
    n->eps = eps;
    rv_params_tensor(p, &n->weight, 1, (uint64_t[]){C}, "%s.weight", prefix);
    rv_params_tensor(p, &n->bias, 1, (uint64_t[]){C}, "%s.bias", prefix);
}

void nn_attn_init(rv_params *p, rv_attn *a, uint32_t dim, uint32_t kv_dim, uint32_t heads, uint32_t head_dim,
                  bool qkv_bias, const rv_attn_names *names, const char *prefix)
{
    uint64_t inner = (uint64_t)heads * head_dim;
    a->dim = dim;
    a->cross = kv_dim != 0;
    a->kv_dim = kv_dim ? kv_dim : dim;
    a->heads = heads;
    a->head_dim = head_dim;
    a->inner = (uint32_t)inner;
    a->qkv_bias = qkv_bias;
    a->w_qkv.block = a->b_qkv.block = a->w_q.block = a->b_q.block = a->w_kv.block = a->b_kv.block = UINT32_MAX;
    uint64_t wq[2] = {inner, dim}, wkv[2] = {inner, a->kv_dim}, b[1] = {inner};
    if (!a->cross) {
        int s = rv_params_store(p, &a->w_qkv, 3 * inner * dim);
        rv_params_add(p, s, 0, 2, wq, "%s.%s.weight", prefix, names->q);
        rv_params_add(p, s, inner * dim, 2, wq, "%s.%s.weight", prefix, names->k);
        rv_params_add(p, s, 2 * inner * dim, 2, wq, "%s.%s.weight", prefix, names->v);
        if (qkv_bias) {
            int sb = rv_params_store(p, &a->b_qkv, 3 * inner);
            rv_params_add(p, sb, 0, 1, b, "%s.%s.bias", prefix, names->q);
            rv_params_add(p, sb, inner, 1, b, "%s.%s.bias", prefix, names->k);
            rv_params_add(p, sb, 2 * inner, 1, b, "%s.%s.bias", prefix, names->v);
        }
    } else {
        int s = rv_params_store(p, &a->w_q, inner * dim);
        rv_params_add(p, s, 0, 2, wq, "%s.%s.weight", prefix, names->q);
        int skv = rv_params_store(p, &a->w_kv, 2 * inner * a->kv_dim);
        rv_params_add(p, skv, 0, 2, wkv, "%s.%s.weight", prefix, names->k);
        rv_params_add(p, skv, inner * a->kv_dim, 2, wkv, "%s.%s.weight", prefix, names->v);
        if (qkv_bias) {
            int sb = rv_params_store(p, &a->b_q, inner);
            rv_params_add(p, sb, 0, 1, b, "%s.%s.bias", prefix, names->q);
            int sbkv = rv_params_store(p, &a->b_kv, 2 * inner);
            rv_params_add(p, sbkv, 0, 1, b, "%s.%s.bias", prefix, names->k);
            rv_params_add(p, sbkv, inner, 1, b, "%s.%s.bias", prefix, names->v);
        }
    }
    char name[256];
    nn_linear_init(p, &a->out, (uint32_t)inner, dim, true, nn_name(name, sizeof(name), prefix, "%s", names->out));
}

void nn_resnet_init(rv_params *p, rv_resnet *r, uint32_t cin, uint32_t cout, uint32_t temb, uint32_t groups,
                    float eps, float out_scale, const char *prefix)
{
    char name[256];
    r->cin = cin;
    r->cout = cout;
    r->has_temb = temb != 0;
    r->has_shortcut = cin != cout;
    r->out_scale = out_scale;
    nn_norm_init(p, &r->norm1, cin, groups, eps, nn_name(name, sizeof(name), prefix, "norm1"));
    nn_conv_init(p, &r->conv1, cin, cout, 3, 1, 1, true, nn_name(name, sizeof(name), prefix, "conv1"));
    if (temb)
        nn_linear_init(p, &r->time_emb_proj, temb, cout, true, nn_name(name, sizeof(name), prefix, "time_emb_proj"));
    nn_norm_init(p, &r->norm2, cout, groups, eps, nn_name(name, sizeof(name), prefix, "norm2"));
    nn_conv_init(p, &r->conv2, cout, cout, 3, 1, 1, true, nn_name(name, sizeof(name), prefix, "conv2"));
    if (r->has_shortcut)
        nn_conv_init(p, &r->conv_shortcut, cin, cout, 1, 1, 0, true, nn_name(name, sizeof(name), prefix,
                                                                            "conv_shortcut"));
}

/* ---- slots ---- */

rv_tensor nn_slot(rv_nn *nn, int id, uint64_t count)
{
    rv_slots *s = nn->slots;
    if (!nn->cmd) {
        if (id >= s->n)
            s->n = id + 1;
        if (count > s->need[id])
            s->need[id] = count;
        rv_tensor dummy = {.block = UINT32_MAX, .count = count};
        return dummy;
    }
    return rv_tensor_view(&s->t[id], 0, count);
}

rv_tensor nn_slot_part(rv_nn *nn, int id, uint64_t first, uint64_t count)
{
    rv_tensor whole = nn_slot(nn, id, first + count);
    return nn_view(&whole, first, count);
}

rv_tensor nn_view(const rv_tensor *t, uint64_t first, uint64_t count)
{
    if (t->block == UINT32_MAX) {
        rv_tensor v = *t;
        v.count = count;
        return v;
    }
    return rv_tensor_view(t, first, count);
}

rv_status rv_slots_alloc(rv_slots *s, rv_gpu *gpu, rv_dtype dtype, const char *where, rv_error *err)
{
    for (int i = 0; i < RV_MAX_SLOTS; i++) {
        memset(&s->t[i], 0, sizeof(s->t[i]));
        s->t[i].block = UINT32_MAX;
    }
    for (int i = 0; i < s->n; i++) {
        if (!s->need[i])
            continue;
        uint64_t bytes = s->need[i] * rv_dtype_size(dtype);
        if (bytes > rv_gpu_info(gpu)->max_storage_range) {
            rv_slots_free(s, gpu);
            return rv_error_set(err, RV_ERR_DEVICE_MEMORY,
                                "%s: activation buffer %d needs %.1f MiB, more than the device's storage binding "
                                "limit (%.1f MiB): use a smaller batch or latent size", where, i,
                                (double)bytes / 1048576.0, (double)rv_gpu_info(gpu)->max_storage_range / 1048576.0);
        }
        rv_status st = rv_tensor_alloc(gpu, &s->t[i], dtype, s->need[i], err);
        if (st) {
            rv_slots_free(s, gpu);
            return st;
        }
    }
    s->allocated = true;
    return RV_OK;
}

void rv_slots_free(rv_slots *s, rv_gpu *gpu)
{
    if (!s || !gpu)
        return;
    for (int i = 0; i < RV_MAX_SLOTS; i++)
        if (s->t[i].block != UINT32_MAX && s->t[i].bytes)
            rv_tensor_free(gpu, &s->t[i]);
    s->allocated = false;
}

uint64_t rv_slots_bytes(const rv_slots *s, rv_dtype dtype)
{
    uint64_t b = 0;
    for (int i = 0; i < s->n; i++)
        b += (s->need[i] * rv_dtype_size(dtype) + ALLOC_ALIGN - 1) / ALLOC_ALIGN * ALLOC_ALIGN;
    return b;
}

void nn_stage(rv_nn *nn, const char *name)
{
    if (nn->cmd)
        rv_cmd_stage(nn->cmd, name);
}

/* ---- forward pieces ---- */

void nn_linear(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_linear *l, const rv_tensor *residual,
               uint32_t rows)
{
    if (!nn->cmd)
        return;
    rv_op_linear(nn->cmd, out, in, &l->weight, l->has_bias ? &l->bias : NULL, residual, rows, l->in, l->out);
}

void nn_conv(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_conv *c, const rv_tensor *residual,
             uint32_t batch, uint32_t h, uint32_t w, uint32_t *oh, uint32_t *ow)
{
    nn_conv_relu(nn, out, in, c, residual, batch, h, w, oh, ow, false);
}

/* c's conv with `bias` in place of its own (NULL: none) */
static void conv_biased(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_conv *c, const rv_tensor *bias,
                        const rv_tensor *residual, uint32_t batch, uint32_t h, uint32_t w, uint32_t *oh, uint32_t *ow,
                        bool relu)
{
    rv_conv_desc d = {.batch = batch, .cin = c->cin, .h = h, .w = w, .cout = c->cout, .kh = c->k, .kw = c->k,
                      .stride = c->stride, .pad = c->pad, .relu = relu};
    uint32_t a, b;
    rv_conv_out_size(&d, &a, &b);
    if (oh)
        *oh = a;
    if (ow)
        *ow = b;
    if (!nn->cmd)
        return;
    rv_op_conv2d(nn->cmd, out, in, &c->weight, bias, residual, &d);
}

void nn_conv_relu(rv_nn *nn, const rv_tensor *out, const rv_tensor *in, const rv_conv *c, const rv_tensor *residual,
                  uint32_t batch, uint32_t h, uint32_t w, uint32_t *oh, uint32_t *ow, bool relu)
{
    conv_biased(nn, out, in, c, c->has_bias ? &c->bias : NULL, residual, batch, h, w, oh, ow, relu);
}

void nn_group_norm(rv_nn *nn, const rv_tensor *y, const rv_tensor *x, const rv_norm *n, uint32_t batch, uint32_t hw,
                   bool silu)
{
    if (nn->cmd)
        rv_op_group_norm(nn->cmd, y, x, &n->weight, &n->bias, batch, n->C, hw, n->groups, n->eps, silu);
}

void nn_layer_norm(rv_nn *nn, const rv_tensor *y, const rv_tensor *x, const rv_norm *n, uint32_t rows)
{
    if (nn->cmd)
        rv_op_layer_norm(nn->cmd, y, x, &n->weight, &n->bias, rows, n->C, n->eps);
}

void nn_unary(rv_nn *nn, const rv_tensor *y, const rv_tensor *x, int op, float alpha, float beta)
{
    if (nn->cmd)
        rv_op_unary(nn->cmd, y, x, op, alpha, beta);
}

/* softmax(q k^T * scale) v for one head with packed rows, in query chunks. */
static void explicit_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *q, const rv_tensor *k,
                               const rv_tensor *v, const rv_attn_desc *d)
{
    uint32_t batch = d->batch ? d->batch : 1, D = d->dim, Lq = d->lq, Lk = d->lk;
    uint64_t rows = SCORE_CHUNK_ELEMS / Lk;
    uint32_t chunk = (uint32_t)(rows < 1 ? 1 : rows > Lq ? Lq : rows);
    rv_tensor s = nn_slot(nn, nn->score_slot, (uint64_t)chunk * Lk);
    if (!nn->cmd)
        return;
    float scale = d->scale != 0.0f ? d->scale : 1.0f / sqrtf((float)D);
    for (uint32_t b = 0; b < batch; b++)
        for (uint32_t r0 = 0; r0 < Lq; r0 += chunk) {
            uint32_t n = Lq - r0 < chunk ? Lq - r0 : chunk;
            rv_tensor qv = rv_tensor_view(q, ((uint64_t)b * Lq + r0) * D, (uint64_t)n * D);
            rv_tensor kv = rv_tensor_view(k, (uint64_t)b * Lk * D, (uint64_t)Lk * D);
            rv_tensor vv = rv_tensor_view(v, (uint64_t)b * Lk * D, (uint64_t)Lk * D);
            rv_tensor ov = rv_tensor_view(out, ((uint64_t)b * Lq + r0) * D, (uint64_t)n * D);
            rv_tensor sv = rv_tensor_view(&s, 0, (uint64_t)n * Lk);
            /* scaled before storing, so fp16 scores keep their range */
            rv_gemm_desc g1 = {.M = n, .N = Lk, .K = D, .trans_b = true, .alpha = scale};
            rv_op_gemm(nn->cmd, &sv, &qv, &kv, NULL, NULL, &g1);
            rv_op_softmax(nn->cmd, &sv, &sv, n, Lk, 1.0f);
            rv_gemm_desc g2 = {.M = n, .N = D, .K = Lk};
            rv_op_gemm(nn->cmd, &ov, &sv, &vv, NULL, NULL, &g2);
        }
}

#define FLASH_MAX_DIM 160u

void nn_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *q, const rv_tensor *k, const rv_tensor *v,
                  const rv_attn_desc *d)
{
    bool packed = (!d->q_stride || d->q_stride == d->dim) && (!d->k_stride || d->k_stride == d->dim) &&
                  (!d->v_stride || d->v_stride == d->dim) && (!d->o_stride || d->o_stride == d->dim);
    bool explicit_path = d->dim > FLASH_MAX_DIM || (nn->explicit_attention && d->heads == 1 && packed && !d->causal);
    if (explicit_path && d->heads == 1 && packed && !d->causal) {
        explicit_attention(nn, out, q, k, v, d);
        return;
    }
    /* otherwise the flash kernel (which refuses head widths it cannot hold) */
    if (nn->cmd)
        rv_op_attention(nn->cmd, out, q, k, v, d);
}

void nn_self_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_attn *a,
                       const rv_tensor *residual, uint32_t batch, uint32_t L, bool causal, int slot_qkv, int slot_att)
{
    uint32_t rows = batch * L, inner = a->inner;
    rv_tensor qkv = nn_slot(nn, slot_qkv, (uint64_t)rows * 3 * inner);
    rv_tensor att = nn_slot(nn, slot_att, (uint64_t)rows * inner);
    /* the explicit path takes packed q, k, v, and so does the direct kernel
     * (K and V must each fit a uniform window): three GEMMs on views of the
     * fused weight; otherwise (and where the texel kernel reads the strided
     * rows) one GEMM and strided views */
    rv_attn_desc fused = {.batch = batch, .heads = a->heads, .lq = L, .lk = L, .dim = a->head_dim,
                          .q_stride = 3 * inner, .k_stride = 3 * inner, .v_stride = 3 * inner, .causal = causal};
    if (a->head_dim > FLASH_MAX_DIM ||
        (nn->cmd && rv_gpu_direct_attention(rv_cmd_gpu(nn->cmd), (uint64_t)rows * inner * rv_dtype_size(qkv.dtype)) &&
         !rv_op_attention_texel(nn->cmd, &fused))) {
        uint64_t n = (uint64_t)rows * inner;
        for (int i = 0; i < 3; i++) {
            if (!nn->cmd)
                break;
            rv_tensor dst = nn_view(&qkv, i * n, n);
            rv_tensor w = nn_view(&a->w_qkv, (uint64_t)i * inner * a->dim, (uint64_t)inner * a->dim);
            rv_tensor b = a->qkv_bias ? nn_view(&a->b_qkv, (uint64_t)i * inner, inner) : (rv_tensor){0};
            rv_op_linear(nn->cmd, &dst, x, &w, a->qkv_bias ? &b : NULL, NULL, rows, a->dim, inner);
        }
        rv_tensor qv = nn_view(&qkv, 0, n), kv = nn_view(&qkv, n, n), vv = nn_view(&qkv, 2 * n, n);
        rv_attn_desc d = {.batch = batch, .heads = a->heads, .lq = L, .lk = L, .dim = a->head_dim, .causal = causal};
        nn_attention(nn, &att, &qv, &kv, &vv, &d);
    } else {
        if (nn->cmd)
            rv_op_linear(nn->cmd, &qkv, x, &a->w_qkv, a->qkv_bias ? &a->b_qkv : NULL, NULL, rows, a->dim, 3 * inner);
        uint64_t n = (uint64_t)rows * 3 * inner;
        rv_tensor qv = nn_view(&qkv, 0, n), kv = nn_view(&qkv, inner, n - inner),
                  vv = nn_view(&qkv, 2 * inner, n - 2 * inner);
        nn_attention(nn, &att, &qv, &kv, &vv, &fused);
    }
    nn_linear(nn, out, &att, &a->out, residual, rows);
}

void nn_cross_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_tensor *ctx, const rv_attn *a,
                        const rv_tensor *residual, uint32_t batch, uint32_t L, uint32_t S, int slot_q, int slot_kv,
                        int slot_att, const nn_kept *kept)
{
    uint32_t rows = batch * L, inner = a->inner;
    rv_tensor q = nn_slot(nn, slot_q, (uint64_t)rows * inner);
    rv_tensor kv = nn_slot(nn, slot_kv, (uint64_t)batch * S * 2 * inner); /* (sized either way) */
    if (kept && kept->at)
        kv = *kept->at;
    rv_tensor att = nn_slot(nn, slot_att, (uint64_t)rows * inner);
    if (nn->cmd) {
        rv_op_linear(nn->cmd, &q, x, &a->w_q, a->qkv_bias ? &a->b_q : NULL, NULL, rows, a->dim, inner);
        if (!(kept && kept->at && kept->ready))
            rv_op_linear(nn->cmd, &kv, ctx, &a->w_kv, a->qkv_bias ? &a->b_kv : NULL, NULL, batch * S, a->kv_dim,
                         2 * inner);
    }
    uint64_t n = (uint64_t)batch * S * 2 * inner;
    rv_tensor kview = nn_view(&kv, 0, n), vview = nn_view(&kv, inner, n - inner);
    rv_attn_desc d = {.batch = batch, .heads = a->heads, .lq = L, .lk = S, .dim = a->head_dim,
                      .k_stride = 2 * inner, .v_stride = 2 * inner};
    nn_attention(nn, &att, &q, &kview, &vview, &d);
    nn_linear(nn, out, &att, &a->out, residual, rows);
}

void nn_resnet(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_resnet *r, const nn_time *t,
               uint32_t batch, uint32_t h, uint32_t w, const rv_resnet_slots *s)
{
    uint32_t hw = h * w;
    rv_tensor n1 = nn_slot(nn, s->norm, (uint64_t)batch * r->cin * hw);
    rv_tensor hh = nn_slot(nn, s->h, (uint64_t)batch * r->cout * hw);
    nn_group_norm(nn, &n1, x, &r->norm1, batch, hw, true);
    if (r->has_temb && t) {
        /* one sample: conv1 + bias + proj(temb) is conv1 with the bias
         * proj(temb) + bias (made by the projection, or kept from before) */
        const bool fold = batch == 1;
        rv_tensor tp = nn_slot(nn, s->temb, (uint64_t)batch * r->cout); /* (sized either way) */
        if (t->proj.at)
            tp = *t->proj.at;
        if (!(t->proj.at && t->proj.ready))
            nn_linear(nn, &tp, t->act, &r->time_emb_proj, fold && r->conv1.has_bias ? &r->conv1.bias : NULL, batch);
        if (fold) {
            conv_biased(nn, &hh, &n1, &r->conv1, &tp, NULL, batch, h, w, NULL, NULL, false);
        } else {
            nn_conv(nn, &hh, &n1, &r->conv1, NULL, batch, h, w, NULL, NULL);
            uint32_t ne[4] = {1, batch, r->cout, hw}, sa[4] = {0, r->cout * hw, hw, 1}, sb[4] = {0, r->cout, 1, 0};
            if (nn->cmd)
                rv_op_binary(nn->cmd, &hh, &hh, &tp, RV_BINARY_ADD, ne, sa, sb, 1.0f);
        }
    } else {
        nn_conv(nn, &hh, &n1, &r->conv1, NULL, batch, h, w, NULL, NULL);
    }
    rv_tensor n2 = nn_slot(nn, s->norm, (uint64_t)batch * r->cout * hw);
    nn_group_norm(nn, &n2, &hh, &r->norm2, batch, hw, true);
    const rv_tensor *res = x;
    rv_tensor sc;
    if (r->has_shortcut) {
        sc = nn_slot(nn, s->shortcut, (uint64_t)batch * r->cout * hw);
        nn_conv(nn, &sc, x, &r->conv_shortcut, NULL, batch, h, w, NULL, NULL);
        res = &sc;
    }
    nn_conv(nn, out, &n2, &r->conv2, res, batch, h, w, NULL, NULL);
    if (r->out_scale != 1.0f)
        nn_unary(nn, out, out, RV_UNARY_SCALE, 1.0f / r->out_scale, 0.0f);
}
