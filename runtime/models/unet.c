/* UNet2DConditionModel on the GPU (see unet.h): the module tree from
 * config with diffusers' names, and the forward recorded as one sequence
 * with a timing stage per block. Skip tensors live in slots of their own;
 * everything else reuses a fixed set of activation slots. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/unet.h"

enum {
    S_TPROJ, S_TCOND, S_TEMB1, S_TEMB, S_TEMB_ACT, S_CENTER,
    S_X0, S_X1, S_CAT, S_UP, S_PAD,
    S_NORM, S_H, S_SC, S_TP,
    S_GN, S_TOK0, S_TOK1, S_LN, S_QKV, S_ATT, S_Q, S_KV, S_FF, S_GEGLU, S_SCORE,
    S_KEPT_KV, S_KEPT_TIME, /* projections kept across forwards (rv_unet_args' keys) */
    S_SKIP0
};

static const rv_resnet_slots resnet_slots = {.norm = S_NORM, .h = S_H, .shortcut = S_SC, .temb = S_TP};

/* proj_in / proj_out: a Linear, or a 1x1 Conv2d with the same numbers. */
static void proj_init(rv_params *p, rv_linear *l, uint32_t in, uint32_t out, bool conv, const char *prefix)
{
    if (!conv) {
        nn_linear_init(p, l, in, out, true, prefix);
        return;
    }
    l->in = in;
    l->out = out;
    l->has_bias = true;
    rv_params_tensor(p, &l->weight, 4, (uint64_t[]){out, in, 1, 1}, "%s.weight", prefix);
    rv_params_tensor(p, &l->bias, 1, (uint64_t[]){out}, "%s.bias", prefix);
}

static bool transformer_init(rv_params *p, rv_transformer2d *t, uint32_t C, uint32_t heads, uint32_t layers,
                             uint32_t cross, const rv_unet_config *cfg, const char *prefix)
{
    char name[256], pre[256];
    t->C = C;
    t->heads = heads;
    t->inner = C; /* heads * (C / heads), C divisible by heads */
    t->nblocks = layers;
    t->blocks = calloc(layers, sizeof(*t->blocks));
    if (!t->blocks)
        return false;
    nn_norm_init(p, &t->norm, C, cfg->norm_num_groups, 1e-6f, nn_name(name, sizeof(name), prefix, "norm"));
    proj_init(p, &t->proj_in, C, t->inner, !cfg->use_linear_projection, nn_name(name, sizeof(name), prefix,
                                                                                  "proj_in"));
    for (uint32_t i = 0; i < layers; i++) {
        rv_transformer_block *b = &t->blocks[i];
        uint32_t d = t->inner, hd = C / heads;
        nn_name(pre, sizeof(pre), prefix, "transformer_blocks.%u", i);
        nn_norm_init(p, &b->norm1, d, 0, 1e-5f, nn_name(name, sizeof(name), pre, "norm1"));
        nn_attn_init(p, &b->attn1, d, 0, heads, hd, false, &rv_attn_names_diffusers,
                     nn_name(name, sizeof(name), pre, "attn1"));
        nn_norm_init(p, &b->norm2, d, 0, 1e-5f, nn_name(name, sizeof(name), pre, "norm2"));
        nn_attn_init(p, &b->attn2, d, cross, heads, hd, false, &rv_attn_names_diffusers,
                     nn_name(name, sizeof(name), pre, "attn2"));
        nn_norm_init(p, &b->norm3, d, 0, 1e-5f, nn_name(name, sizeof(name), pre, "norm3"));
        nn_linear_init(p, &b->ff_proj, d, 8 * d, true, nn_name(name, sizeof(name), pre, "ff.net.0.proj"));
        nn_linear_init(p, &b->ff_out, 4 * d, d, true, nn_name(name, sizeof(name), pre, "ff.net.2"));
    }
    proj_init(p, &t->proj_out, t->inner, C, !cfg->use_linear_projection, nn_name(name, sizeof(name), prefix,
                                                                                  "proj_out"));
    return true;
}

