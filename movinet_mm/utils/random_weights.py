"""Random weights that make every branch of a MoViNet visible.

With the default init every ReZero scale is 0, so every residual branch (and
its state) would be invisible in the output; equality checks (parity tests)
and latency benchmarks with untrained weights need them non-zero, and BN
statistics away from the identity.
"""
import torch


def randomize_(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """In place: random weights, BN statistics and non-zero ReZero scales;
    returns the model in eval mode. Deterministic for a given seed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(('rezero', 'scale')):
                p.uniform_(0.1, 0.3, generator=g)
            elif p.dim() > 1:
                p.normal_(0, (2.0 / p[0].numel())**0.5, generator=g)
            elif 'bn' in name and name.endswith('weight'):
                p.uniform_(0.5, 1.5, generator=g)
            else:
                p.normal_(0, 0.1, generator=g)
        for name, b in model.named_buffers():
            if name.endswith('running_mean'):
                b.normal_(0, 0.1, generator=g)
            elif name.endswith('running_var'):
                b.uniform_(0.5, 1.5, generator=g)
    return model.eval()
