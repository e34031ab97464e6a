/* diffusers folder configs (see diffusers.h): model_index.json and the
 * config.json of CLIPTextModel, UNet2DConditionModel, AutoencoderKL and
 * AutoencoderTiny, with diffusers'/transformers' defaults and semantics.
 * Not the module trees (runtime/models) and not the scheduler configs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "loader/config.h"
#include "loader/diffusers.h"
#include "loader/safetensors.h"

const char *rv_act_name(rv_act a)
{
    switch (a) {
    case RV_ACT_SILU: return "silu";
    case RV_ACT_GELU: return "gelu";
    case RV_ACT_QUICK_GELU: return "quick_gelu";
    case RV_ACT_RELU: return "relu";
    }
    return "?";
}

static void join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t n = strlen(dir);
    snprintf(out, cap, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- model_index.json ---- */

static rv_status model_index(rv_model_index *idx, const char *dir, const char *json, const char *name,
                             rv_error *err)
{
    rv_error local = {0};
    err = err ? err : &local;
    memset(idx, 0, sizeof(*idx));
    rv_cfg c;
    rv_status st;
    if (json) {
        st = rv_cfg_parse(&c, json, name, err);
    } else {
        char path[1024];
        join(path, sizeof(path), dir, "model_index.json");
        st = rv_cfg_load(&c, path, err);
    }
    if (st)
        return st;
    snprintf(idx->class_name, sizeof(idx->class_name), "%s", rv_cfg_str(&c, "_class_name", "", false));
    for (const cJSON *e = c.root->child; e && !rv_cfg_failed(&c); e = e->next) {
        if (!e->string || e->string[0] == '_' || !cJSON_IsArray(e))
            continue; /* flags such as requires_safety_checker */
        const cJSON *lib = cJSON_GetArrayItem(e, 0), *cls = cJSON_GetArrayItem(e, 1);
        if (cJSON_GetArraySize(e) != 2 || !(cJSON_IsString(lib) || cJSON_IsNull(lib)) ||
            !(cJSON_IsString(cls) || cJSON_IsNull(cls))) {
            rv_cfg_fail(&c, e->string, "expected [library, class] (two strings or nulls)");
            break;
        }
        if (cJSON_IsNull(cls))
            continue;
        if (idx->count == RV_MAX_COMPONENTS) {
            rv_cfg_fail(&c, e->string, "more than %d components", RV_MAX_COMPONENTS);
            break;
        }
        if (strlen(e->string) >= sizeof(idx->comp[0].name) || strchr(e->string, '/') || strcmp(e->string, "..") == 0 ||
            strcmp(e->string, ".") == 0) {
            rv_cfg_fail(&c, e->string, "not a usable component folder name");
            break;
        }
        rv_component *cp = &idx->comp[idx->count++];
        snprintf(cp->name, sizeof(cp->name), "%s", e->string);
        snprintf(cp->library, sizeof(cp->library), "%s", cJSON_IsString(lib) ? lib->valuestring : "");
        snprintf(cp->class_name, sizeof(cp->class_name), "%s", cls->valuestring);
    }
    if (!rv_cfg_failed(&c) && idx->count == 0)
        rv_cfg_fail(&c, NULL, "names no components");
    rv_cfg_free(&c);
    return err->code;
}

rv_status rv_model_index_load(rv_model_index *idx, const char *dir, rv_error *err)
{
    return model_index(idx, dir, NULL, NULL, err);
}

rv_status rv_model_index_parse(rv_model_index *idx, const char *json, const char *name, rv_error *err)
{
    return model_index(idx, NULL, json, name, err);
}

const rv_component *rv_model_index_find(const rv_model_index *idx, const char *class_name)
{
    for (int i = 0; i < idx->count; i++)
        if (strcmp(idx->comp[i].class_name, class_name) == 0)
            return &idx->comp[i];
    return NULL;
}

rv_status rv_config_class_name(const char *dir, char *out, size_t cap, rv_error *err)
{
    rv_error local = {0};
    err = err ? err : &local;
    char path[1024];
    join(path, sizeof(path), dir, "config.json");
    rv_cfg c;
    rv_status st = rv_cfg_load(&c, path, err);
    if (st)
        return st;
    const char *name = rv_cfg_str(&c, "_class_name", NULL, false);
    if (!name && rv_cfg_has(&c, "architectures")) {
        const char *arch[4];
        if (rv_cfg_str_list(&c, "architectures", arch, 4, true))
            name = arch[0];
    }
    if (!name && !rv_cfg_failed(&c)) {
        const char *mt = rv_cfg_str(&c, "model_type", NULL, false);
        if (mt && strcmp(mt, "clip_text_model") == 0)
            name = "CLIPTextModel";
    }
    if (!name && !rv_cfg_failed(&c))
        rv_cfg_fail(&c, NULL, "names no class (_class_name or architectures)");
    if (name)
        snprintf(out, cap, "%s", name);
    rv_cfg_free(&c);
    return err->code;
}