static bool build(rv_unet *u)
{
    const rv_unet_config *c = &u->cfg;
    rv_params *p = &u->params;
    const uint32_t *ch = c->block_out_channels;
    int n = c->nblocks;
    uint32_t temb = c->time_embedding_dim, groups = c->norm_num_groups;
    float eps = c->norm_eps, rs = c->resnet_out_scale_factor;
    char pre[160], name[256];
    bool ok = true;

    nn_conv_init(p, &u->conv_in, c->in_channels, ch[0], c->conv_in_kernel, 1, (c->conv_in_kernel - 1) / 2, true,
                 "conv_in");
    if (c->time_cond_proj_dim)
        nn_linear_init(p, &u->cond_proj, c->time_cond_proj_dim, ch[0], false, "time_embedding.cond_proj");
    nn_linear_init(p, &u->time_linear_1, ch[0], temb, true, "time_embedding.linear_1");
    nn_linear_init(p, &u->time_linear_2, temb, temb, true, "time_embedding.linear_2");

    u->nskips = 1;
    uint32_t out_c = ch[0];
    for (int i = 0; i < n; i++) {
        rv_unet_block *b = &u->down[i];
        uint32_t in_c = out_c;
        out_c = ch[i];
        b->nlayers = c->layers_per_block[i];
        b->has_attn = c->down_attn[i];
        b->has_sampler = i != n - 1;
        for (uint32_t j = 0; j < b->nlayers; j++) {
            snprintf(pre, sizeof(pre), "down_blocks.%d.resnets.%u", i, j);
            nn_resnet_init(p, &b->resnets[j], j == 0 ? in_c : out_c, out_c, temb, groups, eps, rs, pre);
            if (b->has_attn) {
                snprintf(pre, sizeof(pre), "down_blocks.%d.attentions.%u", i, j);
                ok = ok && transformer_init(p, &b->attentions[j], out_c, c->heads[i], c->transformer_layers[i],
                                            c->cross_attention_dim[i], c, pre);
            }
        }
        u->nskips += (int)b->nlayers;
        if (b->has_sampler) {
            snprintf(pre, sizeof(pre), "down_blocks.%d.downsamplers.0.conv", i);
            nn_conv_init(p, &b->sampler, out_c, out_c, 3, 2, c->downsample_padding, true, pre);
            u->nskips++;
        }
    }

    rv_unet_block *m = &u->mid;
    m->nlayers = 2;
    m->has_attn = true;
    for (int j = 0; j < 2; j++) {
        snprintf(pre, sizeof(pre), "mid_block.resnets.%d", j);
        nn_resnet_init(p, &m->resnets[j], ch[n - 1], ch[n - 1], temb, groups, eps, c->mid_block_scale_factor, pre);
    }
    ok = ok && transformer_init(p, &m->attentions[0], ch[n - 1], c->heads[n - 1], c->transformer_layers[n - 1],
                                c->cross_attention_dim[n - 1], c, "mid_block.attentions.0");

    out_c = ch[n - 1];
    for (int i = 0; i < n; i++) {
        int r = n - 1 - i; /* the matching down block */
        rv_unet_block *b = &u->up[i];
        uint32_t prev_c = out_c;
        out_c = ch[r];
        uint32_t in_c = ch[r > 0 ? r - 1 : 0];
        b->nlayers = c->layers_per_block[r] + 1;
        b->has_attn = c->up_attn[i];
        b->has_sampler = i != n - 1;
        for (uint32_t j = 0; j < b->nlayers; j++) {
            uint32_t skip_c = j == b->nlayers - 1 ? in_c : out_c;
            uint32_t res_in = j == 0 ? prev_c : out_c;
            snprintf(pre, sizeof(pre), "up_blocks.%d.resnets.%u", i, j);
            nn_resnet_init(p, &b->resnets[j], res_in + skip_c, out_c, temb, groups, eps, rs, pre);
            if (b->has_attn) {
                snprintf(pre, sizeof(pre), "up_blocks.%d.attentions.%u", i, j);
                ok = ok && transformer_init(p, &b->attentions[j], out_c, c->heads[r], c->transformer_layers[r],
                                            c->cross_attention_dim[r], c, pre);
            }
        }
        if (b->has_sampler) {
            snprintf(pre, sizeof(pre), "up_blocks.%d.upsamplers.0.conv", i);
            nn_conv_init(p, &b->sampler, out_c, out_c, 3, 1, 1, true, pre);
        }
    }
    nn_norm_init(p, &u->conv_norm_out, ch[0], groups, eps, "conv_norm_out");
    nn_conv_init(p, &u->conv_out, ch[0], c->out_channels, c->conv_out_kernel, 1, (c->conv_out_kernel - 1) / 2, true,
                 "conv_out");
    (void)name;
    return ok && !p->oom;
}

