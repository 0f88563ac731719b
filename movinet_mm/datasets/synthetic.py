"""Generate a small synthetic video data set that only frame order can solve.

Every class comes with its time-reversed twin: ``move_left`` / ``move_right``,
``move_up`` / ``move_down``, ``rotate_clockwise`` /
``rotate_counterclockwise`` (the shape circles along an arc, turning with
it), ``approach`` / ``recede`` (it grows or shrinks). A clip of the second
class of a pair is a clip of the first class played backwards, drawn from the
same distribution of shapes, colours, speeds, backgrounds and noise. The set
of frames of a clip (ignoring their order) therefore has exactly the same
distribution in both classes of a pair: a model that does not use frame
order cannot beat 50% within a pair (it can still tell the pairs apart).
The videos are Motion-JPEG .avi files (every frame coded on its own, so the
codec adds nothing that depends on the direction of time), read with decord
through MMAction2's ``VideoDataset``.

Output (``out``; the tool's default is ``data/synthetic``)::

    classes.txt                      class names, line i = label i
    train_list_videos.txt            "<path> <label>" per line (VideoDataset)
    val_list_videos.txt
    test_list_videos.txt
    videos/{train,val,test}/*.avi
    meta.json                        the arguments; written last

The output is a function of the arguments (``seed`` included): each clip
draws from its own random generator seeded by (seed, split, index).
Annotation files are written atomically at the end (temp file +
``os.replace``), so an interrupted run leaves none behind; running again
with the same arguments skips the work when the data are complete
(``force`` regenerates).

Multi-label (``multi_label``; the tool's ``--multi-label``): every clip
holds 1 to ``MAX_OBJECTS`` (3) objects, each with its own motion class, all
different; its labels are the set of those classes. The frame is split into
a 2x2 grid of cells (``size / 2`` px each) and each object moves in a cell
of its own (``object_scale`` is then a fraction of the cell), so objects
never overlap; each object of a reversed class is the forward object played
backwards. The annotation lines are MMAction2's multi-label ones,
``<path> <label> <label> ...``, for ``VideoDataset(multi_class=True,
num_classes=len(classes))``. The ``per_class`` counts only set the number
of clips, ``train_per_class * len(classes)`` per split (with 8 classes and 2
labels per clip on average, a class is in about a quarter of the clips).

``tools/data/generate_synthetic.py`` is the command line; from Python::

    from movinet_mm.datasets.synthetic import SyntheticOptions, generate
    generate(SyntheticOptions(out='data/tiny', train_per_class=2, size=32))
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from movinet_mm.models.backbones.movinet_arch import MIN_FRAME_SIZE
from movinet_mm.utils.files import write_text_atomic

# Class pairs (a, b): a clip of b is a clip of a played backwards.
CLASS_PAIRS: Tuple[Tuple[str, str], ...] = (
    ('move_right', 'move_left'),
    ('move_down', 'move_up'),
    ('rotate_clockwise', 'rotate_counterclockwise'),
    ('approach', 'recede'),
)
ALL_CLASSES: Tuple[str, ...] = (
    'move_left', 'move_right', 'move_up', 'move_down', 'rotate_clockwise',
    'rotate_counterclockwise', 'approach', 'recede')
REVERSED_OF = {b: a for a, b in CLASS_PAIRS}
SPLITS = ('train', 'val', 'test')
MIN_SIZE = MIN_FRAME_SIZE  # smaller frames cannot be fed to a MoViNet
MIN_FRAMES = 8
FORMAT_VERSION = 1
DEFAULT_OBJECT_SCALE = (0.1, 0.18)  # object radius, fraction of the frame
ORBIT_SCALE = (0.15, 0.25)  # circling radius, fraction of the frame
MAX_OBJECTS = 3  # multi-label: objects (= labels) per clip, at most
GRID = 2  # multi-label: the frame is a GRID x GRID grid of cells
MIN_OBJECT_RADIUS = 2.0  # multi-label: smallest object radius, px


@dataclass
class SyntheticOptions:
    """What :func:`generate` makes; the tool's flags, with its defaults
    (its argparse namespace works as well)."""
    out: str = 'data/synthetic'
    classes: List[str] = field(default_factory=lambda: list(ALL_CLASSES))
    train_per_class: int = 200
    val_per_class: int = 8
    test_per_class: int = 25
    # one length, or a range [MIN, MAX] drawn per clip
    frames: List[int] = field(default_factory=lambda: [32])
    size: int = 64
    fps: float = 25.0
    noise: float = 12.0  # largest per-clip Gaussian noise std
    object_scale: List[float] = field(
        default_factory=lambda: list(DEFAULT_OBJECT_SCALE))
    motion: float = 1.0
    seed: int = 0
    multi_label: bool = False  # 1-3 objects per clip, one label each
    force: bool = False
    quiet: bool = False  # no progress bar


def class_pairs(classes: Sequence[str]) -> List[Tuple[str, str]]:
    """The (a, b) pairs of ``CLASS_PAIRS`` whose two classes are both used."""
    return [p for p in CLASS_PAIRS if p[0] in classes and p[1] in classes]


# ---------------------------------------------------------------- checks
class ArgumentError(ValueError):
    """Arguments that cannot produce a usable data set."""


def probe_decord(width: int, height: int) -> Optional[str]:
    """Write a 3-frame MJPG clip of this size to a temp dir and read it back
    with decord; return why it fails, or None.

    decord 0.6 misreads some frame sizes (odd widths, 48 and 72 px among
    them) with a buffer-size error, so a size is only accepted once decord
    has read it.
    """
    import cv2
    tmp = tempfile.mkdtemp(prefix='movinet_probe_')
    try:
        path = osp.join(tmp, 'probe.avi')
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 25,
                                 (width, height))
        if not writer.isOpened():
            return 'OpenCV cannot write MJPG .avi videos here'
        frames = np.random.default_rng(0).integers(
            0, 255, (3, height, width, 3), dtype=np.uint8)
        for frame in frames:
            writer.write(frame)
        writer.release()
        try:
            import decord
            reader = decord.VideoReader(path)
            got = reader.get_batch([0, 1, 2]).asnumpy()
        except Exception as error:  # noqa: BLE001  (any decord failure)
            return f'decord cannot read it ({type(error).__name__}: ' \
                   f'{str(error).strip().splitlines()[0][:120]})'
        if got.shape != (3, height, width, 3):
            return f'decord returned frames of shape {got.shape[1:]}'
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_args(opts) -> None:
    """Raise ArgumentError for arguments that cannot work; writes nothing."""
    if osp.exists(opts.out) and not osp.isdir(opts.out):
        raise ArgumentError(f'--out {opts.out} is an existing file; give a '
                            'directory (new or made by this tool)')
    if not opts.classes:
        raise ArgumentError('no classes: give at least two of '
                            f'{", ".join(ALL_CLASSES)}')
    unknown = [c for c in opts.classes if c not in ALL_CLASSES]
    if unknown:
        raise ArgumentError(f'unknown classes {unknown}; known: '
                            f'{", ".join(ALL_CLASSES)}')
    if len(set(opts.classes)) != len(opts.classes):
        raise ArgumentError(f'classes listed twice: {opts.classes}')
    if len(opts.classes) < 2:
        raise ArgumentError('a classification data set needs at least two '
                            f'classes, got {opts.classes}')
    for split in SPLITS:
        count = getattr(opts, f'{split}_per_class')
        if count < 1:
            raise ArgumentError(f'--{split}-per-class must be >= 1, got '
                                f'{count}')
    if len(opts.frames) not in (1, 2):
        raise ArgumentError('--frames takes one length or a range MIN MAX')
    lo, hi = opts.frames[0], opts.frames[-1]
    if lo < MIN_FRAMES or hi < lo:
        raise ArgumentError(f'--frames must be >= {MIN_FRAMES} (and MIN <= '
                            f'MAX), got {opts.frames}')
    if opts.fps <= 0:
        raise ArgumentError(f'--fps must be > 0, got {opts.fps}')
    if opts.noise < 0:
        raise ArgumentError(f'--noise must be >= 0, got {opts.noise}')
    lo_scale, hi_scale = opts.object_scale
    # a circling object on the widest orbit must stay inside the frame
    # (multi-label: inside its cell, checked below)
    largest = 0.5 - ORBIT_SCALE[1] - 1 / max(opts.size, MIN_SIZE)
    if not is_multi_label(opts) and not (
            0 < lo_scale <= hi_scale <= largest):
        raise ArgumentError('--object-scale MIN MAX must satisfy 0 < MIN <= '
                            f'MAX <= {largest:.3f} (radius / frame size at '
                            f'--size {opts.size}), got {opts.object_scale}')
    if not 0 < opts.motion <= 1.5:
        raise ArgumentError(f'--motion must be in (0, 1.5], got '
                            f'{opts.motion}')
    if opts.size < MIN_SIZE:
        raise ArgumentError(
            f'--size {opts.size} is too small: MoViNets take frames of at '
            f'least {MIN_SIZE}x{MIN_SIZE} px (five stride-2 layers)')
    if opts.size % 2:
        raise ArgumentError(f'--size must be even (decord 0.6 misreads odd '
                            f'frame widths), got {opts.size}')
    if is_multi_label(opts):
        check_multi_label(opts)
    problem = probe_decord(opts.size, opts.size)
    if problem:
        raise ArgumentError(
            f'--size {opts.size}: a {opts.size}x{opts.size} video cannot be '
            f'used: {problem}. decord 0.6 fails on some sizes (e.g. 48, 72); '
            'try 32, 40, 56, 64, 80, 96 or 112')


def is_multi_label(opts) -> bool:
    return bool(getattr(opts, 'multi_label', False))


def check_multi_label(opts) -> None:
    """The grid must hold ``MAX_OBJECTS`` objects: each in its own cell of
    ``size / GRID`` px, with a radius of at least ``MIN_OBJECT_RADIUS`` px,
    circling on the widest orbit without leaving its cell."""
    cell = opts.size // GRID
    lo_scale, hi_scale = opts.object_scale
    largest = 0.5 - ORBIT_SCALE[1] - 1 / cell
    smallest = MIN_OBJECT_RADIUS / cell
    if not smallest <= lo_scale <= hi_scale <= largest:
        raise ArgumentError(
            f'--multi-label: {MAX_OBJECTS} objects do not fit a '
            f'{opts.size}x{opts.size} frame with --object-scale '
            f'{lo_scale:g} {hi_scale:g}: each object moves in a cell of '
            f'{cell}x{cell} px (a {GRID}x{GRID} grid) and needs '
            f'{smallest:.3f} <= MIN <= MAX <= {largest:.3f} (radius / cell '
            f'size, at least {MIN_OBJECT_RADIUS:g} px); use a larger --size '
            f'(e.g. 64) or another --object-scale')


# ------------------------------------------------------------- rendering
# Colours are BGR (OpenCV). Backgrounds are darker than the objects: a
# bright background that changes from clip to clip swamps, early in
# training, the small motion signal a network starts from (a from-scratch
# model then needs far more than the demo's minutes to learn); hues,
# saturations, gradients and textures still vary freely.
LUMA = np.array([0.114, 0.587, 0.299])  # of a BGR colour
BACKGROUND_MAX = 110.0  # brightest background channel value
MIN_CONTRAST = 80.0  # object luma - background luma


def _random_color(rng, low: float = 0.0, high: float = 255.0) -> np.ndarray:
    return rng.uniform(low, high, 3)


def _background(rng, size: int) -> np.ndarray:
    """A static background: flat, a linear gradient or a smooth texture."""
    kind = rng.choice(['flat', 'gradient', 'texture'])
    c0 = _random_color(rng, 0, BACKGROUND_MAX)
    if kind == 'flat':
        bg = np.broadcast_to(c0, (size, size, 3)).copy()
    elif kind == 'gradient':
        c1 = _random_color(rng, 0, BACKGROUND_MAX)
        angle = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
        t = (np.cos(angle) * xx + np.sin(angle) * yy)
        t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
        bg = c0 * (1 - t[..., None]) + c1 * t[..., None]
    else:
        import cv2
        cells = int(rng.integers(3, 7))
        coarse = rng.normal(0, 1, (cells, cells, 3))
        smooth = cv2.resize(coarse, (size, size),
                            interpolation=cv2.INTER_CUBIC)
        bg = c0 + rng.uniform(8, 20) * smooth
    return np.clip(bg, 0, BACKGROUND_MAX)


def _object_color(rng, background: np.ndarray) -> np.ndarray:
    """A random colour clearly brighter than the background."""
    floor = float(background.reshape(-1, 3).mean(0) @ LUMA) + MIN_CONTRAST
    for _ in range(1000):
        color = _random_color(rng)
        if color @ LUMA >= floor:
            return color
    return np.full(3, 255.0)


def _shape(rng) -> Tuple[str, np.ndarray]:
    """A shape as polygon vertices at the unit scale (radius <= 1): an
    irregular polygon, a star, an ellipse or a bar with a knob."""
    kind = rng.choice(['polygon', 'star', 'ellipse', 'bar'])
    if kind == 'polygon':
        n = int(rng.integers(3, 8))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radii = rng.uniform(0.45, 1.0, n)
    elif kind == 'star':
        n = int(rng.integers(3, 6))
        angles = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
        angles = angles + rng.uniform(-0.15, 0.15, 2 * n)
        radii = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(
            0.35, 0.6)) * rng.uniform(0.75, 1.0, 2 * n)
    elif kind == 'ellipse':
        angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
        a, b = 1.0, rng.uniform(0.45, 1.0)
        tilt = rng.uniform(0, np.pi)
        x, y = a * np.cos(angles), b * np.sin(angles)
        pts = np.stack([x * np.cos(tilt) - y * np.sin(tilt),
                        x * np.sin(tilt) + y * np.cos(tilt)], 1)
        return str(kind), pts
    else:  # a bar with a knob at one end: a clock hand
        w = rng.uniform(0.18, 0.3)
        pts = np.array([[-0.35, -w], [0.7, -w], [0.7, -2 * w], [1.0, 0],
                        [0.7, 2 * w], [0.7, w], [-0.35, w]])
        return str(kind), pts
    pts = np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    return str(kind), pts


def _draw(canvas: np.ndarray, pts: np.ndarray, color) -> None:
    import cv2
    shift = 4  # sub-pixel vertex positions (1/16 px): smooth slow motion
    poly = np.round(pts * (1 << shift)).astype(np.int32)
    cv2.fillPoly(canvas, [poly], tuple(float(c) for c in color),
                 lineType=cv2.LINE_AA, shift=shift)


def _trajectory(rng, kind: str, frames: int, size: int, radius: float,
                motion: float = 1.0):
    """Per-frame centre (x, y), scale and rotation angle for the forward
    member of a pair (move_right, move_down, rotate_clockwise, approach)."""
    t = np.linspace(0.0, 1.0, frames)
    centre = np.full((frames, 2), size / 2.0)
    scale = np.full(frames, radius)
    angle = np.full(frames, rng.uniform(0, 2 * np.pi))
    margin = radius + 1
    if kind in ('move_right', 'move_down'):
        axis = 0 if kind == 'move_right' else 1
        travel = rng.uniform(0.4, 1.0) * (size - 2 * margin)
        if motion != 1.0:  # slower (< 1) or faster; 1 keeps the old draws
            travel = min(travel * motion, size - 2 * margin)  # in frame
        start = rng.uniform(margin, max(margin, size - margin - travel))
        centre[:, axis] = start + travel * t
        centre[:, 1 - axis] = rng.uniform(margin, size - margin)
        angle += rng.uniform(-0.3, 0.3) * t  # a little spin either way
    elif kind == 'rotate_clockwise':
        # circling: the shape travels along a circular arc and turns with
        # it, like a car on a roundabout; in image coordinates (y down) a
        # growing angle goes clockwise
        speed = np.deg2rad(rng.uniform(6, 12))  # per frame
        if motion != 1.0:
            speed *= motion
        phase = rng.uniform(0, 2 * np.pi) + speed * np.arange(frames)
        orbit = rng.uniform(*ORBIT_SCALE) * size
        reach = orbit + margin
        middle = rng.uniform(reach, max(reach, size - reach), 2)
        centre = middle + orbit * np.stack([np.cos(phase), np.sin(phase)], 1)
        angle = angle + phase - phase[0]
    elif kind == 'approach':
        ratio = rng.uniform(1.8, 3.0)
        if motion != 1.0:
            ratio **= motion  # the growth over the clip
        small = radius / np.sqrt(ratio)
        scale = small * ratio**t  # geometric: constant relative speed
        big = small * ratio + 1
        centre[:] = rng.uniform(big * 0.8, size - big * 0.8, 2)
    else:
        raise ValueError(kind)
    return centre, scale, angle


def render_clip(rng, label_name: str, frames: int, size: int,
                noise: float, object_scale: Sequence[float] = (0.1, 0.18),
                motion: float = 1.0) -> np.ndarray:
    """One clip ``[T, size, size, 3]`` uint8 (BGR) of class ``label_name``."""
    forward = REVERSED_OF.get(label_name, label_name)
    background = _background(rng, size)
    color = _object_color(rng, background)
    _, pts = _shape(rng)
    radius = rng.uniform(*object_scale) * size
    centre, scale, angle = _trajectory(rng, forward, frames, size, radius,
                                       motion)
    sigma = rng.uniform(0, noise)
    clip = np.empty((frames, size, size, 3), np.uint8)
    for i in range(frames):
        c, s = np.cos(angle[i]), np.sin(angle[i])
        rot = np.array([[c, -s], [s, c]])
        canvas = background.copy()
        _draw(canvas, pts @ rot.T * scale[i] + centre[i], color)
        if sigma > 0:
            canvas += rng.normal(0, sigma, canvas.shape)
        clip[i] = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    if forward != label_name:
        clip = clip[::-1]  # the reversed twin
    return np.ascontiguousarray(clip)


def render_multi_clip(rng, label_names: Sequence[str], frames: int,
                      size: int, noise: float,
                      object_scale: Sequence[float] = DEFAULT_OBJECT_SCALE,
                      motion: float = 1.0) -> np.ndarray:
    """One multi-label clip ``[T, size, size, 3]`` uint8 (BGR): an object
    per name in ``label_names``, each moving in its own cell of a
    ``GRID`` x ``GRID`` grid (``object_scale``: radius / cell size)."""
    if len(label_names) > GRID * GRID:
        raise ValueError(f'at most {GRID * GRID} objects, got {label_names}')
    background = _background(rng, size)
    cell = size // GRID
    cells = rng.permutation(GRID * GRID)[:len(label_names)]
    objects = []
    for name, index in zip(label_names, cells):
        x0, y0 = int(index % GRID) * cell, int(index // GRID) * cell
        forward = REVERSED_OF.get(name, name)
        color = _object_color(rng, background[y0:y0 + cell, x0:x0 + cell])
        _, pts = _shape(rng)
        radius = rng.uniform(*object_scale) * cell
        centre, scale, angle = _trajectory(rng, forward, frames, cell,
                                           radius, motion)
        if forward != name:  # the reversed twin: this object backwards
            centre, scale, angle = centre[::-1], scale[::-1], angle[::-1]
        objects.append((x0, y0, color, pts, centre, scale, angle))
    sigma = rng.uniform(0, noise)
    clip = np.empty((frames, size, size, 3), np.uint8)
    for i in range(frames):
        canvas = background.copy()
        for x0, y0, color, pts, centre, scale, angle in objects:
            c, s = np.cos(angle[i]), np.sin(angle[i])
            rot = np.array([[c, -s], [s, c]])
            # drawn in a copy of its cell: nothing spills into another one
            part = canvas[y0:y0 + cell, x0:x0 + cell].copy()
            _draw(part, pts @ rot.T * scale[i] + centre[i], color)
            canvas[y0:y0 + cell, x0:x0 + cell] = part
        if sigma > 0:
            canvas += rng.normal(0, sigma, canvas.shape)
        clip[i] = np.clip(np.round(canvas), 0, 255).astype(np.uint8)
    return clip


def write_avi(path: str, clip: np.ndarray, fps: float) -> None:
    """Write a clip as Motion-JPEG .avi, atomically (temp name, rename)."""
    import cv2
    tmp = path[:-len('.avi')] + '.partial.avi'
    size = (clip.shape[2], clip.shape[1])
    writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*'MJPG'), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV cannot write {tmp}')
    for frame in clip:
        writer.write(frame)
    writer.release()
    os.replace(tmp, path)


# -------------------------------------------------------------- data set
def clip_plan(opts) -> Dict[str, List[Tuple[str, Any, int]]]:
    """(relative path, label, frames) of every clip, per split; classes
    interleaved, lengths drawn from the seed. Multi-label: the label is a
    sorted tuple of 1 to ``MAX_OBJECTS`` different labels, drawn from the
    seed."""
    if is_multi_label(opts):
        return multi_label_plan(opts)
    plan = {}
    lo, hi = opts.frames[0], opts.frames[-1]
    for s, split in enumerate(SPLITS):
        per_class = getattr(opts, f'{split}_per_class')
        rng = np.random.default_rng([opts.seed, s, 0xF4A3])
        entries = []
        for i in range(per_class * len(opts.classes)):
            label = i % len(opts.classes)
            frames = int(rng.integers(lo, hi + 1))
            name = f'{i:05d}_{opts.classes[label]}.avi'
            entries.append((f'{split}/{name}', label, frames))
        plan[split] = entries
    return plan


def multi_label_plan(opts) -> Dict[str, List[Tuple[str, Tuple[int, ...],
                                                  int]]]:
    plan = {}
    lo, hi = opts.frames[0], opts.frames[-1]
    num_classes = len(opts.classes)
    most = min(MAX_OBJECTS, num_classes)
    for s, split in enumerate(SPLITS):
        per_class = getattr(opts, f'{split}_per_class')
        rng = np.random.default_rng([opts.seed, s, 0x3A17])
        entries = []
        for i in range(per_class * num_classes):
            count = int(rng.integers(1, most + 1))
            labels = tuple(sorted(int(c) for c in rng.choice(
                num_classes, count, replace=False)))
            frames = int(rng.integers(lo, hi + 1))
            names = '+'.join(opts.classes[c] for c in labels)
            entries.append((f'{split}/{i:05d}_{names}.avi', labels, frames))
        plan[split] = entries
    return plan


def annotation_line(rel: str, label) -> str:
    """``<path> <label>``, or ``<path> <label> <label> ...`` (multi-label:
    MMAction2's ``VideoDataset(multi_class=True)`` format)."""
    if isinstance(label, (tuple, list)):
        return ' '.join([rel, *map(str, label)]) + '\n'
    return f'{rel} {label}\n'


def annotation_path(out: str, split: str) -> str:
    return osp.join(out, f'{split}_list_videos.txt')


def meta_of(opts) -> dict:
    meta = dict(format_version=FORMAT_VERSION, classes=list(opts.classes),
                pairs=[list(p) for p in class_pairs(opts.classes)],
                seed=opts.seed, size=opts.size, frames=list(opts.frames),
                fps=opts.fps, noise=opts.noise,
                per_class={s: getattr(opts, f'{s}_per_class')
                           for s in SPLITS},
                video_dir='videos')
    # the harder-variant options are recorded only when set, so that data
    # generated with the defaults keep their meta (and stay complete)
    if tuple(opts.object_scale) != DEFAULT_OBJECT_SCALE:
        meta['object_scale'] = list(opts.object_scale)
    if opts.motion != 1.0:
        meta['motion'] = opts.motion
    if is_multi_label(opts):
        meta.update(multi_label=True, num_classes=len(opts.classes),
                    max_objects=min(MAX_OBJECTS, len(opts.classes)),
                    grid=GRID)
    return meta


def is_complete(opts) -> bool:
    """The output holds a finished data set made with these arguments."""
    meta_file = osp.join(opts.out, 'meta.json')
    try:
        with open(meta_file) as f:
            if json.load(f) != meta_of(opts):
                return False
        for split in SPLITS:
            with open(annotation_path(opts.out, split)) as f:
                for line in f:
                    rel = line.split()[0]
                    if not osp.isfile(osp.join(opts.out, 'videos', rel)):
                        return False
    except (OSError, ValueError, IndexError):
        return False
    return True


def generate(opts) -> dict:
    """Check ``opts`` (a :class:`SyntheticOptions`), then write the data
    set; raises :class:`ArgumentError` before writing anything if it cannot
    be made. Returns its meta."""
    check_args(opts)
    out = opts.out
    meta = meta_of(opts)
    if not opts.force and is_complete(opts):
        print(f'{out}: already generated with these arguments (--force to '
              'redo)')
        return meta
    # stale annotations would point at videos about to be rewritten
    for name in ['meta.json'] + [f'{s}_list_videos.txt' for s in SPLITS]:
        if osp.exists(osp.join(out, name)):
            os.remove(osp.join(out, name))
    plan = clip_plan(opts)
    for split in SPLITS:
        os.makedirs(osp.join(out, 'videos', split), exist_ok=True)
    jobs = [(s, i, rel, label, frames) for s, split in enumerate(SPLITS)
            for i, (rel, label, frames) in enumerate(plan[split])]

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )
    columns = (TextColumn('[bold]generating clips'), BarColumn(),
               MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=opts.quiet) as progress:
        task = progress.add_task('clips', total=len(jobs))
        for s, i, rel, label, frames in jobs:
            rng = np.random.default_rng([opts.seed, s, i])
            if is_multi_label(opts):
                clip = render_multi_clip(
                    rng, [opts.classes[c] for c in label], frames, opts.size,
                    opts.noise, tuple(opts.object_scale), opts.motion)
            else:
                clip = render_clip(rng, opts.classes[label], frames,
                                   opts.size, opts.noise,
                                   tuple(opts.object_scale), opts.motion)
            write_avi(osp.join(out, 'videos', rel), clip, opts.fps)
            progress.advance(task)

    write_text_atomic(osp.join(out, 'classes.txt'),
                      ''.join(f'{c}\n' for c in opts.classes))
    for split in SPLITS:
        write_text_atomic(annotation_path(out, split),
                          ''.join(annotation_line(rel, label)
                                  for rel, label, _ in plan[split]))
    write_text_atomic(osp.join(out, 'meta.json'), json.dumps(meta, indent=1))
    counts = ', '.join(f'{len(plan[s])} {s}' for s in SPLITS)
    kind = ', multi-label: 1-{} objects per clip'.format(
        meta['max_objects']) if is_multi_label(opts) else ''
    print(f'wrote {counts} clips of {opts.size}x{opts.size} px '
          f'({len(opts.classes)} classes{kind}) to {out}')
    return meta
