/* Bad input to the model loaders: malformed, incomplete, wrongly typed and
 * inconsistent configs (clear errors naming file and key, never a crash),
 * unknown architectural options refused, missing files, and checkpoints
 * with missing, unknown, wrong-shape and bad-dtype tensors (every one named
 * in the report). Also the legacy VAE attention names (query/key/value/
 * proj_attn, 1x1-conv shaped) binding to the same numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rv_gpu.h"
#include "loader/config.h"
#include "loader/diffusers.h"
#include "models/clip_text.h"
#include "models/taesd.h"
#include "models/unet.h"
#include "models/vae.h"
#include "rv_golden.h"
#include "rv_test.h"

typedef rv_status (*parse_fn)(void *cfg, const char *json, const char *name, rv_error *err);

static rv_status p_clip(void *c, const char *j, const char *n, rv_error *e) { return rv_clip_text_config_parse(c, j, n, e); }
static rv_status p_unet(void *c, const char *j, const char *n, rv_error *e) { return rv_unet_config_parse(c, j, n, e); }
static rv_status p_vae(void *c, const char *j, const char *n, rv_error *e) { return rv_vae_config_parse(c, j, n, e); }
static rv_status p_taesd(void *c, const char *j, const char *n, rv_error *e) { return rv_taesd_config_parse(c, j, n, e); }

/* Parses json; expects `code` and every NUL-separated fragment of `want` in the message. */
static void expect(parse_fn fn, const char *json, rv_status code, const char *want1, const char *want2)
{
    union {
        rv_clip_text_config c;
        rv_unet_config u;
        rv_vae_config v;
        rv_taesd_config t;
    } cfg;
    rv_error err = {0};
    rv_status st = fn(&cfg, json, "cfg.json", &err);
    bool ok = st == code && (!want1 || strstr(err.msg, want1)) && (!want2 || strstr(err.msg, want2));
    printf("  %-6s %s\n", ok ? "OK" : "NOT OK", st ? err.msg : "(accepted)");
    CHECK(ok, "got %s \"%s\", expected %s with \"%s\" \"%s\"", rv_status_name(st), err.msg, rv_status_name(code),
          want1 ? want1 : "", want2 ? want2 : "");
}

/* base with the top-level keys of `over` replaced or added (static buffer). */
static const char *with(const char *base, const char *over)
{
    static char out[4096];
    cJSON *b = cJSON_Parse(base), *o = cJSON_Parse(over);
    for (cJSON *e = o ? o->child : NULL; e; e = e->next) {
        cJSON *dup = cJSON_Duplicate(e, 1);
        if (cJSON_GetObjectItemCaseSensitive(b, e->string))
            cJSON_ReplaceItemInObjectCaseSensitive(b, e->string, dup);
        else
            cJSON_AddItemToObject(b, e->string, dup);
    }
    char *t = cJSON_PrintUnformatted(b);
    snprintf(out, sizeof(out), "%s", t ? t : "");
    free(t);
    cJSON_Delete(b);
    cJSON_Delete(o);
    return out;
}

#define CLIP_OK "\"hidden_size\": 16, \"intermediate_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"vocab_size\": 49408"
#define UNET_OK "\"in_channels\": 4, \"out_channels\": 4, \"block_out_channels\": [16, 32], \"layers_per_block\": 1, " \
    "\"down_block_types\": [\"CrossAttnDownBlock2D\", \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\"], " \
    "\"attention_head_dim\": 2, \"cross_attention_dim\": 8, \"norm_num_groups\": 8"
#define VAE_OK "\"in_channels\": 3, \"out_channels\": 3, \"latent_channels\": 4, \"block_out_channels\": [8, 16], \"layers_per_block\": 1, " \
    "\"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"], \"norm_num_groups\": 4"
#define TAESD_OK "\"encoder_block_out_channels\": [8, 8], \"decoder_block_out_channels\": [8, 8], \"num_encoder_blocks\": [1, 1], \"num_decoder_blocks\": [1, 1]"