static void free_blocks(rv_unet_block *b)
{
    for (int j = 0; j < RV_UNET_MAX_LAYERS; j++)
        free(b->attentions[j].blocks);
}

void rv_unet_destroy(rv_unet *u)
{
    if (!u)
        return;
    rv_params_free(&u->params, u->gpu);
    for (int i = 0; i < RV_MAX_BLOCKS; i++) {
        free_blocks(&u->down[i]);
        free_blocks(&u->up[i]);
    }
    free_blocks(&u->mid);
    free(u);
}

rv_status rv_unet_create(rv_unet **out, const rv_unet_config *cfg, rv_error *err)
{
    *out = NULL;
    if (cfg->nblocks < 1 || cfg->nblocks > RV_MAX_BLOCKS)
        return rv_error_set(err, RV_ERR_INVALID, "UNet: %d blocks (1 to %d)", cfg->nblocks, RV_MAX_BLOCKS);
    for (int i = 0; i < cfg->nblocks; i++) {
        if (cfg->layers_per_block[i] < 1 || cfg->layers_per_block[i] + 1 > RV_UNET_MAX_LAYERS)
            return rv_error_set(err, RV_ERR_UNSUPPORTED, "UNet: layers_per_block %u (1 to %d supported)",
                                cfg->layers_per_block[i], RV_UNET_MAX_LAYERS - 1);
        if (cfg->cross_attention_dim[i] != cfg->cross_attention_dim[0])
            return rv_error_set(err, RV_ERR_UNSUPPORTED, "UNet: cross_attention_dim differs between blocks");
        if (!cfg->heads[i] || cfg->block_out_channels[i] % cfg->heads[i])
            return rv_error_set(err, RV_ERR_INVALID, "UNet: %u heads do not divide %u channels", cfg->heads[i],
                                cfg->block_out_channels[i]);
        if (!cfg->norm_num_groups || cfg->block_out_channels[i] % cfg->norm_num_groups)
            return rv_error_set(err, RV_ERR_INVALID, "UNet: %u channels are not divisible by %u groups",
                                cfg->block_out_channels[i], cfg->norm_num_groups);
    }
    rv_unet *u = calloc(1, sizeof(*u));
    if (!u)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "UNet: out of memory");
    u->cfg = *cfg;
    rv_params_init(&u->params);
    if (!build(u)) {
        rv_unet_destroy(u);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "UNet: out of memory");
    }
    if (S_SKIP0 + u->nskips > RV_MAX_SLOTS) {
        const int nskips = u->nskips;
        rv_unet_destroy(u);
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "UNet: %d skip connections are more than supported", nskips);
    }
    /* up-block resnets group-normalise concatenations: those widths must divide too */
    for (int i = 0; i < cfg->nblocks; i++)
        for (uint32_t j = 0; j < u->up[i].nlayers; j++)
            if (u->up[i].resnets[j].cin % cfg->norm_num_groups) {
                uint32_t cin = u->up[i].resnets[j].cin;
                rv_unet_destroy(u);
                return rv_error_set(err, RV_ERR_INVALID, "UNet: up_blocks.%d.resnets.%u takes %u channels, not "
                                    "divisible by norm_num_groups %u", i, j, cin, cfg->norm_num_groups);
            }
    *out = u;
    return RV_OK;
}

rv_status rv_unet_bind(rv_unet *u, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed, const char *where,
                       rv_bind_report *report, rv_error *err)
{
    rv_status s = st ? rv_params_bind(&u->params, gpu, st, where, report, err)
                     : rv_params_init_random(&u->params, gpu, seed, err);
    if (s == RV_OK)
        u->gpu = gpu;
    return s;
}

