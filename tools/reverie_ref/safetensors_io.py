"""Read and write .safetensors files (and sharded *.safetensors.index.json sets)
with numpy or torch. Written from the format description: 8-byte little-endian
header length, a JSON header, then one flat data buffer. Not a memory-mapped
loader: files are read whole, which is fine for fixtures and the reference.
"""

import json
import os
import struct

import numpy as np

# dtype name -> (numpy storage dtype, bytes per element). BF16 has no numpy
# type: it is stored as uint16 and widened to float32 on read.
_DTYPES = {
    "F64": (np.float64, 8),
    "F32": (np.float32, 4),
    "F16": (np.float16, 2),
    "BF16": (np.uint16, 2),
    "I64": (np.int64, 8),
    "I32": (np.int32, 4),
    "I16": (np.int16, 2),
    "I8": (np.int8, 1),
    "U8": (np.uint8, 1),
    "BOOL": (np.bool_, 1),
}

_MAX_HEADER = 100 * 1024 * 1024  # the format's own limit


class SafetensorsError(ValueError):
    pass


def bf16_bits_to_f32(bits):
    """uint16 array of bfloat16 bit patterns -> float32 array (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(x):
    """float32 array -> uint16 bfloat16 bit patterns, round to nearest even."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = np.isnan(x)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    out[nan] = 0x7FC0
    return out


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, data start offset)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise SafetensorsError(f"{path}: file too short for the 8-byte header length")
        (n,) = struct.unpack("<Q", raw)
        if n > _MAX_HEADER or 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} is larger than the file allows")
        text = f.read(n)
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    data_len = size - 8 - n
    spans = []
    for name, info in header.items():
        try:
            dtype, shape, (b, e) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError(f"{path}: tensor '{name}': malformed entry") from None
        if dtype not in _DTYPES:
            raise SafetensorsError(f"{path}: tensor '{name}': unsupported dtype {dtype}")
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise SafetensorsError(f"{path}: tensor '{name}': bad shape {shape}")
            count *= d
        if not (0 <= b <= e <= data_len) or e - b != count * _DTYPES[dtype][1]:
            raise SafetensorsError(
                f"{path}: tensor '{name}': data_offsets [{b}, {e}] do not fit shape {shape} {dtype} "
                f"in a {data_len}-byte buffer")
        spans.append((b, e, name))
    spans.sort()
    pos = 0
    for b, e, name in spans:
        if b != pos:
            raise SafetensorsError(f"{path}: tensor '{name}': data is not contiguous (hole or overlap at {b})")
        pos = e
    if pos != data_len:
        raise SafetensorsError(f"{path}: {data_len - pos} trailing bytes after the last tensor")
    return header, meta, 8 + n


def load_numpy(path, bf16_as_f32=True):
    """name -> numpy array. BF16 tensors become float32 (exact) unless
    bf16_as_f32 is False, in which case they stay as uint16 bit patterns."""
    header, _, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        buf = f.read()
    out = {}
    for name, info in header.items():
        np_dtype, _ = _DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        arr = np.frombuffer(buf[b:e], dtype=np.dtype(np_dtype).newbyteorder("<")).reshape(info["shape"])
        if info["dtype"] == "BF16" and bf16_as_f32:
            arr = bf16_bits_to_f32(arr)
        out[name] = arr.astype(arr.dtype.newbyteorder("="), copy=True)
    return out


def load_torch(path, dtype=None):
    """name -> torch tensor (BF16 stays torch.bfloat16). If dtype is given,
    floating tensors are converted to it."""
    import torch

    header, _, _ = read_header(path)
    arrays = load_numpy(path, bf16_as_f32=False)
    out = {}
    for name, arr in arrays.items():
        if header[name]["dtype"] == "BF16":
            t = torch.from_numpy(arr.astype(np.int16)).view(torch.bfloat16)
        else:
            t = torch.from_numpy(arr)
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        out[name] = t
    return out


