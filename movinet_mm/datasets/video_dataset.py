"""MMAction2's ``VideoDataset`` with its annotation list checked line by line.

MMAction2 1.2's ``VideoDataset`` reads ``path label`` lines (``path l1 l2
...`` with ``multi_class=True``) but stops with a bare ``ValueError`` on a
line with several labels in a single-label list, wraps negative multi-label
indices around silently and fails much later (an ``IndexError`` in
``get_data_info``, on a worker) on indices >= ``num_classes``. This subclass
parses the same lines into the same data list and refuses a bad line with
one message naming the file, the line and what was expected. Importing
``movinet_mm`` registers it as ``VideoDataset`` in MMAction2's registry, so
configs keep ``type='VideoDataset'``.
"""
import os.path as osp
import warnings
from typing import List

from mmaction.datasets import VideoDataset as _MMActionVideoDataset
from mmaction.registry import DATASETS
from mmengine.fileio import exists, list_from_file


class AnnotationError(ValueError):
    """A bad line in an annotation list."""


@DATASETS.register_module(name='VideoDataset', force=True)
class VideoDataset(_MMActionVideoDataset):
    """``mmaction.datasets.VideoDataset``, with checked annotation lines.

    Single-label (``multi_class=False``): ``path label`` (or ``path`` alone,
    MMAction2's unlabelled inference list, label -1); ``0 <= label <
    num_classes`` when ``num_classes`` is given. Multi-label
    (``multi_class=True``, ``num_classes`` required): ``path l1 l2 ...``, at
    least one label, each in ``[0, num_classes)``; MMAction2 turns them into
    a multi-hot ``gt_label`` of ``num_classes``. A multi-label list in which
    every line has exactly one label is accepted with a warning (a
    single-label list in a multi-label config?).
    """

    def load_data_list(self) -> List[dict]:
        ann = self.ann_file
        if not exists(ann):
            raise FileNotFoundError(f'annotation file {ann} does not exist')
        if self.multi_class and self.num_classes is None:
            raise AnnotationError(
                f'{ann}: multi_class=True needs num_classes (the length of '
                'the multi-hot labels) in the dataset config')
        data_list, single = [], 0
        for number, line in enumerate(list_from_file(ann), 1):
            where = f'{ann}, line {number}'
            parts = line.strip().split(self.delimiter)
            if not parts or not parts[0]:
                raise AnnotationError(f'{where}: empty line; expected '
                                      f'"path label{"s" * self.multi_class}"')
            filename, fields = parts[0], parts[1:]
            try:
                labels = [int(x) for x in fields]
            except ValueError:
                raise AnnotationError(
                    f'{where}: labels must be integers, got {fields} '
                    f'(delimiter {self.delimiter!r})') from None
            if self.multi_class:
                if not labels:
                    raise AnnotationError(
                        f'{where}: no label; a multi-label list '
                        '(multi_class=True) expects "path l1 l2 ..." with at '
                        'least one label')
                single += len(labels) == 1
                label = labels
            elif len(labels) > 1:
                raise AnnotationError(
                    f'{where}: {len(labels)} labels {labels} but the dataset '
                    'is single-label (multi_class=False): expected "path '
                    'label"; for multi-label data set multi_class=True, '
                    'num_classes=K (and the head\'s multi_class=True)')
            else:
                label = labels[0] if labels else -1
            self._check_range(where, labels)
            if self.data_prefix['video'] is not None:
                filename = osp.join(self.data_prefix['video'], filename)
            data_list.append(dict(filename=filename, label=label))
        if self.multi_class and data_list and single == len(data_list):
            warnings.warn(f'{ann}: multi_class=True but every line has '
                          'exactly one label: a single-label list in a '
                          'multi-label config?')
        return data_list

    def _check_range(self, where: str, labels: List[int]) -> None:
        k = self.num_classes
        bad = [x for x in labels
               if x < 0 or (k is not None and x >= k)]
        if bad:
            expected = f'[0, {k})' if k is not None else '>= 0'
            raise AnnotationError(
                f'{where}: label{"s" * (len(bad) > 1)} {bad} out of range; '
                f'expected labels in {expected}'
                + (f' (num_classes={k})' if k is not None else ''))
