/* CLIPTextModel on the GPU (see clip_text.h): module tree from the config,
 * binding by transformers names, and the forward as one recorded sequence.
 * Not the tokenizer. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip_text.h"

enum { S_X0, S_X1, S_NORM, S_QKV, S_ATT, S_MLP, S_COUNT };

static void build(rv_clip_text *te)
{
    const rv_clip_text_config *c = &te->cfg;
    rv_params *p = &te->params;
    uint32_t D = c->hidden_size;
    /* the token table in row chunks of at most RV_EMBED_CHUNK_BYTES in fp32 */
    uint64_t rows = RV_EMBED_CHUNK_BYTES / (4ull * D);
    te->chunk_rows = (uint32_t)(rows < c->vocab_size ? rows : c->vocab_size);
    te->nchunks = (int)((c->vocab_size + te->chunk_rows - 1) / te->chunk_rows);
    int first = -1;
    for (int i = 0; i < te->nchunks; i++) {
        uint64_t r = c->vocab_size - (uint64_t)i * te->chunk_rows;
        r = r < te->chunk_rows ? r : te->chunk_rows;
        int s = rv_params_store(p, &te->token_embedding[i], r * D);
        if (i == 0)
            first = s;
    }
    rv_params_add(p, first, 0, 2, (uint64_t[]){c->vocab_size, D}, "text_model.embeddings.token_embedding.weight");
    rv_params_tensor(p, &te->position_embedding, 2, (uint64_t[]){c->max_position_embeddings, D},
                     "text_model.embeddings.position_embedding.weight");
    char pre[160], name[256];
    for (uint32_t l = 0; l < c->num_hidden_layers; l++) {
        rv_clip_layer *L = &te->layers[l];
        snprintf(pre, sizeof(pre), "text_model.encoder.layers.%u", l);
        nn_norm_init(p, &L->layer_norm1, D, 0, c->layer_norm_eps, nn_name(name, sizeof(name), pre, "layer_norm1"));
        nn_attn_init(p, &L->self_attn, D, 0, c->num_attention_heads, D / c->num_attention_heads, true,
                     &rv_attn_names_clip, nn_name(name, sizeof(name), pre, "self_attn"));
        nn_norm_init(p, &L->layer_norm2, D, 0, c->layer_norm_eps, nn_name(name, sizeof(name), pre, "layer_norm2"));
        nn_linear_init(p, &L->fc1, D, c->intermediate_size, true, nn_name(name, sizeof(name), pre, "mlp.fc1"));
        nn_linear_init(p, &L->fc2, c->intermediate_size, D, true, nn_name(name, sizeof(name), pre, "mlp.fc2"));
    }
    nn_norm_init(p, &te->final_layer_norm, D, 0, c->layer_norm_eps, "text_model.final_layer_norm");
}

rv_status rv_clip_text_create(rv_clip_text **out, const rv_clip_text_config *cfg, rv_error *err)
{
    *out = NULL;
    if (!cfg->hidden_size || !cfg->num_attention_heads || cfg->hidden_size % cfg->num_attention_heads ||
        !cfg->vocab_size || !cfg->max_position_embeddings)
        return rv_error_set(err, RV_ERR_INVALID, "CLIP: inconsistent config (hidden_size %u, heads %u)",
                            cfg->hidden_size, cfg->num_attention_heads);
    rv_clip_text *te = calloc(1, sizeof(*te));
    if (!te)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "CLIP: out of memory");
    te->cfg = *cfg;
    rv_params_init(&te->params);
    uint64_t rows = RV_EMBED_CHUNK_BYTES / (4ull * cfg->hidden_size);
    if (rows == 0 || (cfg->vocab_size + rows - 1) / rows > RV_MAX_EMBED_CHUNKS) {
        free(te);
        return rv_error_set(err, RV_ERR_UNSUPPORTED, "CLIP: a %u x %u token table is too large", cfg->vocab_size,
                            cfg->hidden_size);
    }
    te->layers = calloc(cfg->num_hidden_layers ? cfg->num_hidden_layers : 1, sizeof(*te->layers));
    if (!te->layers) {
        free(te);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "CLIP: out of memory");
    }
    build(te);
    if (te->params.oom) {
        rv_clip_text_destroy(te);
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "CLIP: out of memory");
    }
    *out = te;
    return RV_OK;
}

