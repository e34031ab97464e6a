"""AutoencoderTiny (TAESD) from a diffusers config dict, with diffusers' names
(encoder.layers.N..., decoder.layers.N...; a block's convs are conv.0/.2/.4,
its 1x1 skip is skip). Not tiling or slicing.

Latent scaling, as diffusers does it: encode() returns the encoder output and
pipelines multiply it by config scaling_factor (1.0 for TAESD); decode() takes
latents / scaling_factor. latent_magnitude/latent_shift are only used by
scale_latents/unscale_latents, the [0,1] byte-image packing of
AutoencoderTiny.forward, never by the Stable Diffusion pipelines.
"""

import torch
from torch import nn

from .layers import check_config, get_activation

TINY_DEFAULTS = {
    "in_channels": 3,
    "out_channels": 3,
    "encoder_block_out_channels": [64, 64, 64, 64],
    "decoder_block_out_channels": [64, 64, 64, 64],
    "act_fn": "relu",
    "upsample_fn": "nearest",
    "latent_channels": 4,
    "upsampling_scaling_factor": 2,
    "num_encoder_blocks": [1, 3, 3, 3],
    "num_decoder_blocks": [3, 3, 3, 1],
    "latent_magnitude": 3,
    "latent_shift": 0.5,
    "force_upcast": False,
    "scaling_factor": 1.0,
    "shift_factor": 0.0,
    "block_out_channels": None,  # diffusers re-registers decoder_block_out_channels under this name
}


class AutoencoderTinyBlock(nn.Module):
    """relu(conv3x3 -> act -> conv3x3 -> act -> conv3x3  +  skip(x))."""

    def __init__(self, in_ch, out_ch, act_fn):
        super().__init__()
        act = get_activation(act_fn)
        self.conv = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 3, padding=1), act,
            nn.Conv2d(out_ch, out_ch, 3, padding=1), act,
            nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False) if in_ch != out_ch else nn.Identity()
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


def _check_equal_channels(chs, name):
    # diffusers' EncoderTiny/DecoderTiny wire stage i's conv as
    # block_out_channels[i] -> block_out_channels[i]; unequal entries make
    # its forward fail, so such configs are refused here up front.
    if len(set(chs)) != 1:
        raise ValueError(f"AutoencoderTiny: {name} {chs} must be all equal (as diffusers' wiring requires)")


class EncoderTiny(nn.Module):
    def __init__(self, in_ch, out_ch, num_blocks, chs, act_fn):
        super().__init__()
        _check_equal_channels(chs, "encoder_block_out_channels")
        layers = []
        for i, nb in enumerate(num_blocks):
            c = chs[i]
            if i == 0:
                layers.append(nn.Conv2d(in_ch, c, 3, padding=1))
            else:
                layers.append(nn.Conv2d(c, c, 3, padding=1, stride=2, bias=False))
            layers.extend(AutoencoderTinyBlock(c, c, act_fn) for _ in range(nb))
        layers.append(nn.Conv2d(chs[-1], out_ch, 3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        # [-1, 1] images -> TAESD's [0, 1] convention
        return self.layers(x.add(1).div(2))


class DecoderTiny(nn.Module):
    def __init__(self, in_ch, out_ch, num_blocks, chs, scale, act_fn, upsample_fn):
        super().__init__()
        _check_equal_channels(chs, "decoder_block_out_channels")
        layers = [nn.Conv2d(in_ch, chs[0], 3, padding=1), get_activation(act_fn)]
        for i, nb in enumerate(num_blocks):
            last = i == len(num_blocks) - 1
            c = chs[i]
            layers.extend(AutoencoderTinyBlock(c, c, act_fn) for _ in range(nb))
            if not last:
                layers.append(nn.Upsample(scale_factor=scale, mode=upsample_fn))
            layers.append(nn.Conv2d(c, out_ch if last else c, 3, padding=1, bias=last))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        x = torch.tanh(x / 3) * 3  # soft clamp of the latents
        return self.layers(x).mul(2).sub(1)  # [0, 1] -> [-1, 1]


class AutoencoderTiny(nn.Module):
    def __init__(self, config):
        super().__init__()
        check_config(config, "AutoencoderTiny", set(TINY_DEFAULTS), {})
        cfg = dict(TINY_DEFAULTS)
        cfg.update({k: v for k, v in config.items() if k in TINY_DEFAULTS})
        self.config = cfg
        if len(cfg["encoder_block_out_channels"]) != len(cfg["num_encoder_blocks"]):
            raise ValueError("AutoencoderTiny: encoder_block_out_channels and num_encoder_blocks differ in length")
        if len(cfg["decoder_block_out_channels"]) != len(cfg["num_decoder_blocks"]):
            raise ValueError("AutoencoderTiny: decoder_block_out_channels and num_decoder_blocks differ in length")
        if cfg["upsample_fn"] != "nearest":
            raise ValueError(f"AutoencoderTiny: upsample_fn {cfg['upsample_fn']!r} is not supported")
        self.encoder = EncoderTiny(cfg["in_channels"], cfg["latent_channels"], cfg["num_encoder_blocks"],
                                   cfg["encoder_block_out_channels"], cfg["act_fn"])
        self.decoder = DecoderTiny(cfg["latent_channels"], cfg["out_channels"], cfg["num_decoder_blocks"],
                                   cfg["decoder_block_out_channels"], cfg["upsampling_scaling_factor"],
                                   cfg["act_fn"], cfg["upsample_fn"])

    @property
    def scale_factor(self):
        """Pixels per latent along each axis (encoder side)."""
        return 2 ** (len(self.config["num_encoder_blocks"]) - 1)

    def encode(self, image):
        """image [B,3,H,W] in [-1,1] -> raw latents (multiply by scaling_factor for the UNet)."""
        return self.encoder(image)

    def decode(self, z):
        """raw latents (pipeline latents / scaling_factor) -> image in [-1, 1]."""
        return self.decoder(z)

    def scale_latents(self, z):
        """Pipelines' view: latents = encode(x) * scaling_factor."""
        return z * self.config["scaling_factor"]

    def unscale_latents(self, latents):
        return latents / self.config["scaling_factor"]

    def pack_latents(self, z):
        """raw latents -> [0, 1] (AutoencoderTiny.scale_latents in diffusers)."""
        return z.div(2 * self.config["latent_magnitude"]).add(self.config["latent_shift"]).clamp(0, 1)

    def unpack_latents(self, x):
        """[0, 1] -> raw latents (AutoencoderTiny.unscale_latents in diffusers)."""
        return x.sub(self.config["latent_shift"]).mul(2 * self.config["latent_magnitude"])
