"""What the demos read back from training and test runs: the last
checkpoint of a work dir, the top-1 of a test dump, a checkpoint without
its classifier (to fine-tune from)."""
import os.path as osp
from typing import Tuple

from .synthetic_report import load_predictions


def last_checkpoint(work_dir: str) -> str:
    """The checkpoint MMEngine names in ``<work_dir>/last_checkpoint``."""
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def dump_top1(dump: str) -> Tuple[float, int]:
    """Top-1 (%) and number of videos of a ``test.py --dump`` pickle."""
    preds = load_predictions(dump)
    right = sum(gt == pred for gt, pred in preds)
    return 100.0 * right / len(preds), len(preds)


def drop_classifier(src: str, dst: str) -> None:
    """Save ``src`` without ``cls_head.fc_cls.*`` (as
    ``convert_tf_checkpoint.py --finetune`` does for the official
    weights)."""
    from movinet_mm.converters import save_checkpoint
    from movinet_mm.utils import read_checkpoint
    state = read_checkpoint(src)['state_dict']
    kept = {k: v for k, v in state.items()
            if not k.startswith('cls_head.fc_cls.')}
    save_checkpoint({'state_dict': kept, 'meta': {'source': src}}, dst)