rv_status rv_unet_load(rv_unet **out, rv_gpu *gpu, const char *dir, const char *variant, rv_bind_report *report,
                       rv_error *err)
{
    *out = NULL;
    rv_unet_config cfg;
    rv_safetensors *st = NULL;
    rv_unet *u = NULL;
    rv_status s = rv_unet_config_load(&cfg, dir, err);
    if (!s)
        s = rv_unet_create(&u, &cfg, err);
    uint64_t seed = 0; /* REVERIE_RANDOM_WEIGHTS: no checkpoint, seeded random weights */
    if (!s)
        s = rv_diffusers_open_weights(dir, variant, 1, &st, &seed, err);
    if (!s)
        s = rv_unet_bind(u, gpu, st, seed, dir, report, err);
    rv_safetensors_close(st);
    if (s) {
        rv_unet_destroy(u);
        return s;
    }
    *out = u;
    return RV_OK;
}

/* ---- forward ---- */

typedef struct dims {
    uint32_t B, S;          /* batch, text tokens */
    const rv_tensor *ctx;
    /* kept projections: the text's K/V, each resnet's time projection
     * (keep: in their cache slots; ready: already there), and the running
     * offsets of the next ones */
    bool kv_keep, kv_ready, t_keep, t_ready;
    uint64_t kv_at, t_base, t_at;
} dims;

static void resnet(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_resnet *r,
                   const rv_tensor *temb_act, dims *d, uint32_t h, uint32_t w)
{
    nn_time t = {.act = temb_act};
    rv_tensor at;
    if (d->t_keep && r->has_temb) {
        uint64_t n = (uint64_t)d->B * r->cout;
        at = nn_slot_part(nn, S_KEPT_TIME, d->t_base + d->t_at, n);
        d->t_at += n;
        t.proj = (nn_kept){&at, d->t_ready};
    }
    nn_resnet(nn, out, x, r, &t, d->B, h, w, &resnet_slots);
}

/* out [B][C][h][w] = x + transformer(x). */
static void transformer(rv_nn *nn, const rv_tensor *out, const rv_tensor *x, const rv_transformer2d *t, dims *d,
                        uint32_t h, uint32_t w)
{
    uint32_t B = d->B, hw = h * w, C = t->C, inner = t->inner, rows = B * hw;
    rv_tensor gn = nn_slot(nn, S_GN, (uint64_t)B * C * hw);
    rv_tensor tok[2] = {nn_slot(nn, S_TOK0, (uint64_t)rows * inner), nn_slot(nn, S_TOK1, (uint64_t)rows * inner)};
    rv_tensor ln = nn_slot(nn, S_LN, (uint64_t)rows * inner);
    rv_tensor ff = nn_slot(nn, S_FF, (uint64_t)rows * 8 * inner);
    rv_tensor gg = nn_slot(nn, S_GEGLU, (uint64_t)rows * 4 * inner);
    nn_group_norm(nn, &gn, x, &t->norm, B, hw, false);
    /* proj_in straight to token rows: tok[b] [hw][inner] = gn[b]^T W^T + bias */
    if (nn->cmd) {
        rv_gemm_desc g = {.M = hw, .N = inner, .K = C, .batch = B, .trans_a = true, .trans_b = true,
                          .shared_b = true};
        rv_op_gemm(nn->cmd, &tok[0], &gn, &t->proj_in.weight, &t->proj_in.bias, NULL, &g);
    }
    for (uint32_t i = 0; i < t->nblocks; i++) {
        const rv_transformer_block *b = &t->blocks[i];
        nn_layer_norm(nn, &ln, &tok[0], &b->norm1, rows);
        nn_self_attention(nn, &tok[1], &ln, &b->attn1, &tok[0], B, hw, false, S_QKV, S_ATT);
        nn_layer_norm(nn, &ln, &tok[1], &b->norm2, rows);
        rv_tensor kv;
        nn_kept kept = {0};
        if (d->kv_keep) {
            uint64_t n = (uint64_t)B * d->S * 2 * b->attn2.inner;
            kv = nn_slot_part(nn, S_KEPT_KV, d->kv_at, n);
            d->kv_at += n;
            kept = (nn_kept){&kv, d->kv_ready};
        }
        nn_cross_attention(nn, &tok[0], &ln, d->ctx, &b->attn2, &tok[1], B, hw, d->S, S_Q, S_KV, S_ATT, &kept);
        nn_layer_norm(nn, &ln, &tok[0], &b->norm3, rows);
        /* CPU devices: the projection and GEGLU in one pass (no 2F-wide rows written) */
        if (!nn->cmd || !rv_op_linear_geglu(nn->cmd, &gg, &ln, &b->ff_proj.weight,
                                            b->ff_proj.has_bias ? &b->ff_proj.bias : NULL, rows, b->ff_proj.in,
                                            b->ff_proj.out / 2)) {
            nn_linear(nn, &ff, &ln, &b->ff_proj, NULL, rows);
            if (nn->cmd)
                rv_op_geglu(nn->cmd, &gg, &ff, rows, 4 * inner);
        }
        nn_linear(nn, &tok[1], &gg, &b->ff_out, &tok[0], rows);
        rv_tensor tmp = tok[0];
        tok[0] = tok[1];
        tok[1] = tmp;
    }
    /* proj_out back to [B][C][hw], plus the residual */
    if (nn->cmd) {
        rv_gemm_desc g = {.M = C, .N = hw, .K = inner, .batch = B, .trans_b = true, .bias_per_m = true,
                          .shared_a = true};
        rv_op_gemm(nn->cmd, out, &t->proj_out.weight, &tok[0], &t->proj_out.bias, x, &g);
    }
}

