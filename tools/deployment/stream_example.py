"""Stream a video through an exported MoViNet stream model, frame by frame.

    python stream_example.py MODEL_DIR VIDEO [--topk 5] [--threads 1]

MODEL_DIR is what ``tools/deployment/export.py --backend onnx --mode
stream`` wrote (model.onnx + meta.json). Self-contained on purpose: it
needs only numpy, a video reader (decord, else OpenCV) and onnxruntime; no
torch, MMAction2 or movinet_mm. Copy it next to your model and adapt.

What it does, all from meta.json:
1. decode RGB frames one at a time and keep every ``frame_interval``-th;
2. resize (short side, or a fixed size), centre crop, ``(x - mean) / std``
   -> float32 ``[1, 3, 1, H, W]``;
3. run the model with the state carried from frame to frame: inputs
   ``image`` + the states (zeros at the start of a video), outputs
   ``logits`` + the next states (``<state>_out``);
4. print the running top-k; the logits after the last frame are those of
   the whole video.

Bad input (a missing or broken video or model directory) is one line on
stderr and exit status 2.
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np

NUMPY_DTYPES = {'float32': np.float32, 'int64': np.int64}


# ------------------------------------------------------------ preprocessing
def resize_bilinear(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of ``[H, W, C]`` (half-pixel centres, like cv2/mmcv)."""
    def axis(out_size, in_size):
        src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
        src = np.clip(src, 0, in_size - 1)
        low = np.floor(src).astype(np.int64)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, (src - low).astype(np.float32)

    x = frame.astype(np.float32)
    if x.shape[:2] == (height, width):
        return x
    top, bottom, fy = axis(height, x.shape[0])
    left, right, fx = axis(width, x.shape[1])
    rows = x[top] * (1 - fy)[:, None, None] + x[bottom] * fy[:, None, None]
    return rows[:, left] * (1 - fx)[None, :, None] + \
        rows[:, right] * fx[None, :, None]


