/* AutoencoderKL on the GPU (see vae.h): encoder and decoder module trees
 * from config with diffusers' names, and their forwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/vae.h"

enum { S_IN, S_X0, S_X1, S_PAD, S_UP, S_NORM, S_H, S_SC, S_TP, S_GN, S_QKV, S_ATT, S_SCORE, S_MOM, S_MEAN,
       S_LOGVAR, S_PQ };

static const rv_resnet_slots resnet_slots = {.norm = S_NORM, .h = S_H, .shortcut = S_SC, .temb = S_TP};

static void mid_init(rv_params *p, rv_vae_mid *m, uint32_t C, uint32_t groups, bool attn, const char *prefix)
{
    char name[256];
    for (int j = 0; j < 2; j++)
        nn_resnet_init(p, &m->resnets[j], C, C, 0, groups, 1e-6f, 1.0f,
                       nn_name(name, sizeof(name), prefix, "resnets.%d", j));
    m->has_attn = attn;
    if (attn) {
        nn_norm_init(p, &m->group_norm, C, groups, 1e-6f, nn_name(name, sizeof(name), prefix,
                                                                  "attentions.0.group_norm"));
        nn_attn_init(p, &m->attn, C, 0, 1, C, true, &rv_attn_names_diffusers,
                     nn_name(name, sizeof(name), prefix, "attentions.0"));
    }
}

static void build(rv_vae *v)
{
    const rv_vae_config *c = &v->cfg;
    rv_params *p = &v->params;
    const uint32_t *ch = c->block_out_channels;
    int n = c->nblocks;
    uint32_t g = c->norm_num_groups, L = c->latent_channels;
    char pre[160];

    nn_conv_init(p, &v->enc_conv_in, c->in_channels, ch[0], 3, 1, 1, true, "encoder.conv_in");
    uint32_t out_c = ch[0];
    for (int i = 0; i < n; i++) {
        rv_vae_block *b = &v->enc_down[i];
        uint32_t in_c = out_c;
        out_c = ch[i];
        b->nlayers = c->layers_per_block;
        b->has_sampler = i != n - 1;
        for (uint32_t j = 0; j < b->nlayers; j++) {
            snprintf(pre, sizeof(pre), "encoder.down_blocks.%d.resnets.%u", i, j);
            nn_resnet_init(p, &b->resnets[j], j == 0 ? in_c : out_c, out_c, 0, g, 1e-6f, 1.0f, pre);
        }
        if (b->has_sampler) {
            snprintf(pre, sizeof(pre), "encoder.down_blocks.%d.downsamplers.0.conv", i);
            nn_conv_init(p, &b->sampler, out_c, out_c, 3, 2, 0, true, pre);
        }
    }
    mid_init(p, &v->enc_mid, ch[n - 1], g, c->mid_block_add_attention, "encoder.mid_block");
    nn_norm_init(p, &v->enc_norm_out, ch[n - 1], g, 1e-6f, "encoder.conv_norm_out");
    nn_conv_init(p, &v->enc_conv_out, ch[n - 1], 2 * L, 3, 1, 1, true, "encoder.conv_out");
    if (c->use_quant_conv)
        nn_conv_init(p, &v->quant_conv, 2 * L, 2 * L, 1, 1, 0, true, "quant_conv");
    if (c->use_post_quant_conv)
        nn_conv_init(p, &v->post_quant_conv, L, L, 1, 1, 0, true, "post_quant_conv");

    nn_conv_init(p, &v->dec_conv_in, L, ch[n - 1], 3, 1, 1, true, "decoder.conv_in");
    mid_init(p, &v->dec_mid, ch[n - 1], g, c->mid_block_add_attention, "decoder.mid_block");
    out_c = ch[n - 1];
    for (int i = 0; i < n; i++) {
        rv_vae_block *b = &v->dec_up[i];
        uint32_t prev_c = out_c;
        out_c = ch[n - 1 - i];
        b->nlayers = c->layers_per_block + 1;
        b->has_sampler = i != n - 1;
        for (uint32_t j = 0; j < b->nlayers; j++) {
            snprintf(pre, sizeof(pre), "decoder.up_blocks.%d.resnets.%u", i, j);
            nn_resnet_init(p, &b->resnets[j], j == 0 ? prev_c : out_c, out_c, 0, g, 1e-6f, 1.0f, pre);
        }
        if (b->has_sampler) {
            snprintf(pre, sizeof(pre), "decoder.up_blocks.%d.upsamplers.0.conv", i);
            nn_conv_init(p, &b->sampler, out_c, out_c, 3, 1, 1, true, pre);
        }
    }
    nn_norm_init(p, &v->dec_norm_out, ch[0], g, 1e-6f, "decoder.conv_norm_out");
    nn_conv_init(p, &v->dec_conv_out, ch[0], c->out_channels, 3, 1, 1, true, "decoder.conv_out");
}

rv_status rv_vae_create(rv_vae **out, const rv_vae_config *cfg, rv_error *err)
{
    *out = NULL;
    if (cfg->nblocks < 1 || cfg->nblocks > RV_MAX_BLOCKS)
        return rv_error_set(err, RV_ERR_INVALID, "VAE: %d blocks (1 to %d)", cfg->nblocks, RV_MAX_BLOCKS);
    if (cfg->layers_per_block < 1 || cfg->layers_per_block + 1 > RV_VAE_MAX_LAYERS)
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "VAE: layers_per_block %u (1 to %d supported)",
                            cfg->layers_per_block, RV_VAE_MAX_LAYERS - 1);
    for (int i = 0; i < cfg->nblocks; i++)
        if (!cfg->norm_num_groups || cfg->block_out_channels[i] % cfg->norm_num_groups)
            return rv_error_set(err, RV_ERR_INVALID, "VAE: %u channels are not divisible by %u groups",
                                cfg->block_out_channels[i], cfg->norm_num_groups);
    rv_vae *v = calloc(1, sizeof(*v));
    if (!v)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VAE: out of memory");
    v->cfg = *cfg;
    rv_params_init(&v->params);
    build(v);
    if (v->params.oom) {
        rv_vae_destroy(v);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VAE: out of memory");
    }
    *out = v;
    return RV_OK;
}

void rv_vae_destroy(rv_vae *v)
{
    if (!v)
        return;
    rv_params_free(&v->params, v->gpu);
    free(v);
}

uint32_t rv_vae_scale(const rv_vae *v) { return 1u << (v->cfg.nblocks - 1); }

rv_status rv_vae_bind(rv_vae *v, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed, const char *where,
                      rv_bind_report *report, rv_error *err)
{
    rv_status s = st ? rv_params_bind(&v->params, gpu, st, where, report, err)
                     : rv_params_init_random(&v->params, gpu, seed, err);
    if (s == RV_OK)
        v->gpu = gpu;
    return s;
}

rv_status rv_vae_load(rv_vae **out, rv_gpu *gpu, const char *dir, const char *variant, rv_bind_report *report,
                      rv_error *err)
{
    *out = NULL;
    rv_vae_config cfg;
    rv_safetensors *st = NULL;
    rv_vae *v = NULL;
    rv_status s = rv_vae_config_load(&cfg, dir, err);
    if (!s)
        s = rv_vae_create(&v, &cfg, err);
    uint64_t seed = 0; /* REVERIE_RANDOM_WEIGHTS: no checkpoint, seeded random weights */
    if (!s)
        s = rv_diffusers_open_weights(dir, variant, 2, &st, &seed, err);
    if (!s)
        s = rv_vae_bind(v, gpu, st, seed, dir, report, err);
    rv_safetensors_close(st);
    if (s) {
        rv_vae_destroy(v);
        return s;
    }
    *out = v;
    return RV_OK;
}

