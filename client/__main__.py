"""``python -m client URL image IN -o OUT [options]`` / ``video IN -o OUT`` / ``batch FILES... -o OUT.zip``
/ ``models``.

Talks to a running app or Space; needs only gradio_client. Exit 0 on success, 1 with a one-line
``error:`` when the server refuses or cannot be reached, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from . import ClientError, RestorationClient
from .endpoints import OPTION_PARAMS, VIDEO_PARAMS, field


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m client", description="Call a restoration app or Space.")
    p.add_argument("src", help="app URL (http://host:7860) or Space id (user/space)")
    p.add_argument("--token", help="Hugging Face token (default: $HF_TOKEN)")
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("image", "video", "batch"):
        s = sub.add_parser(name)
        s.add_argument("inputs", nargs="+" if name == "batch" else 1, type=Path)
        s.add_argument("-o", "--output", type=Path, required=True,
                       help={"image": "output image", "video": "output video"}.get(name, "output zip"))
        for opt in (*OPTION_PARAMS, *(VIDEO_PARAMS if name == "video" else ())):
            if opt == "preset":
                s.add_argument("--preset", help="start from a preset (old-photo, digital, video, anime); "
                                                "the options given override it")
                continue
            f = field(opt)
            s.add_argument(f"--{opt.replace('_', '-')}", dest=opt, type=f.kind, help=f.help)
        s.add_argument("--json", action="store_true", help="print metrics/report as JSON")
    sub.add_parser("models")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        with RestorationClient(args.src, token=args.token) as c:
            if args.command == "models":
                for m in c.list_models():
                    print(f"{m['id']:26s} {m['task']:17s} x{m['scale']}  {m['license']}")
                return 0
            names = (*OPTION_PARAMS, *(VIDEO_PARAMS if args.command == "video" else ()))
            opts = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
            if args.command == "video":
                r = c.restore_video(args.inputs[0], **opts)
                shutil.copyfile(r.path, args.output)
                m = r.metrics
                print(json.dumps(m) if args.json else
                      f"{args.output}: {m['frames']} frames, {m['size_out'][0]}x{m['size_out'][1]}, "
                      f"{m['fps_processing']:.2f} fps on the server")
                return 0
            if args.command == "image":
                r = c.restore_image(args.inputs[0], **opts)
                shutil.copyfile(r.path, args.output)
                print(json.dumps(r.metrics) if args.json else
                      f"{args.output}: {r.metrics['size_out'][0]}x{r.metrics['size_out'][1]}, "
                      f"PSNR {r.metrics['psnr']:.2f} dB vs {r.metrics['compared_with']}")
                return 0
            r = c.restore_batch(args.inputs, **opts)
            if r.archive:
                shutil.copyfile(r.archive, args.output)
            print(json.dumps(r.report) if args.json else
                  f"{args.output}: {len(r.report['restored'])} restored, {len(r.report['failed'])} failed")
            for f in r.report["failed"]:
                print(f"failed: {f['file']}: {f['error']}", file=sys.stderr)
            return 0 if r.archive and not r.report["failed"] else 1
    except (ClientError, OSError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
