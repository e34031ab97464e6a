"""AutoencoderKL (the Stable Diffusion VAE) from a diffusers vae/config.json
dict, with diffusers' current parameter names (mid-block attention as
to_q/to_k/to_v/to_out.0; checkpoints with the older query/key/value/proj_attn
names are renamed by diffusers_folder.convert_legacy_names). Not tiling, not
slicing, no sampling from the posterior: encode returns the mean.
"""

import torch
from torch import nn

from .layers import Attention, Downsample2D, ResnetBlock2D, Upsample2D, check_config, get_activation

VAE_DEFAULTS = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D"],
    "block_out_channels": [64],
    "layers_per_block": 1,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 32,
    "scaling_factor": 0.18215,
    "shift_factor": None,
    "latents_mean": None,
    "latents_std": None,
    "force_upcast": True,
    "use_quant_conv": True,
    "use_post_quant_conv": True,
    "mid_block_add_attention": True,
}


class VAEMidBlock(nn.Module):
    """UNetMidBlock2D as the VAE uses it: resnet, single-head attention with
    its own GroupNorm and a residual, resnet; eps 1e-6, no time embedding."""

    def __init__(self, ch, groups, act_fn, add_attention=True):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(ch, ch, None, groups, None, 1e-6, act_fn) for _ in range(2)])
        self.attentions = nn.ModuleList([
            Attention(ch, None, heads=1, dim_head=ch, bias=True, norm_num_groups=groups, eps=1e-6,
                      residual_connection=True)
            if add_attention else nn.Identity()])
        self.add_attention = add_attention

    def forward(self, x):
        x = self.resnets[0](x)
        if self.add_attention:
            x = self.attentions[0](x)
        return self.resnets[1](x)


class EncoderBlock(nn.Module):
    """DownEncoderBlock2D."""

    def __init__(self, in_ch, out_ch, num_layers, groups, act_fn, add_downsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, None, groups, None, 1e-6,
                                                    act_fn) for i in range(num_layers)])
        self.downsamplers = nn.ModuleList([Downsample2D(out_ch, out_ch, padding=0)]) if add_downsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
        return x


class DecoderBlock(nn.Module):
    """UpDecoderBlock2D."""

    def __init__(self, in_ch, out_ch, num_layers, groups, act_fn, add_upsample):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(in_ch if i == 0 else out_ch, out_ch, None, groups, None, 1e-6,
                                                    act_fn) for i in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_ch, out_ch)]) if add_upsample else None

    def forward(self, x):
        for r in self.resnets:
            x = r(x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class Encoder(nn.Module):
    def __init__(self, in_ch, latent_ch, ch, layers, groups, act_fn, mid_attention):
        super().__init__()
        self.conv_in = nn.Conv2d(in_ch, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList()
        out_c = ch[0]
        for i in range(len(ch)):
            in_c, out_c = out_c, ch[i]
            self.down_blocks.append(EncoderBlock(in_c, out_c, layers, groups, act_fn, i != len(ch) - 1))
        self.mid_block = VAEMidBlock(ch[-1], groups, act_fn, mid_attention)
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[-1], 2 * latent_ch, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for b in self.down_blocks:
            x = b(x)
        x = self.mid_block(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class Decoder(nn.Module):
    def __init__(self, latent_ch, out_ch, ch, layers, groups, act_fn, mid_attention):
        super().__init__()
        self.conv_in = nn.Conv2d(latent_ch, ch[-1], 3, padding=1)
        self.mid_block = VAEMidBlock(ch[-1], groups, act_fn, mid_attention)
        self.up_blocks = nn.ModuleList()
        rch = ch[::-1]
        out_c = rch[0]
        for i in range(len(ch)):
            prev_c, out_c = out_c, rch[i]
            self.up_blocks.append(DecoderBlock(prev_c, out_c, layers + 1, groups, act_fn, i != len(ch) - 1))
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(ch[0], out_ch, 3, padding=1)

    def forward(self, z):
        x = self.conv_in(z)
        x = self.mid_block(x)
        for b in self.up_blocks:
            x = b(x)
        return self.conv_out(self.conv_act(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, config):
        super().__init__()
        check_config(config, "AutoencoderKL", set(VAE_DEFAULTS), {})
        cfg = dict(VAE_DEFAULTS)
        cfg.update({k: v for k, v in config.items() if k in VAE_DEFAULTS})
        self.config = cfg
        ch = list(cfg["block_out_channels"])
        for t in cfg["down_block_types"]:
            if t != "DownEncoderBlock2D":
                raise ValueError(f"AutoencoderKL: down block type {t!r} is not supported")
        for t in cfg["up_block_types"]:
            if t != "UpDecoderBlock2D":
                raise ValueError(f"AutoencoderKL: up block type {t!r} is not supported")
        if len(cfg["down_block_types"]) != len(ch) or len(cfg["up_block_types"]) != len(ch):
            raise ValueError("AutoencoderKL: block type lists and block_out_channels differ in length")
        get_activation(cfg["act_fn"])  # validate early
        lc, groups, layers = cfg["latent_channels"], cfg["norm_num_groups"], cfg["layers_per_block"]
        self.encoder = Encoder(cfg["in_channels"], lc, ch, layers, groups, cfg["act_fn"], cfg["mid_block_add_attention"])
        self.decoder = Decoder(lc, cfg["out_channels"], ch, layers, groups, cfg["act_fn"], cfg["mid_block_add_attention"])
        self.quant_conv = nn.Conv2d(2 * lc, 2 * lc, 1) if cfg["use_quant_conv"] else None
        self.post_quant_conv = nn.Conv2d(lc, lc, 1) if cfg["use_post_quant_conv"] else None

    @property
    def scale_factor(self):
        """Pixels per latent along each axis."""
        return 2 ** (len(self.config["block_out_channels"]) - 1)

    def encode_moments(self, image):
        """image [B,3,H,W] in [-1,1] -> (mean, logvar) of the latent posterior,
        logvar clamped to [-30, 20] as DiagonalGaussianDistribution does."""
        h = self.encoder(image)
        if self.quant_conv is not None:
            h = self.quant_conv(h)
        mean, logvar = torch.chunk(h, 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def encode(self, image):
        """Deterministic encode: the posterior mean (unscaled latents)."""
        return self.encode_moments(image)[0]

    def decode(self, z):
        """Unscaled latents -> image in about [-1, 1] (not clamped)."""
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        return self.decoder(z)

    def scale_latents(self, z):
        """What pipelines feed the UNet: (z - shift_factor) * scaling_factor."""
        shift = self.config["shift_factor"] or 0.0
        return (z - shift) * self.config["scaling_factor"]

    def unscale_latents(self, latents):
        shift = self.config["shift_factor"] or 0.0
        return latents / self.config["scaling_factor"] + shift
