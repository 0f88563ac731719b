"""Peak memory of a block of code: CUDA allocator peak, or process peak RSS on CPU."""
from typing import Optional

import torch

_STATUS = '/proc/self/status'
_CLEAR_REFS = '/proc/self/clear_refs'


def _read_hwm() -> Optional[int]:
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _reset_hwm() -> bool:
    # Writing 5 resets the peak RSS (VmHWM) to the current RSS (Linux >= 4.0).
    try:
        with open(_CLEAR_REFS, 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


class PeakMemory:
    """``with PeakMemory(device) as peak: ...`` then ``peak.bytes``.

    On CUDA, the allocator's peak during the block. On CPU, the process's
    peak resident set size during the block (Linux; -1 where unavailable):
    it includes the interpreter and the model, so compare differences.
    """

    def __init__(self, device=None):
        self.device = torch.device(device) if device is not None else \
            torch.device('cpu')
        self.bytes = -1

    def __enter__(self) -> 'PeakMemory':
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._can_reset = _reset_hwm()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            self.bytes = torch.cuda.max_memory_allocated(self.device)
        elif self._can_reset:
            self.bytes = _read_hwm() or -1


def rss_bytes() -> int:
    """Current resident set size of this process (Linux), or -1."""
    try:
        with open(_STATUS) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return -1
