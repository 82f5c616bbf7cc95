"""Command line: ``python -m restoration image|video|batch|models ...``.

Exit codes: 0 everything done; 1 the work failed (or some batch files did); 2 bad usage or options.
Errors are one line on stderr, starting with ``error:``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ._version import __version__
from .catalog import list_models
from .errors import OptionError, RestorationError
from .options import (
    IMAGE_FIELDS,
    PRESETS,
    VIDEO_FIELDS,
    Field,
    RestoreOptions,
    VideoOptions,
    build_options,
    build_video_options,
)

_FLAG_NAMES = {"output_format": "format"}  # option -> flag, where the flag is shorter


def _add_fields(p: argparse.ArgumentParser, title: str, specs: tuple[Field, ...]) -> None:
    """One flag per option of ``specs``, with its type, choices and help from ``restoration.options``;
    every default is None ("not given"), so the preset's value stays unless the flag is used."""
    g = p.add_argument_group(title)
    for f in specs:
        flag = "--" + _FLAG_NAMES.get(f.name, f.name).replace("_", "-")
        if f.kind is bool:  # only True defaults exist: the flag turns the option off
            g.add_argument(f"--no-{f.name.replace('_', '-')}", dest=f.name, action="store_const", const=False,
                           help=f"no {f.help}")
            continue
        default = "" if f.default is None else f" (default {f.default})"
        choices = None if f.name == "output_format" else f.choices  # jpg, TIF... are normalised later
        kind = str if f.name == "denoise" else f.kind  # a number, or "auto"
        g.add_argument(flag, dest=f.name, type=kind, choices=choices, help=f"{f.help}{default}")


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=sorted(PRESETS), help="start from a preset; the flags given override it")
    _add_fields(p, "restoration options (default: the preset's, else the library's)", IMAGE_FIELDS)


def options_from_args(args: argparse.Namespace) -> RestoreOptions:
    """``build_options`` with the preset and the flags the user gave."""
    return build_options(args.preset, **{f.name: getattr(args, f.name, None) for f in IMAGE_FIELDS})


def video_options_from_args(args: argparse.Namespace) -> VideoOptions:
    return build_video_options(**{f.name: getattr(args, f.name, None) for f in VIDEO_FIELDS})


def _add_cluster(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("Ray cluster (pip install 'restoration[cluster]')")
    g.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run on Ray: alone, on $RAY_ADDRESS if set, else an embedded Ray on this machine; "
                   "with an ADDRESS (ray://head:10001, head:6379), on that cluster. Inputs and outputs must "
                   "be on storage every node mounts at the same path")
    g.add_argument("--workers", type=int, help="Ray workers (default: one per GPU, else as many as fit)")
    g.add_argument("--gpus-per-worker", type=float, default=1.0, help="a fraction shares a GPU (default 1)")
    g.add_argument("--cpus-per-worker", type=float, help="cores of a CPU worker (default 4)")


def cluster_from_args(args: argparse.Namespace):
    """The ``Cluster`` the Ray flags ask for, or None without ``--ray``. Raises ``OptionError`` for
    worker flags without ``--ray`` and for bad sizes."""
    if args.ray is None:
        if args.workers is not None or args.cpus_per_worker is not None or args.gpus_per_worker != 1.0:
            raise OptionError("--workers, --gpus-per-worker and --cpus-per-worker need --ray")
        return None
    from .cluster import Cluster

    return Cluster(address=args.ray or None, workers=args.workers, gpus_per_worker=args.gpus_per_worker,
                   cpus_per_worker=args.cpus_per_worker)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m restoration",
        description="Restore old, small, noisy or black-and-white photos.",
    )
    parser.add_argument("--version", action="version", version=f"restoration {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("image", help="restore one image")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, help="output file (default: INPUT_restored.png)")
    p.add_argument("--reference", type=Path, help="ground-truth image for PSNR/SSIM")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_options(p)

    v = sub.add_parser("video", help="restore one video (audio kept; rerun to resume)")
    v.add_argument("input", type=Path)
    v.add_argument("-o", "--output", type=Path, help="output file: .mp4 .mkv .mov .webm "
                   "(default: INPUT_restored and the codec's container)")
    v.add_argument("--json", action="store_true", help="print the metrics as JSON")
    _add_fields(v, "video encoding", VIDEO_FIELDS)
    _add_options(v)
    _add_cluster(v)

    b = sub.add_parser("batch", help="restore every image in a folder tree or a zip archive")
    b.add_argument("input", type=Path, help="a folder (searched recursively) or a .zip")
    b.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    b.add_argument("--overwrite", action="store_true", help="redo files that already have an output")
    _add_options(b)
    _add_cluster(b)

    m = sub.add_parser("models", help="list or download models")
    msub = m.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="the catalogue and where each model's weights are")
    d = msub.add_parser("download", help="download weights into the Hugging Face cache")
    d.add_argument("ids", nargs="+", help="model ids, or 'all'")
    return parser


