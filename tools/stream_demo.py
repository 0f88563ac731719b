"""Online recognition of a video file (or any frame source), frame by frame.

    python tools/stream_demo.py CONFIG CHECKPOINT VIDEO [--topk 5]
        [--label-map labels.txt] [--out-json preds.json] [--out-png probs.png]

Reads VIDEO with decord one frame at a time (the video is never held in
memory), feeds every ``frame_interval``-th frame (the config's test
sampling, e.g. 5 for 25 fps -> 5 fps) to the causal model with its stream
state, and prints the running top-k. For a camera or any other source, use
``movinet_mm.apis.OnlineRecognizer`` with your own frame iterator.
"""
import argparse
import json
import os
import os.path as osp
import time

import torch

from movinet_mm.apis import (OnlineRecognizer, config_frame_interval,
                             init_recognizer, read_video_frames,
                             recognize_frames)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='checkpoint file (or "none" for '
                        'random weights, to try the tool)')
    parser.add_argument('video')
    parser.add_argument('--topk', type=int, default=5)
    parser.add_argument('--label-map', help='text file, one class name per '
                        'line')
    parser.add_argument('--frame-interval', type=int,
                        help="feed every n-th frame (default: the config's)")
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out-json', help='write per-frame predictions')
    parser.add_argument('--out-png', help='plot class probabilities over time')
    parser.add_argument('--print-every', type=int, default=10,
                        help='print the running top-k every n fed frames')
    return parser.parse_args(argv)


def load_labels(path, num_classes):
    if path is None:
        return [str(i) for i in range(num_classes)]
    with open(path) as f:
        labels = [line.strip() for line in f if line.strip()]
    if len(labels) != num_classes:
        raise ValueError(f'{path} has {len(labels)} labels, the model '
                         f'{num_classes} classes')
    return labels


def plot(records, labels, topk, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    probs = torch.stack([torch.tensor(r['probs']) for r in records])
    top = probs[-1].topk(min(topk, probs.shape[1])).indices.tolist()
    frames = [r['frame'] for r in records]
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=120)
    for c in top:
        ax.plot(frames, probs[:, c].numpy(), label=labels[c])
    ax.set_xlabel('frame of the video')
    ax.set_ylabel('probability')
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc='upper left')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.video):
        raise SystemExit(f'no such video: {args.video}')
    checkpoint = None if args.checkpoint.lower() == 'none' else args.checkpoint
    model, cfg = init_recognizer(args.config, checkpoint, args.device)
    online = OnlineRecognizer.from_config(model, cfg, args.device)
    labels = load_labels(args.label_map, model.cls_head.num_classes)
    interval = args.frame_interval or config_frame_interval(cfg)
    import decord
    total = len(decord.VideoReader(args.video, num_threads=1))
    records = []
    start = time.perf_counter()
    fed = 0
    for index, probs in recognize_frames(online, read_video_frames(args.video),
                                         interval):
        fed += 1
        values, classes = probs.topk(min(args.topk, probs.numel()))
        records.append({'frame': index, 'probs': probs.tolist(),
                        'topk': [[labels[c], round(float(v), 5)]
                                 for v, c in zip(values, classes)]})
        if fed % args.print_every == 0 or index + interval >= total:
            bar = '#' * int(30 * (index + 1) / total)
            top = ', '.join(f'{n} {100 * p:.1f}%' for n, p in records[-1]['topk'])
            print(f'[{bar:<30}] frame {index + 1}/{total}: {top}', flush=True)
    seconds = time.perf_counter() - start
    if not records:
        raise SystemExit(f'{args.video} has no frames')
    print(f'{fed} frames fed in {seconds:.2f} s '
          f'({1000 * seconds / fed:.1f} ms/frame)')
    print('final top-{}: {}'.format(
        args.topk, ', '.join(f'{n} ({100 * p:.1f}%)'
                             for n, p in records[-1]['topk'])))
    if args.out_json:
        os.makedirs(osp.dirname(osp.abspath(args.out_json)), exist_ok=True)
        with open(args.out_json, 'w') as f:
            json.dump({'video': args.video, 'frame_interval': interval,
                       'labels': labels, 'predictions': records}, f)
        print(f'per-frame predictions: {args.out_json}')
    if args.out_png:
        plot(records, labels, args.topk, args.out_png)
        print(f'probabilities over time: {args.out_png}')


if __name__ == '__main__':
    main()
