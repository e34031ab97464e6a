"""Deterministic train/held-out split of attribute combinations, so evaluation
can use compositions never seen in training (e.g. "red lighthouse" while red
things and lighthouses are both common). Not a sampler: vocab.sample_scene
draws scenes from either side."""

import functools
import hashlib

from . import vocab

# Pairs of factors whose joint values are split. 'object' and 'color' pairs
# cover every object of a scene, not only the main one.
PAIR_TYPES = (('object', 'color'), ('object', 'terrain'), ('terrain', 'time'),
              ('object', 'style'), ('terrain', 'weather'))
HELDOUT_FRACTION = 0.05
MIN_TRAIN_PARTNERS = 3   # every value keeps this many training partners


def _valid_pairs(ptype):
    a, b = ptype
    if ptype == ('object', 'color'):
        return [(o, c) for o in vocab.OBJECTS if o in vocab.COLORABLE for c in vocab.COLORS]
    if ptype == ('object', 'terrain'):
        return [(o, t) for o in vocab.OBJECTS for t in vocab.OBJECT_TERRAINS[o]]
    if ptype == ('object', 'style'):
        return [(o, s) for o in vocab.OBJECTS for s in vocab.STYLES]
    if ptype == ('terrain', 'time'):
        return [(t, x) for t in vocab.TERRAINS for x in vocab.TIMES]
    if ptype == ('terrain', 'weather'):
        return [(t, w) for t in vocab.TERRAINS for w in vocab.WEATHERS]
    raise ValueError(f'unknown pair type {ptype}')


def _rank(split_seed, ptype, pair):
    key = f'{split_seed}:{ptype[0]}-{ptype[1]}:{pair[0]}:{pair[1]}'.encode()
    return hashlib.sha256(key).hexdigest()


@functools.lru_cache(maxsize=8)
def heldout_pairs(fraction=HELDOUT_FRACTION, split_seed=0):
    """{(factor_a, factor_b): frozenset of (value_a, value_b)} held out of
    training. Chosen by hash order, greedily, so that every value keeps at
    least MIN_TRAIN_PARTNERS training partners (or all it has, if fewer)."""
    out = {}
    for ptype in PAIR_TYPES:
        pairs = _valid_pairs(ptype)
        target = int(round(fraction * len(pairs)))
        left = {}
        for a, b in pairs:
            left.setdefault((0, a), set()).add(b)
            left.setdefault((1, b), set()).add(a)
        need = {k: min(MIN_TRAIN_PARTNERS, len(v)) for k, v in left.items()}
        held = set()
        for pair in sorted(pairs, key=lambda p: _rank(split_seed, ptype, p)):
            if len(held) >= target:
                break
            a, b = pair
            if len(left[(0, a)]) - 1 < need[(0, a)] or len(left[(1, b)]) - 1 < need[(1, b)]:
                continue
            left[(0, a)].discard(b)
            left[(1, b)].discard(a)
            held.add(pair)
        out[ptype] = frozenset(held)
    return out


def scene_pairs(scene):
    """Set of (pair_type, (value_a, value_b)) present in a scene."""
    out = set()
    t, tm, w = scene['terrain'], scene['time'], scene['weather']
    out.add((('terrain', 'time'), (t, tm)))
    out.add((('terrain', 'weather'), (t, w)))
    for o in scene['objects']:
        out.add((('object', 'terrain'), (o['kind'], t)))
        out.add((('object', 'style'), (o['kind'], scene['style'])))
        if o['color'] is not None:
            out.add((('object', 'color'), (o['kind'], o['color'])))
    return out


def heldout_in(scene, fraction=HELDOUT_FRACTION, split_seed=0):
    """The held-out pairs a scene contains (empty list for a training scene)."""
    held = heldout_pairs(fraction, split_seed)
    return sorted((pt, p) for pt, p in scene_pairs(scene) if p in held[pt])


def split_of(scene, fraction=HELDOUT_FRACTION, split_seed=0):
    """'heldout' if the scene contains any held-out pair, else 'train'."""
    return 'heldout' if heldout_in(scene, fraction, split_seed) else 'train'


def heldout_combinations(fraction=HELDOUT_FRACTION, split_seed=0):
    """Flat list of held-out combinations, e.g.
    {'object': 'lighthouse', 'color': 'red'}; sorted, for printing and eval."""
    out = []
    for (fa, fb), pairs in heldout_pairs(fraction, split_seed).items():
        for a, b in sorted(pairs):
            out.append({fa: a, fb: b})
    return out


def fixed_for(combo):
    """sample_scene keyword arguments that force a held-out combination."""
    kw = {}
    for k, v in combo.items():
        kw['object' if k == 'object' else 'object_color' if k == 'color' else k] = v
    return kw