/* ---- forward ---- */

/* out = x + attention(group_norm(x)) over the h*w positions, one head of width C. */
static void mid_attention(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_vae_mid *m, uint32_t B,
                          uint32_t h, uint32_t w)
{
    const rv_attn *a = &m->attn;
    uint32_t C = a->dim, hw = h * w, rows = B * hw;
    rv_tensor gn = nn_slot(nn, S_GN, (uint64_t)B * C * hw);
    rv_tensor qkv = nn_slot(nn, S_QKV, (uint64_t)rows * 3 * C);
    rv_tensor att = nn_slot(nn, S_ATT, (uint64_t)rows * C);
    nn_group_norm(nn, &gn, x, &m->group_norm, B, hw, false);
    /* q, k, v straight from the NCHW activations: tokens[b] = gn[b]^T W^T + bias */
    bool packed = C > 160 || nn->explicit_attention;
    if (packed) {
        uint64_t n = (uint64_t)rows * C;
        for (int i = 0; i < 3 && nn->cmd; i++) {
            rv_tensor dst = rv_tensor_view(&qkv, i * n, n);
            rv_tensor wv = rv_tensor_view(&a->w_qkv, (uint64_t)i * C * C, (uint64_t)C * C);
            rv_tensor bv = rv_tensor_view(&a->b_qkv, (uint64_t)i * C, C);
            rv_gemm_desc g = {.M = hw, .N = C, .K = C, .batch = B, .trans_a = true, .trans_b = true, .shared_b = true};
            rv_op_gemm(nn->cmd, &dst, &gn, &wv, &bv, NULL, &g);
        }
        rv_tensor qv = nn_view(&qkv, 0, n), kv = nn_view(&qkv, n, n), vv = nn_view(&qkv, 2 * n, n);
        rv_attn_desc d = {.batch = B, .heads = 1, .lq = hw, .lk = hw, .dim = C};
        nn_attention(nn, &att, &qv, &kv, &vv, &d);
    } else {
        if (nn->cmd) {
            rv_gemm_desc g = {.M = hw, .N = 3 * C, .K = C, .batch = B, .trans_a = true, .trans_b = true,
                              .shared_b = true};
            rv_op_gemm(nn->cmd, &qkv, &gn, &a->w_qkv, &a->b_qkv, NULL, &g);
        }
        uint64_t n = (uint64_t)rows * 3 * C;
        rv_tensor qv = nn_view(&qkv, 0, n), kv = nn_view(&qkv, C, n - C), vv = nn_view(&qkv, 2 * C, n - 2 * C);
        rv_attn_desc d = {.batch = B, .heads = 1, .lq = hw, .lk = hw, .dim = C, .q_stride = 3 * C,
                          .k_stride = 3 * C, .v_stride = 3 * C};
        nn_attention(nn, &att, &qv, &kv, &vv, &d);
    }
    /* to_out.0 back to [B][C][hw], plus the residual */
    if (nn->cmd) {
        rv_gemm_desc g = {.M = C, .N = hw, .K = C, .batch = B, .trans_b = true, .bias_per_m = true,
                          .shared_a = true};
        rv_op_gemm(nn->cmd, out, &a->out.weight, &att, &a->out.bias, x, &g);
    }
}

