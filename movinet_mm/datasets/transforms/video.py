"""Video decoding that a broken file cannot crash: open by path, check, name the file.

MMAction2's ``DecordInit`` reads the whole file and hands decord an
``io.BytesIO``. On a truncated or garbled file decord 0.6 then often dies
with a segmentation fault inside FFmpeg (65 of 129 truncated or
byte-flipped copies of the demo videos), which no ``try`` can catch: a
DataLoader worker is killed, or with ``num_workers=0`` the whole run exits
139 without a word. Opened by its path, the same files raise a Python
exception every time (0 of those 129, in any order of seeks and batch
reads), so ``VideoInit`` opens local files by path (others are copied to a
temporary file first) and checks what the decoder will need: the file is
non-empty, decord can open it, it has frames, and its first and last frames
decode (a truncated file most often fails there; catching it here makes the
failure the same for every clip sampled from it), and no fewer frames are
there than the container declares (decord, by path, reads a truncated AVI as
the frames left). A failure is an
:class:`UnreadableVideoError` naming the file (``on_error='raise'``, for the
val/test loops, which name, count and skip it) or, with
``on_error='skip'`` (training), a warning with the path and ``None``: then
MMEngine's ``BaseDataset`` draws another index (at most ``max_refetch``
times, 1000 by default, then it stops with an error).
``VideoDecode`` is ``DecordDecode`` with the same error handling, for a
frame in the middle that does not decode.
"""
import os.path as osp
import shutil
import tempfile
from typing import Optional

from mmaction.datasets.transforms import DecordDecode, DecordInit
from mmaction.registry import TRANSFORMS
from mmengine.logging import print_log

from ...utils.errors import UnreadableVideoError

ON_ERROR = ('raise', 'skip')


def _check_on_error(on_error: str) -> str:
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'skip', got "
                         f'{on_error!r}')
    return on_error


def open_video(path: str, num_threads: int = 1, check_frames: bool = True):
    """A decord ``VideoReader`` on a local file, opened by path and checked.

    Raises :class:`UnreadableVideoError` (``cannot read video PATH: why``)
    for a missing, empty, unopenable or frameless file, or, with
    ``check_frames``, one whose first or last frame does not decode or that
    has fewer frames than its container declares (a truncated file).
    """
    import decord

    def fail(reason: str):
        raise UnreadableVideoError(path, reason) from None

    if not osp.isfile(path):
        fail('no such file')
    if osp.getsize(path) == 0:
        fail('the file is empty (0 bytes)')
    try:
        reader = decord.VideoReader(path, num_threads=num_threads)
    except Exception as error:  # noqa: BLE001  (decord's own error types)
        fail(f'decord cannot open it ({_first_line(error)})')
    num_frames = len(reader)
    if num_frames <= 0:
        fail('it has no frames')
    if check_frames:
        for index in sorted({0, num_frames - 1}):
            try:
                reader[index].asnumpy()
            except Exception as error:  # noqa: BLE001
                fail(f'frame {index} of {num_frames} does not decode '
                     f'({_first_line(error)})')
        declared = declared_frame_count(path)
        if num_frames < declared - max(1, round(0.02 * declared)):
            fail(f'truncated: the container declares {declared} frames, '
                 f'{num_frames} are there')
        reader.seek(0)
    return reader


def declared_frame_count(path: str) -> int:
    """The frame count a container's header declares (0 if unknown).

    Opened by path, decord lists only the frames that are in the file: an
    AVI cut short (a partial download, ``head -c``) reads as a shorter video,
    down to one half-decoded frame. Its header still says how many frames it
    had (OpenCV reports that count; a time-based estimate for containers
    without one, hence the 2% tolerance of the caller).
    """
    import cv2
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT) \
            if capture.isOpened() else 0
    finally:
        capture.release()
    return max(0, int(round(count)))


