/* What a diffusers folder (or one component folder) holds as Reverie sees
 * it: each component's architecture from its config, parameter count,
 * checkpoint dtypes and tensor check, and the device memory its weights and
 * one plan's activations need. No device is created. (`reverie inspect`
 * prints this; see rv_inspect.h.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/scheduler.h"
#include "loader/config.h"
#include "loader/diffusers.h"
#include "loader/safetensors.h"
#include "models/clip_text.h"
#include "models/taesd.h"
#include "models/tokenizer.h"
#include "models/unet.h"
#include "models/vae.h"
#include "rv_inspect.h"

typedef struct opts {
    rv_dtype dtype;
    uint32_t batch;
    const char *variant;
    uint32_t latent;         /* latent side for the plans */
} opts;

static void mib(char *out, size_t cap, uint64_t bytes)
{
    snprintf(out, cap, "%.1f MiB", (double)bytes / 1048576.0);
}

static void commas(char *out, size_t cap, uint64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v), k = 0;
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        out[o++] = tmp[i];
        k = n - 1 - i;
        if (k > 0 && k % 3 == 0)
            out[o++] = ',';
    }
    out[o] = 0;
}

static void list_u32(char *out, size_t cap, const uint32_t *v, int n)
{
    size_t o = (size_t)snprintf(out, cap, "[");
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%u", i ? ", " : "", v[i]);
    if (o < cap)
        snprintf(out + o, cap - o, "]");
}

/* Parameters, checkpoint dtypes and tensor check, weight memory. Returns false on a problem. */
static bool weights(const char *dir, rv_params *p, const opts *o)
{
    char n[40], path[1200], a[32], b[32];
    commas(n, sizeof(n), rv_params_numel(p));
    printf("  parameters: %s in %d tensors\n", n, p->n);
    rv_error err = {0};
    rv_safetensors *st = NULL;
    bool ok = true;
    if (rv_diffusers_weights_path(dir, o->variant, path, sizeof(path), &err) ||
        rv_safetensors_open(&st, path, &err)) {
        printf("  checkpoint: %s\n", err.msg);
        ok = false;
    } else {
        rv_bind_report rep = {0};
        const char *base = strrchr(path, '/');
        if (rv_params_check(p, st, dir, &rep, &err) == RV_OK) {
            printf("  checkpoint: %s (%zu file%s): every tensor matches;", base ? base + 1 : path,
                   rv_safetensors_file_count(st), rv_safetensors_file_count(st) == 1 ? "" : "s");
            for (int t = 0; t < RV_ST_DTYPE_COUNT; t++)
                if (p->file_numel[t]) {
                    commas(n, sizeof(n), p->file_numel[t]);
                    printf(" %s %s", rv_st_dtype_name((rv_st_dtype)t), n);
                }
            printf("\n");
        } else {
            printf("  checkpoint: %s: %d missing, %d unknown, %d wrong-shape, %d bad-dtype tensors\n",
                   base ? base + 1 : path, rep.missing, rep.unknown, rep.wrong_shape, rep.bad_dtype);
            const char *s = rep.text;
            while (s && *s) {
                const char *e = strchr(s, '\n');
                int len = e ? (int)(e - s) : (int)strlen(s);
                printf("    %.*s\n", len, s);
                s = e ? e + 1 : s + len;
            }
            ok = false;
        }
        rv_bind_report_free(&rep);
    }
    rv_safetensors_close(st);
    mib(a, sizeof(a), rv_params_device_bytes(p, o->dtype));
    mib(b, sizeof(b), rv_params_device_bytes(p, o->dtype == RV_F16 ? RV_F32 : RV_F16));
    printf("  device memory: weights %s in %s (%s in %s)", a, rv_dtype_name(o->dtype), b,
           rv_dtype_name(o->dtype == RV_F16 ? RV_F32 : RV_F16));
    return ok;
}

static void activations(const rv_slots *s, const opts *o, const char *what)
{
    char a[32];
    mib(a, sizeof(a), rv_slots_bytes(s, o->dtype));
    printf(", activations %s (%s)\n", a, what);
}

static bool inspect_clip(const char *dir, const opts *o)
{
    rv_error err = {0};
    rv_clip_text_config c;
    rv_clip_text *te = NULL;
    if (rv_clip_text_config_load(&c, dir, &err) || rv_clip_text_create(&te, &c, &err)) {
        printf("  error: %s\n", err.msg);
        return false;
    }
    printf("  CLIP text transformer: hidden %u, %u layers, %u heads (width %u), MLP %u (%s), %u positions, "
           "vocabulary %u, layer norm eps %g\n", c.hidden_size, c.num_hidden_layers, c.num_attention_heads,
           c.hidden_size / c.num_attention_heads, c.intermediate_size, rv_act_name(c.hidden_act),
           c.max_position_embeddings, c.vocab_size, c.layer_norm_eps);
    bool ok = weights(dir, &te->params, o);
    rv_clip_text_plan *plan = NULL;
    if (rv_clip_text_plan_create(te, NULL, o->batch, c.max_position_embeddings, &plan, &err) == RV_OK) {
        char what[64];
        snprintf(what, sizeof(what), "batch %u, %u tokens", o->batch, c.max_position_embeddings);
        activations(&plan->slots, o, what);
    } else {
        printf("\n  plan: %s\n", err.msg);
    }
    rv_clip_text_plan_destroy(plan);
    rv_clip_text_destroy(te);
    return ok;
}