/* Mid block from x (in slot xs, or -1); returns the slot of its output. */
static int mid_block(rv_nn *nn, rv_tensor *x, int xs, const rv_vae_mid *m, uint32_t B, uint32_t h, uint32_t w)
{
    uint64_t n = (uint64_t)B * m->resnets[0].cin * h * w;
    int o = xs == 0 ? 1 : 0;
    rv_tensor a = nn_slot(nn, S_X0 + o, n), b = nn_slot(nn, S_X0 + (o ^ 1), n);
    nn_resnet(nn, &a, x, &m->resnets[0], NULL, B, h, w, &resnet_slots);
    if (m->has_attn) {
        mid_attention(nn, &b, &a, m, B, h, w);
        nn_resnet(nn, &a, &b, &m->resnets[1], NULL, B, h, w, &resnet_slots);
        *x = a;
        return o;
    }
    nn_resnet(nn, &b, &a, &m->resnets[1], NULL, B, h, w, &resnet_slots);
    *x = b;
    return o ^ 1;
}

/* A 1x1 or 3x3 conv restricted to output channels [first, first + count). */
static rv_conv conv_part(const rv_conv *c, uint32_t first, uint32_t count)
{
    rv_conv p = *c;
    uint64_t per = (uint64_t)c->cin * c->k * c->k;
    p.weight = nn_view(&c->weight, first * per, count * per);
    p.bias = nn_view(&c->bias, first, count);
    p.cout = count;
    return p;
}

