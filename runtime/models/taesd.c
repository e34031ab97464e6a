/* AutoencoderTiny on the GPU (see taesd.h): the Sequential layer lists of
 * diffusers' EncoderTiny/DecoderTiny built from config, and their forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/taesd.h"

enum { S_IN, S_X0, S_X1, S_A, S_B, S_SKIP, S_UP };

static int act_op(rv_act a)
{
    return a == RV_ACT_RELU ? RV_UNARY_RELU : a == RV_ACT_GELU ? RV_UNARY_GELU : RV_UNARY_SILU;
}

static void block_init(rv_params *p, rv_taesd_layer *L, uint32_t cin, uint32_t cout, const char *prefix)
{
    char name[256];
    L->kind = RV_TAESD_BLOCK;
    nn_conv_init(p, &L->conv0, cin, cout, 3, 1, 1, true, nn_name(name, sizeof(name), prefix, "conv.0"));
    nn_conv_init(p, &L->conv2, cout, cout, 3, 1, 1, true, nn_name(name, sizeof(name), prefix, "conv.2"));
    nn_conv_init(p, &L->conv4, cout, cout, 3, 1, 1, true, nn_name(name, sizeof(name), prefix, "conv.4"));
    L->has_skip = cin != cout;
    if (L->has_skip)
        nn_conv_init(p, &L->skip, cin, cout, 1, 1, 0, false, nn_name(name, sizeof(name), prefix, "skip"));
}

static void build(rv_taesd *t)
{
    const rv_taesd_config *c = &t->cfg;
    rv_params *p = &t->params;
    char pre[64];
    int k = 0;
    for (int i = 0; i < c->n_enc; i++) {
        uint32_t ch = c->enc_channels[i];
        snprintf(pre, sizeof(pre), "encoder.layers.%d", k);
        t->enc[k].kind = RV_TAESD_CONV;
        if (i == 0)
            nn_conv_init(p, &t->enc[k++].conv, c->in_channels, ch, 3, 1, 1, true, pre);
        else
            nn_conv_init(p, &t->enc[k++].conv, ch, ch, 3, 2, 1, false, pre);
        for (uint32_t b = 0; b < c->enc_blocks[i]; b++) {
            snprintf(pre, sizeof(pre), "encoder.layers.%d", k);
            block_init(p, &t->enc[k++], ch, ch, pre);
        }
    }
    snprintf(pre, sizeof(pre), "encoder.layers.%d", k);
    t->enc[k].kind = RV_TAESD_CONV;
    nn_conv_init(p, &t->enc[k++].conv, c->enc_channels[c->n_enc - 1], c->latent_channels, 3, 1, 1, true, pre);
    t->nenc = k;

    k = 0;
    t->dec[k].kind = RV_TAESD_CONV;
    nn_conv_init(p, &t->dec[k++].conv, c->latent_channels, c->dec_channels[0], 3, 1, 1, true, "decoder.layers.0");
    t->dec[k++].kind = RV_TAESD_ACT;
    for (int i = 0; i < c->n_dec; i++) {
        bool last = i == c->n_dec - 1;
        uint32_t ch = c->dec_channels[i];
        for (uint32_t b = 0; b < c->dec_blocks[i]; b++) {
            snprintf(pre, sizeof(pre), "decoder.layers.%d", k);
            block_init(p, &t->dec[k++], ch, ch, pre);
        }
        if (!last)
            t->dec[k++].kind = RV_TAESD_UPSAMPLE;
        snprintf(pre, sizeof(pre), "decoder.layers.%d", k);
        t->dec[k].kind = RV_TAESD_CONV;
        nn_conv_init(p, &t->dec[k++].conv, ch, last ? c->out_channels : ch, 3, 1, 1, last, pre);
    }
    t->ndec = k;
}

rv_status rv_taesd_create(rv_taesd **out, const rv_taesd_config *cfg, rv_error *err)
{
    *out = NULL;
    if (cfg->n_enc < 1 || cfg->n_dec < 1)
        return rv_error_set(err, RV_ERR_INVALID, "TAESD: no encoder or decoder stages");
    rv_taesd *t = calloc(1, sizeof(*t));
    if (!t)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "TAESD: out of memory");
    t->cfg = *cfg;
    rv_params_init(&t->params);
    int ne = 2, nd = 2;
    for (int i = 0; i < cfg->n_enc; i++)
        ne += 1 + (int)cfg->enc_blocks[i];
    for (int i = 0; i < cfg->n_dec; i++)
        nd += 2 + (int)cfg->dec_blocks[i];
    t->enc = calloc((size_t)ne, sizeof(*t->enc));
    t->dec = calloc((size_t)nd, sizeof(*t->dec));
    if (!t->enc || !t->dec) {
        rv_taesd_destroy(t);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "TAESD: out of memory");
    }
    build(t);
    if (t->params.oom) {
        rv_taesd_destroy(t);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "TAESD: out of memory");
    }
    *out = t;
    return RV_OK;
}

void rv_taesd_destroy(rv_taesd *t)
{
    if (!t)
        return;
    rv_params_free(&t->params, t->gpu);
    free(t->enc);
    free(t->dec);
    free(t);
}

uint32_t rv_taesd_scale(const rv_taesd *t) { return 1u << (t->cfg.n_enc - 1); }

rv_status rv_taesd_bind(rv_taesd *t, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed, const char *where,
                        rv_bind_report *report, rv_error *err)
{
    rv_status s = st ? rv_params_bind(&t->params, gpu, st, where, report, err)
                     : rv_params_init_random(&t->params, gpu, seed, err);
    if (s == RV_OK)
        t->gpu = gpu;
    return s;
}

rv_status rv_taesd_load(rv_taesd **out, rv_gpu *gpu, const char *dir, const char *variant, rv_bind_report *report,
                        rv_error *err)
{
    *out = NULL;
    rv_taesd_config cfg;
    rv_safetensors *st = NULL;
    rv_taesd *t = NULL;
    rv_status s = rv_taesd_config_load(&cfg, dir, err);
    if (!s)
        s = rv_taesd_create(&t, &cfg, err);
    uint64_t seed = 0; /* REVERIE_RANDOM_WEIGHTS: no checkpoint, seeded random weights */
    if (!s)
        s = rv_diffusers_open_weights(dir, variant, 3, &st, &seed, err);
    if (!s)
        s = rv_taesd_bind(t, gpu, st, seed, dir, report, err);
    rv_safetensors_close(st);
    if (s) {
        rv_taesd_destroy(t);
        return s;
    }
    *out = t;
    return RV_OK;
}

