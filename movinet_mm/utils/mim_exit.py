"""``mim train/test/run movinet_mm ...``: a tool's one-line error, not mim's traceback.

mim runs our tools with ``subprocess.check_call`` and does not catch the
``CalledProcessError`` of a tool that exits non-zero: every one-line error
of a tool is followed by mim's own 20-line traceback, which adds nothing.
Our code cannot reach mim's process by import (mim never imports the
codebase it runs), so :func:`install` runs there at interpreter start from
``movinet_mm-mim.pth`` in site-packages, written by ``make venv`` or by

    python -m movinet_mm.utils.mim_exit

When ``mim.cli`` is imported it wraps mim's click command group: a failed
tool ends mim with the tool's exit code and no traceback. It also hides the
``pkg_resources is deprecated`` warnings of mim's own imports. Processes
that do not import mim are untouched. Standard library only: this file is
loaded by path, without importing movinet_mm.
"""
import os.path as osp
import subprocess
import sys
import warnings

PTH_NAME = 'movinet_mm-mim.pth'


def _exit_with_tool_code(invoke):
    def wrapped(self, ctx):
        try:
            return invoke(self, ctx)
        except subprocess.CalledProcessError as error:
            code = error.returncode
            if code < 0:  # the tool was killed by a signal
                print(f'mim: {error.cmd[0]} was killed by signal {-code}',
                      file=sys.stderr)
                code = 128 - code
            ctx.exit(code)  # the tool has printed why

    wrapped._movinet_mm = True
    return wrapped


def patch(cli_module) -> None:
    """Wrap the ``MIM`` click group of an imported ``mim.cli``."""
    group = cli_module.MIM
    if not getattr(group.invoke, '_movinet_mm', False):
        group.invoke = _exit_with_tool_code(group.invoke)


class _MimFinder:
    """Patches ``mim.cli`` as it is imported; otherwise finds nothing."""

    _movinet_mm = True

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == 'mim':
            warnings.filterwarnings('ignore', 'pkg_resources is deprecated',
                                    UserWarning)
        if name != 'mim.cli':
            return None
        from importlib.machinery import PathFinder
        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec


def install() -> None:
    """Patch mim in this process (now, or when it is imported)."""
    if 'mim.cli' in sys.modules:
        patch(sys.modules['mim.cli'])
    elif not any(getattr(f, '_movinet_mm', False) for f in sys.meta_path):
        sys.meta_path.insert(0, _MimFinder())


def write_pth(site_packages: str) -> str:
    """Write the ``.pth`` that runs :func:`install` at interpreter start."""
    here = osp.abspath(__file__)
    path = osp.join(site_packages, PTH_NAME)
    with open(path, 'w') as f:
        f.write(f'import os, runpy; p = {here!r}; os.path.isfile(p) and '
                "runpy.run_path(p)['install']()\n")
    return path


if __name__ == '__main__':
    import sysconfig
    print(f'wrote {write_pth(sysconfig.get_paths()["purelib"])}')
