"""Keep the calling thread's alternate signal stack across OpenVINO calls.

OpenVINO's CPU plugin (2026.4) installs its own alternate signal stack
(``sigaltstack``, 11,568 bytes) on the thread that calls ``compile_model``,
and when the compiled model is freed it frees that memory and puts back the
stack it found. Two models freed in the order they were made leave the
first one's freed stack installed. The next signal whose handler runs on
the alternate stack (CPython installs its handlers with SA_ONSTACK;
PyTorch's DataLoader sets one for SIGCHLD) cannot be delivered, and the
kernel kills the process with SIGSEGV at the next child exit. Restoring the
thread's stack right after ``compile_model`` keeps OpenVINO's stacks out of
that chain. Linux only (elsewhere a no-op).
"""
import contextlib
import ctypes
import ctypes.util
import sys


class _StackT(ctypes.Structure):
    _fields_ = [('ss_sp', ctypes.c_void_p), ('ss_flags', ctypes.c_int),
                ('ss_size', ctypes.c_size_t)]


def _libc():
    if not sys.platform.startswith('linux'):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6',
                           use_errno=True)
        libc.sigaltstack.argtypes = [ctypes.POINTER(_StackT),
                                     ctypes.POINTER(_StackT)]
        return libc
    except (OSError, AttributeError):
        return None


_LIBC = _libc()
SS_DISABLE = 2


def current_signal_stack():
    """(address, size, flags) of this thread's alternate signal stack, or
    None where it cannot be read."""
    if _LIBC is None:
        return None
    old = _StackT()
    if _LIBC.sigaltstack(None, ctypes.byref(old)) != 0:
        return None
    return (old.ss_sp or 0, old.ss_size, old.ss_flags)


@contextlib.contextmanager
def keep_signal_stack():
    """Restore this thread's alternate signal stack when the block ends."""
    if _LIBC is None:
        yield
        return
    saved = _StackT()
    got = _LIBC.sigaltstack(None, ctypes.byref(saved)) == 0
    try:
        yield
    finally:
        if got:
            restore = _StackT(saved.ss_sp, saved.ss_flags & SS_DISABLE,
                              saved.ss_size) if saved.ss_sp else \
                _StackT(None, SS_DISABLE, 0)
            _LIBC.sigaltstack(ctypes.byref(restore), None)
