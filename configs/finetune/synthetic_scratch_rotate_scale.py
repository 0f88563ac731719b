# The control of synthetic_finetune_rotate_scale.py: the same clips, model,
# and schedule, trained from scratch (no load_from) at the demo's lr.
_base_ = './synthetic_finetune_rotate_scale.py'

load_from = None
optim_wrapper = dict(optimizer=dict(lr=3e-3))