static void configs(void)
{
    printf("configs:\n");
    const rv_status F = RV_ERR_FORMAT;
    /* the minimal good ones are accepted */
    expect(p_clip, "{" CLIP_OK "}", RV_OK, NULL, NULL);
    expect(p_unet, "{" UNET_OK "}", RV_OK, NULL, NULL);
    expect(p_vae, "{" VAE_OK "}", RV_OK, NULL, NULL);
    expect(p_taesd, "{" TAESD_OK "}", RV_OK, NULL, NULL);
    /* malformed JSON: file:line:column */
    expect(p_clip, "{\n  \"hidden_size\": 16,\n  \"x\": [1, 2\n}", F, "cfg.json:4:", "malformed JSON");
    expect(p_clip, "", F, "cfg.json:1:1", NULL);
    expect(p_unet, "[1, 2]", F, "cfg.json", "top level is a list");
    /* missing and wrongly typed keys */
    expect(p_clip, "{\"intermediate_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, \"vocab_size\": 9}", F,
           "key \"hidden_size\"", "missing");
    expect(p_clip, with("{" CLIP_OK "}", "{\"layer_norm_eps\": \"1e-5\"}"), F, "key \"layer_norm_eps\"", "got a string");
    expect(p_clip, "{\"hidden_size\": \"16\", \"intermediate_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
                   "\"vocab_size\": 9}", F, "key \"hidden_size\"", "expected an integer, got a string");
    expect(p_clip, "{\"hidden_size\": 16.5, \"intermediate_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
                   "\"vocab_size\": 9}", F, "key \"hidden_size\"", "16.5");
    expect(p_clip, "{\"hidden_size\": 15, \"intermediate_size\": 64, \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
                   "\"vocab_size\": 9}", F, "key \"num_attention_heads\"", "not divisible");
    expect(p_clip, with("{" CLIP_OK "}", "{\"hidden_act\": \"gelu_new\"}"), F, "key \"hidden_act\"", "not supported");
    expect(p_clip, with("{" CLIP_OK "}", "{\"model_type\": \"clip_vision_model\"}"), F, "key \"model_type\"", NULL);
    expect(p_unet, with("{" UNET_OK "}", "{\"in_channels\": -4}"), F, "key \"in_channels\"", "out of range");
    expect(p_unet, with("{" UNET_OK "}", "{\"layers_per_block\": 1.5}"), F, "key \"layers_per_block\"", NULL);
    expect(p_unet, "{\"in_channels\": 4, \"out_channels\": 4, \"layers_per_block\": 1, \"attention_head_dim\": 2, "
                   "\"cross_attention_dim\": 8, \"down_block_types\": [\"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\"]}",
           F, "key \"block_out_channels\"", "missing");
    expect(p_unet, with("{" UNET_OK "}", "{\"flip_sin_to_cos\": 1}"), F, "key \"flip_sin_to_cos\"", "true or false");
    expect(p_unet, with("{" UNET_OK "}", "{\"transformer_layers_per_block\": [[1], [1]]}"), F,
           "key \"transformer_layers_per_block[0]\"", NULL);
    /* duplicate keys: Python keeps the last one, so a reader must not pick either */
    expect(p_unet, "{" UNET_OK ", \"in_channels\": 5}", F, "key \"in_channels\"", "more than once");
    /* unknown or unsupported architectural options are refused, by name */
    expect(p_unet, with("{" UNET_OK "}", "{\"wobble_factor\": 3}"), F, "key \"wobble_factor\"", "unknown option");
    expect(p_unet, with("{" UNET_OK "}", "{\"class_embed_type\": \"timestep\"}"), F, "key \"class_embed_type\"",
           "not supported");
    expect(p_unet, with("{" UNET_OK "}", "{\"num_attention_heads\": 8}"), F, "key \"num_attention_heads\"", NULL);
    expect(p_unet, with("{" UNET_OK "}", "{\"resnet_time_scale_shift\": \"scale_shift\"}"), F,
           "key \"resnet_time_scale_shift\"", NULL);
    expect(p_unet, with("{" UNET_OK "}", "{\"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"}"), F,
           "key \"mid_block_type\"", NULL);
    expect(p_unet, with("{" UNET_OK "}", "{\"act_fn\": \"mish\"}"), F, "key \"act_fn\"", "not supported");
    expect(p_unet, with("{" UNET_OK "}", "{\"only_cross_attention\": false, \"dual_cross_attention\": null, "
                   "\"_class_name\": \"UNet2DConditionModel\", \"upcast_attention\": true}"), RV_OK, NULL, NULL);
    expect(p_unet, with("{" UNET_OK "}", "{\"_class_name\": \"UNet3DConditionModel\"}"), F, "key \"_class_name\"", NULL);
    /* inconsistent sizes */
    expect(p_unet, with("{" UNET_OK "}", "{\"block_out_channels\": [16, 32, 32]}"), F, "key \"down_block_types\"",
           "has 2 entries");
    expect(p_unet, with("{" UNET_OK "}", "{\"attention_head_dim\": [2, 4, 8]}"), F, "key \"attention_head_dim\"",
           "3 entries");
    expect(p_unet, with("{" UNET_OK "}", "{\"attention_head_dim\": 3}"), F, "key \"attention_head_dim[0]\"",
           "do not divide");
    expect(p_unet, with("{" UNET_OK "}", "{\"norm_num_groups\": 12}"), F, "key \"block_out_channels[0]\"", "norm_num_groups");
    expect(p_unet, with("{" UNET_OK "}", "{\"down_block_types\": [\"CrossAttnDownBlock3D\", \"DownBlock2D\"]}"), F,
           "key \"down_block_types[0]\"", "not supported");
    expect(p_unet, with("{" UNET_OK "}", "{\"block_out_channels\": []}"), F, "key \"block_out_channels\"", "0 entries");
    expect(p_vae, with("{" VAE_OK "}", "{\"up_block_types\": [\"UpDecoderBlock2D\", \"AttnUpDecoderBlock2D\"]}"), F,
           "key \"up_block_types[1]\"", NULL);
    expect(p_vae, with("{" VAE_OK "}", "{\"use_quant_conv\": \"yes\"}"), F, "key \"use_quant_conv\"", NULL);
    expect(p_vae, with("{" VAE_OK "}", "{\"block_out_channels\": [8, 18]}"), F, "key \"block_out_channels[1]\"", NULL);
    expect(p_taesd, with("{" TAESD_OK "}", "{\"upsample_fn\": \"bilinear\"}"), F, "key \"upsample_fn\"", NULL);
    expect(p_taesd, with("{" TAESD_OK "}", "{\"encoder_block_out_channels\": [8, 16]}"), F,
           "key \"encoder_block_out_channels\"", "all equal");
    expect(p_taesd, with("{" TAESD_OK "}", "{\"num_decoder_blocks\": [1, 1, 1]}"), F, "key \"num_decoder_blocks\"", NULL);
    expect(p_taesd, with("{" TAESD_OK "}", "{\"upsampling_scaling_factor\": 3}"), F, "key \"upsampling_scaling_factor\"", NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void files(void)
{
    printf("files:\n");
    char dir[] = "/tmp/rv_loading_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    rv_error err = {0};
    rv_model_index idx;
    char path[256];
    /* no model_index.json */
    CHECK(rv_model_index_load(&idx, dir, &err) == RV_ERR_IO && strstr(err.msg, "model_index.json"), "%s", err.msg);
    printf("  %s\n", err.msg);
    rv_error_clear(&err);
    snprintf(path, sizeof(path), "%s/model_index.json", dir);
    write_file(path, "{\"_class_name\": \"StableDiffusionPipeline\", \"unet\": [\"diffusers\"]}");
    CHECK(rv_model_index_load(&idx, dir, &err) == RV_ERR_FORMAT && strstr(err.msg, "key \"unet\""), "%s", err.msg);
    printf("  %s\n", err.msg);
    rv_error_clear(&err);
    write_file(path, "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], \"safety_checker\": [null, null], "
                     "\"requires_safety_checker\": false}");
    CHECK(rv_model_index_load(&idx, dir, &err) == RV_OK && idx.count == 1 &&
          rv_model_index_find(&idx, "UNet2DConditionModel"), "%s", err.msg);
    write_file(path, "{\"../etc\": [\"diffusers\", \"UNet2DConditionModel\"]}");
    CHECK(rv_model_index_load(&idx, dir, &err) == RV_ERR_FORMAT, "a component path outside the folder: %s", err.msg);
    printf("  %s\n", err.msg);
    rv_error_clear(&err);
    /* a component folder without weights, then with a truncated config */
    rv_unet *u = NULL;
    CHECK(rv_unet_load(&u, NULL, dir, NULL, NULL, &err) == RV_ERR_IO && strstr(err.msg, "config.json"), "%s",
          err.msg);
    printf("  %s\n", err.msg);
    rv_error_clear(&err);
    snprintf(path, sizeof(path), "%s/config.json", dir);
    write_file(path, "{\"_class_name\": \"UNet2DConditionModel\", \"block_out_channels\": [16, 32], \"layers");
    CHECK(rv_unet_load(&u, NULL, dir, NULL, NULL, &err) == RV_ERR_FORMAT && strstr(err.msg, "config.json:1:"), "%s",
          err.msg);
    printf("  %s\n", err.msg);
    rv_error_clear(&err);
    write_file(path, "{" UNET_OK "}");
    CHECK(rv_unet_load(&u, NULL, dir, NULL, NULL, &err) == RV_ERR_IO && strstr(err.msg, "no safetensors weights"),
          "%s", err.msg);
    printf("  %s\n", err.msg);
    rv_error_clear(&err);
    /* a weights file that is not safetensors */
    snprintf(path, sizeof(path), "%s/diffusion_pytorch_model.safetensors", dir);
    write_file(path, "not a checkpoint");
    CHECK(rv_unet_load(&u, NULL, dir, NULL, NULL, &err) == RV_ERR_FORMAT, "%s", err.msg);
    printf("  %s\n", err.msg);
    CHECK(u == NULL, "no half-built model comes back");
    unlink(path);
    snprintf(path, sizeof(path), "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/model_index.json", dir);
    unlink(path);
    rmdir(dir);
}

/* Copies the fixture VAE checkpoint with edits into `out`. mode 0: broken
 * (one tensor dropped, one renamed, one reshaped, one stored as I32);
 * mode 1: the legacy attention dialect. */
static void edit_checkpoint(const char *src, const char *out, int mode)
{
    rv_error err = {0};
    rv_safetensors *st = NULL;
    if (rv_safetensors_open(&st, src, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    size_t n = rv_safetensors_count(st);
    rv_st_write_tensor *w = calloc(n, sizeof(*w));
    char (*names)[160] = calloc(n, sizeof(*names));
    size_t k = 0;
    static const char *const legacy_from[] = {"to_q", "to_k", "to_v", "to_out.0"};
    static const char *const legacy_to[] = {"query", "key", "value", "proj_attn"};
    for (size_t i = 0; i < n; i++) {
        const rv_st_tensor *t = rv_safetensors_tensor(st, i);
        rv_st_write_tensor *o = &w[k];
        snprintf(names[k], sizeof(names[k]), "%s", t->name);
        o->name = names[k];
        o->dtype = t->dtype;
        o->ndim = t->ndim;
        memcpy(o->shape, t->shape, sizeof(o->shape));
        o->data = t->data;
        if (mode == 0) {
            if (strcmp(t->name, "decoder.conv_in.bias") == 0)
                continue; /* missing */
            if (strcmp(t->name, "decoder.conv_out.weight") == 0)
                snprintf(names[k], sizeof(names[k]), "decoder.conv_outt.weight"); /* unknown (+ missing) */
            if (strcmp(t->name, "encoder.conv_in.bias") == 0) { /* wrong shape: [8] -> [2, 4] */
                o->ndim = 2;
                o->shape[0] = 2;
                o->shape[1] = t->shape[0] / 2;
            }
            if (strcmp(t->name, "post_quant_conv.bias") == 0)
                o->dtype = RV_ST_I32; /* same bytes, not a float */
        } else if (strstr(t->name, "mid_block.attentions.0.")) {
            for (int j = 0; j < 4; j++) {
                char pat[32];
                snprintf(pat, sizeof(pat), ".%s.", legacy_from[j]);
                const char *at = strstr(t->name, pat);
                if (at) {
                    snprintf(names[k], sizeof(names[k]), "%.*s.%s%s", (int)(at - t->name), t->name, legacy_to[j],
                             at + strlen(pat) - 1);
                    if (t->ndim == 2) { /* older checkpoints stored these as 1x1 convs */
                        o->ndim = 4;
                        o->shape[2] = o->shape[3] = 1;
                    }
                }
            }
        }
        k++;
    }
    CHECK(rv_safetensors_write(out, w, k, NULL, 0, &err) == RV_OK, "%s", err.msg);
    free(w);
    free(names);
    rv_safetensors_close(st);
}

static void checkpoints(void)
{
    printf("checkpoints:\n");
    rv_error err = {0};
    rv_gpu *gpu = NULL;
    rv_gpu_desc desc = {.validation = true, .precision = RV_PRECISION_F32};
    if (rv_gpu_create(&gpu, &desc, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    golden g;
    CHECK(golden_open(&g, "tiny-sd15"), "fixture");
    char src[700], cdir[700];
    snprintf(cdir, sizeof(cdir), "%s/vae", g.dir);
    snprintf(src, sizeof(src), "%s/vae/diffusion_pytorch_model.safetensors", g.dir);
    rv_vae_config cfg = {0};
    CHECK(rv_vae_config_load(&cfg, cdir, &err) == RV_OK, "%s", err.msg);
    char tmp[] = "/tmp/rv_ckpt_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof(path), "%s/broken.safetensors", tmp);
    edit_checkpoint(src, path, 0);

    rv_vae *v = NULL;
    CHECK(rv_vae_create(&v, &cfg, &err) == RV_OK, "%s", err.msg);
    rv_safetensors *st = NULL;
    CHECK(rv_safetensors_open(&st, path, &err) == RV_OK, "%s", err.msg);
    rv_bind_report rep = {0};
    rv_mem_stats before, after;
    rv_gpu_mem_stats(gpu, &before);
    rv_status s = v && st ? rv_vae_bind(v, gpu, st, 0, "broken vae", &rep, &err) : RV_ERR_INVALID;
    rv_gpu_mem_stats(gpu, &after);
    printf("  %s\n  report:\n%s", err.msg, rep.text ? rep.text : "(none)\n");
    CHECK(s == RV_ERR_FORMAT, "bind status %s", rv_status_name(s));
    CHECK(rep.missing == 2 && rep.unknown == 1 && rep.wrong_shape == 1 && rep.bad_dtype == 1,
          "report counts %d missing, %d unknown, %d wrong, %d dtype", rep.missing, rep.unknown, rep.wrong_shape,
          rep.bad_dtype);
    static const char *const named[] = {"decoder.conv_in.bias", "decoder.conv_out.weight", "decoder.conv_outt.weight",
                                        "encoder.conv_in.bias", "post_quant_conv.bias"};
    for (int i = 0; i < 5; i++)
        CHECK(rep.text && strstr(rep.text, named[i]), "report names %s", named[i]);
    CHECK(strstr(err.msg, "2 missing, 1 unknown, 1 wrong-shape, 1 bad-dtype"), "summary: %s", err.msg);
    CHECK(after.used_bytes == before.used_bytes, "nothing is allocated on a failed bind");
    rv_bind_report_free(&rep);
    rv_safetensors_close(st);
    rv_vae_destroy(v);
    unlink(path);

    /* the legacy attention dialect binds to the same numbers */
    snprintf(path, sizeof(path), "%s/legacy.safetensors", tmp);
    edit_checkpoint(src, path, 1);
    v = NULL;
    st = NULL;
    rv_error_clear(&err);
    CHECK(rv_vae_create(&v, &cfg, &err) == RV_OK && rv_safetensors_open(&st, path, &err) == RV_OK &&
          rv_safetensors_find(st, "decoder.mid_block.attentions.0.query.weight") &&
          rv_vae_bind(v, gpu, st, 0, "legacy vae", &rep, &err) == RV_OK, "legacy bind: %s\n%s", err.msg,
          rep.text ? rep.text : "");
    rv_bind_report_free(&rep);
    if (v && v->gpu) {
        rv_cmd *cmd = NULL;
        rv_cmd_create(gpu, &cmd, &err);
        const rv_st_tensor *li = NULL;
        float *lat = golden_get(&g, "vae_decode.latents", &li);
        rv_vae_plan *plan = NULL;
        if (lat && rv_vae_plan_create(v, gpu, RV_AE_DECODE, (uint32_t)li->shape[0], (uint32_t)li->shape[2],
                                      (uint32_t)li->shape[3], &plan, &err) == RV_OK) {
            rv_tensor in = golden_upload(gpu, RV_F32, lat, li->numel);
            rv_tensor out = golden_upload(gpu, RV_F32, NULL, li->shape[0] * 3ull * plan->oh * plan->ow);
            rv_cmd_begin(cmd, &err);
            rv_vae_forward(cmd, v, plan, &out, &in, NULL, NULL);
            CHECK(rv_cmd_run(cmd, &err) == RV_OK, "%s", err.msg);
            golden_check(&g, gpu, "f32", "tiny-sd15 vae_decode.image (legacy names)", &out, "vae_decode.image",
                         GOLDEN_NMSE_F32);
            rv_tensor_free(gpu, &in);
            rv_tensor_free(gpu, &out);
        }
        rv_vae_plan_destroy(plan);
        free(lat);
        rv_cmd_destroy(cmd);
    }
    rv_safetensors_close(st);
    rv_vae_destroy(v);
    unlink(path);
    rmdir(tmp);
    golden_close(&g);
    CHECK(rv_gpu_validation_count(gpu) == 0, "validation messages");
    rv_gpu_destroy(gpu);
}

int main(void)
{
    configs();
    files();
    checkpoints();
    return rv_test_finish("test_model_loading");
}