typedef struct skip {
    rv_tensor t;
    uint32_t c, h, w;
} skip;

/* d: the batch, tokens and context, and what is kept (its offsets come back) */
static void forward(rv_nn *nn, const rv_unet *u, const rv_unet_plan *plan, const rv_tensor *out,
                    const rv_unet_args *a, dims *dp)
{
    const rv_unet_config *c = &u->cfg;
    uint32_t B = plan->batch, h = plan->h, w = plan->w, C0 = c->block_out_channels[0];
    uint32_t T = c->time_embedding_dim;
    dims d = *dp;
    char stage[64]; /* stage names are cut at 31 characters; these stay below */

    /* time embedding */
    nn_stage(nn, "unet.time_embedding");
    rv_tensor tproj = nn_slot(nn, S_TPROJ, (uint64_t)B * C0);
    rv_tensor t1 = nn_slot(nn, S_TEMB1, (uint64_t)B * T);
    rv_tensor temb = nn_slot(nn, S_TEMB, (uint64_t)B * T);
    rv_tensor temb_act = nn_slot(nn, S_TEMB_ACT, (uint64_t)B * T);
    /* (nothing to record when every resnet's projection of it is kept) */
    if (!d.t_ready) {
        if (nn->cmd)
            rv_op_timestep_embedding(nn->cmd, &tproj, a->timesteps, B, C0, c->flip_sin_to_cos, c->freq_shift, 1.0f,
                                     10000.0f);
        const rv_tensor *tin = &tproj;
        rv_tensor tcond;
        if (c->time_cond_proj_dim) {
            tcond = nn_slot(nn, S_TCOND, (uint64_t)B * C0);
            nn_linear(nn, &tcond, a->timestep_cond, &u->cond_proj, &tproj, B);
            tin = &tcond;
        }
        nn_linear(nn, &t1, tin, &u->time_linear_1, NULL, B);
        nn_unary(nn, &t1, &t1, RV_UNARY_SILU, 1.0f, 0.0f);
        nn_linear(nn, &temb, &t1, &u->time_linear_2, NULL, B);
        if (c->timestep_post_act)
            nn_unary(nn, &temb, &temb, RV_UNARY_SILU, 1.0f, 0.0f);
        if (c->time_embedding_act)
            nn_unary(nn, &temb, &temb, RV_UNARY_SILU, 1.0f, 0.0f);
        nn_unary(nn, &temb_act, &temb, RV_UNARY_SILU, 1.0f, 0.0f);
    }

    /* conv_in */
    nn_stage(nn, "unet.conv_in");
    const rv_tensor *sample = a->sample;
    rv_tensor centered;
    if (c->center_input_sample) {
        centered = nn_slot(nn, S_CENTER, (uint64_t)B * c->in_channels * h * w);
        nn_unary(nn, &centered, a->sample, RV_UNARY_SCALE, 2.0f, -1.0f);
        sample = &centered;
    }
    skip skips[RV_MAX_SLOTS];
    int ns = 0;
    skips[ns] = (skip){nn_slot(nn, S_SKIP0, (uint64_t)B * C0 * h * w), C0, h, w};
    nn_conv(nn, &skips[ns].t, sample, &u->conv_in, NULL, B, h, w, NULL, NULL);
    ns++;
    rv_tensor x = skips[0].t;
    uint32_t xc = C0;

    /* down path: each layer's output is a skip */
    for (int i = 0; i < c->nblocks; i++) {
        const rv_unet_block *b = &u->down[i];
        snprintf(stage, sizeof(stage), "unet.down_blocks.%d", i);
        nn_stage(nn, stage);
        uint32_t oc = c->block_out_channels[i];
        for (uint32_t j = 0; j < b->nlayers; j++) {
            rv_tensor dst = nn_slot(nn, S_SKIP0 + ns, (uint64_t)B * oc * h * w);
            rv_tensor mid = b->has_attn ? nn_slot(nn, S_X0, (uint64_t)B * oc * h * w) : dst;
            resnet(nn, &mid, &x, &b->resnets[j], &temb_act, &d, h, w);
            if (b->has_attn)
                transformer(nn, &dst, &mid, &b->attentions[j], &d, h, w);
            skips[ns++] = (skip){dst, oc, h, w};
            x = dst;
            xc = oc;
        }
        if (b->has_sampler) {
            const rv_tensor *src = &x;
            uint32_t ih = h, iw = w;
            rv_tensor padded;
            if (c->downsample_padding == 0) { /* diffusers pads (0,1,0,1) before an unpadded stride-2 conv */
                padded = nn_slot(nn, S_PAD, (uint64_t)B * xc * (h + 1) * (w + 1));
                if (nn->cmd)
                    rv_op_pad2d(nn->cmd, &padded, &x, B * xc, h, w, h + 1, w + 1, 0, 0);
                src = &padded;
                ih = h + 1;
                iw = w + 1;
            }
            uint32_t oh, ow;
            rv_conv_desc cd = {.h = ih, .w = iw, .kh = 3, .kw = 3, .stride = 2, .pad = b->sampler.pad};
            rv_conv_out_size(&cd, &oh, &ow);
            rv_tensor dst = nn_slot(nn, S_SKIP0 + ns, (uint64_t)B * xc * oh * ow);
            nn_conv(nn, &dst, src, &b->sampler, NULL, B, ih, iw, NULL, NULL);
            h = oh;
            w = ow;
            skips[ns++] = (skip){dst, xc, h, w};
            x = dst;
        }
    }

    /* mid block */
    nn_stage(nn, "unet.mid_block");
    {
        uint64_t n = (uint64_t)B * xc * h * w;
        rv_tensor x0 = nn_slot(nn, S_X0, n), x1 = nn_slot(nn, S_X1, n);
        resnet(nn, &x0, &x, &u->mid.resnets[0], &temb_act, &d, h, w);
        transformer(nn, &x1, &x0, &u->mid.attentions[0], &d, h, w);
        resnet(nn, &x0, &x1, &u->mid.resnets[1], &temb_act, &d, h, w);
        x = x0;
    }
    int xslot = 0; /* which of X0/X1 holds x */

    /* up path: each resnet eats the running tensor and one skip, popped from the end */
    for (int i = 0; i < c->nblocks; i++) {
        const rv_unet_block *b = &u->up[i];
        snprintf(stage, sizeof(stage), "unet.up_blocks.%d", i);
        nn_stage(nn, stage);
        uint32_t oc = b->resnets[0].cout;
        for (uint32_t j = 0; j < b->nlayers; j++) {
            const skip *s = &skips[--ns];
            uint64_t hw = (uint64_t)h * w;
            rv_tensor cat = nn_slot(nn, S_CAT, (uint64_t)B * (xc + s->c) * hw);
            if (nn->cmd)
                rv_op_concat(nn->cmd, &cat, &x, &s->t, B, xc, s->c, (uint32_t)hw);
            int o = xslot ^ 1;
            rv_tensor r = nn_slot(nn, S_X0 + o, (uint64_t)B * oc * hw);
            resnet(nn, &r, &cat, &b->resnets[j], &temb_act, &d, h, w);
            x = r;
            xslot = o;
            if (b->has_attn) {
                o = xslot ^ 1;
                rv_tensor t = nn_slot(nn, S_X0 + o, (uint64_t)B * oc * hw);
                transformer(nn, &t, &x, &b->attentions[j], &d, h, w);
                x = t;
                xslot = o;
            }
            xc = oc;
        }
        if (b->has_sampler) {
            /* to the next skip's size (2x unless the latent side was not a multiple of 2^upsamplers) */
            uint32_t th = skips[ns - 1].h, tw = skips[ns - 1].w;
            rv_tensor up = nn_slot(nn, S_UP, (uint64_t)B * xc * th * tw);
            if (nn->cmd) {
                if (th == 2 * h && tw == 2 * w)
                    rv_op_upsample2x(nn->cmd, &up, &x, B * xc, h, w);
                else
                    rv_op_resize_nearest(nn->cmd, &up, &x, B * xc, h, w, th, tw);
            }
            h = th;
            w = tw;
            int o = xslot ^ 1;
            rv_tensor dst = nn_slot(nn, S_X0 + o, (uint64_t)B * xc * h * w);
            nn_conv(nn, &dst, &up, &b->sampler, NULL, B, h, w, NULL, NULL);
            x = dst;
            xslot = o;
        }
    }

    nn_stage(nn, "unet.conv_out");
    rv_tensor nrm = nn_slot(nn, S_NORM, (uint64_t)B * xc * h * w);
    nn_group_norm(nn, &nrm, &x, &u->conv_norm_out, B, h * w, true);
    nn_conv(nn, out, &nrm, &u->conv_out, NULL, B, h, w, NULL, NULL);
    *dp = d;
}

