"""Scene vocabulary: the closed word lists, the placement rules that say which
combinations make sense, and the sampler that turns a seed into a scene dict.
Not drawing (render.py) and not wording (caption.py)."""

import numpy as np

TIMES = ('dawn', 'day', 'sunset', 'dusk', 'night')
WEATHERS = ('clear', 'clouds', 'rain', 'snow', 'fog', 'storm')
TERRAINS = ('sea', 'lake', 'river', 'island', 'hills', 'mountains', 'volcano',
            'desert', 'forest', 'meadow', 'snowfield', 'city')
OBJECTS = ('lighthouse', 'house', 'castle', 'tower', 'tree', 'boat', 'bridge',
           'windmill', 'campfire', 'rainbow', 'birds')
COLORS = ('red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink',
          'white', 'black', 'brown', 'gray')
SKY_COLORS = ('red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink')
STYLES = ('realistic', 'watercolor', 'cartoon', 'bw', 'sketch')

# Daylight reflectance of each colour word (display space, 0..1).
RGB = {
    'red': (0.84, 0.14, 0.12), 'orange': (0.96, 0.52, 0.10),
    'yellow': (0.98, 0.85, 0.16), 'green': (0.20, 0.64, 0.22),
    'blue': (0.14, 0.34, 0.86), 'purple': (0.53, 0.22, 0.72),
    'pink': (0.98, 0.56, 0.74), 'white': (0.96, 0.96, 0.94),
    'black': (0.10, 0.10, 0.11), 'brown': (0.50, 0.30, 0.14),
    'gray': (0.56, 0.56, 0.58),
}

COLORABLE = frozenset(('lighthouse', 'house', 'castle', 'tower', 'tree', 'boat',
                       'bridge', 'windmill'))
LAND_OBJECTS = frozenset(('lighthouse', 'house', 'castle', 'tower', 'tree',
                          'windmill', 'campfire'))
SKY_OBJECTS = frozenset(('rainbow', 'birds'))

_ALL = TERRAINS
_LAND_TERRAINS = ('sea', 'lake', 'river', 'island', 'hills', 'mountains',
                  'volcano', 'desert', 'forest', 'meadow', 'snowfield')
# Where each object may stand. Water objects need water; a lighthouse needs a
# coast or a hill; a bridge needs a river (terrains without one grow a stream).
OBJECT_TERRAINS = {
    'lighthouse': ('sea', 'lake', 'island', 'hills', 'city'),
    'house': _ALL,
    'castle': _LAND_TERRAINS,
    'tower': _ALL,
    'tree': _ALL,
    'boat': ('sea', 'lake', 'river', 'island', 'city'),
    'bridge': ('river', 'city', 'hills', 'mountains', 'forest', 'meadow'),
    'windmill': ('sea', 'lake', 'river', 'island', 'hills', 'desert', 'meadow',
                 'snowfield'),
    'campfire': _LAND_TERRAINS,
    'rainbow': _ALL,
    'birds': _ALL,
}
OBJECT_TIMES = {'rainbow': ('dawn', 'day', 'sunset'),
                'birds': ('dawn', 'day', 'sunset', 'dusk')}
OBJECT_WEATHERS = {'rainbow': ('clear', 'clouds', 'rain'),
                   'birds': ('clear', 'clouds', 'rain', 'snow', 'fog')}
# Colours a viewer expects when none is named; the sampler favours them.
NATURAL_COLORS = {
    'lighthouse': ('red', 'white'), 'house': ('white', 'yellow', 'brown', 'red'),
    'castle': ('gray', 'white'), 'tower': ('gray', 'brown'), 'tree': ('green',),
    'boat': ('red', 'white', 'blue', 'brown'), 'bridge': ('gray', 'brown', 'red'),
    'windmill': ('white', 'brown'),
}
MAX_LAND = 3            # every terrain offers three standing places
WEATHER_P = {'clear': 0.24, 'clouds': 0.2, 'rain': 0.15, 'snow': 0.14,
             'fog': 0.13, 'storm': 0.14}