/* relu(conv4(act(conv2(act(conv0(x))))) + skip(x)) */
static void block(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_taesd_layer *L, int act, uint32_t B,
                  uint32_t h, uint32_t w)
{
    uint64_t n = (uint64_t)B * L->conv0.cout * h * w;
    rv_tensor a = nn_slot(nn, S_A, n), b = nn_slot(nn, S_B, n);
    const bool relu = act == RV_UNARY_RELU; /* fused into the convs */
    nn_conv_relu(nn, &a, x, &L->conv0, NULL, B, h, w, NULL, NULL, relu);
    if (!relu)
        nn_unary(nn, &a, &a, act, 1.0f, 0.0f);
    nn_conv_relu(nn, &b, &a, &L->conv2, NULL, B, h, w, NULL, NULL, relu);
    if (!relu)
        nn_unary(nn, &b, &b, act, 1.0f, 0.0f);
    const rv_tensor *res = x;
    rv_tensor sk;
    if (L->has_skip) {
        sk = nn_slot(nn, S_SKIP, n);
        nn_conv(nn, &sk, x, &L->skip, NULL, B, h, w, NULL, NULL);
        res = &sk;
    }
    nn_conv_relu(nn, out, &b, &L->conv4, res, B, h, w, NULL, NULL, true);
}

/* Runs a layer list from `x` (c channels, h x w); the last conv writes `out`. */
static void run_layers(rv_nn *nn, const rv_taesd *t, const rv_taesd_layer *layers, int n, const rv_tensor *out,
                       const rv_tensor *x, uint32_t B, uint32_t c, uint32_t *h, uint32_t *w)
{
    int act = act_op(t->cfg.act), xs = -1; /* the X slot holding x (-1: the input) */
    rv_tensor cur = *x;
    for (int i = 0; i < n; i++) {
        const rv_taesd_layer *L = &layers[i];
        int o = xs == 0 ? 1 : 0;
        switch (L->kind) {
        case RV_TAESD_CONV: {
            uint32_t oh, ow;
            rv_conv_desc cd = {.h = *h, .w = *w, .kh = 3, .kw = 3, .stride = L->conv.stride, .pad = 1};
            rv_conv_out_size(&cd, &oh, &ow);
            rv_tensor dst = i == n - 1 ? *out : nn_slot(nn, S_X0 + o, (uint64_t)B * L->conv.cout * oh * ow);
            /* a ReLU layer right after the conv goes into its epilogue */
            bool relu = i + 1 < n && layers[i + 1].kind == RV_TAESD_ACT && act == RV_UNARY_RELU;
            nn_conv_relu(nn, &dst, &cur, &L->conv, NULL, B, *h, *w, NULL, NULL, relu);
            if (relu)
                i++;
            cur = dst;
            xs = o;
            c = L->conv.cout;
            *h = oh;
            *w = ow;
            break;
        }
        case RV_TAESD_ACT:
            nn_unary(nn, &cur, &cur, act, 1.0f, 0.0f);
            break;
        case RV_TAESD_BLOCK: {
            rv_tensor dst = nn_slot(nn, S_X0 + o, (uint64_t)B * L->conv0.cout * *h * *w);
            block(nn, &dst, &cur, L, act, B, *h, *w);
            cur = dst;
            xs = o;
            c = L->conv0.cout;
            break;
        }
        case RV_TAESD_UPSAMPLE: {
            /* S_UP holds the upsampled tensor, or on CPU devices the next
             * conv's output computed from the source directly (no upsampled
             * tensor: rv_op_conv2d_up2); sized for either */
            const rv_conv *nc = i + 1 < n && layers[i + 1].kind == RV_TAESD_CONV && layers[i + 1].conv.stride == 1
                                    ? &layers[i + 1].conv
                                    : NULL;
            const uint32_t cmax = nc && nc->cout > c ? nc->cout : c;
            rv_tensor dst = nn_slot(nn, S_UP, (uint64_t)B * cmax * 4 * *h * *w);
            if (nc && nn->cmd) {
                const bool relu = i + 2 < n && layers[i + 2].kind == RV_TAESD_ACT && act == RV_UNARY_RELU;
                rv_conv_desc d = {.batch = B, .cin = c, .h = *h, .w = *w, .cout = nc->cout, .kh = 3, .kw = 3,
                                  .stride = 1, .pad = 1, .relu = relu};
                rv_tensor cdst = i + 1 == n - 1 ? *out : rv_tensor_view(&dst, 0, (uint64_t)B * nc->cout * 4 * *h * *w);
                if (c == nc->cin &&
                    rv_op_conv2d_up2(nn->cmd, &cdst, &cur, &nc->weight, nc->has_bias ? &nc->bias : NULL, &d)) {
                    cur = cdst;
                    xs = -1;
                    c = nc->cout;
                    *h *= 2;
                    *w *= 2;
                    i += relu ? 2 : 1;
                    break;
                }
            }
            if (nn->cmd)
                rv_op_upsample2x(nn->cmd, &dst, &cur, B * c, *h, *w);
            /* the next conv reads S_UP and writes an X slot */
            cur = dst;
            xs = -1;
            *h *= 2;
            *w *= 2;
            break;
        }
        }
    }
}