void rv_clip_text_destroy(rv_clip_text *te)
{
    if (!te)
        return;
    rv_params_free(&te->params, te->gpu);
    free(te->layers);
    free(te);
}

rv_status rv_clip_text_bind(rv_clip_text *te, rv_gpu *gpu, const rv_safetensors *st, uint64_t seed,
                            const char *where, rv_bind_report *report, rv_error *err)
{
    rv_status s = st ? rv_params_bind(&te->params, gpu, st, where, report, err)
                     : rv_params_init_random(&te->params, gpu, seed, err);
    if (s == RV_OK)
        te->gpu = gpu;
    return s;
}

rv_status rv_clip_text_load(rv_clip_text **out, rv_gpu *gpu, const char *dir, rv_bind_report *report, rv_error *err)
{
    *out = NULL;
    rv_clip_text_config cfg;
    rv_safetensors *st = NULL;
    rv_clip_text *te = NULL;
    rv_status s = rv_clip_text_config_load(&cfg, dir, err);
    if (!s)
        s = rv_clip_text_create(&te, &cfg, err);
    uint64_t seed = 0; /* REVERIE_RANDOM_WEIGHTS: no checkpoint, seeded random weights */
    if (!s)
        s = rv_diffusers_open_weights(dir, NULL, 4, &st, &seed, err);
    if (!s)
        s = rv_clip_text_bind(te, gpu, st, seed, dir, report, err);
    rv_safetensors_close(st);
    if (s) {
        rv_clip_text_destroy(te);
        return s;
    }
    *out = te;
    return RV_OK;
}

void rv_clip_text_pool_positions(const rv_clip_text *te, const int32_t *ids, uint32_t batch, uint32_t seq,
                                 uint32_t *pos)
{
    for (uint32_t b = 0; b < batch; b++) {
        const int32_t *row = ids + (size_t)b * seq;
        uint32_t best = 0;
        if (te->cfg.eos_token_id == 2) {
            for (uint32_t i = 1; i < seq; i++)
                if (row[i] > row[best])
                    best = i;
        } else {
            for (uint32_t i = 0; i < seq; i++)
                if (row[i] == te->cfg.eos_token_id) {
                    best = i;
                    break;
                }
        }
        pos[b] = best;
    }
}

