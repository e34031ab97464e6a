"""UNet2DConditionModel of the Stable Diffusion 1.x/2.x family, built from a
diffusers unet/config.json dict, with diffusers' parameter names. Not the whole
diffusers class: no class/addition embeddings, adapters, or other block types;
such configs are refused by name instead of being computed wrongly.
"""

import math

import torch
from torch import nn

from .layers import Attention, Downsample2D, ResnetBlock2D, Upsample2D, check_config, get_activation


# diffusers UNet2DConditionModel.__init__ defaults for the keys read here.
UNET_DEFAULTS = {
    "in_channels": 4,
    "out_channels": 4,
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1.0,
    "dropout": 0.0,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 1280,
    "transformer_layers_per_block": 1,
    "attention_head_dim": 8,
    "use_linear_projection": False,
    "upcast_attention": False,
    "resnet_out_scale_factor": 1.0,
    "time_embedding_dim": None,
    "time_embedding_act_fn": None,
    "timestep_post_act": None,
    "time_cond_proj_dim": None,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "sample_size": None,
}

# Keys whose non-default values select machinery this reference does not have.
_MUST_BE_DEFAULT = {
    "only_cross_attention": (False, None),
    "reverse_transformer_layers_per_block": (None,),
    "encoder_hid_dim": (None,),
    "encoder_hid_dim_type": (None,),
    "num_attention_heads": (None,),
    "dual_cross_attention": (False, None),
    "class_embed_type": (None,),
    "addition_embed_type": (None,),
    "addition_time_embed_dim": (None,),
    "num_class_embeds": (None,),
    "resnet_time_scale_shift": ("default",),
    "resnet_skip_time_act": (False,),
    "time_embedding_type": ("positional",),
    "projection_class_embeddings_input_dim": (None,),
    "attention_type": ("default",),
    "class_embeddings_concat": (False,),
    "mid_block_only_cross_attention": (None, False),
    "cross_attention_norm": (None,),
    "addition_embed_type_num_heads": (64,),
}


