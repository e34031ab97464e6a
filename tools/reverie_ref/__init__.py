"""Reverie's PyTorch reference for Stable-Diffusion-class models: the same
arithmetic as Hugging Face diffusers/transformers, written from scratch, used
to make golden tensors for the C runtime and to train Reverie's own model.
Import with tools/ on sys.path: `import reverie_ref`.
"""

from .autoencoder_kl import AutoencoderKL
from .autoencoder_tiny import AutoencoderTiny
from .clip_text import CLIPTextModel
from .schedulers import EulerDiscreteScheduler, LCMScheduler, make_scheduler
from .unet import UNet2DConditionModel, count_parameters
from .util import no_init

__all__ = ["AutoencoderKL", "AutoencoderTiny", "CLIPTextModel", "EulerDiscreteScheduler", "LCMScheduler",
           "make_scheduler", "UNet2DConditionModel", "count_parameters", "no_init"]
