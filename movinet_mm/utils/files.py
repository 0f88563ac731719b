"""File helpers: hashes, output-path guards and atomic writes.

Every tool that writes checks its output paths with :func:`check_output_path`
(files) or :func:`check_output_dir` (directories) before any work, and writes
through :func:`atomic_output_file` / :func:`atomic_output_dir`: the output is
either complete or untouched, no temp file is left behind, and it gets the
user's umask like any file a tool creates (``tempfile`` makes 0600 / 0700).
"""
import functools
import hashlib
import json
import os
import os.path as osp
import shutil
import tempfile
from contextlib import contextmanager
from typing import Any, Callable, Collection, Iterable, Iterator, List, Optional


def sha256_file(path: str) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


# -------------------------------------------------------------- permissions
@functools.lru_cache(maxsize=1)
def user_umask() -> int:
    """The process umask, read once.

    From ``/proc/self/status`` where it is listed; else ``os.umask(0)`` and
    back at once (the only portable way, briefly 0 for other threads).
    """
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_umask(path: str) -> None:
    """Give a temp file or dir the mode a plain open/mkdir would have."""
    full = 0o777 if osp.isdir(path) else 0o666
    os.chmod(path, full & ~user_umask())


# ------------------------------------------------------------------- guards
def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip(os.sep) + os.sep)


def _same(a: str, b: str) -> bool:
    if a == b:
        return True
    return osp.exists(a) and osp.exists(b) and osp.samefile(a, b)


def _check_creatable(resolved: str, out: str, what: str) -> None:
    """The nearest existing folder above ``resolved`` is a writable dir."""
    folder = osp.dirname(resolved)
    while not osp.exists(folder):
        folder = osp.dirname(folder)
    if not osp.isdir(folder):
        raise ValueError(f'{what} {out} cannot be created: {folder} is a '
                         'file, not a directory; choose another path')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f'{what} {out} cannot be created: no permission to '
                         f'write in {folder}; choose another path')


def check_output_path(out: str, inputs: Iterable = (),
                      what: str = 'output') -> str:
    """Refuse an output file that is a directory, one of the inputs, or
    cannot be created (a file on its path, a folder without write access).

    Compares resolved paths (symlinks, ``..``, relative paths), so that no
    tool writes over what it reads. Returns the resolved output path.
    """
    resolved = osp.realpath(str(out))
    if osp.isdir(resolved):
        raise ValueError(f'{what} {out} is an existing directory; expected '
                         'a file path')
    for source in inputs:
        if source is not None and _same(resolved,
                                        osp.realpath(str(source))):
            raise ValueError(f'{what} {out} is also an input ({source}); '
                             'choose another output path')
    _check_creatable(resolved, out, what)
    return resolved


def check_output_dir(out: str, force: bool = False, inputs: Iterable = (),
                     expected_files: Collection[str] = (),
                     owner: str = 'this tool',
                     written_by: Optional[Callable[[str], Optional[str]]]
                     = None,
                     what: str = '--out') -> str:
    """Refuse an output directory whose replacement would lose anything.

    ``out`` may be new, empty, or (with ``force``) a previous output of
    ``owner``: ``written_by(out)`` names ``owner`` and it holds only
    ``expected_files``. Never an input, a folder holding an input, the
    working directory or a folder holding it. Returns the resolved path.
    """
    resolved = osp.realpath(str(out))
    if osp.lexists(out) and not osp.isdir(resolved):
        raise ValueError(f'{what} {out} is an existing file; expected a '
                         f'directory path (remove the file or choose '
                         f'another {what})')
    for source in inputs:
        if source is None:
            continue
        src = osp.realpath(str(source))
        if _same(resolved, src):
            raise ValueError(f'{what} {out} is also an input ({source}); '
                             'choose another output directory')
        if _inside(src, resolved):
            raise ValueError(f'{what} {out} holds an input ({source}); '
                             'choose another output directory')
    cwd = osp.realpath(os.getcwd())
    if _same(resolved, cwd) or _inside(cwd, resolved):
        raise ValueError(f'{what} {out} is the working directory or holds '
                         'it; choose a new directory for the output')
    _check_creatable(resolved, out, what)
    if not osp.isdir(resolved) or not os.listdir(resolved):
        return resolved
    if not force:
        raise ValueError(f'{what} {out} is a non-empty directory; remove it '
                         'or pass --force to replace it')
    writer = written_by(resolved) if written_by else None
    if writer != owner:
        found = f'an output of {writer}' if writer else \
            f'no output of {owner}'
        raise ValueError(f'{what} {out} holds {found}; --force replaces only '
                         f'a previous output of {owner}: choose another '
                         f'{what} or remove it yourself')
    foreign = sorted(set(os.listdir(resolved)) - set(expected_files))
    if foreign:
        shown = ', '.join(foreign[:3]) + (', ...' if len(foreign) > 3 else '')
        raise ValueError(f'{what} {out} holds files that {owner} does not '
                         f'write ({shown}); --force replaces only a previous '
                         f'output with nothing else in it: move them or '
                         f'choose another {what}')
    return resolved


# ----------------------------------------------------------- atomic writes
def _missing_folders(path: str) -> List[str]:
    """The folders above ``path`` that do not exist, innermost first."""
    missing = []
    folder = osp.dirname(osp.abspath(path))
    while not osp.isdir(folder):
        missing.append(folder)
        folder = osp.dirname(folder)
    return missing


def _remove_empty(folders: List[str]) -> None:
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            break


def replace_dir(tmp: str, out: str) -> None:
    """Move the finished directory ``tmp`` to ``out``, replacing an existing
    ``out`` (checked by :func:`check_output_dir`); ``out`` is missing only
    between two renames, and restored if the second fails."""
    if not osp.isdir(out):
        os.replace(tmp, out)
        return
    old = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.old-',
                           dir=osp.dirname(out))
    previous = osp.join(old, 'previous')
    os.replace(out, previous)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(previous, out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_output_dir(out: str) -> Iterator[str]:
    """A temp dir next to ``out`` to write the output in: on success it
    replaces ``out`` (:func:`replace_dir`); on failure it is removed, with
    the folders made for it."""
    out = osp.abspath(out)
    made = _missing_folders(out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(out)}.tmp-',
                           dir=osp.dirname(out))
    try:
        apply_umask(tmp)
        yield tmp
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _remove_empty(made)
        raise


@contextmanager
def atomic_output_file(path: str, suffix: str = '.tmp') -> Iterator[str]:
    """A temp file next to ``path`` to write: on success it is renamed to
    ``path``; on failure it is removed, with the folders made for it."""
    path = osp.abspath(path)
    made = _missing_folders(path)
    os.makedirs(osp.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.',
                               suffix=suffix, dir=osp.dirname(path))
    os.close(fd)
    try:
        apply_umask(tmp)
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if osp.lexists(tmp):
            os.remove(tmp)
        _remove_empty(made)
        raise


def write_text_atomic(path: str, text: str) -> None:
    """``text`` at ``path``, all or nothing (flushed to disk before the rename)."""
    with atomic_output_file(path) as tmp:
        with open(tmp, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def write_json_atomic(path: str, obj: Any,
                      indent: Optional[int] = 1) -> None:
    """``obj`` as JSON (and a newline), atomically."""
    write_text_atomic(path, json.dumps(obj, indent=indent) + '\n')
