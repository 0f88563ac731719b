"""Temporal ensembles: member recognizers on their own frame samplings,
logits averaged."""
from typing import Dict, List, Optional, Sequence

import torch
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from mmengine.model import BaseModel
from torch import Tensor, nn

from .movinet_recognizer import StreamLogits, set_stream_predictions


@MODELS.register_module()
class EnsembleRecognizer(BaseModel):
    """Averages the raw logits of two or more recognizers.

    Each member is a whole recognizer config (backbone, head, its own
    ``data_preprocessor``) and reads its own input, ``inputs[input_keys[i]]``,
    produced from one decode of the video by pipeline branches (see
    ``configs/movinet_a0_stream_ensemble_k600.py``). As in the MoViNet
    paper, the ensemble's logits are the unweighted mean of the members' raw
    logits (before softmax, or before the sigmoid of multi-label members,
    which must all be multi-label); clip averaging and metrics then follow
    member 0's head (``average_clips``, ``multi_class``). Works with whole
    clips (``predict``) and with the stream loops (``stream_predict``; each
    member carries its own state). Members are trained separately, each
    with its own config.

    Args:
        members: recognizer configs.
        input_keys: the input key each member reads.
        member_checkpoints: optional checkpoint per member (None to skip),
            loaded strictly at build time; alternatively load a checkpoint
            merged by ``tools/merge_ensemble_checkpoints.py``.
        data_preprocessor: defaults to a ``MultiModalDataPreprocessor``
            applying each member's own data preprocessor to its input.
    """

    def __init__(self,
                 members: Sequence[dict],
                 input_keys: Sequence[str],
                 member_checkpoints: Optional[Sequence[Optional[str]]] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if len(members) < 2:
            raise ValueError('an ensemble needs at least 2 members, got '
                             f'{len(members)}')
        if len(input_keys) != len(members) or \
                len(set(input_keys)) != len(input_keys):
            raise ValueError(f'need one distinct input key per member: '
                             f'{len(members)} members, keys {input_keys}')
        if data_preprocessor is None:
            default = dict(type='ActionDataPreprocessor',
                           format_shape='NCTHW')
            data_preprocessor = dict(
                type='MultiModalDataPreprocessor',
                preprocessors={
                    key: dict(m.get('data_preprocessor') or default)
                    for key, m in zip(input_keys, members)
                })
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.input_keys = list(input_keys)
        self.members = nn.ModuleList()
        for i, cfg in enumerate(members):
            cfg = dict(cfg)
            cfg.pop('data_preprocessor', None)  # applied by the ensemble's
            self.members.append(MODELS.build(cfg))
        classes = [m.cls_head.num_classes for m in self.members]
        if len(set(classes)) != 1:
            odd = next(i for i, c in enumerate(classes) if c != classes[0])
            raise ValueError(f'ensemble member {odd} ({self.input_keys[odd]})'
                             f' has {classes[odd]} classes, member 0 has '
                             f'{classes[0]}: members must share their classes')
        self.num_classes = classes[0]
        multi = [bool(m.cls_head.multi_class) for m in self.members]
        if len(set(multi)) != 1:
            odd = next(i for i, c in enumerate(multi) if c != multi[0])
            raise ValueError(f'ensemble member {odd} ({self.input_keys[odd]})'
                             f' has multi_class={multi[odd]}, member 0 has '
                             f'{multi[0]}: members must all be multi-label '
                             'or all single-label')
        self.multi_class = multi[0]
        for i, path in enumerate(member_checkpoints or []):
            if path:
                self.load_member(i, path)

    def load_member(self, index: int, path: str) -> None:
        """Load a member's own (non-ensemble) checkpoint, strictly."""
        # utils.checkpoint reads the arch tables of models/: import late.
        from ...utils.checkpoint import load_checked_checkpoint
        try:
            load_checked_checkpoint(self.members[index], path, strict=True)
        except ValueError as error:
            raise ValueError(f'checkpoint {path} does not match ensemble '
                             f'member {index} ({self.input_keys[index]}): '
                             f'{error}') from None

    def _member_inputs(self, inputs: Dict[str, Tensor]) -> List[Tensor]:
        if not isinstance(inputs, dict):
            raise TypeError('the ensemble expects a dict of inputs, one per '
                            f'member ({self.input_keys}), got '
                            f'{type(inputs).__name__}: the pipeline must pack '
                            "them with PackActionInputs(collect_keys=...)")
        for i, key in enumerate(self.input_keys):
            if key not in inputs:
                raise ValueError(f'no input {key!r} for ensemble member {i}:'
                                 f' the pipeline produced {sorted(inputs)}')
        return [inputs[key] for key in self.input_keys]

    def member_logits(self, inputs: Dict[str, Tensor]) -> List[Tensor]:
        """Each member's raw logits ``[N * views, K]`` on its own input."""
        out = []
        for member, x in zip(self.members, self._member_inputs(inputs)):
            feats, _ = member.extract_feat(x, test_mode=True)
            out.append(member.cls_head(feats))
        views = {o.shape[0] for o in out}
        if len(views) != 1:
            raise ValueError('members see different numbers of views per '
                             f'video ({[o.shape[0] for o in out]} logits): '
                             'give every branch the same clips and crops')
        return out

    def forward(self, inputs, data_samples: SampleList = None,
                mode: str = 'tensor'):
        if mode == 'tensor':
            return torch.stack(self.member_logits(inputs)).mean(0)
        if mode == 'predict':
            logits = torch.stack(self.member_logits(inputs)).mean(0)
            return self.members[0].cls_head.predict_by_feat(
                logits, data_samples)
        if mode == 'loss':
            raise RuntimeError('an ensemble is not trained as one model: '
                               'train each member with its own config, then '
                               'merge their checkpoints')
        raise ValueError(f'invalid mode {mode!r}')

    def stream_predict(self, inputs: Dict[str, Tensor],
                       data_samples: SampleList,
                       lengths: Dict[str, Sequence[int]],
                       chunk_size: int = 8,
                       num_trace_points: int = 0) -> SampleList:
        """Stream every member through its own input; average the logits."""
        outs = [
            member.stream_logits(x, lengths[key], chunk_size,
                                 num_trace_points)
            for member, key, x in zip(self.members, self.input_keys,
                                      self._member_inputs(inputs))
        ]
        if len({o.views for o in outs}) != 1:
            raise ValueError('members see different numbers of views: '
                             f'{[o.views for o in outs]}')
        mean = StreamLogits(
            torch.stack([o.logits for o in outs]).mean(0), outs[0].views,
            torch.stack([o.trace_logits for o in outs]).mean(0)
            if num_trace_points else None, outs[0].trace_frames)
        return set_stream_predictions(self.members[0].cls_head, data_samples,
                                      mean)
