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

Output (``--out``, default ``data/synthetic``)::

    classes.txt                      class names, line i = label i
    train_list_videos.txt            "<path> <label>" per line (VideoDataset)
    val_list_videos.txt
    test_list_videos.txt
    videos/{train,val,test}/*.avi
    meta.json                        the arguments; written last

The output is a function of the arguments (``--seed`` included): each clip
draws from its own random generator seeded by (seed, split, index).
Annotation files are written atomically at the end (temp file +
``os.replace``), so an interrupted run leaves none behind; running again
with the same arguments skips the work when the data are complete
(``--force`` regenerates).

Example::

    python tools/data/generate_synthetic.py --out data/synthetic
    python tools/data/generate_synthetic.py --out /tmp/tiny --train-per-class 2 \\
        --val-per-class 1 --test-per-class 1 --frames 16 --size 32
    # a harder variant (smaller objects, slower motion, more noise)
    python tools/data/generate_synthetic.py --out data/synthetic_hard \\
        --object-scale 0.06 0.1 --motion 0.5 --noise 30
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

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
MIN_SIZE = 32  # MoViNets stride 32 in space: smaller frames cannot be fed
MIN_FRAMES = 8
FORMAT_VERSION = 1
DEFAULT_OBJECT_SCALE = (0.1, 0.18)  # object radius, fraction of the frame
ORBIT_SCALE = (0.15, 0.25)  # circling radius, fraction of the frame


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


def check_args(args) -> None:
    """Raise ArgumentError for arguments that cannot work; writes nothing."""
    if osp.exists(args.out) and not osp.isdir(args.out):
        raise ArgumentError(f'--out {args.out} is an existing file; give a '
                            'directory (new or made by this tool)')
    if not args.classes:
        raise ArgumentError('no classes: give at least two of '
                            f'{", ".join(ALL_CLASSES)}')
    unknown = [c for c in args.classes if c not in ALL_CLASSES]
    if unknown:
        raise ArgumentError(f'unknown classes {unknown}; known: '
                            f'{", ".join(ALL_CLASSES)}')
    if len(set(args.classes)) != len(args.classes):
        raise ArgumentError(f'classes listed twice: {args.classes}')
    if len(args.classes) < 2:
        raise ArgumentError('a classification data set needs at least two '
                            f'classes, got {args.classes}')
    for split in SPLITS:
        count = getattr(args, f'{split}_per_class')
        if count < 1:
            raise ArgumentError(f'--{split}-per-class must be >= 1, got '
                                f'{count}')
    if len(args.frames) not in (1, 2):
        raise ArgumentError('--frames takes one length or a range MIN MAX')
    lo, hi = args.frames[0], args.frames[-1]
    if lo < MIN_FRAMES or hi < lo:
        raise ArgumentError(f'--frames must be >= {MIN_FRAMES} (and MIN <= '
                            f'MAX), got {args.frames}')
    if args.fps <= 0:
        raise ArgumentError(f'--fps must be > 0, got {args.fps}')
    if args.noise < 0:
        raise ArgumentError(f'--noise must be >= 0, got {args.noise}')
    lo_scale, hi_scale = args.object_scale
    # a circling object on the widest orbit must stay inside the frame
    largest = 0.5 - ORBIT_SCALE[1] - 1 / max(args.size, MIN_SIZE)
    if not 0 < lo_scale <= hi_scale <= largest:
        raise ArgumentError('--object-scale MIN MAX must satisfy 0 < MIN <= '
                            f'MAX <= {largest:.3f} (radius / frame size at '
                            f'--size {args.size}), got {args.object_scale}')
    if not 0 < args.motion <= 1.5:
        raise ArgumentError(f'--motion must be in (0, 1.5], got '
                            f'{args.motion}')
    if args.size < MIN_SIZE:
        raise ArgumentError(
            f'--size {args.size} is too small: MoViNets take frames of at '
            f'least {MIN_SIZE}x{MIN_SIZE} px (five stride-2 layers)')
    if args.size % 2:
        raise ArgumentError(f'--size must be even (decord 0.6 misreads odd '
                            f'frame widths), got {args.size}')
    problem = probe_decord(args.size, args.size)
    if problem:
        raise ArgumentError(
            f'--size {args.size}: a {args.size}x{args.size} video cannot be '
            f'used: {problem}. decord 0.6 fails on some sizes (e.g. 48, 72); '
            'try 32, 40, 56, 64, 80, 96 or 112')


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
def clip_plan(args) -> Dict[str, List[Tuple[str, int, int]]]:
    """(relative path, label, frames) of every clip, per split; classes
    interleaved, lengths drawn from the seed."""
    plan = {}
    lo, hi = args.frames[0], args.frames[-1]
    for s, split in enumerate(SPLITS):
        per_class = getattr(args, f'{split}_per_class')
        rng = np.random.default_rng([args.seed, s, 0xF4A3])
        entries = []
        for i in range(per_class * len(args.classes)):
            label = i % len(args.classes)
            frames = int(rng.integers(lo, hi + 1))
            name = f'{i:05d}_{args.classes[label]}.avi'
            entries.append((f'{split}/{name}', label, frames))
        plan[split] = entries
    return plan


def _atomic_write(path: str, text: str) -> None:
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def annotation_path(out: str, split: str) -> str:
    return osp.join(out, f'{split}_list_videos.txt')


def meta_of(args) -> dict:
    meta = dict(format_version=FORMAT_VERSION, classes=list(args.classes),
                pairs=[list(p) for p in class_pairs(args.classes)],
                seed=args.seed, size=args.size, frames=list(args.frames),
                fps=args.fps, noise=args.noise,
                per_class={s: getattr(args, f'{s}_per_class')
                           for s in SPLITS},
                video_dir='videos')
    # the harder-variant options are recorded only when set, so that data
    # generated with the defaults keep their meta (and stay complete)
    if tuple(args.object_scale) != DEFAULT_OBJECT_SCALE:
        meta['object_scale'] = list(args.object_scale)
    if args.motion != 1.0:
        meta['motion'] = args.motion
    return meta


def is_complete(args) -> bool:
    """The output holds a finished data set made with these arguments."""
    meta_file = osp.join(args.out, 'meta.json')
    try:
        with open(meta_file) as f:
            if json.load(f) != meta_of(args):
                return False
        for split in SPLITS:
            with open(annotation_path(args.out, split)) as f:
                for line in f:
                    rel = line.split()[0]
                    if not osp.isfile(osp.join(args.out, 'videos', rel)):
                        return False
    except (OSError, ValueError, IndexError):
        return False
    return True


def generate(args) -> dict:
    """Check the arguments, then write the data set. Returns its meta."""
    check_args(args)
    out = args.out
    meta = meta_of(args)
    if not args.force and is_complete(args):
        print(f'{out}: already generated with these arguments (--force to '
              'redo)')
        return meta
    # stale annotations would point at videos about to be rewritten
    for name in ['meta.json'] + [f'{s}_list_videos.txt' for s in SPLITS]:
        if osp.exists(osp.join(out, name)):
            os.remove(osp.join(out, name))
    plan = clip_plan(args)
    for split in SPLITS:
        os.makedirs(osp.join(out, 'videos', split), exist_ok=True)
    jobs = [(s, i, rel, label, frames) for s, split in enumerate(SPLITS)
            for i, (rel, label, frames) in enumerate(plan[split])]

    from rich.progress import (BarColumn, MofNCompleteColumn, Progress,
                               TextColumn, TimeRemainingColumn)
    columns = (TextColumn('[bold]generating clips'), BarColumn(),
               MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, disable=args.quiet) as progress:
        task = progress.add_task('clips', total=len(jobs))
        for s, i, rel, label, frames in jobs:
            rng = np.random.default_rng([args.seed, s, i])
            clip = render_clip(rng, args.classes[label], frames, args.size,
                               args.noise, tuple(args.object_scale),
                               args.motion)
            write_avi(osp.join(out, 'videos', rel), clip, args.fps)
            progress.advance(task)

    _atomic_write(osp.join(out, 'classes.txt'),
                  ''.join(f'{c}\n' for c in args.classes))
    for split in SPLITS:
        _atomic_write(annotation_path(out, split),
                      ''.join(f'{rel} {label}\n'
                              for rel, label, _ in plan[split]))
    _atomic_write(osp.join(out, 'meta.json'), json.dumps(meta, indent=1))
    counts = ', '.join(f'{len(plan[s])} {s}' for s in SPLITS)
    print(f'wrote {counts} clips of {args.size}x{args.size} px '
          f'({len(args.classes)} classes) to {out}')
    return meta


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Generate the synthetic frame-order video data set '
        '(MMAction2 VideoDataset layout).',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default='data/synthetic',
                        help='output directory')
    parser.add_argument('--classes', nargs='*', default=list(ALL_CLASSES),
                        help='class names to use (at least two)')
    parser.add_argument('--train-per-class', type=int, default=200)
    parser.add_argument('--val-per-class', type=int, default=8)
    parser.add_argument('--test-per-class', type=int, default=25)
    parser.add_argument('--frames', type=int, nargs='+', default=[32],
                        metavar='N', help='frames per clip: N, or a range '
                        'MIN MAX drawn per clip')
    parser.add_argument('--size', type=int, default=64,
                        help='frame width and height (px, even, >= 32)')
    parser.add_argument('--fps', type=float, default=25.0)
    parser.add_argument('--noise', type=float, default=12.0,
                        help='largest per-pixel Gaussian noise std (each '
                        'clip draws its own in [0, noise])')
    parser.add_argument('--object-scale', type=float, nargs=2,
                        default=list(DEFAULT_OBJECT_SCALE),
                        metavar=('MIN', 'MAX'),
                        help='object radius range, as a fraction of the '
                        'frame size (smaller: harder)')
    parser.add_argument('--motion', type=float, default=1.0,
                        help='scale of the motion (travel, turning speed, '
                        'growth) per clip; below 1 is slower and harder')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--force', action='store_true',
                        help='regenerate even if the output is complete')
    parser.add_argument('--quiet', action='store_true',
                        help='no progress bar')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        generate(args)
    except ArgumentError as error:
        print(f'generate_synthetic.py: error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