rv_status rv_diffusers_weights_path(const char *dir, const char *variant, char *out, size_t cap, rv_error *err)
{
    static const char *const stems[] = {"diffusion_pytorch_model", "model"};
    char suffix[80];
    snprintf(suffix, sizeof(suffix), "%s%s.safetensors", variant ? "." : "", variant ? variant : "");
    for (int s = 0; s < 2; s++) {
        char name[160];
        snprintf(name, sizeof(name), "%s%s", stems[s], suffix);
        join(out, cap, dir, name);
        if (exists(out))
            return RV_OK;
        snprintf(name, sizeof(name), "%s%s.index.json", stems[s], suffix);
        join(out, cap, dir, name);
        if (exists(out))
            return RV_OK;
    }
    return rv_error_set(err, RV_ERR_IO,
                        "LOAD: %s: no safetensors weights (diffusion_pytorch_model%s, model%s or a sharded "
                        "*.safetensors.index.json)", dir, suffix, suffix);
}

/* Shared wrapper: load dir/config.json or parse text, run `fn`, free. */
typedef void (*parse_fn)(rv_cfg *c, void *cfg);

static rv_status run_parser(parse_fn fn, void *cfg, const char *dir, const char *json, const char *name,
                            rv_error *err)
{
    rv_error local = {0};
    err = err ? err : &local;
    rv_cfg c;
    rv_status st;
    if (json) {
        st = rv_cfg_parse(&c, json, name, err);
    } else {
        char path[1024];
        join(path, sizeof(path), dir, "config.json");
        st = rv_cfg_load(&c, path, err);
    }
    if (st)
        return st;
    fn(&c, cfg);
    rv_cfg_free(&c);
    return err->code;
}

/* The class named by a diffusers config must be the expected one. */
static void expect_class(rv_cfg *c, const char *want)
{
    const char *cls = rv_cfg_str(c, "_class_name", NULL, false);
    if (cls && strcmp(cls, want) != 0)
        rv_cfg_fail(c, "_class_name", "\"%s\" is not %s", cls, want);
}

static rv_act parse_act(rv_cfg *c, const char *key, const char *def, unsigned allowed)
{
    const char *s = rv_cfg_str(c, key, def, false);
    static const char *const names[] = {"silu", "gelu", "quick_gelu", "relu"};
    for (int i = 0; i < 4; i++)
        if ((allowed >> i & 1u) && (strcmp(s, names[i]) == 0 || (i == 0 && strcmp(s, "swish") == 0)))
            return (rv_act)i;
    char list[96] = "";
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        if (allowed >> i & 1u)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", names[i]);
    rv_cfg_fail(c, key, "activation \"%s\" is not supported (supported: %s)", s, list);
    return (rv_act)0;
}

/* A value above `max` fails naming the key (and the list entry when idx >= 0). */
static bool over(rv_cfg *c, const char *key, int idx, uint32_t v, uint32_t max)
{
    if (v <= max || rv_cfg_failed(c))
        return v > max;
    char k[80];
    if (idx >= 0)
        snprintf(k, sizeof(k), "%s[%d]", key, idx);
    else
        snprintf(k, sizeof(k), "%s", key);
    rv_cfg_fail(c, k, "%u is more than Reverie supports (at most %u)", v, max);
    return true;
}

/* A list, or one number broadcast to every block (named without an index). */
static bool list_over(rv_cfg *c, const char *key, const uint32_t *v, int n, uint32_t max)
{
    bool list = cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(c->root, key));
    for (int i = 0; i < n; i++)
        if (over(c, key, list ? i : -1, v[i], max))
            return true;
    return false;
}

/* ---- CLIPTextModel ---- */