def _to_numpy(value, dtype):
    """(numpy array, safetensors dtype name) for a torch tensor or numpy array."""
    try:
        import torch
    except ImportError:  # numpy-only use
        torch = None
    if torch is not None and isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if dtype is None:
            dtype = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                     torch.float64: "F64", torch.int64: "I64", torch.int32: "I32",
                     torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
                     torch.bool: "BOOL"}[value.dtype]
        if value.dtype == torch.bfloat16:
            value = value.float()
        value = value.numpy()
    value = np.asarray(value)
    if dtype is None:
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64",
                 np.dtype(np.int64): "I64", np.dtype(np.int32): "I32", np.dtype(np.int16): "I16",
                 np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}[value.dtype]
    if dtype == "BF16":
        value = f32_to_bf16_bits(value.astype(np.float32))
    else:
        value = value.astype(_DTYPES[dtype][0])
    # np.ascontiguousarray would turn a 0-d array into shape [1]
    return np.array(value, dtype=value.dtype.newbyteorder("<"), order="C", copy=True), dtype


def save(path, tensors, metadata=None, dtype=None):
    """Write tensors (name -> torch tensor or numpy array) to path.

    dtype: None keeps each tensor's own type; "F32", "F16" or "BF16" converts
    every floating tensor. The header lists tensors sorted by name, data is laid
    out largest element size first then by name (as the reference writer does),
    and the header is padded with spaces to a multiple of 8 bytes."""
    if metadata is None:
        metadata = {"format": "pt"}
    prepared = {}
    for name, value in tensors.items():
        arr, _ = _to_numpy(value, None)
        is_float = arr.dtype.kind == "f"
        arr, dt = _to_numpy(value, dtype if (dtype and is_float) else None)
        prepared[name] = (arr, dt)
    order = sorted(prepared, key=lambda k: (-_DTYPES[prepared[k][1]][1], k))
    header = {}
    offset = 0
    for name in order:
        arr, dt = prepared[name]
        n = arr.nbytes
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [offset, offset + n]}
        offset += n
    full = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}} if metadata else {}
    for name in sorted(header):
        full[name] = header[name]
    text = json.dumps(full, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            f.write(prepared[name][0].tobytes())
    os.replace(tmp, path)


def read_index(index_path):
    """Parse a *.safetensors.index.json: returns {tensor name: shard file path}."""
    with open(index_path, "r", encoding="utf-8") as f:
        index = json.load(f)
    wm = index.get("weight_map")
    if not isinstance(wm, dict):
        raise SafetensorsError(f"{index_path}: no 'weight_map' object")
    base = os.path.dirname(index_path)
    return {name: os.path.join(base, shard) for name, shard in wm.items()}


def load_sharded_torch(index_path, dtype=None):
    """Load every tensor of a sharded checkpoint; checks each shard holds what
    the index says it holds."""
    wm = read_index(index_path)
    out = {}
    for shard in sorted(set(wm.values())):
        part = load_torch(shard, dtype=dtype)
        want = {n for n, s in wm.items() if s == shard}
        missing = want - set(part)
        if missing:
            raise SafetensorsError(f"{index_path}: {shard} lacks {sorted(missing)[:3]}")
        for name in want:
            out[name] = part[name]
    return out


def save_sharded(directory, basename, tensors, max_shard_bytes, metadata=None, dtype=None):
    """Write tensors as basename-0000K-of-0000N.safetensors shards plus
    basename.safetensors.index.json (the transformers/diffusers naming)."""
    names = sorted(tensors)
    shards, cur, cur_bytes = [], [], 0
    for n in names:
        arr, _ = _to_numpy(tensors[n], None)
        if cur and cur_bytes + arr.nbytes > max_shard_bytes:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append(n)
        cur_bytes += arr.nbytes
    if cur:
        shards.append(cur)
    stem = basename[: -len(".safetensors")] if basename.endswith(".safetensors") else basename
    weight_map, total = {}, 0
    for i, group in enumerate(shards):
        fname = f"{stem}-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        part = {n: tensors[n] for n in group}
        save(os.path.join(directory, fname), part, metadata=metadata, dtype=dtype)
        for n in group:
            weight_map[n] = fname
        total += sum(_to_numpy(tensors[n], dtype if dtype else None)[0].nbytes for n in group)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(directory, f"{stem}.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