def _first_line(error: Exception) -> str:
    """decord's messages carry C++ stack traces: keep the gist."""
    text = str(error).strip().splitlines()
    text = text[0] if text else type(error).__name__
    if 'ERROR opening' in text or 'Error reading' in text:
        return 'not a video decord can read'
    if '.cc:' in text:  # "[time] f.cc:292: [time] f.cc:218: Check ... (-1 vs. 0) what"
        text = 'decoder error: ' + text.rsplit(') ', 1)[-1].rsplit(': ', 1)[-1]
    return (text[:160] + '...') if len(text) > 160 else text


def _skip(path: str, error: UnreadableVideoError) -> None:
    print_log(f'skipped video {path}: {error.reason}', logger='current',
              level=30)


@TRANSFORMS.register_module()
class VideoInit(DecordInit):
    """``DecordInit`` that opens videos by path and checks them (see above).

    Required keys: ``filename``. Added: ``video_reader``, ``total_frames``,
    ``avg_fps``.

    Args:
        io_backend (str): ``'disk'`` opens the file in place; any other
            MMEngine file backend fetches it to a temporary file first.
        num_threads (int): decoder threads.
        check_frames (bool): decode the first and last frame when opening
            (two frame decodes per video; see the module doc).
        on_error (str): ``'raise'`` an :class:`UnreadableVideoError` naming
            the file, or ``'skip'``: log it and return None (training: MMEngine
            then loads another sample).
    """

    def __init__(self, io_backend: str = 'disk', num_threads: int = 1,
                 check_frames: bool = True, on_error: str = 'raise',
                 **kwargs) -> None:
        super().__init__(io_backend=io_backend, num_threads=num_threads,
                         **kwargs)
        self.check_frames = check_frames
        self.on_error = _check_on_error(on_error)

    def _get_video_reader(self, filename: str):
        if osp.splitext(filename)[0] == filename:
            filename = filename + '.mp4'  # as DecordInit
        if self.io_backend == 'disk':
            return open_video(filename, self.num_threads, self.check_frames)
        return self._open_remote(filename)

    def _open_remote(self, filename: str):
        from mmengine.fileio import FileClient
        if self.file_client is None:
            self.file_client = FileClient(self.io_backend, **self.kwargs)
        try:
            data = self.file_client.get(filename)
        except Exception as error:  # noqa: BLE001
            raise UnreadableVideoError(filename, str(error)) from error
        folder = tempfile.mkdtemp(prefix='movinet_video_')
        local = osp.join(folder, osp.basename(filename))
        try:
            with open(local, 'wb') as f:
                f.write(data)
            try:
                return open_video(local, self.num_threads, self.check_frames)
            except UnreadableVideoError as error:
                raise UnreadableVideoError(filename, error.reason) from None
        finally:  # decord keeps its own descriptor: the file can go now
            shutil.rmtree(folder, ignore_errors=True)

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except UnreadableVideoError as error:
            if self.on_error == 'raise':
                raise
            _skip(results.get('filename', '?'), error)
            return None

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(io_backend={self.io_backend}, '
                f'num_threads={self.num_threads}, check_frames='
                f'{self.check_frames}, on_error={self.on_error!r})')


@TRANSFORMS.register_module()
class VideoDecode(DecordDecode):
    """``DecordDecode`` whose failures name the file (``on_error`` as
    :class:`VideoInit`)."""

    def __init__(self, mode: str = 'accurate', on_error: str = 'raise'):
        super().__init__(mode=mode)
        self.on_error = _check_on_error(on_error)

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('filename', '?')
        try:
            results = super().transform(results)
            if not len(results['imgs']):
                raise ValueError('no frames were decoded')
            return results
        except Exception as error:  # noqa: BLE001  (decord's own types)
            results['video_reader'] = None
            error = UnreadableVideoError(
                path, f'frames {_frame_range(results.get("frame_inds"))} do '
                f'not decode ({_first_line(error)})')
            if self.on_error == 'raise':
                raise error from None
            _skip(path, error)
            return None

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(mode={self.mode}, '
                f'on_error={self.on_error!r})')


def _frame_range(frame_inds) -> str:
    try:
        return f'{int(min(frame_inds))}-{int(max(frame_inds))}'
    except (TypeError, ValueError):
        return '?'
