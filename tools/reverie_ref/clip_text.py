"""CLIPTextModel (transformers) built from a CLIPTextConfig dict, with the
exact state-dict names (text_model.embeddings..., text_model.encoder.layers.N...,
text_model.final_layer_norm). Not the vision tower, not the projection heads.
"""

import torch
from torch import nn

from .layers import attention

CLIP_TEXT_DEFAULTS = {
    "vocab_size": 49408,
    "hidden_size": 512,
    "intermediate_size": 2048,
    "num_hidden_layers": 12,
    "num_attention_heads": 8,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "eos_token_id": 49407,
}


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


_ACTS = {
    "quick_gelu": quick_gelu,
    "gelu": nn.functional.gelu,
    "gelu_new": lambda x: nn.functional.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: nn.functional.gelu(x, approximate="tanh"),
}


class CLIPAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        if dim % heads:
            raise ValueError(f"CLIP: hidden_size {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        return self.out_proj(attention(self.q_proj(x), self.k_proj(x), self.v_proj(x), self.heads, mask))


class CLIPMLP(nn.Module):
    def __init__(self, dim, inner, act):
        super().__init__()
        self.act = _ACTS[act]
        self.fc1 = nn.Linear(dim, inner)
        self.fc2 = nn.Linear(inner, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.self_attn = CLIPAttention(d, cfg["num_attention_heads"])
        self.layer_norm1 = nn.LayerNorm(d, eps=eps)
        self.mlp = CLIPMLP(d, cfg["intermediate_size"], cfg["hidden_act"])
        self.layer_norm2 = nn.LayerNorm(d, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        x = x + self.mlp(self.layer_norm2(x))
        return x


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.token_embedding = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])

    def forward(self, input_ids):
        n = input_ids.shape[-1]
        if n > self.position_embedding.num_embeddings:
            raise ValueError(f"CLIP: {n} tokens, more than max_position_embeddings "
                             f"{self.position_embedding.num_embeddings}")
        pos = torch.arange(n, device=input_ids.device)
        return self.token_embedding(input_ids) + self.position_embedding(pos)[None]


class CLIPEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])


class CLIPTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = CLIPTextEmbeddings(cfg)
        self.encoder = CLIPEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class CLIPTextModel(nn.Module):
    """forward(input_ids [B,S]) -> dict(last_hidden_state [B,S,D] after
    final_layer_norm, pooler_output [B,D], hidden_states list of N+1 tensors:
    the embeddings, then each layer's output, without the final norm)."""

    def __init__(self, config):
        super().__init__()
        if config.get("model_type", "clip_text_model") not in ("clip_text_model", "clip"):
            raise ValueError(f"CLIP: model_type {config.get('model_type')!r} is not a CLIP text model")
        cfg = dict(CLIP_TEXT_DEFAULTS)
        cfg.update({k: v for k, v in config.items() if k in CLIP_TEXT_DEFAULTS})
        if cfg["hidden_act"] not in _ACTS:
            raise ValueError(f"CLIP: hidden_act {cfg['hidden_act']!r} is not supported")
        self.config = cfg
        self.text_model = CLIPTextTransformer(cfg)

    @staticmethod
    def causal_mask(n, dtype, attention_mask=None, device=None):
        """Additive mask [1 or B, 1, n, n]: dtype's lowest value above the
        diagonal (and on padded keys when attention_mask [B, n] is given)."""
        low = torch.finfo(dtype).min
        mask = torch.triu(torch.full((n, n), low, dtype=dtype, device=device), diagonal=1)[None, None]
        if attention_mask is not None:
            pad = (1.0 - attention_mask.to(dtype))[:, None, None, :] * low
            mask = (mask + pad).clamp(min=low)
        return mask

    def forward(self, input_ids, attention_mask=None, num_layers=None):
        """num_layers: run only the first num_layers encoder layers (clip skip)."""
        tm = self.text_model
        x = tm.embeddings(input_ids)
        mask = self.causal_mask(input_ids.shape[-1], x.dtype, attention_mask, x.device)
        hidden = [x]
        layers = tm.encoder.layers if num_layers is None else tm.encoder.layers[:num_layers]
        for layer in layers:
            x = layer(x, mask)
            hidden.append(x)
        last = tm.final_layer_norm(x)
        ids = input_ids.to(torch.int64)
        if self.config["eos_token_id"] == 2:
            # old configs (eos_token_id 2): transformers takes the largest id,
            # i.e. the first <|endoftext|> 49407 ... argmax picks the first max.
            pos = ids.argmax(dim=-1)
        else:
            pos = (ids == self.config["eos_token_id"]).int().argmax(dim=-1)
        pooled = last[torch.arange(last.shape[0], device=last.device), pos]
        return {"last_hidden_state": last, "pooler_output": pooled, "hidden_states": hidden}

    def encode(self, input_ids, clip_skip=None):
        """Prompt embeddings as diffusers' StableDiffusionPipeline.encode_prompt
        computes them: last_hidden_state, or with clip_skip=k the hidden state
        k layers before the last (hidden_states[-(k + 1)]) passed through
        final_layer_norm."""
        if not clip_skip:
            return self.forward(input_ids)["last_hidden_state"]
        n = len(self.text_model.encoder.layers)
        if clip_skip >= n:
            raise ValueError(f"CLIP: clip_skip {clip_skip} with only {n} layers")
        out = self.forward(input_ids, num_layers=n - clip_skip)
        return self.text_model.final_layer_norm(out["hidden_states"][-1])
