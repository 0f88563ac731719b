"""Top-1 of exported stream models on a test set, and how often they agree.

    # fp32 vs int8 on the config's test split
    python tools/deployment/evaluate_exported.py \\
        exports/a0_stream_onnx exports/a0_stream_int8 \\
        --config configs/movinet_a0_stream_synthetic.py
    # any exported directories, optionally with a runtime: DIR[:BACKEND]
    python tools/deployment/evaluate_exported.py exports/a0_onnx \\
        exports/a0_onnx:openvino exports/a0_pte \\
        --ann-file data/test_list.txt --data-prefix data/videos --json r.json

Every video is decoded once, preprocessed as each model's meta.json says
(the config's test pipeline: resize, crop, mean/std, frame interval) and
streamed frame by frame through every model with its state carried; the
prediction is the argmax of the logits after the last frame. Reported per
model: top-1 against the labels, and the share of videos whose prediction
equals that of the first model (the reference). Unreadable videos are named
on stderr and skipped (counted in the report); none readable is an error.
Labels outside the model's classes are named in one warning and left out
of top-1; models with different class counts are not compared.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('models', nargs='+', metavar='DIR[:BACKEND]',
                   help='exported stream model directories; the first is '
                   'the reference for agreement')
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--config', help="the config's data set (--split)")
    src.add_argument('--ann-file', help='MMAction2 video list ("path label" '
                     'per line), paths relative to --data-prefix')
    p.add_argument('--split', default='test', choices=['train', 'val',
                                                       'test'])
    p.add_argument('--data-prefix', default='')
    p.add_argument('--max-videos', type=int, default=None,
                   help='only the first N videos of the list')
    p.add_argument('--threads', type=int, default=None,
                   help='threads per runtime (default: the runtime\'s)')
    p.add_argument('--json', help='also write the results to this file')
    args = p.parse_args(argv)
    if args.max_videos is not None and args.max_videos < 1:
        p.error('--max-videos must be >= 1')
    return args


def parse_model(spec: str):
    """``DIR`` or ``DIR:BACKEND`` (a Windows drive letter is not a backend)."""
    from movinet_mm.deploy.runtime import RUNTIMES
    head, sep, tail = spec.rpartition(':')
    if sep and tail in RUNTIMES:
        return head, tail
    return spec, None


def evaluate(models, videos, threads=None, log=None) -> dict:
    """Stream ``videos`` ``[(path, label)]`` through ``models``
    ``[(dir, backend)]``; returns per-model top-1 and agreement."""
    import numpy as np

    from movinet_mm.datasets.frames import FramePipeline, read_video
    from movinet_mm.deploy.meta import DeployError
    from movinet_mm.deploy.quantize import quantization_summary
    from movinet_mm.deploy.runtime import load_runtime
    from movinet_mm.utils.errors import UnreadableVideoError
    runtimes = []
    for model_dir, backend in models:
        rt = load_runtime(model_dir, backend, num_threads=threads)
        if rt.mode != 'stream':
            raise DeployError(f'{model_dir} holds a {rt.mode} model; this '
                              'tool streams stream models')
        if rt.multi_label:
            # top-1 means nothing for several labels per video
            raise DeployError(
                f'{model_dir} holds a multi-label model, scored by mAP: test '
                'it with `mim test` and its config (StreamTestLoop reports '
                'mAP); this tool reports top-1 of single-label models')
        runtimes.append(rt)
    num_classes = runtimes[0].num_classes
    if any(rt.num_classes != num_classes for rt in runtimes):
        raise DeployError('cannot compare models with different classes: ' +
                          ', '.join(f'{d} has {rt.num_classes}' for (d, _), rt
                                    in zip(models, runtimes)))
    outside = [(p, lab) for p, lab in videos
               if lab is not None and not 0 <= lab < num_classes]
    if outside and log:
        log(f'warning: {len(outside)} of {len(videos)} labels are outside '
            f'the {num_classes} classes of the model (e.g. {outside[0][0]}: '
            f'label {outside[0][1]}); those videos are left out of top-1')
    pipelines = [FramePipeline.from_meta(rt.meta) for rt in runtimes]
    keys = [p.key for p in pipelines]
    predictions = [[] for _ in runtimes]
    labels, skipped, names = [], [], []
    start = time.perf_counter()
    frames_streamed = 0
    for index, (path, label) in enumerate(videos):
        clips = {}
        try:
            for key, pipeline in zip(keys, pipelines):
                if key not in clips:
                    clips[key] = read_video(path, pipeline)
        except UnreadableVideoError as error:
            skipped.append(str(error))
            if log:
                log(f'skipped: {error}')
            continue
        for i, (rt, key) in enumerate(zip(runtimes, keys)):
            logits, _ = rt.stream_step(clips[key])
            predictions[i].append(int(np.argmax(logits)))
        frames_streamed += next(iter(clips.values())).shape[2]
        labels.append(label)
        names.append(path)
        if log and (index + 1) % 50 == 0:
            log(f'{index + 1}/{len(videos)} videos, '
                f'{time.perf_counter() - start:.0f} s')
    n = len(labels)
    if not n:
        raise DeployError(f'none of the {len(videos)} videos could be read: '
                          + (skipped[0] if skipped else 'no videos listed'))
    labelled = [i for i, lab in enumerate(labels)
                if lab is not None and 0 <= lab < num_classes]
    unlabelled = sum(lab is None for lab in labels)
    rows = []
    for (model_dir, backend), rt, preds in zip(models, runtimes,
                                               predictions):
        correct = sum(preds[i] == labels[i] for i in labelled)
        agree = sum(a == b for a, b in zip(preds, predictions[0]))
        rows.append(dict(
            model=model_dir, backend=rt.backend,
            precision=quantization_summary(rt.meta),
            top1=100.0 * correct / len(labelled) if labelled else None,
            correct=correct,
            agreement=100.0 * agree / n if n else None,
            agree=agree))
    return dict(videos=n, labelled=len(labelled),
                outside_classes=n - unlabelled - len(labelled),
                num_classes=num_classes, skipped=skipped,
                frames=frames_streamed,
                seconds=round(time.perf_counter() - start, 1), models=rows)


def markdown(result) -> str:
    lines = ['| model | runtime | precision | top-1 (%) | agrees with '
             'the first (%) |', '|---|---|---|---|---|']
    for r in result['models']:
        top1 = f'{r["top1"]:.1f} ({r["correct"]}/{result["labelled"]})' \
            if r['top1'] is not None else '-'
        agree = f'{r["agreement"]:.1f} ({r["agree"]}/{result["videos"]})' \
            if r['agreement'] is not None else '-'
        lines.append(f'| {r["model"]} | {r["backend"]} | {r["precision"]} '
                     f'| {top1} | {agree} |')
    lines.append('')
    lines.append(f'{result["videos"]} videos ({result["frames"]} frames) '
                 f'streamed frame by frame, {len(result["skipped"])} '
                 f'unreadable skipped, {result["seconds"]} s.')
    if result.get('outside_classes'):
        lines.append(f'top-1 leaves out {result["outside_classes"]} videos '
                     f'whose labels are outside the {result["num_classes"]} '
                     'classes of the model.')
    if len(result['models']) >= 2 and result['labelled']:
        ref = result['models'][0]['top1']
        for r in result['models'][1:]:
            lines.append(f'top-1 change vs the first: {r["top1"] - ref:+.1f} '
                         f'points ({r["model"]})')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from movinet_mm.deploy.quantize import videos_from_ann_file, videos_from_config
    from movinet_mm.utils.files import check_output_path, write_json_atomic
    models = [parse_model(m) for m in args.models]
    if args.json:
        check_output_path(args.json, [args.config, args.ann_file,
                                      *(d for d, _ in models)], what='--json')
    if args.config:
        videos = videos_from_config(args.config, args.split)
    else:
        videos = videos_from_ann_file(args.ann_file, args.data_prefix)
    if args.max_videos is not None:
        videos = videos[:args.max_videos]
    result = evaluate(models, videos, args.threads,
                      log=lambda msg: print(msg, file=sys.stderr,
                                            flush=True))
    print(markdown(result))
    if args.json:
        write_json_atomic(args.json, result)
    return 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    except (ValueError, ImportError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(2)
