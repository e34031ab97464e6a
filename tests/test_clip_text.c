/* Golden tests of the CLIP text encoder on both fixtures (tiny-sd15:
 * quick_gelu, single file; tiny-sd21: gelu, sharded), batch 1 and 2, every
 * hidden state, clip skip and the pooled output, in fp32 and fp16 storage.
 * Usage: test_clip_text [fixture-substring] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_gpu.h"
#include "models/clip_text.h"
#include "rv_golden.h"
#include "rv_test.h"

static int ids_from_json(const cJSON *c, int32_t *ids, int cap, uint32_t *batch, uint32_t *seq)
{
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(c, "input_ids");
    int n = 0;
    *batch = 0;
    *seq = 0;
    for (const cJSON *r = rows ? rows->child : NULL; r; r = r->next) {
        uint32_t len = 0;
        for (const cJSON *e = r->child; e && n < cap; e = e->next, len++)
            ids[n++] = (int32_t)e->valuedouble;
        *seq = len;
        (*batch)++;
    }
    return n;
}

static void run_case(golden *g, rv_gpu *gpu, rv_cmd *cmd, rv_clip_text *te, const char *cname, const char *tag,
                     double limit)
{
    const cJSON *c = golden_case(g, cname);
    CHECK(c != NULL, "case %s", cname);
    if (!c)
        return;
    int32_t ids[4 * 77];
    uint32_t B, S;
    int n = ids_from_json(c, ids, 4 * 77, &B, &S);
    float idsf[4 * 77];
    for (int i = 0; i < n; i++)
        idsf[i] = (float)ids[i];
    rv_error err = {0};
    rv_dtype dt = rv_gpu_dtype(gpu);
    uint32_t D = te->cfg.hidden_size, N = te->cfg.num_hidden_layers;
    rv_tensor tid = golden_upload(gpu, RV_F32, idsf, (uint64_t)n);
    rv_tensor out = golden_upload(gpu, dt, NULL, (uint64_t)B * S * D);
    rv_tensor pooled = golden_upload(gpu, dt, NULL, (uint64_t)B * D);
    rv_clip_text_plan *plan = NULL;
    CHECK(rv_clip_text_plan_create(te, gpu, B, S, &plan, &err) == RV_OK, "plan: %s", err.msg);
    uint32_t pos[4];
    rv_clip_text_pool_positions(te, ids, B, S, pos);
    char name[160], label[400];

    /* last_hidden_state (+ pooled) */
    rv_clip_text_args a = {.ids = &tid, .pooled = &pooled, .pool_pos = pos};
    rv_cmd_begin(cmd, &err);
    rv_clip_text_forward(cmd, te, plan, &out, &a);
    CHECK(rv_cmd_run(cmd, &err) == RV_OK && rv_gpu_error(gpu)->code == RV_OK, "run: %s %s", err.msg,
          rv_gpu_error(gpu)->msg);
    snprintf(name, sizeof(name), "%s.last_hidden_state", cname);
    snprintf(label, sizeof(label), "%s %s", strrchr(g->dir, '/') + 1, name);
    golden_check(g, gpu, tag, label, &out, name, limit);
    snprintf(name, sizeof(name), "%s.pooler_output", cname);
    if (rv_safetensors_find(g->st, name)) {
        snprintf(label, sizeof(label), "%s %s", strrchr(g->dir, '/') + 1, name);
        golden_check(g, gpu, tag, label, &pooled, name, limit);
    }
    /* every hidden state: the raw output after k layers */
    for (uint32_t k = 0; k <= N; k++) {
        snprintf(name, sizeof(name), "%s.hidden_states.%u", cname, k);
        if (!rv_safetensors_find(g->st, name))
            continue;
        rv_clip_text_args h = {.ids = &tid, .clip_skip = N - k, .no_final_norm = true};
        rv_cmd_begin(cmd, &err);
        rv_clip_text_forward(cmd, te, plan, &out, &h);
        CHECK(rv_cmd_run(cmd, &err) == RV_OK, "run: %s", err.msg);
        snprintf(label, sizeof(label), "%s %s", strrchr(g->dir, '/') + 1, name);
        golden_check(g, gpu, tag, label, &out, name, limit);
    }
    /* diffusers' clip_skip=1 */
    snprintf(name, sizeof(name), "%s.clip_skip_1", cname);
    if (rv_safetensors_find(g->st, name)) {
        rv_clip_text_args s1 = {.ids = &tid, .clip_skip = 1};
        rv_cmd_begin(cmd, &err);
        rv_clip_text_forward(cmd, te, plan, &out, &s1);
        CHECK(rv_cmd_run(cmd, &err) == RV_OK, "run: %s", err.msg);
        snprintf(label, sizeof(label), "%s %s", strrchr(g->dir, '/') + 1, name);
        golden_check(g, gpu, tag, label, &out, name, limit);
    }
    rv_clip_text_plan_destroy(plan);
    rv_tensor_free(gpu, &tid);
    rv_tensor_free(gpu, &out);
    rv_tensor_free(gpu, &pooled);
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    static const char *const fixtures[] = {"tiny-sd15", "tiny-sd21"};
    for (int prec = 0; prec < 2; prec++) {
        rv_error err = {0};
        rv_gpu *gpu = NULL;
        int ready = golden_gpu(prec, "test_clip_text", &gpu);
        if (ready < 0)
            return 1;
        if (ready == 0)
            continue;
        rv_cmd *cmd = NULL;
        rv_cmd_create(gpu, &cmd, &err);
        const char *tag = prec ? "f16" : "f32";
        double limit = prec ? GOLDEN_NMSE_F16 : GOLDEN_NMSE_F32;
        for (int f = 0; f < 2; f++) {
            if (filter && !strstr(fixtures[f], filter))
                continue;
            golden g;
            CHECK(golden_open(&g, fixtures[f]), "fixture %s", fixtures[f]);
            char dir[600];
            snprintf(dir, sizeof(dir), "%s/text_encoder", g.dir);
            rv_clip_text *te = NULL;
            rv_bind_report rep = {0};
            rv_status s = rv_clip_text_load(&te, gpu, dir, &rep, &err);
            CHECK(s == RV_OK, "load %s: %s\n%s", dir, err.msg, rep.text ? rep.text : "");
            rv_bind_report_free(&rep);
            if (s == RV_OK) {
                printf("%s %s: CLIPTextModel hidden %u, %u layers, %u heads, %s, %llu parameters\n", tag, fixtures[f],
                       te->cfg.hidden_size, te->cfg.num_hidden_layers, te->cfg.num_attention_heads,
                       rv_act_name(te->cfg.hidden_act), (unsigned long long)rv_params_numel(&te->params));
                run_case(&g, gpu, cmd, te, "text_b1", tag, limit);
                run_case(&g, gpu, cmd, te, "text_b2", tag, limit);
            }
            rv_clip_text_destroy(te);
            golden_close(&g);
        }
        CHECK(rv_gpu_validation_count(gpu) == 0, "validation layer reported %d message(s)",
              rv_gpu_validation_count(gpu));
        rv_cmd_destroy(cmd);
        rv_gpu_destroy(gpu);
    }
    return rv_test_finish("test_clip_text");
}
