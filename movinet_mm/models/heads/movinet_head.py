"""The MoViNet classifier head: running-mean pool, 2048-d hidden layer, classes."""
from typing import Mapping, Optional, Tuple

from mmaction.models.heads.base import BaseHead
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from torch import Tensor, nn

from ..layers import GlobalAvgPool, StreamState, build_activation
from ..layers.activations import inference_activation
from ..layers.state import StateSpecs, check_state

HEAD_STATE_PREFIX = 'state_head'


@MODELS.register_module()
class MoViNetHead(BaseHead):
    """pool -> 1x1x1 conv (hidden) -> activation -> dropout -> 1x1x1 conv.

    The pool is the official head's: the mean over every frame seen so far
    (across ``forward_stream`` calls too), never a causal per-frame mean. The
    two 1x1x1 convs act on a pooled vector and are stored as ``nn.Linear``.

    Args:
        num_classes (int): number of classes.
        in_channels (int): the backbone's ``project_channels``.
        hidden_channels (int): 2048 (1024 for T0).
        dropout_ratio (float): dropout before the classifier.
        activation (str): of the hidden layer; 'swish' in the official
            models, stream ones included.
        init_std (float): std of the classifier's normal init.
        kwargs: ``BaseHead`` arguments (``loss_cls``, ``label_smooth_eps``,
            ``topk``, ``average_clips``, ``multi_class``...).

    Multi-label (``multi_class=True``, e.g. with
    ``loss_cls=dict(type='BCELossWithLogits')``): the targets are the
    multi-hot ``gt_label`` of ``VideoDataset(multi_class=True)``, and
    ``predict`` sets ``pred_score`` to per-class sigmoid probabilities:
    ``average_clips='score'`` averages the views' logits then applies the
    sigmoid, ``'prob'`` averages the views' sigmoids, None applies the sigmoid
    to each view (as MMAction2's softmax choices, with sigmoid for softmax).
    The forward pass still returns raw logits.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 hidden_channels: int = 2048,
                 dropout_ratio: float = 0.2,
                 activation: str = 'swish',
                 init_std: float = 0.01,
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 **kwargs):
        super().__init__(num_classes, in_channels, loss_cls, **kwargs)
        if num_classes < 1:
            raise ValueError(f'num_classes must be >= 1, got {num_classes}')
        self.hidden_channels = hidden_channels
        self.init_std = init_std
        self.pool = GlobalAvgPool(causal=False, state_prefix=HEAD_STATE_PREFIX)
        self.fc_hidden = nn.Linear(in_channels, hidden_channels)
        self.act = build_activation(activation)
        self.dropout = nn.Dropout(dropout_ratio) if dropout_ratio > 0 else None
        self.fc_cls = nn.Linear(hidden_channels, num_classes)

    def average_clip(self, cls_scores: Tensor, num_segs: int = 1) -> Tensor:
        """``BaseHead.average_clip``; sigmoid scores when multi-label."""
        if not self.multi_class:
            return super().average_clip(cls_scores, num_segs)
        return average_sigmoid_clips(cls_scores, num_segs, self.average_clips)

    def loss_by_feat(self, cls_scores: Tensor,
                     data_samples: SampleList) -> dict:
        """``BaseHead.loss_by_feat``; multi-label targets are checked to be
        multi-hot ``[K]`` vectors (a single-label dataset gives ``[1]``)."""
        if self.multi_class:
            for sample in data_samples:
                label = sample.gt_label
                if label.dim() != 1 or label.numel() != self.num_classes:
                    raise ValueError(
                        f'the head is multi-label (multi_class=True) with '
                        f'{self.num_classes} classes but a gt_label has shape'
                        f' {tuple(label.shape)}: use VideoDataset(multi_class'
                        f'=True, num_classes={self.num_classes})')
        return super().loss_by_feat(cls_scores, data_samples)

    def state_spec(self, batch_size: int) -> StateSpecs:
        return self.pool.state_spec(batch_size, self.in_channels)

    def state_shapes(self, batch_size: int) -> dict:
        return {name: spec.shape
                for name, spec in self.state_spec(batch_size).items()}

    def init_weights(self) -> None:
        init_head_weights(self.fc_hidden, self.fc_cls, self.init_std)

    def to_inference(self) -> 'InferenceHead':
        """The head without dropout, on ``[T, C, H, W]`` features."""
        return InferenceHead(self)

    def _classify(self, pooled: Tensor) -> Tensor:
        x = self.act(self.fc_hidden(pooled.flatten(1)))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.fc_cls(x)

    def forward(self, x: Tensor, **kwargs) -> Tensor:
        """Class scores ``[N, num_classes]`` of features ``[N, C, T, H, W]``."""
        pooled, _ = self.pool(x)
        return self._classify(pooled)

    def forward_stream(self, x: Tensor,
                       state: Optional[Mapping[str, Tensor]] = None
                       ) -> Tuple[Tensor, StreamState]:
        """Scores of all frames seen so far, and the next pool state."""
        if state is not None:
            check_state(state, self.state_shapes(x.shape[0]), 'head',
                        like=x)
        pooled, new_state = self.pool(x, state)
        return self._classify(pooled), new_state


def average_sigmoid_clips(logits: Tensor, num_segs: int,
                          average_clips: Optional[str]) -> Tensor:
    """Multi-label scores: ``BaseHead.average_clip`` with sigmoid for softmax.

    'score': sigmoid of the mean logits; 'prob': mean of the sigmoids; None:
    the sigmoid of each view, ``[N, num_segs, K]`` as MMAction2 returns.
    """
    if average_clips not in ('score', 'prob', None):
        raise ValueError(f'{average_clips} is not supported. Currently '
                         'supported ones are ["score", "prob", None]')
    logits = logits.view((logits.shape[0] // num_segs, num_segs) +
                         logits.shape[1:])
    if average_clips == 'score':
        return logits.mean(dim=1).sigmoid()
    if average_clips == 'prob':
        return logits.sigmoid().mean(dim=1)
    return logits.sigmoid()


def init_head_weights(fc_hidden: nn.Linear, fc_cls: nn.Linear,
                      std: float = 0.01) -> None:
    """Keras' HeNormal hidden layer and a normal(``std``) classifier."""
    fan_in = fc_hidden.in_features
    hidden_std = (2.0 / fan_in)**0.5 / 0.87962566103423978
    nn.init.trunc_normal_(fc_hidden.weight, 0.0, hidden_std, -2 * hidden_std,
                          2 * hidden_std)
    nn.init.zeros_(fc_hidden.bias)
    nn.init.normal_(fc_cls.weight, 0.0, std)
    nn.init.zeros_(fc_cls.bias)