def timestep_embedding(timesteps, dim, flip_sin_to_cos, freq_shift, max_period=10000, dtype=torch.float32):
    """Sinusoidal embedding of diffusers' get_timestep_embedding.

    timesteps: 1-D tensor (may be fractional). diffusers always computes this in
    float32 and then casts to the model dtype; dtype=torch.float64 is for the
    float64 cross-check."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=dtype, device=timesteps.device) / (half - freq_shift)
    args = timesteps.to(dtype)[:, None] * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2 == 1:
        emb = nn.functional.pad(emb, (0, 1, 0, 0))
    return emb


class TimestepEmbedding(nn.Module):
    def __init__(self, in_channels, time_embed_dim, act_fn="silu", post_act_fn=None, cond_proj_dim=None):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.cond_proj = nn.Linear(cond_proj_dim, in_channels, bias=False) if cond_proj_dim is not None else None
        self.act = get_activation(act_fn)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)
        self.post_act = get_activation(post_act_fn) if post_act_fn is not None else None

    def forward(self, sample, condition=None):
        if condition is not None:
            sample = sample + self.cond_proj(condition)
        sample = self.linear_2(self.act(self.linear_1(sample)))
        if self.post_act is not None:
            sample = self.post_act(sample)
        return sample


class GEGLU(nn.Module):
    """proj -> (value, gate) halves -> value * gelu(gate) (exact erf GELU)."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * nn.functional.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, mult=4, dropout=0.0):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(dropout), nn.Linear(inner, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    """LayerNorm -> self-attn -> +; LayerNorm -> cross-attn -> +; LayerNorm -> GEGLU FF -> +."""

    def __init__(self, dim, heads, head_dim, cross_attention_dim, norm_eps=1e-5):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn1 = Attention(dim, None, heads, head_dim, bias=False)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn2 = Attention(dim, cross_attention_dim, heads, head_dim, bias=False)
        self.norm3 = nn.LayerNorm(dim, eps=norm_eps)
        self.ff = FeedForward(dim)

    def forward(self, x, context, context_mask=None):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context, context_mask) + x
        x = self.ff(self.norm3(x)) + x
        return x


class Transformer2DModel(nn.Module):
    """GroupNorm(eps 1e-6) -> proj_in (1x1 conv, or linear on tokens when
    use_linear_projection) -> transformer blocks -> proj_out -> + residual."""

    def __init__(self, heads, head_dim, in_channels, num_layers, cross_attention_dim, norm_num_groups,
                 use_linear_projection):
        super().__init__()
        inner = heads * head_dim
        self.use_linear_projection = use_linear_projection
        self.norm = nn.GroupNorm(norm_num_groups, in_channels, eps=1e-6, affine=True)
        if use_linear_projection:
            self.proj_in = nn.Linear(in_channels, inner)
            self.proj_out = nn.Linear(inner, in_channels)
        else:
            self.proj_in = nn.Conv2d(in_channels, inner, 1)
            self.proj_out = nn.Conv2d(inner, in_channels, 1)
        self.transformer_blocks = nn.ModuleList(
            [BasicTransformerBlock(inner, heads, head_dim, cross_attention_dim) for _ in range(num_layers)])

    def forward(self, x, context, context_mask=None):
        b, _, h, w = x.shape
        residual = x
        x = self.norm(x)
        if not self.use_linear_projection:
            x = self.proj_in(x)
            inner = x.shape[1]
            x = x.permute(0, 2, 3, 1).reshape(b, h * w, inner)
        else:
            x = x.permute(0, 2, 3, 1).reshape(b, h * w, x.shape[1])
            x = self.proj_in(x)
            inner = x.shape[2]
        for block in self.transformer_blocks:
            x = block(x, context, context_mask)
        if not self.use_linear_projection:
            x = x.reshape(b, h, w, inner).permute(0, 3, 1, 2)
            x = self.proj_out(x)
        else:
            x = self.proj_out(x)
            x = x.reshape(b, h, w, x.shape[2]).permute(0, 3, 1, 2)
        return x + residual


class DownBlock(nn.Module):
    """CrossAttnDownBlock2D (with_attention) or DownBlock2D."""

    def __init__(self, in_ch, out_ch, temb_ch, num_layers, add_downsample, groups, eps, act_fn, dropout,
                 out_scale, downsample_padding, with_attention, heads=None, cross_dim=None,
                 transformer_layers=None, use_linear_projection=False):
        super().__init__()
        self.has_cross_attention = with_attention
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, temb_ch, groups, None, eps, act_fn, out_scale, dropout)
            for i in range(num_layers)])
        if with_attention:
            self.attentions = nn.ModuleList([
                Transformer2DModel(heads, out_ch // heads, out_ch, transformer_layers[i], cross_dim, groups,
                                   use_linear_projection)
                for i in range(num_layers)])
        self.downsamplers = (nn.ModuleList([Downsample2D(out_ch, out_ch, downsample_padding)])
                             if add_downsample else None)

    def forward(self, x, temb, context, context_mask=None):
        skips = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.has_cross_attention:
                x = self.attentions[i](x, context, context_mask)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class MidBlockCrossAttn(nn.Module):
    """UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) pairs."""

    def __init__(self, ch, temb_ch, groups, eps, act_fn, dropout, out_scale, heads, cross_dim,
                 transformer_layers, use_linear_projection, num_layers=1):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(ch, ch, temb_ch, groups, None, eps, act_fn, out_scale, dropout)
            for _ in range(num_layers + 1)])
        self.attentions = nn.ModuleList([
            Transformer2DModel(heads, ch // heads, ch, transformer_layers[i], cross_dim, groups,
                               use_linear_projection)
            for i in range(num_layers)])

    def forward(self, x, temb, context, context_mask=None):
        x = self.resnets[0](x, temb)
        for attn, resnet in zip(self.attentions, self.resnets[1:]):
            x = resnet(attn(x, context, context_mask), temb)
        return x


class UpBlock(nn.Module):
    """CrossAttnUpBlock2D (with_attention) or UpBlock2D: each resnet eats the
    concatenation of the running tensor and one skip, popped from the end."""

    def __init__(self, in_ch, prev_out_ch, out_ch, temb_ch, num_layers, add_upsample, groups, eps, act_fn,
                 dropout, out_scale, with_attention, heads=None, cross_dim=None, transformer_layers=None,
                 use_linear_projection=False):
        super().__init__()
        self.has_cross_attention = with_attention
        resnets = []
        for i in range(num_layers):
            skip_ch = in_ch if i == num_layers - 1 else out_ch
            res_in = prev_out_ch if i == 0 else out_ch
            resnets.append(ResnetBlock2D(res_in + skip_ch, out_ch, temb_ch, groups, None, eps, act_fn, out_scale,
                                         dropout))
        self.resnets = nn.ModuleList(resnets)
        if with_attention:
            self.attentions = nn.ModuleList([
                Transformer2DModel(heads, out_ch // heads, out_ch, transformer_layers[i], cross_dim, groups,
                                   use_linear_projection)
                for i in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch, out_ch)]) if add_upsample else None

    def forward(self, x, skips, temb, context, context_mask=None, upsample_size=None):
        for i, resnet in enumerate(self.resnets):
            x = torch.cat([x, skips[-1 - i]], dim=1)
            x = resnet(x, temb)
            if self.has_cross_attention:
                x = self.attentions[i](x, context, context_mask)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x, upsample_size)
        return x


def _per_block(value, n, name):
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"UNet: '{name}' has {len(value)} entries for {n} blocks")
        return list(value)
    return [value] * n


class UNet2DConditionModel(nn.Module):
    """forward(sample [B,C,H,W], timestep (scalar or [B]), encoder_hidden_states [B,S,D]) -> [B,C_out,H,W]."""

    def __init__(self, config):
        super().__init__()
        check_config(config, "UNet2DConditionModel", set(UNET_DEFAULTS), _MUST_BE_DEFAULT)
        cfg = dict(UNET_DEFAULTS)
        cfg.update({k: v for k, v in config.items() if k in UNET_DEFAULTS})
        self.config = cfg
        down_types, up_types = list(cfg["down_block_types"]), list(cfg["up_block_types"])
        ch = list(cfg["block_out_channels"])
        n = len(down_types)
        if len(up_types) != n or len(ch) != n:
            raise ValueError("UNet: down_block_types, up_block_types and block_out_channels differ in length")
        if cfg["norm_num_groups"] is None:
            raise ValueError("UNet: norm_num_groups=None is not supported")
        if cfg["mid_block_type"] != "UNetMidBlock2DCrossAttn":
            raise ValueError(f"UNet: mid_block_type {cfg['mid_block_type']!r} is not supported")
        # diffusers' historic naming: for these configs attention_head_dim is
        # the number of heads (num_attention_heads = num_attention_heads or
        # attention_head_dim); the head width is channels // heads.
        heads = _per_block(cfg["attention_head_dim"], n, "attention_head_dim")
        cross = _per_block(cfg["cross_attention_dim"], n, "cross_attention_dim")
        layers = _per_block(cfg["layers_per_block"], n, "layers_per_block")
        tlayers = _per_block(cfg["transformer_layers_per_block"], n, "transformer_layers_per_block")
        groups, eps, act, drop = cfg["norm_num_groups"], cfg["norm_eps"], cfg["act_fn"], cfg["dropout"]
        out_scale = cfg["resnet_out_scale_factor"]
        lin = bool(cfg["use_linear_projection"])

        k_in, k_out = cfg["conv_in_kernel"], cfg["conv_out_kernel"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], k_in, padding=(k_in - 1) // 2)
        temb_dim = cfg["time_embedding_dim"] or ch[0] * 4
        self.time_proj_dim = ch[0]
        self.time_embedding = TimestepEmbedding(ch[0], temb_dim, act, cfg["timestep_post_act"],
                                                cfg["time_cond_proj_dim"])
        self.time_embed_act = (get_activation(cfg["time_embedding_act_fn"])
                               if cfg["time_embedding_act_fn"] is not None else None)

        self.down_blocks = nn.ModuleList()
        out_c = ch[0]
        for i, t in enumerate(down_types):
            if t not in ("CrossAttnDownBlock2D", "DownBlock2D"):
                raise ValueError(f"UNet: down block type {t!r} is not supported")
            in_c, out_c = out_c, ch[i]
            tl = _per_block(tlayers[i], layers[i], "transformer_layers_per_block")
            self.down_blocks.append(DownBlock(
                in_c, out_c, temb_dim, layers[i], i != n - 1, groups, eps, act, drop, out_scale,
                cfg["downsample_padding"], t == "CrossAttnDownBlock2D", heads[i], cross[i], tl, lin))

        self.mid_block = MidBlockCrossAttn(ch[-1], temb_dim, groups, eps, act, drop, cfg["mid_block_scale_factor"],
                                           heads[-1], cross[-1], _per_block(tlayers[-1], 1, "transformer_layers"),
                                           lin)

        self.up_blocks = nn.ModuleList()
        rch, rheads, rcross = ch[::-1], heads[::-1], cross[::-1]
        rlayers, rtl = layers[::-1], tlayers[::-1]
        out_c = rch[0]
        self.num_upsamplers = 0
        for i, t in enumerate(up_types):
            if t not in ("CrossAttnUpBlock2D", "UpBlock2D"):
                raise ValueError(f"UNet: up block type {t!r} is not supported")
            prev_c, out_c = out_c, rch[i]
            in_c = rch[min(i + 1, n - 1)]
            add_up = i != n - 1
            self.num_upsamplers += int(add_up)
            tl = _per_block(rtl[i], rlayers[i] + 1, "transformer_layers_per_block")
            self.up_blocks.append(UpBlock(
                in_c, prev_c, out_c, temb_dim, rlayers[i] + 1, add_up, groups, eps, act, drop, out_scale,
                t == "CrossAttnUpBlock2D", rheads[i], rcross[i], tl, lin))

        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=eps)
        self.conv_act = get_activation(act)
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], k_out, padding=(k_out - 1) // 2)

    def time_embed(self, timestep, batch, dtype, timestep_cond=None, device=None):
        t = timestep if torch.is_tensor(timestep) else torch.tensor([timestep], dtype=torch.float64)
        t = t.to(device) if device is not None else t
        t = t.reshape(-1) if t.ndim else t[None]
        t = t.expand(batch) if t.shape[0] == 1 else t
        if t.shape[0] != batch:
            raise ValueError(f"UNet: {t.shape[0]} timesteps for a batch of {batch}")
        emb_dtype = torch.float64 if dtype == torch.float64 else torch.float32
        t_emb = timestep_embedding(t, self.time_proj_dim, self.config["flip_sin_to_cos"],
                                   self.config["freq_shift"], dtype=emb_dtype).to(dtype)
        emb = self.time_embedding(t_emb, timestep_cond)
        if self.time_embed_act is not None:
            emb = self.time_embed_act(emb)
        return emb

    def forward(self, sample, timestep, encoder_hidden_states, timestep_cond=None, encoder_attention_mask=None):
        """encoder_attention_mask: optional [B, S] with 1 = keep, 0 = drop (as diffusers: -10000 bias)."""
        factor = 2 ** self.num_upsamplers
        forward_upsample_size = any(s % factor != 0 for s in sample.shape[-2:])
        mask = None
        if encoder_attention_mask is not None:
            mask = ((1 - encoder_attention_mask.to(sample.dtype)) * -10000.0)[:, None, None, :]
        if self.config["center_input_sample"]:
            sample = 2 * sample - 1.0
        emb = self.time_embed(timestep, sample.shape[0], sample.dtype, timestep_cond, sample.device)
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x, s = block(x, emb, encoder_hidden_states, mask)
            skips.extend(s)
        x = self.mid_block(x, emb, encoder_hidden_states, mask)
        for i, block in enumerate(self.up_blocks):
            k = len(block.resnets)
            res, skips = skips[-k:], skips[:-k]
            size = None
            if i != len(self.up_blocks) - 1 and forward_upsample_size:
                size = skips[-1].shape[2:]
            x = block(x, res, emb, encoder_hidden_states, mask, size)
        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        return x


def guidance_scale_embedding(w, embedding_dim=512, dtype=torch.float32):
    """The pipelines' get_guidance_scale_embedding (timestep_cond for UNets
    with time_cond_proj_dim, e.g. LCM-distilled ones); w is guidance_scale - 1."""
    w = w * 1000.0
    half = embedding_dim // 2
    step = torch.log(torch.tensor(10000.0, dtype=dtype)) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=dtype, device=w.device) * -step)
    args = w.to(dtype)[:, None] * freqs[None, :]
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=1)
    if embedding_dim % 2 == 1:
        emb = nn.functional.pad(emb, (0, 1))
    return emb


def count_parameters(module):
    return sum(p.numel() for p in module.parameters())