static void encode(rv_nn *nn, const rv_vae *v, rv_vae_plan *p, const rv_tensor *out, const rv_tensor *in,
                   const rv_tensor *mean_out, const rv_tensor *logvar_out)
{
    const rv_vae_config *c = &v->cfg;
    uint32_t B = p->batch, h = p->h, w = p->w, L = c->latent_channels;
    char stage[64]; /* stage names are cut at 31 characters; these stay below */
    nn_stage(nn, "vae.encoder.conv_in");
    rv_tensor x = nn_slot(nn, S_X0, (uint64_t)B * c->block_out_channels[0] * h * w);
    nn_conv(nn, &x, in, &v->enc_conv_in, NULL, B, h, w, NULL, NULL);
    int xs = 0;
    for (int i = 0; i < c->nblocks; i++) {
        const rv_vae_block *b = &v->enc_down[i];
        snprintf(stage, sizeof(stage), "vae.encoder.down_blocks.%d", i);
        nn_stage(nn, stage);
        for (uint32_t j = 0; j < b->nlayers; j++) {
            int o = xs ^ 1;
            rv_tensor dst = nn_slot(nn, S_X0 + o, (uint64_t)B * b->resnets[j].cout * h * w);
            nn_resnet(nn, &dst, &x, &b->resnets[j], NULL, B, h, w, &resnet_slots);
            x = dst;
            xs = o;
        }
        if (b->has_sampler) {
            uint32_t C = b->sampler.cin, oh, ow;
            rv_tensor pad = nn_slot(nn, S_PAD, (uint64_t)B * C * (h + 1) * (w + 1));
            if (nn->cmd)
                rv_op_pad2d(nn->cmd, &pad, &x, B * C, h, w, h + 1, w + 1, 0, 0);
            rv_conv_desc cd = {.h = h + 1, .w = w + 1, .kh = 3, .kw = 3, .stride = 2};
            rv_conv_out_size(&cd, &oh, &ow);
            int o = xs ^ 1;
            rv_tensor dst = nn_slot(nn, S_X0 + o, (uint64_t)B * C * oh * ow);
            nn_conv(nn, &dst, &pad, &b->sampler, NULL, B, h + 1, w + 1, NULL, NULL);
            x = dst;
            xs = o;
            h = oh;
            w = ow;
        }
    }
    nn_stage(nn, "vae.encoder.mid_block");
    xs = mid_block(nn, &x, xs, &v->enc_mid, B, h, w);
    nn_stage(nn, "vae.encoder.conv_out");
    uint32_t C = c->block_out_channels[c->nblocks - 1], hw = h * w;
    rv_tensor nrm = nn_slot(nn, S_NORM, (uint64_t)B * C * hw);
    nn_group_norm(nn, &nrm, &x, &v->enc_norm_out, B, hw, true);
    rv_tensor mean = mean_out ? *mean_out : nn_slot(nn, S_MEAN, (uint64_t)B * L * hw);
    const rv_tensor *src = &nrm;
    const rv_conv *last = &v->enc_conv_out;
    rv_tensor mom;
    if (c->use_quant_conv) {
        mom = nn_slot(nn, S_MOM, (uint64_t)B * 2 * L * hw);
        nn_conv(nn, &mom, &nrm, &v->enc_conv_out, NULL, B, h, w, NULL, NULL);
        src = &mom;
        last = &v->quant_conv;
    }
    /* mean and logvar are the two channel halves: convolve each half on its own */
    rv_conv cm = conv_part(last, 0, L);
    nn_conv(nn, &mean, src, &cm, NULL, B, h, w, NULL, NULL);
    if (logvar_out) {
        rv_conv cl = conv_part(last, L, L);
        nn_conv(nn, logvar_out, src, &cl, NULL, B, h, w, NULL, NULL);
    }
    nn_unary(nn, out, &mean, RV_UNARY_SCALE, c->scaling_factor, -c->shift_factor * c->scaling_factor);
    p->oh = h;
    p->ow = w;
}