static void parse_clip(rv_cfg *c, void *out)
{
    rv_clip_text_config *cfg = out;
    memset(cfg, 0, sizeof(*cfg));
    const char *mt = rv_cfg_str(c, "model_type", "clip_text_model", false);
    if (strcmp(mt, "clip_text_model") != 0)
        rv_cfg_fail(c, "model_type", "\"%s\" is not a CLIP text model (clip_text_model)", mt);
    cfg->vocab_size = rv_cfg_uint(c, "vocab_size", 49408, true);
    cfg->hidden_size = rv_cfg_uint(c, "hidden_size", 512, true);
    cfg->intermediate_size = rv_cfg_uint(c, "intermediate_size", 2048, true);
    cfg->num_hidden_layers = rv_cfg_uint(c, "num_hidden_layers", 12, true);
    cfg->num_attention_heads = rv_cfg_uint(c, "num_attention_heads", 8, true);
    cfg->max_position_embeddings = rv_cfg_uint(c, "max_position_embeddings", 77, false);
    cfg->hidden_act = parse_act(c, "hidden_act", "quick_gelu", 1u << RV_ACT_QUICK_GELU | 1u << RV_ACT_GELU);
    cfg->layer_norm_eps = (float)rv_cfg_num(c, "layer_norm_eps", 1e-5, false);
    cfg->eos_token_id = rv_cfg_int(c, "eos_token_id", 49407, false);
    if (rv_cfg_failed(c))
        return;
    if (over(c, "hidden_size", -1, cfg->hidden_size, RV_CFG_MAX_CHANNELS) ||
        over(c, "intermediate_size", -1, cfg->intermediate_size, RV_CFG_MAX_CHANNELS) ||
        over(c, "num_hidden_layers", -1, cfg->num_hidden_layers, RV_CFG_MAX_CLIP_LAYERS) ||
        over(c, "max_position_embeddings", -1, cfg->max_position_embeddings, RV_CFG_MAX_POSITIONS))
        return;
    if (!cfg->vocab_size || !cfg->hidden_size || !cfg->intermediate_size || !cfg->num_attention_heads ||
        !cfg->max_position_embeddings) {
        rv_cfg_fail(c, !cfg->vocab_size ? "vocab_size" : !cfg->hidden_size ? "hidden_size"
                       : !cfg->intermediate_size ? "intermediate_size"
                       : !cfg->num_attention_heads ? "num_attention_heads" : "max_position_embeddings",
                    "must be positive");
        return;
    }
    if (cfg->hidden_size % cfg->num_attention_heads)
        rv_cfg_fail(c, "num_attention_heads", "hidden_size %u is not divisible by %u heads", cfg->hidden_size,
                    cfg->num_attention_heads);
    else if (cfg->vocab_size >= (1u << 24))
        rv_cfg_fail(c, "vocab_size", "%u ids do not fit the float32 id path (at most 2^24)", cfg->vocab_size);
    else if (!(cfg->layer_norm_eps > 0))
        rv_cfg_fail(c, "layer_norm_eps", "must be positive");
}

rv_status rv_clip_text_config_parse(rv_clip_text_config *cfg, const char *json, const char *name, rv_error *err)
{
    return run_parser(parse_clip, cfg, NULL, json, name, err);
}

rv_status rv_clip_text_config_load(rv_clip_text_config *cfg, const char *dir, rv_error *err)
{
    return run_parser(parse_clip, cfg, dir, NULL, NULL, err);
}

/* ---- UNet2DConditionModel ---- */

static const char *const unet_known[] = {
    "in_channels", "out_channels", "center_input_sample", "flip_sin_to_cos", "freq_shift", "down_block_types",
    "mid_block_type", "up_block_types", "block_out_channels", "layers_per_block", "downsample_padding",
    "mid_block_scale_factor", "dropout", "act_fn", "norm_num_groups", "norm_eps", "cross_attention_dim",
    "transformer_layers_per_block", "attention_head_dim", "use_linear_projection", "upcast_attention",
    "resnet_out_scale_factor", "time_embedding_dim", "time_embedding_act_fn", "timestep_post_act",
    "time_cond_proj_dim", "conv_in_kernel", "conv_out_kernel", "sample_size", NULL};

/* Options whose other values select machinery this runtime does not have. */
static const rv_cfg_fixed unet_fixed[] = {
    {"only_cross_attention", {"false", "null"}},
    {"reverse_transformer_layers_per_block", {"null"}},
    {"encoder_hid_dim", {"null"}},
    {"encoder_hid_dim_type", {"null"}},
    {"num_attention_heads", {"null"}},
    {"dual_cross_attention", {"false", "null"}},
    {"class_embed_type", {"null"}},
    {"addition_embed_type", {"null"}},
    {"addition_time_embed_dim", {"null"}},
    {"num_class_embeds", {"null"}},
    {"resnet_time_scale_shift", {"\"default\""}},
    {"resnet_skip_time_act", {"false"}},
    {"time_embedding_type", {"\"positional\""}},
    {"projection_class_embeddings_input_dim", {"null"}},
    {"attention_type", {"\"default\""}},
    {"class_embeddings_concat", {"false"}},
    {"mid_block_only_cross_attention", {"null", "false"}},
    {"cross_attention_norm", {"null"}},
    {"addition_embed_type_num_heads", {"64"}},
    {"use_memory_efficient_attention", {"false", "true"}},
};