/* The forward, for the sizing pass (nn->cmd NULL) and for recording. */
static void forward(rv_nn *nn, const rv_clip_text *te, uint32_t B, uint32_t S, const rv_tensor *out,
                    const rv_clip_text_args *a)
{
    const rv_clip_text_config *c = &te->cfg;
    uint32_t D = c->hidden_size, rows = B * S;
    uint64_t n = (uint64_t)rows * D;
    rv_tensor x[2] = {nn_slot(nn, S_X0, n), nn_slot(nn, S_X1, n)};
    rv_tensor norm = nn_slot(nn, S_NORM, n);
    rv_tensor mlp = nn_slot(nn, S_MLP, (uint64_t)rows * c->intermediate_size);

    nn_stage(nn, "clip.embeddings");
    if (nn->cmd) {
        for (int i = 0; i < te->nchunks; i++) {
            uint32_t first = (uint32_t)i * te->chunk_rows;
            uint32_t count = c->vocab_size - first < te->chunk_rows ? c->vocab_size - first : te->chunk_rows;
            rv_op_embedding(nn->cmd, &x[0], a->ids, &te->token_embedding[i], rows, D, first, count);
        }
        uint32_t ne[4] = {1, B, S, D}, sa[4] = {0, S * D, D, 1}, sb[4] = {0, 0, D, 1};
        rv_op_binary(nn->cmd, &x[0], &x[0], &te->position_embedding, RV_BINARY_ADD, ne, sa, sb, 1.0f);
    }
    nn_stage(nn, "clip.layers");
    uint32_t skip = a->clip_skip < c->num_hidden_layers ? a->clip_skip : c->num_hidden_layers;
    uint32_t layers = c->num_hidden_layers - skip;
    int act = c->hidden_act == RV_ACT_QUICK_GELU ? RV_UNARY_GELU_QUICK : RV_UNARY_GELU;
    for (uint32_t l = 0; l < layers; l++) {
        const rv_clip_layer *L = &te->layers[l];
        nn_layer_norm(nn, &norm, &x[0], &L->layer_norm1, rows);
        nn_self_attention(nn, &x[1], &norm, &L->self_attn, &x[0], B, S, true, S_QKV, S_ATT);
        nn_layer_norm(nn, &norm, &x[1], &L->layer_norm2, rows);
        nn_linear(nn, &mlp, &norm, &L->fc1, NULL, rows);
        nn_unary(nn, &mlp, &mlp, act, 1.0f, 0.0f);
        nn_linear(nn, &x[0], &mlp, &L->fc2, &x[1], rows);
    }
    nn_stage(nn, "clip.final_norm");
    if (a->no_final_norm)
        nn_unary(nn, out, &x[0], RV_UNARY_COPY, 1.0f, 0.0f);
    else
        nn_layer_norm(nn, out, &x[0], &te->final_layer_norm, rows);
    if (a->pooled && a->pool_pos && nn->cmd)
        for (uint32_t b = 0; b < B; b++) {
            rv_tensor src = rv_tensor_view(out, ((uint64_t)b * S + a->pool_pos[b]) * D, D);
            rv_tensor dst = rv_tensor_view(a->pooled, (uint64_t)b * D, D);
            rv_op_unary(nn->cmd, &dst, &src, RV_UNARY_COPY, 1.0f, 0.0f);
        }
}

rv_status rv_clip_text_plan_create(const rv_clip_text *te, rv_gpu *gpu, uint32_t batch, uint32_t seq,
                                   rv_clip_text_plan **out, rv_error *err)
{
    *out = NULL;
    if (!batch || !seq || seq > te->cfg.max_position_embeddings)
        return rv_error_set(err, RV_ERR_INVALID, "CLIP: a plan for batch %u and %u tokens (at most %u)", batch, seq,
                            te->cfg.max_position_embeddings);
    rv_clip_text_plan *p = calloc(1, sizeof(*p));
    if (!p)
        return rv_error_set(err, RV_ERR_HOST_MEMORY, "CLIP: out of memory");
    p->batch = batch;
    p->seq = seq;
    rv_nn nn = {.slots = &p->slots};
    rv_tensor dummy = {.block = UINT32_MAX};
    rv_clip_text_args a = {.ids = &dummy};
    forward(&nn, te, batch, seq, &dummy, &a);
    if (gpu) {
        rv_status s = rv_slots_alloc(&p->slots, gpu, rv_gpu_dtype(gpu), "CLIP", err);
        if (s) {
            free(p);
            return s;
        }
        p->gpu = gpu;
    }
    *out = p;
    return RV_OK;
}

void rv_clip_text_plan_destroy(rv_clip_text_plan *plan)
{
    if (!plan)
        return;
    rv_slots_free(&plan->slots, plan->gpu);
    free(plan);
}

void rv_clip_text_forward(rv_cmd *cmd, const rv_clip_text *te, rv_clip_text_plan *plan, const rv_tensor *out,
                          const rv_clip_text_args *a)
{
    assert(a->clip_skip <= te->cfg.num_hidden_layers); /* the caller validates user input */
    rv_nn nn = {.cmd = cmd, .slots = &plan->slots};
    forward(&nn, te, plan->batch, plan->seq, out, a);
}