static void decode(rv_nn *nn, const rv_vae *v, rv_vae_plan *p, const rv_tensor *out, const rv_tensor *in)
{
    const rv_vae_config *c = &v->cfg;
    uint32_t B = p->batch, h = p->h, w = p->w, L = c->latent_channels;
    const uint32_t *ch = c->block_out_channels;
    char stage[64]; /* stage names are cut at 31 characters; these stay below */
    nn_stage(nn, "vae.decoder.conv_in");
    rv_tensor z = nn_slot(nn, S_IN, (uint64_t)B * L * h * w);
    nn_unary(nn, &z, in, RV_UNARY_SCALE, 1.0f / c->scaling_factor, c->shift_factor);
    if (c->use_post_quant_conv) {
        rv_tensor pq = nn_slot(nn, S_PQ, (uint64_t)B * L * h * w);
        nn_conv(nn, &pq, &z, &v->post_quant_conv, NULL, B, h, w, NULL, NULL);
        z = pq;
    }
    rv_tensor x = nn_slot(nn, S_X0, (uint64_t)B * ch[c->nblocks - 1] * h * w);
    nn_conv(nn, &x, &z, &v->dec_conv_in, NULL, B, h, w, NULL, NULL);
    nn_stage(nn, "vae.decoder.mid_block");
    int xs = mid_block(nn, &x, 0, &v->dec_mid, B, h, w);
    for (int i = 0; i < c->nblocks; i++) {
        const rv_vae_block *b = &v->dec_up[i];
        snprintf(stage, sizeof(stage), "vae.decoder.up_blocks.%d", i);
        nn_stage(nn, stage);
        for (uint32_t j = 0; j < b->nlayers; j++) {
            int o = xs ^ 1;
            rv_tensor dst = nn_slot(nn, S_X0 + o, (uint64_t)B * b->resnets[j].cout * h * w);
            nn_resnet(nn, &dst, &x, &b->resnets[j], NULL, B, h, w, &resnet_slots);
            x = dst;
            xs = o;
        }
        if (b->has_sampler) {
            uint32_t C = b->sampler.cin;
            rv_tensor up = nn_slot(nn, S_UP, (uint64_t)B * C * 4 * h * w);
            if (nn->cmd)
                rv_op_upsample2x(nn->cmd, &up, &x, B * C, h, w);
            h *= 2;
            w *= 2;
            int o = xs ^ 1;
            rv_tensor dst = nn_slot(nn, S_X0 + o, (uint64_t)B * C * h * w);
            nn_conv(nn, &dst, &up, &b->sampler, NULL, B, h, w, NULL, NULL);
            x = dst;
            xs = o;
        }
    }
    nn_stage(nn, "vae.decoder.conv_out");
    rv_tensor nrm = nn_slot(nn, S_NORM, (uint64_t)B * ch[0] * h * w);
    nn_group_norm(nn, &nrm, &x, &v->dec_norm_out, B, h * w, true);
    nn_conv(nn, out, &nrm, &v->dec_conv_out, NULL, B, h, w, NULL, NULL);
    p->oh = h;
    p->ow = w;
}

rv_status rv_vae_plan_create(const rv_vae *v, rv_gpu *gpu, rv_ae_mode mode, uint32_t batch, uint32_t h, uint32_t w,
                             rv_vae_plan **out, rv_error *err)
{
    return rv_vae_plan_create_opts(v, gpu, mode, batch, h, w, false, out, err);
}

rv_status rv_vae_plan_create_opts(const rv_vae *v, rv_gpu *gpu, rv_ae_mode mode, uint32_t batch, uint32_t h,
                                  uint32_t w, bool explicit_attention, rv_vae_plan **out, rv_error *err)
{
    *out = NULL;
    if (!batch || !h || !w)
        return rv_error_set(err, RV_ERR_INVALID, "VAE: a plan for batch %u at %ux%u", batch, h, w);
    rv_vae_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "VAE: out of memory");
    p->mode = mode;
    p->batch = batch;
    p->h = h;
    p->w = w;
    p->explicit_attention = explicit_attention;
    rv_nn nn = {.slots = &p->slots, .score_slot = S_SCORE, .explicit_attention = explicit_attention};
    rv_tensor dummy = {.block = UINT32_MAX};
    if (mode == RV_AE_ENCODE)
        encode(&nn, v, p, &dummy, &dummy, NULL, NULL);
    else
        decode(&nn, v, p, &dummy, &dummy);
    if (gpu) {
        rv_status s = rv_slots_alloc(&p->slots, gpu, rv_gpu_dtype(gpu), "VAE", err);
        if (s) {
            free(p);
            return s;
        }
        p->gpu = gpu;
    }
    *out = p;
    return RV_OK;
}

void rv_vae_plan_destroy(rv_vae_plan *plan)
{
    if (!plan)
        return;
    rv_slots_free(&plan->slots, plan->gpu);
    free(plan);
}

void rv_vae_forward(rv_cmd *cmd, const rv_vae *v, rv_vae_plan *plan, const rv_tensor *out, const rv_tensor *in,
                    const rv_tensor *mean, const rv_tensor *logvar)
{
    rv_nn nn = {.cmd = cmd, .slots = &plan->slots, .score_slot = S_SCORE,
                .explicit_attention = plan->explicit_attention};
    if (plan->mode == RV_AE_ENCODE)
        encode(&nn, v, plan, out, in, mean, logvar);
    else
        decode(&nn, v, plan, out, in);
}