static void parse_unet(rv_cfg *c, void *out)
{
    rv_unet_config *cfg = out;
    memset(cfg, 0, sizeof(*cfg));
    expect_class(c, "UNet2DConditionModel");
    rv_cfg_check_keys(c, unet_known, unet_fixed, (int)(sizeof(unet_fixed) / sizeof(unet_fixed[0])), true);
    cfg->in_channels = rv_cfg_uint(c, "in_channels", 4, true);
    cfg->out_channels = rv_cfg_uint(c, "out_channels", 4, true);
    cfg->center_input_sample = rv_cfg_bool(c, "center_input_sample", false, false);
    cfg->flip_sin_to_cos = rv_cfg_bool(c, "flip_sin_to_cos", true, false);
    cfg->freq_shift = (float)rv_cfg_num(c, "freq_shift", 0, false);
    const char *down[RV_MAX_BLOCKS] = {0}, *up[RV_MAX_BLOCKS] = {0};
    int nd = rv_cfg_str_list(c, "down_block_types", down, RV_MAX_BLOCKS, true);
    int nu = rv_cfg_str_list(c, "up_block_types", up, RV_MAX_BLOCKS, true);
    int nc = rv_cfg_uint_list(c, "block_out_channels", cfg->block_out_channels, RV_MAX_BLOCKS, false, 0, true);
    if (rv_cfg_failed(c))
        return;
    if (nd != nc || nu != nc) {
        rv_cfg_fail(c, nd != nc ? "down_block_types" : "up_block_types",
                    "has %d entries but block_out_channels has %d", nd != nc ? nd : nu, nc);
        return;
    }
    cfg->nblocks = nc;
    if (list_over(c, "block_out_channels", cfg->block_out_channels, nc, RV_CFG_MAX_CHANNELS))
        return;
    for (int i = 0; i < nc; i++) {
        char key[64];
        if (strcmp(down[i], "CrossAttnDownBlock2D") == 0)
            cfg->down_attn[i] = true;
        else if (strcmp(down[i], "DownBlock2D") != 0) {
            snprintf(key, sizeof(key), "down_block_types[%d]", i);
            rv_cfg_fail(c, key, "block type \"%s\" is not supported (CrossAttnDownBlock2D, DownBlock2D)", down[i]);
        }
        if (strcmp(up[i], "CrossAttnUpBlock2D") == 0)
            cfg->up_attn[i] = true;
        else if (strcmp(up[i], "UpBlock2D") != 0) {
            snprintf(key, sizeof(key), "up_block_types[%d]", i);
            rv_cfg_fail(c, key, "block type \"%s\" is not supported (CrossAttnUpBlock2D, UpBlock2D)", up[i]);
        }
    }
    const char *mid = rv_cfg_str(c, "mid_block_type", "UNetMidBlock2DCrossAttn", false);
    if (strcmp(mid, "UNetMidBlock2DCrossAttn") != 0)
        rv_cfg_fail(c, "mid_block_type", "\"%s\" is not supported (UNetMidBlock2DCrossAttn)", mid);
    rv_cfg_uint_list(c, "layers_per_block", cfg->layers_per_block, RV_MAX_BLOCKS, true, nc, true);
    if (rv_cfg_has(c, "transformer_layers_per_block"))
        rv_cfg_uint_list(c, "transformer_layers_per_block", cfg->transformer_layers, RV_MAX_BLOCKS, true, nc, false);
    else
        for (int i = 0; i < nc; i++)
            cfg->transformer_layers[i] = 1;
    int nh = rv_cfg_uint_list(c, "attention_head_dim", cfg->heads, RV_MAX_BLOCKS, true, nc, true);
    int nx = rv_cfg_uint_list(c, "cross_attention_dim", cfg->cross_attention_dim, RV_MAX_BLOCKS, true, nc, true);
    if (rv_cfg_failed(c))
        return;
    /* lists must have one entry per block */
    const struct { const char *key; const uint32_t *v; int n; } lists[] = {
        {"attention_head_dim", cfg->heads, nh}, {"cross_attention_dim", cfg->cross_attention_dim, nx}};
    for (int k = 0; k < 2; k++)
        if (lists[k].n != nc) {
            rv_cfg_fail(c, lists[k].key, "has %d entries for %d blocks", lists[k].n, nc);
            return;
        }
    cfg->downsample_padding = rv_cfg_uint(c, "downsample_padding", 1, false);
    cfg->mid_block_scale_factor = (float)rv_cfg_num(c, "mid_block_scale_factor", 1.0, false);
    cfg->resnet_out_scale_factor = (float)rv_cfg_num(c, "resnet_out_scale_factor", 1.0, false);
    parse_act(c, "act_fn", "silu", 1u << RV_ACT_SILU);
    cfg->norm_num_groups = rv_cfg_uint(c, "norm_num_groups", 32, false);
    cfg->norm_eps = (float)rv_cfg_num(c, "norm_eps", 1e-5, false);
    cfg->use_linear_projection = rv_cfg_bool(c, "use_linear_projection", false, false);
    cfg->upcast_attention = rv_cfg_bool(c, "upcast_attention", false, false);
    cfg->time_embedding_dim = rv_cfg_uint(c, "time_embedding_dim", cfg->block_out_channels[0] * 4, false);
    cfg->time_cond_proj_dim = rv_cfg_uint(c, "time_cond_proj_dim", 0, false);
    if (rv_cfg_has(c, "time_embedding_act_fn")) {
        parse_act(c, "time_embedding_act_fn", "silu", 1u << RV_ACT_SILU);
        cfg->time_embedding_act = true;
    }
    if (rv_cfg_has(c, "timestep_post_act")) {
        parse_act(c, "timestep_post_act", "silu", 1u << RV_ACT_SILU);
        cfg->timestep_post_act = true;
    }
    cfg->conv_in_kernel = rv_cfg_uint(c, "conv_in_kernel", 3, false);
    cfg->conv_out_kernel = rv_cfg_uint(c, "conv_out_kernel", 3, false);
    cfg->sample_size = rv_cfg_uint(c, "sample_size", 64, false);
    if (rv_cfg_failed(c))
        return;
    if (over(c, "in_channels", -1, cfg->in_channels, RV_CFG_MAX_CHANNELS) ||
        over(c, "out_channels", -1, cfg->out_channels, RV_CFG_MAX_CHANNELS) ||
        list_over(c, "layers_per_block", cfg->layers_per_block, nc, RV_CFG_MAX_LAYERS_PER_BLOCK) ||
        list_over(c, "transformer_layers_per_block", cfg->transformer_layers, nc, RV_CFG_MAX_TRANSFORMER_LAYERS) ||
        list_over(c, "cross_attention_dim", cfg->cross_attention_dim, nc, RV_CFG_MAX_CHANNELS) ||
        over(c, "time_embedding_dim", -1, cfg->time_embedding_dim, 4 * RV_CFG_MAX_CHANNELS) ||
        over(c, "time_cond_proj_dim", -1, cfg->time_cond_proj_dim, RV_CFG_MAX_CHANNELS) ||
        over(c, "conv_in_kernel", -1, cfg->conv_in_kernel, RV_CFG_MAX_KERNEL) ||
        over(c, "conv_out_kernel", -1, cfg->conv_out_kernel, RV_CFG_MAX_KERNEL) ||
        over(c, "sample_size", -1, cfg->sample_size, RV_CFG_MAX_UNET_SAMPLE))
        return;
    /* consistency: what would make torch raise, or our kernels unable to follow */
    if (!cfg->in_channels || !cfg->out_channels)
        rv_cfg_fail(c, !cfg->in_channels ? "in_channels" : "out_channels", "must be positive");
    else if (!cfg->norm_num_groups)
        rv_cfg_fail(c, "norm_num_groups", "must be positive");
    else if (!(cfg->norm_eps > 0))
        rv_cfg_fail(c, "norm_eps", "must be positive");
    else if (cfg->conv_in_kernel % 2 == 0 || cfg->conv_out_kernel % 2 == 0)
        rv_cfg_fail(c, cfg->conv_in_kernel % 2 == 0 ? "conv_in_kernel" : "conv_out_kernel", "must be odd");
    else if (!(cfg->mid_block_scale_factor > 0) || !(cfg->resnet_out_scale_factor > 0))
        rv_cfg_fail(c, !(cfg->mid_block_scale_factor > 0) ? "mid_block_scale_factor" : "resnet_out_scale_factor",
                    "must be positive");
    else if (cfg->downsample_padding > 1)
        rv_cfg_fail(c, "downsample_padding", "%u is not supported (0 or 1)", cfg->downsample_padding);
    else if (cfg->block_out_channels[0] % 2 || !cfg->time_embedding_dim)
        rv_cfg_fail(c, "block_out_channels", "the first entry (the timestep embedding width) must be even");
    else if ((float)(cfg->block_out_channels[0] / 2) == cfg->freq_shift)
        rv_cfg_fail(c, "freq_shift", "equals half the timestep embedding width (a division by zero)");
    for (int i = 0; i < nc && !rv_cfg_failed(c); i++) {
        uint32_t ch = cfg->block_out_channels[i];
        char key[64];
        if (ch % cfg->norm_num_groups) {
            snprintf(key, sizeof(key), "block_out_channels[%d]", i);
            rv_cfg_fail(c, key, "%u channels are not divisible by norm_num_groups %u", ch, cfg->norm_num_groups);
        } else if (!cfg->layers_per_block[i]) {
            snprintf(key, sizeof(key), "layers_per_block[%d]", i);
            rv_cfg_fail(c, key, "must be positive");
        } else if ((cfg->down_attn[i] || cfg->up_attn[nc - 1 - i] || i == nc - 1) && ch % cfg->heads[i]) {
            snprintf(key, sizeof(key), "attention_head_dim[%d]", i);
            rv_cfg_fail(c, key, "%u heads do not divide %u channels", cfg->heads[i], ch);
        }
    }
}