SKY_COLOR_P = 0.4       # chance that a scene names its sky colour
NO_OBJECT_P = 0.08      # chance of a landscape without objects
N_SECONDARY_P = (0.45, 0.4, 0.15)

# Factors of the flat attribute dict (attributes()), in a fixed order; 'none'
# stands for an absent value so every factor is a plain classification.
FACTORS = {
    'time': TIMES, 'weather': WEATHERS, 'terrain': TERRAINS, 'style': STYLES,
    'sky_color': ('none',) + SKY_COLORS, 'object': ('none',) + OBJECTS,
    'object_color': ('none',) + COLORS,
}


def compatible(kind, terrain, time, weather):
    """True if object `kind` may appear in this terrain, time and weather."""
    return (terrain in OBJECT_TERRAINS[kind]
            and time in OBJECT_TIMES.get(kind, TIMES)
            and weather in OBJECT_WEATHERS.get(kind, WEATHERS))


def scene_ok(scene):
    """Checks a scene dict against the placement rules; returns an error string or None."""
    for key, vals in (('time', TIMES), ('weather', WEATHERS), ('terrain', TERRAINS),
                      ('style', STYLES)):
        if scene.get(key) not in vals:
            return f'{key}: unknown value {scene.get(key)!r}'
    if scene.get('sky_color') not in (None,) + SKY_COLORS:
        return f'sky_color: unknown value {scene.get("sky_color")!r}'
    kinds = [o['kind'] for o in scene['objects']]
    if len(set(kinds)) != len(kinds):
        return 'objects: a kind appears twice'
    if sum(k in LAND_OBJECTS for k in kinds) > MAX_LAND:
        return 'objects: too many standing objects'
    for o in scene['objects']:
        k = o['kind']
        if k not in OBJECTS:
            return f'objects: unknown kind {k!r}'
        if not compatible(k, scene['terrain'], scene['time'], scene['weather']):
            return f'objects: {k} cannot appear in {scene["terrain"]}/{scene["time"]}/{scene["weather"]}'
        if (o.get('color') is not None) != (k in COLORABLE):
            return f'objects: {k} colour must be {"set" if k in COLORABLE else "None"}'
        if o.get('color') is not None and o['color'] not in COLORS:
            return f'objects: unknown colour {o["color"]!r}'
    return None


def _pick(rng, values, p=None):
    values = tuple(values)
    if not values:
        return None
    if p is not None:
        p = np.asarray(p, float)
        return values[int(rng.choice(len(values), p=p / p.sum()))]
    return values[int(rng.integers(len(values)))]


def _color(rng, kind):
    if kind not in COLORABLE:
        return None
    if rng.random() < 0.35:
        return _pick(rng, NATURAL_COLORS[kind])
    return _pick(rng, COLORS)