rv_status rv_unet_plan_create(const rv_unet *u, rv_gpu *gpu, uint32_t batch, uint32_t h, uint32_t w, uint32_t seq,
                              rv_unet_plan **out, rv_error *err)
{
    *out = NULL;
    if (!batch || !h || !w || !seq)
        return rv_error_set(err, RV_ERR_INVALID, "UNet: a plan for batch %u, %ux%u latents, %u tokens", batch, h, w,
                            seq);
    rv_unet_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "UNet: out of memory");
    p->batch = batch;
    p->h = h;
    p->w = w;
    p->seq = seq;
    rv_nn nn = {.slots = &p->slots, .score_slot = S_SCORE};
    rv_tensor dummy = {.block = UINT32_MAX};
    rv_unet_args a = {.sample = &dummy, .timesteps = &dummy, .context = &dummy, .timestep_cond = &dummy};
    dims d = {.B = batch, .S = seq, .ctx = &dummy, .kv_keep = true, .t_keep = true};
    forward(&nn, u, p, &dummy, &a, &d);
    p->t_entry = d.t_at; /* room for RV_UNET_TIME_KEPT time entries */
    nn_slot(&nn, S_KEPT_TIME, RV_UNET_TIME_KEPT * p->t_entry);
    if (gpu) {
        rv_status s = rv_slots_alloc(&p->slots, gpu, rv_gpu_dtype(gpu), "UNet", err);
        if (s) {
            free(p);
            return s;
        }
        p->gpu = gpu;
    }
    *out = p;
    return RV_OK;
}

