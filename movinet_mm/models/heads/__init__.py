from .movinet_head import MoViNetHead

__all__ = ['MoViNetHead']
