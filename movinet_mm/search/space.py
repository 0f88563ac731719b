"""The MoViNet search space as data, and the architectures sampled from it.

The space (Kondratyuk et al., CVPR 2021, §3.1) is MobileNetV3's extended to
video. A network is a stem (a 1x3x3 conv, stride 2), five blocks of
bottleneck layers, a 1x1x1 projection and the classifier head. The first
layer of every block but the 4th downsamples spatially by 2 (a 224 input
ends at 7x7). Searched:

- per width (stem, each block, the final projection) a multiplier in
  {0.75, 1, 1.25} of the base width (16; 24, 48, 96, 96, 192; 512), rounded
  to the nearest multiple of 8 (halves up, at least 8);
- per block the number of layers, 1 to 10;
- per layer the depthwise kernel among 1x3x3, 1x5x5, 1x7x7 (spatial),
  5x1x1, 7x1x1 (temporal), 3x3x3, 5x3x3 (spatiotemporal), and the expansion
  width as a ratio of the block's width (rounded the same way);
- the input: frames T, frame stride tau, resolution S.

Where the official models sit (computed by :func:`locate`, see
``tests/search/test_space.py``): **A2 lies in the space** with every width
multiplier at 0.75 except the projection's at 1.25 (stem 16; blocks 16, 40,
72, 72, 144; projection 640), depths (3, 5, 5, 6, 7), kernels among 1x3x3,
1x5x5, 3x3x3, 5x3x3 and expansion ratios among the default set (which is
chosen to contain A2's: the paper does not list its own), at 224 px and 50
frames at stride 5. The others are A2 scaled (compound scaling,
:mod:`movinet_mm.search.scaling`) and fall outside it: A0 and T0 are narrower
(stem and block 1 of 8 channels, below 0.75 x 16); A1 has widths between
the multiples (blocks 3 and 4 of 64 channels vs. 72 / 96 / 120, block 5 of
136, projection 600); A3 too (blocks 3 and 4 of 80 and 88) and two
expansions off the ratio set; A4 and A5 are deeper than 10 layers in a
block (13 in A4's block 5, 11 to 18 in A5's) and wider.

An :class:`Architecture` (a sample) is an ``ArchSpec`` that
``MoViNet(arch=...)`` builds, base or causal, plus its input (frames,
frame stride, resolution) and the decisions that made it.
"""
import random
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Tuple, Union

from movinet_mm.models.backbones.movinet_arch import (
    MIN_FRAME_SIZE,
    ArchSpec,
    BlockSpec,
    LayerSpec,
    arch_from_dict,
    arch_to_dict,
)

Triple = Tuple[int, int, int]

KERNELS: Tuple[Triple, ...] = ((1, 3, 3), (1, 5, 5), (1, 7, 7), (5, 1, 1),
                               (7, 1, 1), (3, 3, 3), (5, 3, 3))
# Ratios of a layer's expansion width to its block's width. The paper gives
# no set; this one contains every expansion of A2 (e.g. 2.25 x 72 -> 160).
EXPANSION_RATIOS: Tuple[float, ...] = (2.0, 2.25, 2.4, 2.5, 8 / 3, 3.0,
                                       10 / 3, 4.0)
WIDTH_MULTIPLIERS: Tuple[float, ...] = (0.75, 1.0, 1.25)
MAX_LAYERS_PER_BLOCK = 10
MIN_RESOLUTION = MIN_FRAME_SIZE


class SearchSpaceError(ValueError):
    """A choice set that cannot define networks."""


def round_width(value: float, divisor: int = 8) -> int:
    """The nearest multiple of ``divisor`` (halves up), at least ``divisor``."""
    return max(divisor, int(value / divisor + 0.5) * divisor)


def _tuple(value) -> tuple:
    return tuple(tuple(v) if isinstance(v, (list, tuple)) else v
                 for v in value)


@dataclass(frozen=True)
class Decision:
    """One categorical choice: a name and its options (in order)."""
    name: str
    options: tuple


