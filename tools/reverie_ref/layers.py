"""Building blocks shared by the UNet and the autoencoders: activations, the
attention kernel, diffusers' Attention / ResnetBlock2D / Downsample2D /
Upsample2D, with diffusers' parameter names. Not a general layer library: only
the options the Stable Diffusion family uses.
"""

import math
import os

import torch
import torch.nn.functional as F
from torch import nn


def get_activation(name):
    """diffusers' act_fn names -> module."""
    name = name.lower()
    if name in ("silu", "swish"):
        return nn.SiLU()
    if name == "gelu":
        return nn.GELU()
    if name == "relu":
        return nn.ReLU()
    if name == "mish":
        return nn.Mish()
    raise ValueError(f"unsupported activation '{name}'")


# On CUDA, torch's fused attention kernels (flash / memory-efficient: the
# score matrix is never written out, softmax in float32 inside) when this
# torch has them; REVERIE_SDPA=0 keeps the plain path there too. CPUs always
# take the plain path, which the goldens were made with.
USE_SDPA = hasattr(F, "scaled_dot_product_attention") and os.environ.get("REVERIE_SDPA", "1") == "1"


def attention(q, k, v, heads, mask=None):
    """Multi-head scaled dot-product attention.

    q: [B, Nq, heads*d], k and v: [B, Nk, heads*d] (v may have another width
    per head), mask: additive, broadcastable to [B, heads, Nq, Nk].
    Returns [B, Nq, heads*dv]. Plain matmuls, softmax in at least float32
    (torch.baddbmm with beta=0 is avoided on purpose: it is broken in Debian's
    torch 1.13 on CPU)."""
    b, nq, c = q.shape
    nk = k.shape[1]
    d = c // heads
    dv = v.shape[2] // heads
    q = q.reshape(b, nq, heads, d).transpose(1, 2)
    k = k.reshape(b, nk, heads, d).transpose(1, 2)
    v = v.reshape(b, nk, heads, dv).transpose(1, 2)
    if USE_SDPA and q.is_cuda:
        if mask is not None:
            mask = mask.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return out.transpose(1, 2).reshape(b, nq, heads * dv)
    scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(d))
    if mask is not None:
        scores = scores + mask
    if scores.dtype in (torch.float16, torch.bfloat16):
        probs = scores.float().softmax(dim=-1).to(q.dtype)
    else:
        probs = scores.softmax(dim=-1)
    out = torch.matmul(probs, v)
    return out.transpose(1, 2).reshape(b, nq, heads * dv)


class Attention(nn.Module):
    """diffusers.models.attention_processor.Attention, the subset SD uses:
    to_q/to_k/to_v/to_out.0, optional group_norm on a 4-D input (the VAE
    mid-block form), residual connection and output rescale."""

    def __init__(self, query_dim, cross_attention_dim=None, heads=8, dim_head=64, bias=False,
                 out_bias=True, norm_num_groups=None, eps=1e-5, residual_connection=False,
                 rescale_output_factor=1.0, dropout=0.0):
        super().__init__()
        inner = heads * dim_head
        kv_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.heads = heads
        self.residual_connection = residual_connection
        self.rescale_output_factor = rescale_output_factor
        self.group_norm = (nn.GroupNorm(norm_num_groups, query_dim, eps=eps, affine=True)
                           if norm_num_groups is not None else None)
        self.to_q = nn.Linear(query_dim, inner, bias=bias)
        self.to_k = nn.Linear(kv_dim, inner, bias=bias)
        self.to_v = nn.Linear(kv_dim, inner, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim, bias=out_bias), nn.Dropout(dropout)])

    def forward(self, hidden_states, encoder_hidden_states=None, attention_mask=None):
        residual = hidden_states
        four_d = hidden_states.ndim == 4
        if four_d:
            b, c, h, w = hidden_states.shape
            hidden_states = hidden_states.reshape(b, c, h * w).transpose(1, 2)
        if self.group_norm is not None:
            hidden_states = self.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        q = self.to_q(hidden_states)
        k = self.to_k(context)
        v = self.to_v(context)
        out = attention(q, k, v, self.heads, attention_mask)
        out = self.to_out[1](self.to_out[0](out))
        if four_d:
            out = out.transpose(1, 2).reshape(b, c, h, w)
        if self.residual_connection:
            out = out + residual
        if self.rescale_output_factor != 1.0:
            out = out / self.rescale_output_factor
        return out


class ResnetBlock2D(nn.Module):
    """diffusers ResnetBlock2D with time_embedding_norm="default" (temb added
    after conv1) or no time embedding (temb_channels=None, the VAE form)."""

    def __init__(self, in_channels, out_channels=None, temb_channels=512, groups=32, groups_out=None,
                 eps=1e-6, act_fn="silu", output_scale_factor=1.0, dropout=0.0):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        groups_out = groups if groups_out is None else groups_out
        self.output_scale_factor = output_scale_factor
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1)
        self.time_emb_proj = nn.Linear(temb_channels, out_channels) if temb_channels is not None else None
        self.norm2 = nn.GroupNorm(groups_out, out_channels, eps=eps, affine=True)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1)
        self.nonlinearity = get_activation(act_fn)
        self.conv_shortcut = (nn.Conv2d(in_channels, out_channels, 1, stride=1, padding=0)
                              if in_channels != out_channels else None)

    def forward(self, x, temb=None):
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        if self.time_emb_proj is not None and temb is not None:
            h = h + self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        h = self.conv2(self.dropout(self.nonlinearity(self.norm2(h))))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        out = x + h
        if self.output_scale_factor != 1.0:
            out = out / self.output_scale_factor
        return out


class Downsample2D(nn.Module):
    """Stride-2 3x3 conv. padding=0 means diffusers' asymmetric (0,1,0,1) zero
    pad before the conv (the VAE encoder form)."""

    def __init__(self, channels, out_channels=None, padding=1):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1), mode="constant", value=0.0)
        return self.conv(x)


class Upsample2D(nn.Module):
    """Nearest 2x upsample (or to an explicit output size) then a 3x3 conv."""

    def __init__(self, channels, out_channels=None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x, output_size=None):
        if output_size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=tuple(output_size), mode="nearest")
        return self.conv(x)


def check_config(config, kind, supported, must_be_default):
    """Raise on config keys this reference would silently get wrong.

    supported: keys that are read; must_be_default: key -> tuple of accepted
    values (the diffusers default and its equivalents). Keys starting with '_'
    are bookkeeping and ignored; any other unknown key raises."""
    for key, value in config.items():
        if key.startswith("_") or key in supported:
            continue
        if key in must_be_default:
            if value not in must_be_default[key]:
                raise ValueError(f"{kind}: config '{key}'={value!r} is not supported "
                                 f"(accepted: {must_be_default[key]})")
            continue
        raise ValueError(f"{kind}: unknown config key '{key}'")