def _draw(rng, fixed):
    """One candidate scene (may return None when `fixed` leaves no choice)."""
    def choose(key, values, p=None):
        if key in fixed:
            return fixed[key] if fixed[key] in values else None
        return _pick(rng, values, p)

    time = choose('time', TIMES)
    weather = choose('weather', WEATHERS, [WEATHER_P[w] for w in WEATHERS])
    style = choose('style', STYLES)
    if 'sky_color' in fixed:
        sky = None if fixed['sky_color'] in (None, 'none') else fixed['sky_color']
    else:
        sky = _pick(rng, SKY_COLORS) if rng.random() < SKY_COLOR_P else None
    if None in (time, weather, style):
        return None
    terrains = (fixed['terrain'],) if 'terrain' in fixed else TERRAINS

    def objs_ok(t):
        return [k for k in OBJECTS if compatible(k, t, time, weather)]

    main = fixed.get('object', '')
    if main == '':
        main = None if rng.random() < NO_OBJECT_P else ''
    elif main == 'none':
        main = None
    if main == '':
        if rng.random() < 0.5:      # object first: balances object classes
            kinds = [k for k in OBJECTS
                     if any(compatible(k, t, time, weather) for t in terrains)]
            main = _pick(rng, kinds)
            if main is None:
                return None
            terrain = _pick(rng, [t for t in terrains if compatible(main, t, time, weather)])
        else:                       # terrain first: balances terrains
            terrain = _pick(rng, terrains)
            main = _pick(rng, objs_ok(terrain)) if terrain else None
    else:
        terrain = _pick(rng, [t for t in terrains if main is None
                              or compatible(main, t, time, weather)])
    if terrain is None:
        return None
    objects = []
    if main is not None:
        if main not in objs_ok(terrain):
            return None
        col = _color(rng, main)
        if main in COLORABLE and 'object_color' in fixed:
            col = fixed['object_color']
        objects.append({'kind': main, 'color': col})
        n2 = int(rng.choice(3, p=N_SECONDARY_P))
        for _ in range(n2):
            used = {o['kind'] for o in objects}
            n_land = sum(o['kind'] in LAND_OBJECTS for o in objects)
            cands = [k for k in objs_ok(terrain) if k not in used
                     and not (k in LAND_OBJECTS and n_land >= MAX_LAND)]
            k = _pick(rng, cands)
            if k is None:
                break
            objects.append({'kind': k, 'color': _color(rng, k)})
    elif fixed.get('object_color') not in (None, 'none'):
        return None
    return {'time': time, 'weather': weather, 'terrain': terrain, 'style': style,
            'sky_color': sky, 'objects': objects}


def sample_scene(seed, split='all', **fixed):
    """Scene dict for `seed`: {'seed', 'time', 'weather', 'terrain', 'style',
    'sky_color' (None or a colour), 'objects': [{'kind', 'color'}, ...]}; the
    first object is the main one. `split` is 'train', 'heldout' or 'all' (see
    split.py). Keyword arguments pin factors: time=, weather=, terrain=,
    style=, sky_color= ('none' for a natural sky), object= (main kind or
    'none'), object_color=. Raises ValueError when nothing satisfies them."""
    from .split import split_of
    if split not in ('train', 'heldout', 'all'):
        raise ValueError(f'split must be train, heldout or all, not {split!r}')
    bad = set(fixed) - set(FACTORS)
    if bad:
        raise ValueError(f'unknown factor(s): {sorted(bad)}')
    for key, val in fixed.items():
        if val is not None and val not in FACTORS[key]:
            raise ValueError(f'{key}: unknown value {val!r}')
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, 0x5CE7E])
    for _ in range(2000):
        sc = _draw(rng, fixed)
        if sc is None:
            continue
        if split == 'all' or split_of(sc) == split:
            sc = {'seed': int(seed), **sc}
            assert scene_ok(sc) is None, scene_ok(sc)
            return sc
    raise ValueError(f'no {split} scene satisfies {fixed}')


def attributes(scene):
    """Flat attribute dict for classifiers: one value per FACTORS key ('none'
    when absent) plus 'objects', the sorted list of all object kinds, and
    'colors', {kind: colour} for the coloured ones."""
    objs = scene['objects']
    main = objs[0] if objs else None
    return {
        'time': scene['time'], 'weather': scene['weather'],
        'terrain': scene['terrain'], 'style': scene['style'],
        'sky_color': scene['sky_color'] or 'none',
        'object': main['kind'] if main else 'none',
        'object_color': (main['color'] or 'none') if main else 'none',
        'objects': sorted(o['kind'] for o in objs),
        'colors': {o['kind']: o['color'] for o in objs if o['color']},
    }


def label_vector(attrs):
    """Integer class index per FACTORS key (in FACTORS order)."""
    return [FACTORS[k].index(attrs[k]) for k in FACTORS]


def objects_multi_hot(attrs):
    return [int(k in attrs['objects']) for k in OBJECTS]