static bool inspect_unet(const char *dir, opts *o)
{
    rv_error err = {0};
    rv_unet_config c;
    rv_unet *u = NULL;
    if (rv_unet_config_load(&c, dir, &err) || rv_unet_create(&u, &c, &err)) {
        printf("  error: %s\n", err.msg);
        return false;
    }
    char ch[96], heads[96], widths[96], lay[96];
    uint32_t hw[RV_MAX_BLOCKS];
    for (int i = 0; i < c.nblocks; i++)
        hw[i] = c.block_out_channels[i] / c.heads[i];
    list_u32(ch, sizeof(ch), c.block_out_channels, c.nblocks);
    list_u32(heads, sizeof(heads), c.heads, c.nblocks);
    list_u32(widths, sizeof(widths), hw, c.nblocks);
    list_u32(lay, sizeof(lay), c.layers_per_block, c.nblocks);
    printf("  blocks:");
    for (int i = 0; i < c.nblocks; i++)
        printf(" %s", c.down_attn[i] ? "CrossAttnDown" : "Down");
    printf(" | mid CrossAttn |");
    for (int i = 0; i < c.nblocks; i++)
        printf(" %s", c.up_attn[i] ? "CrossAttnUp" : "Up");
    printf("\n  channels %s, layers per block %s, heads %s (widths %s), cross-attention %u, %s projections\n", ch,
           lay, heads, widths, c.cross_attention_dim[0], c.use_linear_projection ? "linear" : "conv");
    printf("  in %u -> out %u channels, %u norm groups (eps %g), time embedding %u%s, flip_sin_to_cos %s, "
           "freq_shift %g\n", c.in_channels, c.out_channels, c.norm_num_groups, c.norm_eps, c.time_embedding_dim,
           c.time_cond_proj_dim ? " + guidance condition" : "", c.flip_sin_to_cos ? "yes" : "no", c.freq_shift);
    bool ok = weights(dir, &u->params, o);
    uint32_t side = c.sample_size ? c.sample_size : 64;
    if (!o->latent)
        o->latent = side;
    rv_unet_plan *plan = NULL;
    if (rv_unet_plan_create(u, NULL, o->batch, side, side, 77, &plan, &err) == RV_OK) {
        char what[64];
        snprintf(what, sizeof(what), "batch %u, %ux%u latent, 77 tokens", o->batch, side, side);
        activations(&plan->slots, o, what);
    } else {
        printf("\n  plan: %s\n", err.msg);
    }
    rv_unet_plan_destroy(plan);
    rv_unet_destroy(u);
    return ok;
}

static bool inspect_vae(const char *dir, const opts *o)
{
    rv_error err = {0};
    rv_vae_config c;
    rv_vae *v = NULL;
    if (rv_vae_config_load(&c, dir, &err) || rv_vae_create(&v, &c, &err)) {
        printf("  error: %s\n", err.msg);
        return false;
    }
    char ch[96];
    list_u32(ch, sizeof(ch), c.block_out_channels, c.nblocks);
    printf("  channels %s, %u layers per block, %u latent channels, %ux downsampling, %u norm groups, "
           "mid-block attention %s, scaling_factor %g%s\n", ch, c.layers_per_block, c.latent_channels,
           rv_vae_scale(v), c.norm_num_groups, c.mid_block_add_attention ? "yes" : "no", c.scaling_factor,
           c.mid_block_add_attention && c.block_out_channels[c.nblocks - 1] > 160 ? " (explicit attention path)" : "");
    bool ok = weights(dir, &v->params, o);
    uint32_t side = o->latent ? o->latent : (c.sample_size ? c.sample_size / rv_vae_scale(v) : 64);
    rv_vae_plan *plan = NULL;
    if (rv_vae_plan_create(v, NULL, RV_AE_DECODE, o->batch, side, side, &plan, &err) == RV_OK) {
        char what[64];
        snprintf(what, sizeof(what), "decoding batch %u, %ux%u latent", o->batch, side, side);
        activations(&plan->slots, o, what);
    } else {
        printf("\n  plan: %s\n", err.msg);
    }
    rv_vae_plan_destroy(plan);
    rv_vae_destroy(v);
    return ok;
}