def _frozen_copy(linear: nn.Linear) -> nn.Linear:
    out = nn.Linear(linear.in_features, linear.out_features,
                    bias=linear.bias is not None)
    out.load_state_dict(linear.state_dict())
    return out.requires_grad_(False)


class InferenceHead(nn.Module):
    """Mean over all frames seen, hidden layer, classifier (no dropout)."""

    def __init__(self, head: MoViNetHead):
        super().__init__()
        self.pool = head.pool
        self.fc_hidden = _frozen_copy(head.fc_hidden)
        self.act = inference_activation(head.act)
        self.fc_cls = _frozen_copy(head.fc_cls)

    def _classify(self, pooled: Tensor) -> Tensor:
        x = self.fc_hidden(pooled)
        if self.act is not None:
            x = self.act(x)
        return self.fc_cls(x)

    def stream(self, x: Tensor, state: Mapping[str, Tensor],
               new_state: StreamState) -> Tensor:
        frame = x.mean(dim=(2, 3), keepdim=True)  # [1, C, 1, 1]
        pooled = self.pool.stream_frame(frame, state, new_state)
        return self._classify(pooled.reshape(1, -1))

    def clip(self, x: Tensor) -> Tensor:
        return self._classify(x.mean(dim=(2, 3)).mean(dim=0, keepdim=True))
