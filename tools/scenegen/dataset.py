"""Datasets: one-call generation, the sharded .npy writer (parallel, with
results independent of the worker count), a loader, and contact sheets.
Not the drawing (render.py) nor the vocabulary (vocab.py)."""

import json
import os

import numpy as np

from . import vocab
from .caption import make_caption
from .render import render_scene
from .split import split_of

FORMAT_VERSION = 1


def item_seed(base_seed, index):
    """Seed of dataset item `index`: a function of (base_seed, index) only."""
    ss = np.random.SeedSequence([int(base_seed) & 0xFFFFFFFF, int(index) & 0xFFFFFFFF, 0x5EED])
    return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


def generate(seed, size=256, split='all', with_mask=False, **fixed):
    """(image uint8 HxWx3, caption, attributes) for a seed; see sample_scene
    for `split` and the factors that `fixed` may pin. attributes is
    vocab.attributes(scene) plus 'scene' (the full scene dict) and 'split'.
    with_mask=True adds the objects' mask (render_scene) as a fourth item."""
    scene = vocab.sample_scene(seed, split=split, **fixed)
    out = render_scene(scene, size, with_mask=with_mask)
    img = out[0] if with_mask else out
    attrs = vocab.attributes(scene)
    attrs['split'] = split_of(scene)
    attrs['scene'] = scene
    if with_mask:
        return img, make_caption(scene), attrs, out[1]
    return img, make_caption(scene), attrs


def _shard(args):
    out_dir, shard, start, count, size, base_seed, split = args
    h, w = (size, size) if isinstance(size, int) else size
    imgs = np.zeros((count, h, w, 3), np.uint8)
    labels = np.zeros((count, len(vocab.FACTORS)), np.int16)
    multi = np.zeros((count, len(vocab.OBJECTS)), np.uint8)
    lines = []
    for j in range(count):
        idx = start + j
        img, cap, attrs = generate(item_seed(base_seed, idx), (h, w), split)
        imgs[j] = img
        labels[j] = vocab.label_vector(attrs)
        multi[j] = vocab.objects_multi_hot(attrs)
        scene = attrs.pop('scene')
        lines.append(json.dumps({'index': idx, 'caption': cap, 'attributes': attrs, 'scene': scene},
                                sort_keys=True))
    stem = os.path.join(out_dir, f'shard_{shard:05d}')
    for suffix, arr in (('images', imgs), ('labels', labels), ('objects', multi)):
        tmp = f'{stem}.{suffix}.tmp.npy'
        np.save(tmp, arr)
        os.replace(tmp, f'{stem}.{suffix}.npy')
    with open(stem + '.jsonl.tmp', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(stem + '.jsonl.tmp', stem + '.jsonl')
    return shard, count


def write_dataset(out_dir, n, size=128, seed=0, split='train', shard_size=1024, workers=1,
                  progress=None):
    """Writes n items to out_dir as shards:
      shard_NNNNN.images.npy   uint8 (N, H, W, 3)
      shard_NNNNN.labels.npy   int16 (N, len(FACTORS)): class index per factor
      shard_NNNNN.objects.npy  uint8 (N, len(OBJECTS)): multi-hot object kinds
      shard_NNNNN.jsonl        {"index", "caption", "attributes", "scene"} per line
      meta.json                sizes, seed, split, factor and object value lists
    Item i is generate(item_seed(seed, i), size, split) whatever `workers` is.
    Existing complete shards with matching meta are kept (resumable)."""
    size = size if isinstance(size, int) else tuple(size)
    os.makedirs(out_dir, exist_ok=True)
    meta = {'format': FORMAT_VERSION, 'count': int(n), 'size': size, 'seed': int(seed),
            'split': split, 'shard_size': int(shard_size),
            'factors': {k: list(v) for k, v in vocab.FACTORS.items()},
            'objects': list(vocab.OBJECTS)}
    meta_path = os.path.join(out_dir, 'meta.json')
    same = False
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            same = json.load(f) == json.loads(json.dumps(meta))
    jobs = []
    for shard, start in enumerate(range(0, n, shard_size)):
        stem = os.path.join(out_dir, f'shard_{shard:05d}')
        if same and all(os.path.exists(f'{stem}.{s}') for s in
                        ('images.npy', 'labels.npy', 'objects.npy', 'jsonl')):
            continue
        jobs.append((out_dir, shard, start, min(shard_size, n - start), size, seed, split))
    meta['shards'] = (n + shard_size - 1) // shard_size
    with open(meta_path, 'w') as f:
        json.dump({k: v for k, v in meta.items() if k != 'shards'}, f, indent=1)
    if workers > 1 and len(jobs) > 1:
        import multiprocessing as mp
        with mp.get_context('fork').Pool(workers) as pool:
            for shard, count in pool.imap_unordered(_shard, jobs):
                if progress:
                    progress(shard, count)
    else:
        for job in jobs:
            shard, count = _shard(job)
            if progress:
                progress(shard, count)
    return meta


def load_dataset(out_dir, mmap=True):
    """Generator of (images, labels, objects, records) per shard."""
    with open(os.path.join(out_dir, 'meta.json')) as f:
        meta = json.load(f)
    n_shards = (meta['count'] + meta['shard_size'] - 1) // meta['shard_size']
    for shard in range(n_shards):
        stem = os.path.join(out_dir, f'shard_{shard:05d}')
        mode = 'r' if mmap else None
        imgs = np.load(stem + '.images.npy', mmap_mode=mode)
        labels = np.load(stem + '.labels.npy')
        objs = np.load(stem + '.objects.npy')
        with open(stem + '.jsonl') as f:
            recs = [json.loads(line) for line in f if line.strip()]
        yield imgs, labels, objs, recs


def contact_sheet(images, cols=6, pad=4, bg=255):
    """Tiles equally sized uint8 images into one array."""
    images = list(images)
    h, w = images[0].shape[:2]
    rows = (len(images) + cols - 1) // cols
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), bg, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        sheet[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return sheet


def save_png(path, img, palette=False):
    """Writes a PNG; palette=True quantises to 256 colours (a third of the size)."""
    from PIL import Image
    im = Image.fromarray(np.ascontiguousarray(img))
    if palette:
        im = im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    im.save(path, optimize=True)