def _progress_bar(desc: str):
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, unit="", bar_format="{l_bar}{bar}| {elapsed}<{remaining}",
               file=sys.stderr, disable=None)

    def update(fraction: float, message: str) -> None:
        bar.n = int(fraction * 1000)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    return bar, update


def _cmd_image(args: argparse.Namespace) -> int:
    from .media import format_for, write_image
    from .pipeline import restore_image

    opts = options_from_args(args)
    out = args.output or args.input.with_name(f"{args.input.stem}_restored.png")
    format_for(out, opts.output_format)
    bar, update = _progress_bar(args.input.name)
    try:
        res = restore_image(args.input, opts, reference=args.reference, progress=update)
    finally:
        bar.close()
    write_image(res.image, out, output_format=opts.output_format, quality=opts.quality,
                record=res.record())
    m = res.metrics
    _report(out, m, args.json,
            f"{out}: {m['size_in'][0]}x{m['size_in'][1]} -> {m['size_out'][0]}x{m['size_out'][1]}, "
            f"stages {'+'.join(m['stages']) or 'none'}, PSNR {m['psnr']:.2f} dB / SSIM "
            f"{m['ssim']:.4f} vs {m['compared_with']}, {m['seconds']['total']:.2f} s")
    return 0


def _report(out: Path, metrics: dict[str, Any], as_json: bool, line: str) -> None:
    """The result's warnings on stderr, then its metrics as JSON or its one summary ``line``."""
    for warning in metrics["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    print(json.dumps({"output": str(out), **metrics}, default=str) if as_json else line)


def _cmd_video(args: argparse.Namespace) -> int:
    from .jobs import restore_video

    opts = options_from_args(args)
    video = video_options_from_args(args)
    cluster = cluster_from_args(args)
    out = args.output or args.input.with_name(f"{args.input.stem}_restored{video.suffix}")
    bar, update = _progress_bar(args.input.name)
    try:
        res = restore_video(args.input, out, opts, video, progress=update, executor=cluster)
    except KeyboardInterrupt:
        print(f"error: interrupted; finished segments are kept: run the same command again to "
              f"resume {out.name}", file=sys.stderr)
        return 130
    finally:
        bar.close()
    m = res.metrics
    resumed = f", resumed at frame {res.resumed_frames}" if res.resumed_frames else ""
    _report(out, m, args.json,
            f"{out}: {m['frames']} frames {m['size_in'][0]}x{m['size_in'][1]} -> "
            f"{m['size_out'][0]}x{m['size_out'][1]}, {m['fps_processing']:.2f} fps, audio "
            f"{m['audio_copied']} copied / {m['audio_reencoded']} re-encoded{resumed}, "
            f"{m['seconds_total']:.1f} s")
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .jobs import restore_archive, restore_folder

    opts = options_from_args(args)
    cluster = cluster_from_args(args)
    bar = tqdm(desc="batch", unit="file", file=sys.stderr, disable=None)

    def on_item(item, index: int, total: int) -> None:
        bar.total = total
        bar.update(1)
        if item.status == "failed":
            tqdm.write(f"failed: {item.src}: {item.error}", file=sys.stderr)

    run = restore_archive if args.input.suffix.lower() == ".zip" and args.input.is_file() else restore_folder
    try:
        summary = run(args.input, args.output, opts, overwrite=args.overwrite, on_item=on_item, executor=cluster)
        for note in summary.notes:
            tqdm.write(f"skipped: {note}", file=sys.stderr)
    finally:
        bar.close()
    print(summary.line())
    return 0 if summary.ok else 1


def _cmd_models(args: argparse.Namespace) -> int:
    from . import weights

    if args.models_command == "list":
        rows = []
        for s in list_models():
            local = next((p for p in weights.local_candidates(s) if p.is_file()), None)
            where = f"local {local}" if local else ("cached" if weights.cached_path(s) else "not downloaded")
            rows.append((s.id, s.task, f"x{s.scale}", s.license, where))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
        return 0
    ids = [s.id for s in list_models()] if args.ids == ["all"] else args.ids
    failed = 0
    for mid in ids:
        try:
            path = weights.download(mid)
            print(f"{mid}: {path}")
        except RestorationError as e:
            print(f"error: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "image":
            return _cmd_image(args)
        if args.command == "batch":
            return _cmd_batch(args)
        if args.command == "video":
            return _cmd_video(args)
        return _cmd_models(args)
    except OptionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RestorationError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a bug still ends in one line; -v shows the traceback
        if args.verbose:
            raise
        where = f"{args.input.name}: " if getattr(args, "input", None) else ""
        print(f"error: {where}unexpected {type(e).__name__}: {e} (run again with -v for the details "
              "and report it)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