def preprocess(frame: np.ndarray, pre: dict) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` -> float32 ``[1, 3, 1, h, w]`` per meta.json."""
    h, w = frame.shape[:2]
    resize, crop = pre.get('resize'), pre.get('crop')
    if resize is None:
        x = frame.astype(np.float32)
    elif resize['type'] == 'short_side':
        scale = resize['size'] / min(h, w)
        x = resize_bilinear(frame, int(h * scale + 0.5), int(w * scale + 0.5))
    elif resize['type'] == 'fixed':
        x = resize_bilinear(frame, *resize['size'])
    else:
        raise ValueError(f'unknown resize {resize}')
    if crop is not None:
        ch, cw = crop['size']
        top, left = (x.shape[0] - ch) // 2, (x.shape[1] - cw) // 2
        if top < 0 or left < 0:
            raise ValueError(f'frame of {x.shape[:2]} is smaller than the '
                             f'crop {ch}x{cw}')
        x = x[top:top + ch, left:left + cw]
    mean = np.asarray(pre['mean'], np.float32)
    std = np.asarray(pre['std'], np.float32)
    x = (x - mean) / std
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None, :, None],
                                dtype=np.float32)


def fail(message: str) -> SystemExit:
    """``message`` on stderr, exit status 2 (raise what it returns)."""
    print(message, file=sys.stderr)
    error = SystemExit(message)
    error.code = 2
    return error


# --------------------------------------------------------------------- video
def unreadable(path: str, reason) -> SystemExit:
    text = (str(reason).strip().splitlines() or ['unknown error'])[0]
    if 'ERROR opening' in text or 'Error reading' in text:
        text = 'not a video decord can read'
    elif '.cc:' in text:  # decord: "[time] f.cc:61: Check failed: (...) why"
        text = 'decoder error: ' + \
            text.rsplit(') ', 1)[-1].rsplit(': ', 1)[-1]
    return fail(f'cannot read video {path}: {text[:160]}')


def check_frame(frame: np.ndarray, path: str, index: int) -> np.ndarray:
    """A decoded frame must be uint8 RGB ``[H, W, 3]`` (decord gives 6
    channels for some tiny videos)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        shape = 'x'.join(map(str, frame.shape))
        raise unreadable(path, f'frame {index} decodes as {shape} '
                         f'{frame.dtype}; expected [H, W, 3] uint8 RGB '
                         '(re-encode the video, e.g. with ffmpeg)')
    return frame


def check_frame_count(path: str, frames: int) -> None:
    """Refuse a truncated file: fewer frames than its header declares.

    The rule of movinet_mm.datasets.transforms.video.open_video (training,
    test loops and the deployment tools): decord by path reads a file cut
    short as a shorter video; OpenCV reports the declared count (no check
    without OpenCV).
    """
    try:
        import cv2
    except ImportError:
        return
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    declared = int(round(capture.get(cv2.CAP_PROP_FRAME_COUNT))) \
        if capture.isOpened() else 0
    capture.release()
    if frames < declared - max(1, round(0.02 * declared)):
        raise unreadable(path, f'truncated: the container declares '
                         f'{declared} frames, {frames} are there')


def read_frames(path: str):
    """RGB uint8 frames of a video, one at a time (decord, else OpenCV)."""
    if not osp.isfile(path):
        raise unreadable(path, 'no such file')
    if osp.getsize(path) == 0:
        raise unreadable(path, 'the file is empty (0 bytes)')
    try:
        import decord
    except ImportError:
        decord = None
    if decord is not None:
        try:
            reader = decord.VideoReader(path, num_threads=1)
        except Exception as error:  # decord's own error types
            raise unreadable(path, error) from None
        check_frame_count(path, len(reader))
        for index in range(len(reader)):
            try:
                frame = reader[index].asnumpy()
            except Exception as error:
                raise unreadable(path, f'frame {index}: {error}') from None
            yield frame
        return
    import cv2
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise unreadable(path, 'OpenCV cannot open it')
    count = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        count += 1
        yield frame[:, :, ::-1]  # BGR -> RGB
    capture.release()
    check_frame_count(path, count)  # OpenCV: known only at the end


# --------------------------------------------------------------------- model
class StreamModel:
    """The exported stream step with its state carried between frames."""

    def __init__(self, model_dir: str, threads: int = 0):
        import onnxruntime as ort
        path = osp.join(model_dir, 'meta.json')
        try:
            with open(path) as f:
                self.meta = json.load(f)
        except (OSError, ValueError) as error:
            raise fail(f'cannot read {path} ({error}); expected a directory '
                       'written by tools/deployment/export.py') from None
        meta = self.meta if isinstance(self.meta, dict) else {}
        if meta.get('kind') == 'ensemble':
            raise fail(f'{model_dir} is an ensemble: run each member_<i> '
                       'directory and average their logits')
        missing = [k for k in ('mode', 'backend', 'file', 'input_names',
                               'output_names', 'states', 'num_classes',
                               'preprocessing') if k not in meta]
        if missing or not meta['preprocessing']:
            raise fail(f'{path} lacks {missing or ["preprocessing"]}: export '
                       'the model again with its config')
        if meta['mode'] != 'stream' or meta['backend'] != 'onnx':
            raise fail(f'{model_dir} is a {meta["backend"]} {meta["mode"]} '
                       'model; this example runs ONNX stream models')
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        model = osp.join(model_dir, meta['file'])
        try:
            self.session = ort.InferenceSession(
                model, options, providers=['CPUExecutionProvider'])
        except Exception as error:  # onnxruntime's own error types
            raise fail(f'{model} cannot be loaded by onnxruntime ('
                       f'{str(error).strip()[:200]}): the file is corrupt or '
                       'truncated; export it again') from None
        self.input_names = self.meta['input_names']
        self.output_names = self.meta['output_names']
        self.reset()

    def reset(self) -> None:
        """Zero state: call before every new video."""
        self.state = [np.zeros(s['shape'], NUMPY_DTYPES[s['dtype']])
                      for s in self.meta['states']]

    def step(self, image: np.ndarray) -> np.ndarray:
        outputs = self.session.run(
            self.output_names,
            dict(zip(self.input_names, [image, *self.state])))
        self.state = outputs[1:]
        return outputs[0][0]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model_dir')
    parser.add_argument('video')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--threads', type=int, default=0,
                        help='onnxruntime threads (0: its default)')
    parser.add_argument('--frame-interval', type=int,
                        help='feed every n-th frame (default: meta.json)')
    parser.add_argument('--print-every', type=int, default=10)
    parser.add_argument('--out-json', help='write the final logits and the '
                        'per-frame top-1 here')
    args = parser.parse_args(argv)
    if args.out_json:  # before any work (movinet_mm's check_output_path)
        folder = osp.dirname(osp.abspath(args.out_json))
        if osp.isdir(args.out_json) or not osp.isdir(folder):
            raise fail(f'--out-json {args.out_json}: expected a file path '
                       'in an existing directory')

    model = StreamModel(args.model_dir, args.threads)
    pre = model.meta['preprocessing']
    names = model.meta.get('class_names') or \
        [str(i) for i in range(model.meta['num_classes'])]
    interval = args.frame_interval or pre.get('frame_interval', 1)
    offset = pre.get('frame_offset', 0)  # an ensemble member's sampling
    size = tuple(model.meta['inputs'][0]['shape'][3:])
    logits, fed, top1 = None, 0, []
    for index, frame in enumerate(read_frames(args.video)):
        if index < offset or (index - offset) % interval:
            continue
        frame = check_frame(frame, args.video, index)
        try:
            image = preprocess(frame, pre)
        except ValueError as error:  # e.g. a frame smaller than the crop
            raise fail(f'{args.video}: frame {index}: {error}') from None
        if image.shape[3:] != size:
            raise fail(f'{args.video}: frames of {frame.shape[0]}x'
                       f'{frame.shape[1]} become {image.shape[3]}x'
                       f'{image.shape[4]} after preprocessing; the model '
                       f'takes {size[0]}x{size[1]}: check the '
                       'preprocessing in meta.json')
        logits = model.step(image)
        fed += 1
        top1.append(int(logits.argmax()))
        if fed % args.print_every == 0:
            print(f'frame {index}: {names[top1[-1]]}')
    if logits is None:
        raise fail(f'cannot read video {args.video}: no frames to feed')
    probs = 1 / (1 + np.exp(-logits)) if model.meta.get('multi_label') \
        else softmax(logits)  # multi-label: per-class sigmoid, top-k of them
    print(f'{fed} frames fed; top-{args.topk}:')
    for k in np.argsort(-probs)[:args.topk]:
        print(f'  {probs[k]:.3f}  {names[k]}')
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(dict(logits=logits.tolist(), frames=fed, top1=top1), f)


if __name__ == '__main__':
    main()