static bool inspect_taesd(const char *dir, const opts *o)
{
    rv_error err = {0};
    rv_taesd_config c;
    rv_taesd *t = NULL;
    if (rv_taesd_config_load(&c, dir, &err) || rv_taesd_create(&t, &c, &err)) {
        printf("  error: %s\n", err.msg);
        return false;
    }
    char eb[96], db[96];
    list_u32(eb, sizeof(eb), c.enc_blocks, c.n_enc);
    list_u32(db, sizeof(db), c.dec_blocks, c.n_dec);
    printf("  encoder %u channels, blocks %s; decoder %u channels, blocks %s; %u latent channels, %ux, %s\n",
           c.enc_channels[0], eb, c.dec_channels[0], db, c.latent_channels, rv_taesd_scale(t), rv_act_name(c.act));
    bool ok = weights(dir, &t->params, o);
    uint32_t side = o->latent ? o->latent : 64;
    rv_taesd_plan *plan = NULL;
    if (rv_taesd_plan_create(t, NULL, RV_AE_DECODE, o->batch, side, side, &plan, &err) == RV_OK) {
        char what[64];
        snprintf(what, sizeof(what), "decoding batch %u, %ux%u latent", o->batch, side, side);
        activations(&plan->slots, o, what);
    } else {
        printf("\n  plan: %s\n", err.msg);
    }
    rv_taesd_plan_destroy(plan);
    rv_taesd_destroy(t);
    return ok;
}

static bool inspect_component(const char *dir, const char *name, const char *cls, opts *o)
{
    printf("%s: %s\n", name, cls);
    if (strcmp(cls, "CLIPTextModel") == 0)
        return inspect_clip(dir, o);
    if (strcmp(cls, "UNet2DConditionModel") == 0)
        return inspect_unet(dir, o);
    if (strcmp(cls, "AutoencoderKL") == 0)
        return inspect_vae(dir, o);
    if (strcmp(cls, "AutoencoderTiny") == 0)
        return inspect_taesd(dir, o);
    if (strcmp(cls, "CLIPTokenizer") == 0) {
        rv_tokenizer *tok = NULL;
        rv_error err = {0};
        if (rv_tokenizer_load(&tok, dir, &err)) {
            printf("  error: %s\n", err.msg);
            return false;
        }
        printf("  CLIP BPE: %d ids, BOS %d, EOS %d, pad %d\n", rv_tokenizer_vocab_size(tok), rv_tokenizer_bos_id(tok),
               rv_tokenizer_eos_id(tok), rv_tokenizer_pad_id(tok));
        rv_tokenizer_unload(tok);
        return true;
    }
    if (strstr(cls, "Scheduler")) {
        /* what `reverie gen` would run: the class itself, or Euler for another class's config */
        rv_scheduler s;
        rv_error err = {0};
        bool native = rv_scheduler_load(&s, dir, NULL, &err) == RV_OK;
        if (!native) {
            printf("  scheduler: %s\n", err.msg);
            rv_error_clear(&err);
            if (rv_scheduler_load(&s, dir, "euler", &err) != RV_OK) {
                printf("  not usable as EulerDiscreteScheduler either\n");
                return false;
            }
        }
        static const char *const spacing[] = {"linspace", "leading", "trailing"};
        static const char *const pred[] = {"epsilon", "v_prediction", "sample"};
        printf("  %s%s: %u training timesteps, %s spacing (steps_offset %d), %s prediction", native ? "" : "as ",
               rv_sched_kind_name(s.kind), s.num_train_timesteps, spacing[s.spacing], s.steps_offset,
               pred[s.prediction]);
        if (s.kind == RV_SCHED_LCM)
            printf(", original_inference_steps %u, timestep_scaling %g", s.original_steps,
                   (double)s.timestep_scaling);
        printf("%s\n", native ? "" : " (reverie gen --scheduler euler)");
        rv_scheduler_free(&s);
        return true;
    }
    printf("  not used by Reverie\n");
    return true;
}

int rv_model_inspect(const char *dir, const rv_inspect_desc *d)
{
    opts o = {.dtype = d && d->f32 ? RV_F32 : RV_F16, .batch = d && d->batch ? d->batch : 1,
              .variant = d ? d->variant : NULL};
    rv_error err = {0};
    rv_model_index idx;
    char path[1200];
    snprintf(path, sizeof(path), "%s/model_index.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) { /* a single component folder? */
        char cls[96];
        if (rv_config_class_name(dir, cls, sizeof(cls), &err)) {
            fprintf(stderr, "reverie inspect: %s: neither model_index.json nor config.json (%s)\n", dir, err.msg);
            return 1;
        }
        return inspect_component(dir, dir, cls, &o) ? 0 : 1;
    }
    fclose(f);
    if (rv_model_index_load(&idx, dir, &err)) {
        fprintf(stderr, "reverie inspect: %s\n", err.msg);
        return 1;
    }
    printf("%s: %s, %d components (storage %s)\n", dir, idx.class_name[0] ? idx.class_name : "pipeline", idx.count,
           rv_dtype_name(o.dtype));
    bool ok = true;
    /* the UNet first: its sample_size sets the latent the decoders are sized for */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < idx.count; i++) {
            const rv_component *c = &idx.comp[i];
            bool is_unet = strcmp(c->class_name, "UNet2DConditionModel") == 0;
            if (is_unet != (pass == 0))
                continue;
            char sub[1200];
            snprintf(sub, sizeof(sub), "%s/%s", dir, c->name);
            ok = inspect_component(sub, c->name, c->class_name, &o) && ok;
        }
    return ok ? 0 : 1;
}