void rv_unet_plan_destroy(rv_unet_plan *plan)
{
    if (!plan)
        return;
    rv_slots_free(&plan->slots, plan->gpu);
    free(plan);
}

void rv_unet_forward(rv_cmd *cmd, const rv_unet *u, rv_unet_plan *plan, const rv_tensor *out, const rv_unet_args *a)
{
    rv_nn nn = {.cmd = cmd, .slots = &plan->slots, .score_slot = S_SCORE};
    dims d = {.B = plan->batch, .S = plan->seq, .ctx = a->context};
    if (a->context_key) {
        d.kv_keep = true;
        d.kv_ready = plan->kv_key == a->context_key;
        plan->kv_key = a->context_key;
    }
    if (a->time_key) {
        int e = -1, lru = 0;
        for (int i = 0; i < RV_UNET_TIME_KEPT; i++) {
            if (plan->t_key[i] == a->time_key)
                e = i;
            if (plan->t_used[i] < plan->t_used[lru])
                lru = i;
        }
        d.t_keep = true;
        d.t_ready = e >= 0;
        if (e < 0) {
            e = lru;
            plan->t_key[e] = a->time_key;
        }
        plan->t_used[e] = ++plan->t_clock;
        d.t_base = (uint64_t)e * plan->t_entry;
    }
    forward(&nn, u, plan, out, a, &d);
}

void rv_unet_plan_forget(rv_unet_plan *plan)
{
    plan->kv_key = 0;
    memset(plan->t_key, 0, sizeof(plan->t_key));
}
