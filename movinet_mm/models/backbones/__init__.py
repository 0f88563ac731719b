from .movinet import MoViNet
from .movinet_arch import ARCH_SPECS, ArchSpec, BlockSpec, LayerSpec

__all__ = ['MoViNet', 'ARCH_SPECS', 'ArchSpec', 'BlockSpec', 'LayerSpec']