rv_status rv_unet_config_parse(rv_unet_config *cfg, const char *json, const char *name, rv_error *err)
{
    return run_parser(parse_unet, cfg, NULL, json, name, err);
}

rv_status rv_unet_config_load(rv_unet_config *cfg, const char *dir, rv_error *err)
{
    return run_parser(parse_unet, cfg, dir, NULL, NULL, err);
}

/* ---- AutoencoderKL ---- */

static const char *const vae_known[] = {
    "in_channels", "out_channels", "down_block_types", "up_block_types", "block_out_channels", "layers_per_block",
    "act_fn", "latent_channels", "norm_num_groups", "sample_size", "scaling_factor", "shift_factor",
    "latents_mean", "latents_std", "force_upcast", "use_quant_conv", "use_post_quant_conv",
    "mid_block_add_attention", NULL};

static void parse_vae(rv_cfg *c, void *out)
{
    rv_vae_config *cfg = out;
    memset(cfg, 0, sizeof(*cfg));
    expect_class(c, "AutoencoderKL");
    rv_cfg_check_keys(c, vae_known, NULL, 0, true);
    cfg->in_channels = rv_cfg_uint(c, "in_channels", 3, true);
    cfg->out_channels = rv_cfg_uint(c, "out_channels", 3, true);
    cfg->latent_channels = rv_cfg_uint(c, "latent_channels", 4, true);
    const char *down[RV_MAX_BLOCKS], *up[RV_MAX_BLOCKS];
    int nd = rv_cfg_str_list(c, "down_block_types", down, RV_MAX_BLOCKS, true);
    int nu = rv_cfg_str_list(c, "up_block_types", up, RV_MAX_BLOCKS, true);
    int nc = rv_cfg_uint_list(c, "block_out_channels", cfg->block_out_channels, RV_MAX_BLOCKS, false, 0, true);
    cfg->layers_per_block = rv_cfg_uint(c, "layers_per_block", 1, true);
    parse_act(c, "act_fn", "silu", 1u << RV_ACT_SILU);
    cfg->norm_num_groups = rv_cfg_uint(c, "norm_num_groups", 32, true);
    cfg->sample_size = rv_cfg_uint(c, "sample_size", 32, false);
    cfg->scaling_factor = (float)rv_cfg_num(c, "scaling_factor", 0.18215, false);
    cfg->shift_factor = (float)rv_cfg_num(c, "shift_factor", 0.0, false);
    cfg->force_upcast = rv_cfg_bool(c, "force_upcast", true, false);
    cfg->use_quant_conv = rv_cfg_bool(c, "use_quant_conv", true, false);
    cfg->use_post_quant_conv = rv_cfg_bool(c, "use_post_quant_conv", true, false);
    cfg->mid_block_add_attention = rv_cfg_bool(c, "mid_block_add_attention", true, false);
    if (rv_cfg_failed(c))
        return;
    if (nd != nc || nu != nc) {
        rv_cfg_fail(c, nd != nc ? "down_block_types" : "up_block_types",
                    "has %d entries but block_out_channels has %d", nd != nc ? nd : nu, nc);
        return;
    }
    cfg->nblocks = nc;
    if (list_over(c, "block_out_channels", cfg->block_out_channels, nc, RV_CFG_MAX_CHANNELS) ||
        over(c, "in_channels", -1, cfg->in_channels, RV_CFG_MAX_CHANNELS) ||
        over(c, "out_channels", -1, cfg->out_channels, RV_CFG_MAX_CHANNELS) ||
        over(c, "latent_channels", -1, cfg->latent_channels, RV_CFG_MAX_CHANNELS) ||
        over(c, "layers_per_block", -1, cfg->layers_per_block, RV_CFG_MAX_LAYERS_PER_BLOCK) ||
        over(c, "sample_size", -1, cfg->sample_size, RV_CFG_MAX_VAE_SAMPLE))
        return;
    for (int i = 0; i < nc && !rv_cfg_failed(c); i++) {
        char key[64];
        if (strcmp(down[i], "DownEncoderBlock2D") != 0) {
            snprintf(key, sizeof(key), "down_block_types[%d]", i);
            rv_cfg_fail(c, key, "block type \"%s\" is not supported (DownEncoderBlock2D)", down[i]);
        } else if (strcmp(up[i], "UpDecoderBlock2D") != 0) {
            snprintf(key, sizeof(key), "up_block_types[%d]", i);
            rv_cfg_fail(c, key, "block type \"%s\" is not supported (UpDecoderBlock2D)", up[i]);
        } else if (!cfg->norm_num_groups || cfg->block_out_channels[i] % cfg->norm_num_groups) {
            snprintf(key, sizeof(key), "block_out_channels[%d]", i);
            rv_cfg_fail(c, key, "%u channels are not divisible by norm_num_groups %u", cfg->block_out_channels[i],
                        cfg->norm_num_groups);
        }
    }
    if (rv_cfg_failed(c))
        return;
    if (!cfg->in_channels || !cfg->out_channels || !cfg->latent_channels)
        rv_cfg_fail(c, !cfg->in_channels ? "in_channels" : !cfg->out_channels ? "out_channels" : "latent_channels",
                    "must be positive");
    else if (!cfg->layers_per_block)
        rv_cfg_fail(c, "layers_per_block", "must be positive");
    else if (!(cfg->scaling_factor != 0))
        rv_cfg_fail(c, "scaling_factor", "must not be zero");
}