static void forward(rv_nn *nn, const rv_taesd *t, rv_taesd_plan *p, const rv_tensor *out, const rv_tensor *in)
{
    const rv_taesd_config *c = &t->cfg;
    uint32_t B = p->batch, h = p->h, w = p->w;
    if (p->mode == RV_AE_ENCODE) {
        nn_stage(nn, "taesd.encoder");
        rv_tensor x = nn_slot(nn, S_IN, (uint64_t)B * c->in_channels * h * w);
        nn_unary(nn, &x, in, RV_UNARY_SCALE, 0.5f, 0.5f); /* [-1,1] -> TAESD's [0,1] */
        run_layers(nn, t, t->enc, t->nenc, out, &x, B, c->in_channels, &h, &w);
        if (c->scaling_factor != 1.0f || c->shift_factor != 0.0f)
            nn_unary(nn, out, out, RV_UNARY_SCALE, c->scaling_factor, -c->shift_factor * c->scaling_factor);
    } else {
        nn_stage(nn, "taesd.decoder");
        rv_tensor x = nn_slot(nn, S_IN, (uint64_t)B * c->latent_channels * h * w);
        /* latents / scaling_factor + shift, then the soft clamp tanh(x / 3) * 3, in one pass */
        nn_unary(nn, &x, in, RV_UNARY_SOFTCLAMP, 1.0f / (3.0f * c->scaling_factor), c->shift_factor / 3.0f);
        run_layers(nn, t, t->dec, t->ndec, out, &x, B, c->latent_channels, &h, &w);
        nn_unary(nn, out, out, RV_UNARY_SCALE, 2.0f, -1.0f); /* [0,1] -> [-1,1] */
    }
    p->oh = h;
    p->ow = w;
}

rv_status rv_taesd_plan_create(const rv_taesd *t, rv_gpu *gpu, rv_ae_mode mode, uint32_t batch, uint32_t h,
                               uint32_t w, rv_taesd_plan **out, rv_error *err)
{
    *out = NULL;
    if (!batch || !h || !w)
        return rv_error_set(err, RV_ERR_INVALID, "TAESD: a plan for batch %u at %ux%u", batch, h, w);
    rv_taesd_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "TAESD: out of memory");
    p->mode = mode;
    p->batch = batch;
    p->h = h;
    p->w = w;
    rv_nn nn = {.slots = &p->slots};
    rv_tensor dummy = {.block = UINT32_MAX};
    forward(&nn, t, p, &dummy, &dummy);
    if (gpu) {
        rv_status s = rv_slots_alloc(&p->slots, gpu, rv_gpu_dtype(gpu), "TAESD", err);
        if (s) {
            free(p);
            return s;
        }
        p->gpu = gpu;
    }
    *out = p;
    return RV_OK;
}

void rv_taesd_plan_destroy(rv_taesd_plan *plan)
{
    if (!plan)
        return;
    rv_slots_free(&plan->slots, plan->gpu);
    free(plan);
}

void rv_taesd_forward(rv_cmd *cmd, const rv_taesd *t, rv_taesd_plan *plan, const rv_tensor *out, const rv_tensor *in)
{
    rv_nn nn = {.cmd = cmd, .slots = &plan->slots};
    forward(&nn, t, plan, out, in);
}
