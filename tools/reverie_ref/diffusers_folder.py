"""Load and save a diffusers pipeline folder: model_index.json, each
component's config.json and its safetensors weights (single file or sharded
index). Checkpoint-dialect name conversion lives here and only here. Not .bin
(pickle) weights, not hub downloads.
"""

import json
import os
import shutil

import torch

from . import safetensors_io as st
from .autoencoder_kl import AutoencoderKL
from .autoencoder_tiny import AutoencoderTiny
from .clip_text import CLIPTextModel
from .schedulers import make_scheduler
from .unet import UNet2DConditionModel

MODEL_CLASSES = {
    "UNet2DConditionModel": UNet2DConditionModel,
    "AutoencoderKL": AutoencoderKL,
    "AutoencoderTiny": AutoencoderTiny,
    "CLIPTextModel": CLIPTextModel,
}

# weights file stem per library: diffusers models vs transformers models
WEIGHT_STEMS = ("diffusion_pytorch_model", "model")


class LoadError(ValueError):
    pass


def read_json(path):
    try:
        with open(path, "r", encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise LoadError(f"{path}: not found") from None
    except json.JSONDecodeError as e:
        raise LoadError(f"{path}:{e.lineno}:{e.colno}: {e.msg}") from None


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def class_name(config):
    """diffusers configs say _class_name; transformers configs say architectures."""
    if "_class_name" in config:
        return config["_class_name"]
    arch = config.get("architectures") or []
    if arch:
        return arch[0]
    if config.get("model_type") == "clip_text_model":
        return "CLIPTextModel"
    raise LoadError("config names no class (_class_name or architectures)")


def find_weights(component_dir, variant=None):
    """Path of the single .safetensors or of the .safetensors.index.json."""
    suffix = f".{variant}.safetensors" if variant else ".safetensors"
    for stem in WEIGHT_STEMS:
        single = os.path.join(component_dir, stem + suffix)
        if os.path.exists(single):
            return single
        index = single + ".index.json"
        if os.path.exists(index):
            return index
    raise LoadError(f"{component_dir}: no safetensors weights "
                    f"({', '.join(s + suffix for s in WEIGHT_STEMS)} or a sharded index)")


def load_state_dict(component_dir, variant=None, dtype=None):
    path = find_weights(component_dir, variant)
    if path.endswith(".index.json"):
        return st.load_sharded_torch(path, dtype=dtype)
    return st.load_torch(path, dtype=dtype)


_LEGACY_ATTN = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def convert_legacy_names(state_dict, model):
    """Rewrite older checkpoint dialects to the names `model` expects:
    - VAE mid-block attention query/key/value/proj_attn -> to_q/to_k/to_v/to_out.0
      (diffusers' _convert_deprecated_attention_blocks), 1x1-conv shaped
      [C, C, 1, 1] weights squeezed to linear [C, C];
    - text_model.embeddings.position_ids (a buffer older transformers saved) dropped.
    Returns a new dict."""
    expected = dict(model.state_dict())
    out = {}
    for name, t in state_dict.items():
        if name.endswith("embeddings.position_ids"):
            continue
        parts = name.split(".")
        if len(parts) >= 3 and parts[-2] in _LEGACY_ATTN and ".attentions." in name:
            new = ".".join(parts[:-2] + [_LEGACY_ATTN[parts[-2]], parts[-1]])
            if new in expected:
                name = new
        if name in expected and t.ndim == 4 and expected[name].ndim == 2 and t.shape[2:] == (1, 1):
            t = t[:, :, 0, 0]
        out[name] = t
    return out


def load_weights_into(model, state_dict, where=""):
    """Strict load: every missing, unexpected or wrong-shaped tensor is named."""
    state_dict = convert_legacy_names(state_dict, model)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = sorted(n for n in set(expected) & set(state_dict) if tuple(expected[n].shape) != tuple(state_dict[n].shape))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {missing[:5]}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)}: {unexpected[:5]}")
    for n in wrong[:5]:
        problems.append(f"'{n}' has shape {list(state_dict[n].shape)}, expected {list(expected[n].shape)}")
    if problems:
        raise LoadError(f"{where}: " + "; ".join(problems))
    with torch.no_grad():
        for n, p in expected.items():
            p.copy_(state_dict[n].to(p.dtype))


def build_model(config):
    name = class_name(config)
    if name not in MODEL_CLASSES:
        raise LoadError(f"model class {name!r} is not supported")
    return MODEL_CLASSES[name](config)


def load_model(component_dir, dtype=torch.float32, variant=None):
    config = read_json(os.path.join(component_dir, "config.json"))
    model = build_model(config)
    model.to(dtype)
    load_weights_into(model, load_state_dict(component_dir, variant), where=component_dir)
    model.eval()
    return model


def save_model(component_dir, model, config, dtype="F32", max_shard_bytes=None):
    """config.json + weights. diffusers classes get diffusion_pytorch_model.*,
    transformers classes model.*."""
    os.makedirs(component_dir, exist_ok=True)
    write_json(os.path.join(component_dir, "config.json"), config)
    stem = "model" if class_name(config) == "CLIPTextModel" else "diffusion_pytorch_model"
    tensors = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if max_shard_bytes:
        st.save_sharded(component_dir, stem + ".safetensors", tensors, max_shard_bytes, dtype=dtype)
    else:
        st.save(os.path.join(component_dir, stem + ".safetensors"), tensors, dtype=dtype)


def load_pipeline(folder, dtype=torch.float32):
    """Returns a dict: component name -> model / scheduler / tokenizer (when the
    tokenizer files are there), plus 'model_index' (the parsed JSON)."""
    index = read_json(os.path.join(folder, "model_index.json"))
    out = {"model_index": index}
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2 or spec[1] is None:
            continue
        cls = spec[1]
        path = os.path.join(folder, name)
        if cls in MODEL_CLASSES:
            out[name] = load_model(path, dtype)
        elif cls.endswith("Scheduler"):
            cfg = read_json(os.path.join(path, "scheduler_config.json"))
            out[name + "_config"] = cfg
            try:
                out[name] = make_scheduler(cfg)
            except ValueError:
                out[name] = None  # e.g. PNDM: use make_scheduler(cfg, "EulerDiscreteScheduler")
        elif cls == "CLIPTokenizer":
            try:
                from .tokenizer import CLIPTokenizer
                out[name] = CLIPTokenizer.from_folder(path)
            except ImportError:
                pass  # the tokenizer needs the 'regex' module
    return out


def save_pipeline(folder, model_index, components, scheduler_config=None, tokenizer_dir=None,
                  shard_bytes=None):
    """Write a whole diffusers folder.

    components: name -> (model, config dict); shard_bytes: name -> max shard
    size for components to save sharded. The tokenizer files are copied from
    tokenizer_dir."""
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "model_index.json"), model_index)
    for name, (model, config) in components.items():
        save_model(os.path.join(folder, name), model, config,
                   max_shard_bytes=(shard_bytes or {}).get(name))
    if scheduler_config is not None:
        os.makedirs(os.path.join(folder, "scheduler"), exist_ok=True)
        write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), scheduler_config)
    if tokenizer_dir is not None:
        os.makedirs(os.path.join(folder, "tokenizer"), exist_ok=True)
        for fn in ("vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json"):
            src = os.path.join(tokenizer_dir, fn)
            if os.path.exists(src):
                shutil.copyfile(src, os.path.join(folder, "tokenizer", fn))