rv_status rv_vae_config_parse(rv_vae_config *cfg, const char *json, const char *name, rv_error *err)
{
    return run_parser(parse_vae, cfg, NULL, json, name, err);
}

rv_status rv_vae_config_load(rv_vae_config *cfg, const char *dir, rv_error *err)
{
    return run_parser(parse_vae, cfg, dir, NULL, NULL, err);
}

/* ---- AutoencoderTiny ---- */

static const char *const taesd_known[] = {
    "in_channels", "out_channels", "encoder_block_out_channels", "decoder_block_out_channels", "act_fn",
    "upsample_fn", "latent_channels", "upsampling_scaling_factor", "num_encoder_blocks", "num_decoder_blocks",
    "latent_magnitude", "latent_shift", "force_upcast", "scaling_factor", "shift_factor", "block_out_channels",
    NULL};

static void parse_taesd(rv_cfg *c, void *out)
{
    rv_taesd_config *cfg = out;
    memset(cfg, 0, sizeof(*cfg));
    expect_class(c, "AutoencoderTiny");
    rv_cfg_check_keys(c, taesd_known, NULL, 0, true);
    cfg->in_channels = rv_cfg_uint(c, "in_channels", 3, false);
    cfg->out_channels = rv_cfg_uint(c, "out_channels", 3, false);
    cfg->latent_channels = rv_cfg_uint(c, "latent_channels", 4, false);
    int ne = rv_cfg_uint_list(c, "encoder_block_out_channels", cfg->enc_channels, RV_MAX_BLOCKS, false, 0, true);
    int nd = rv_cfg_uint_list(c, "decoder_block_out_channels", cfg->dec_channels, RV_MAX_BLOCKS, false, 0, true);
    int nbe = rv_cfg_uint_list(c, "num_encoder_blocks", cfg->enc_blocks, RV_MAX_BLOCKS, false, 0, true);
    int nbd = rv_cfg_uint_list(c, "num_decoder_blocks", cfg->dec_blocks, RV_MAX_BLOCKS, false, 0, true);
    cfg->act = parse_act(c, "act_fn", "relu", 1u << RV_ACT_RELU | 1u << RV_ACT_SILU | 1u << RV_ACT_GELU);
    const char *up = rv_cfg_str(c, "upsample_fn", "nearest", false);
    if (strcmp(up, "nearest") != 0)
        rv_cfg_fail(c, "upsample_fn", "\"%s\" is not supported (nearest)", up);
    cfg->upsampling_scaling_factor = rv_cfg_uint(c, "upsampling_scaling_factor", 2, false);
    cfg->scaling_factor = (float)rv_cfg_num(c, "scaling_factor", 1.0, false);
    cfg->shift_factor = (float)rv_cfg_num(c, "shift_factor", 0.0, false);
    cfg->latent_magnitude = (float)rv_cfg_num(c, "latent_magnitude", 3.0, false);
    cfg->latent_shift = (float)rv_cfg_num(c, "latent_shift", 0.5, false);
    rv_cfg_bool(c, "force_upcast", false, false);
    if (rv_cfg_failed(c))
        return;
    if (ne != nbe) {
        rv_cfg_fail(c, "num_encoder_blocks", "has %d entries but encoder_block_out_channels has %d", nbe, ne);
        return;
    }
    if (nd != nbd) {
        rv_cfg_fail(c, "num_decoder_blocks", "has %d entries but decoder_block_out_channels has %d", nbd, nd);
        return;
    }
    cfg->n_enc = ne;
    cfg->n_dec = nd;
    if (list_over(c, "encoder_block_out_channels", cfg->enc_channels, ne, RV_CFG_MAX_CHANNELS) ||
        list_over(c, "decoder_block_out_channels", cfg->dec_channels, nd, RV_CFG_MAX_CHANNELS) ||
        list_over(c, "num_encoder_blocks", cfg->enc_blocks, nbe, RV_CFG_MAX_TRANSFORMER_LAYERS) ||
        list_over(c, "num_decoder_blocks", cfg->dec_blocks, nbd, RV_CFG_MAX_TRANSFORMER_LAYERS) ||
        over(c, "in_channels", -1, cfg->in_channels, RV_CFG_MAX_CHANNELS) ||
        over(c, "out_channels", -1, cfg->out_channels, RV_CFG_MAX_CHANNELS) ||
        over(c, "latent_channels", -1, cfg->latent_channels, RV_CFG_MAX_CHANNELS))
        return;
    /* diffusers wires stage i's conv as channels[i] -> channels[i]: unequal
     * entries make its forward fail, so they are refused up front */
    for (int i = 1; i < ne; i++)
        if (cfg->enc_channels[i] != cfg->enc_channels[0]) {
            rv_cfg_fail(c, "encoder_block_out_channels", "entries must be all equal (diffusers' wiring requires it)");
            return;
        }
    for (int i = 1; i < nd; i++)
        if (cfg->dec_channels[i] != cfg->dec_channels[0]) {
            rv_cfg_fail(c, "decoder_block_out_channels", "entries must be all equal (diffusers' wiring requires it)");
            return;
        }
    if (cfg->upsampling_scaling_factor != 2)
        rv_cfg_fail(c, "upsampling_scaling_factor", "%u is not supported (2)", cfg->upsampling_scaling_factor);
    else if (!cfg->in_channels || !cfg->out_channels || !cfg->latent_channels)
        rv_cfg_fail(c, !cfg->in_channels ? "in_channels" : !cfg->out_channels ? "out_channels" : "latent_channels",
                    "must be positive");
    else if (!(cfg->scaling_factor != 0))
        rv_cfg_fail(c, "scaling_factor", "must not be zero");
}

rv_status rv_taesd_config_parse(rv_taesd_config *cfg, const char *json, const char *name, rv_error *err)
{
    return run_parser(parse_taesd, cfg, NULL, json, name, err);
}

rv_status rv_taesd_config_load(rv_taesd_config *cfg, const char *dir, rv_error *err)
{
    return run_parser(parse_taesd, cfg, dir, NULL, NULL, err);
}

rv_status rv_diffusers_open_weights(const char *dir, const char *variant, uint64_t salt, rv_safetensors **st,
                                    uint64_t *seed, rv_error *err)
{
    *st = NULL;
    *seed = 0;
    const char *v = getenv("REVERIE_RANDOM_WEIGHTS");
    if (v && *v) {
        char *end;
        unsigned long long n = strtoull(v, &end, 10);
        *seed = (*end == '\0' ? (uint64_t)n : 1) * 4 + salt;
        return RV_OK;
    }
    char path[1024];
    rv_status s = rv_diffusers_weights_path(dir, variant, path, sizeof(path), err);
    return s ? s : rv_safetensors_open(st, path, err);
}
