"""Runs several videos of different lengths through a causal model as streams."""
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..layers.state import StreamState, select_samples

StepFn = Callable[[Tensor, Optional[StreamState]], Tuple[Tensor, StreamState]]


@dataclass
class StreamResult:
    """Logits of each stream after its last frame, plus an optional trace."""
    logits: Tensor  # [S, K]
    # per stream: the frame counts at which logits were traced, and those logits
    trace_frames: List[List[int]] = field(default_factory=list)
    trace_logits: List[List[Tensor]] = field(default_factory=list)


def trace_points(length: int, num_points: int) -> List[int]:
    """Frame counts ceil(k / P * length), k = 1..P: the early-recognition grid.

    Always P points, so that videos of any length trace alike; a video
    shorter than P frames repeats counts.
    """
    return [max(1, math.ceil(k * length / num_points))
            for k in range(1, num_points + 1)]


def run_streams(step: StepFn,
                clips: Tensor,
                lengths: Sequence[int],
                chunk_size: int,
                num_trace_points: int = 0) -> StreamResult:
    """Feed ``clips`` ``[S, C, T, H, W]`` to ``step`` in sub-clips.

    Stream ``s`` has ``lengths[s]`` real frames (the rest is padding and is
    never fed). Sub-clips hold at most ``chunk_size`` frames; they are also
    cut where a stream ends (its logits are taken right after its last
    frame, then it leaves the batch together with its state) and, with
    ``num_trace_points``, at the fractions of each stream where its logits
    are traced. States start fresh for every call.
    """
    if chunk_size < 1:
        raise ValueError(f'chunk_size must be >= 1, got {chunk_size}')
    num = clips.shape[0]
    lengths = [int(n) for n in lengths]
    if len(lengths) != num or min(lengths) < 1 or max(lengths) > clips.shape[2]:
        raise ValueError(f'lengths {lengths} do not fit clips of shape '
                         f'{tuple(clips.shape)}')
    wanted = [Counter(trace_points(n, num_trace_points)) if num_trace_points
              else Counter() for n in lengths]
    cuts = set(range(chunk_size, max(lengths), chunk_size)) | set(lengths)
    for points in wanted:
        cuts |= set(points)
    final: List[Optional[Tensor]] = [None] * num
    result = StreamResult(logits=clips.new_empty(0),
                          trace_frames=[[] for _ in range(num)],
                          trace_logits=[[] for _ in range(num)])
    active = list(range(num))
    state: Optional[StreamState] = None
    start = 0
    for cut in sorted(cuts):
        logits, state = step(clips[active, :, start:cut], state)
        for row, s in enumerate(active):
            for _ in range(wanted[s][cut]):
                result.trace_frames[s].append(cut)
                result.trace_logits[s].append(logits[row])
            if cut == lengths[s]:
                final[s] = logits[row]
        keep = [row for row, s in enumerate(active) if lengths[s] > cut]
        if not keep:
            break
        if len(keep) < len(active):
            index = torch.tensor(keep, device=clips.device)
            state = select_samples(state, index)
            active = [active[row] for row in keep]
        start = cut
    result.logits = torch.stack(final)  # type: ignore[arg-type]
    return result