@dataclass(frozen=True)
class SearchSpace:
    """Choice sets of the MoViNet space; every field has the paper's default.

    ``block_strides`` gives each block's first-layer stride (the others are
    1); a stride in time is rejected, MoViNets never stride in time.
    """
    stem_base: int = 16
    block_bases: Tuple[int, ...] = (24, 48, 96, 96, 192)
    block_strides: Tuple[Triple, ...] = ((1, 2, 2), (1, 2, 2), (1, 2, 2),
                                         (1, 1, 1), (1, 2, 2))
    project_base: int = 512
    head_channels: int = 2048
    width_multipliers: Tuple[float, ...] = WIDTH_MULTIPLIERS
    depths: Tuple[int, ...] = tuple(range(1, MAX_LAYERS_PER_BLOCK + 1))
    kernels: Tuple[Triple, ...] = KERNELS
    expansion_ratios: Tuple[float, ...] = EXPANSION_RATIOS
    frames: Tuple[int, ...] = (8, 16, 32, 50)
    frame_strides: Tuple[int, ...] = (1, 2, 3, 5)
    resolutions: Tuple[int, ...] = (160, 172, 192, 224, 256)

    def __post_init__(self):
        # lists from configs/JSON become tuples (hashable, comparable)
        for f in ('block_bases', 'block_strides', 'width_multipliers',
                  'depths', 'kernels', 'expansion_ratios', 'frames',
                  'frame_strides', 'resolutions'):
            object.__setattr__(self, f, _tuple(getattr(self, f)))
        self.validate()

    # ---------------------------------------------------------- checks
    def validate(self) -> None:
        def fail(msg):
            raise SearchSpaceError(f'invalid search space: {msg}')

        for name in ('block_bases', 'width_multipliers', 'depths', 'kernels',
                     'expansion_ratios', 'frames', 'frame_strides',
                     'resolutions'):
            values = getattr(self, name)
            if len(values) == 0:
                fail(f'{name} is empty; give at least one choice')
            if name != 'block_bases' and len(set(values)) != len(values):
                fail(f'{name} lists a choice twice: {values}')
        for name in ('stem_base', 'project_base', 'head_channels'):
            if not isinstance(getattr(self, name), int) or \
                    getattr(self, name) <= 0:
                fail(f'{name} must be a positive int, got '
                     f'{getattr(self, name)!r}')
        if any(not isinstance(b, int) or b <= 0 for b in self.block_bases):
            fail(f'block widths must be positive ints, got {self.block_bases}')
        if any(m <= 0 for m in self.width_multipliers):
            fail('width multipliers must be > 0, got '
                 f'{self.width_multipliers}')
        if any(r <= 0 for r in self.expansion_ratios):
            fail(f'expansion ratios must be > 0, got {self.expansion_ratios}')
        if len(self.block_strides) != len(self.block_bases):
            fail(f'{len(self.block_bases)} blocks but '
                 f'{len(self.block_strides)} block strides')
        for s in self.block_strides:
            if len(s) != 3 or any(v not in (1, 2) for v in s):
                fail(f'a stride is 3 ints (t, h, w) of 1 or 2, got {s}')
            if s[0] != 1:
                fail(f'stride {s} strides in time; MoViNets never do (t must '
                     'be 1)')
        for d in self.depths:
            if not isinstance(d, int) or not 1 <= d <= MAX_LAYERS_PER_BLOCK:
                fail(f'depths must be ints in 1..{MAX_LAYERS_PER_BLOCK}, got '
                     f'{d!r}')
        for k in self.kernels:
            if len(k) != 3 or any(not isinstance(v, int) or v < 1
                                  for v in k):
                fail(f'a kernel is 3 positive ints (t, h, w), got {k}')
            if any(v % 2 == 0 for v in k):
                fail(f'kernel {k} has an even size; TF "SAME" padding and '
                     'causal buffers need odd kernels')
        for name, lo in (('frames', 1), ('frame_strides', 1),
                         ('resolutions', MIN_RESOLUTION)):
            for v in getattr(self, name):
                if not isinstance(v, int) or v < lo:
                    fail(f'{name} must be ints >= {lo}, got {v!r}')

    @property
    def num_blocks(self) -> int:
        return len(self.block_bases)

    def to_dict(self) -> dict:
        return {k: _as_lists(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, cfg: Optional[Mapping]) -> 'SearchSpace':
        cfg = dict(cfg or {})
        unknown = set(cfg) - set(cls.__dataclass_fields__)
        if unknown:
            raise SearchSpaceError(f'unknown search space fields '
                                   f'{sorted(unknown)}; expected some of '
                                   f'{sorted(cls.__dataclass_fields__)}')
        return cls(**cfg)

    # -------------------------------------------------------- decisions
    def decisions(self) -> List[Decision]:
        """Every categorical decision, in a fixed order (the controller's)."""
        out = [Decision('stem_width', self.width_multipliers)]
        for i in range(self.num_blocks):
            out.append(Decision(f'block{i}_width', self.width_multipliers))
            out.append(Decision(f'block{i}_depth', self.depths))
            for j in range(max(self.depths)):
                out.append(Decision(f'block{i}_layer{j}_kernel', self.kernels))
                out.append(Decision(f'block{i}_layer{j}_expansion',
                                    self.expansion_ratios))
        out += [Decision('project_width', self.width_multipliers),
                Decision('frames', self.frames),
                Decision('frame_stride', self.frame_strides),
                Decision('resolution', self.resolutions)]
        return out

    def active(self, indices: Mapping[str, int]) -> Dict[str, bool]:
        """Whether each decision shapes the network (layers past a block's
        depth do not)."""
        out = {}
        for d in self.decisions():
            if '_layer' in d.name:
                block, layer = d.name.split('_')[:2]
                depth = self.depths[indices[f'{block}_depth']]
                out[d.name] = int(layer[len('layer'):]) < depth
            else:
                out[d.name] = True
        return out

    def decode(self, indices: Mapping[str, int]) -> 'Architecture':
        """The architecture of one index per decision."""
        values = {}
        for d in self.decisions():
            if d.name not in indices:
                raise SearchSpaceError(f'no choice for decision {d.name!r}')
            i = int(indices[d.name])
            if not 0 <= i < len(d.options):
                raise SearchSpaceError(
                    f'choice {i} of {d.name!r} is out of range: it has '
                    f'{len(d.options)} options')
            values[d.name] = d.options[i]
        return self.architecture(values)

    def architecture(self, values: Mapping[str, object]) -> 'Architecture':
        """The architecture of one option value per decision."""
        stem = round_width(self.stem_base * values['stem_width'])
        blocks = []
        for i, base in enumerate(self.block_bases):
            width = round_width(base * values[f'block{i}_width'])
            depth = values[f'block{i}_depth']
            layers = []
            for j in range(depth):
                ratio = values[f'block{i}_layer{j}_expansion']
                stride = self.block_strides[i] if j == 0 else (1, 1, 1)
                layers.append(LayerSpec(round_width(ratio * width),
                                        tuple(values[f'block{i}_layer{j}_'
                                                     'kernel']),
                                        tuple(stride)))
            blocks.append(BlockSpec(width, tuple(layers)))
        resolution = values['resolution']
        arch = ArchSpec(stem, tuple(blocks),
                        round_width(self.project_base *
                                    values['project_width']),
                        self.head_channels, resolution)
        active = self.active({d.name: d.options.index(values[d.name])
                              for d in self.decisions()})
        choices = {k: _as_lists(v) for k, v in values.items() if active[k]}
        return Architecture(arch, values['frames'], values['frame_stride'],
                            resolution, choices)

    def sample_indices(self, rng: Union[int, random.Random, None] = None
                       ) -> Dict[str, int]:
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        return {d.name: rng.randrange(len(d.options))
                for d in self.decisions()}

    def sample(self, rng: Union[int, random.Random, None] = None
               ) -> 'Architecture':
        """A uniformly random architecture (``rng``: a seed or a Random)."""
        return self.decode(self.sample_indices(rng))

    def extreme_indices(self, largest: bool) -> Dict[str, int]:
        """Every choice at its first or last option."""
        return {d.name: (len(d.options) - 1 if largest else 0)
                for d in self.decisions()}


def _as_lists(value):
    if isinstance(value, (tuple, list)):
        return [_as_lists(v) for v in value]
    return value


# ---------------------------------------------------------- architectures
@dataclass(frozen=True)
class Architecture:
    """A network of the space and its input."""
    arch: ArchSpec
    frames: int
    frame_stride: int
    resolution: int
    choices: Dict[str, object] = field(default_factory=dict, compare=False,
                                       hash=False)

    def to_dict(self) -> dict:
        return dict(arch=arch_to_dict(self.arch), frames=self.frames,
                    frame_stride=self.frame_stride,
                    resolution=self.resolution, choices=dict(self.choices))

    @classmethod
    def from_dict(cls, cfg: Mapping) -> 'Architecture':
        missing = {'arch', 'frames', 'frame_stride', 'resolution'} - set(cfg)
        if missing:
            raise ValueError(f'architecture record lacks {sorted(missing)}')
        return cls(arch_from_dict(cfg['arch']), int(cfg['frames']),
                   int(cfg['frame_stride']), int(cfg['resolution']),
                   dict(cfg.get('choices', {})))

    def describe(self) -> str:
        """One line: widths, depths, kernels per block and the input."""
        parts = [f'stem {self.arch.stem_channels}']
        for i, b in enumerate(self.arch.blocks):
            kernels = ','.join(''.join(map(str, layer.kernel_size))
                               for layer in b.layers)
            parts.append(f'b{i} {b.out_channels}x{len(b.layers)} [{kernels}]')
        parts.append(f'proj {self.arch.project_channels}')
        parts.append(f'{self.frames}f/{self.frame_stride} '
                     f'{self.resolution}px')
        return '; '.join(parts)


def locate(arch: ArchSpec, space: Optional[SearchSpace] = None
           ) -> List[str]:
    """Why ``arch`` is outside ``space`` (one line per reason; empty when
    it is inside, its input aside)."""
    space = space or SearchSpace()
    out = []

    def widths(base):
        return sorted({round_width(base * m)
                       for m in space.width_multipliers})

    if arch.stem_channels not in widths(space.stem_base):
        out.append(f'stem width {arch.stem_channels} not in '
                   f'{widths(space.stem_base)}')
    if len(arch.blocks) != space.num_blocks:
        return out + [f'{len(arch.blocks)} blocks, the space has '
                      f'{space.num_blocks}']
    for i, (block, base) in enumerate(zip(arch.blocks, space.block_bases)):
        if block.out_channels not in widths(base):
            out.append(f'block {i} width {block.out_channels} not in '
                       f'{widths(base)}')
        if len(block.layers) not in space.depths:
            out.append(f'block {i} has {len(block.layers)} layers, the space '
                       f'{min(space.depths)}..{max(space.depths)}')
        expansions = {round_width(r * block.out_channels)
                      for r in space.expansion_ratios}
        for j, layer in enumerate(block.layers):
            stride = space.block_strides[i] if j == 0 else (1, 1, 1)
            if tuple(layer.kernel_size) not in space.kernels:
                out.append(f'block {i} layer {j} kernel {layer.kernel_size} '
                           'not in the space')
            if layer.expand_channels not in expansions:
                out.append(f'block {i} layer {j} expansion '
                           f'{layer.expand_channels} not in '
                           f'{sorted(expansions)}')
            if tuple(layer.stride) != tuple(stride):
                out.append(f'block {i} layer {j} stride {layer.stride}, the '
                           f'space {stride}')
    if arch.project_channels not in widths(space.project_base):
        out.append(f'projection width {arch.project_channels} not in '
                   f'{widths(space.project_base)}')
    if arch.head_channels != space.head_channels:
        out.append(f'head width {arch.head_channels}, the space '
                   f'{space.head_channels}')
    return out


def indices_of(arch: ArchSpec, space: SearchSpace, frames: int,
               frame_stride: int, resolution: int) -> Dict[str, int]:
    """The decision indices of an architecture inside ``space`` (raises
    ``ValueError`` with :func:`locate`'s reasons otherwise)."""
    reasons = locate(arch, space)
    for name, value, options in (('frames', frames, space.frames),
                                 ('frame_stride', frame_stride,
                                  space.frame_strides),
                                 ('resolution', resolution,
                                  space.resolutions)):
        if value not in options:
            reasons.append(f'{name} {value} not in {options}')
    if reasons:
        raise ValueError('architecture outside the space: ' +
                         '; '.join(reasons))

    def mult(base, width):
        return next(k for k, m in enumerate(space.width_multipliers)
                    if round_width(base * m) == width)

    idx = {'stem_width': mult(space.stem_base, arch.stem_channels),
           'project_width': mult(space.project_base, arch.project_channels),
           'frames': space.frames.index(frames),
           'frame_stride': space.frame_strides.index(frame_stride),
           'resolution': space.resolutions.index(resolution)}
    for i, block in enumerate(arch.blocks):
        idx[f'block{i}_width'] = mult(space.block_bases[i],
                                      block.out_channels)
        idx[f'block{i}_depth'] = space.depths.index(len(block.layers))
        for j in range(max(space.depths)):
            layer = block.layers[j] if j < len(block.layers) else None
            idx[f'block{i}_layer{j}_kernel'] = (
                space.kernels.index(tuple(layer.kernel_size)) if layer else 0)
            idx[f'block{i}_layer{j}_expansion'] = next(
                (k for k, r in enumerate(space.expansion_ratios)
                 if round_width(r * block.out_channels) ==
                 layer.expand_channels), 0) if layer else 0
    return idx


def num_architectures(space: SearchSpace) -> float:
    """How many distinct networks (and inputs) the space holds."""
    per_layer = len(space.kernels) * len(space.expansion_ratios)
    per_block = len(space.width_multipliers) * sum(
        per_layer**d for d in space.depths)
    return (len(space.width_multipliers)**2 * per_block**space.num_blocks *
            len(space.frames) * len(space.frame_strides) *
            len(space.resolutions))


__all__ = ['KERNELS', 'EXPANSION_RATIOS', 'WIDTH_MULTIPLIERS', 'Decision',
           'SearchSpace', 'SearchSpaceError', 'Architecture', 'round_width',
           'arch_to_dict', 'arch_from_dict', 'locate', 'indices_of',
           'num_architectures']
