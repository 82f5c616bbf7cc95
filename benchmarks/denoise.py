"""Denoiser benchmark: PSNR/SSIM of every denoiser on damaged crops, with time per megapixel.

Damage: Gaussian noise (sigma 15, 25, 50) and JPEG (quality 20, 40) on clean crops of scikit-image's
photos. Denoisers: none (the damaged input), non-local means, and each catalogue network
(drunet-color with the strength as its noise level, scunet-real at full strength), all through the
library's own denoise stage.

Without trained files in ``--models-dir`` the networks have random weights: the table then proves the
plumbing (every denoiser runs, is timed and measured), not the quality. With trained weights
(``drunet-color.pth``, ``scunet-real.pth`` in that folder) the same command gives the real figures.

    python benchmarks/denoise.py --quick --json denoise.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DENOISERS = ("nlm", "drunet-color", "scunet-real")
MAX_STRENGTH = 30.0


def crops(size: int) -> dict[str, np.ndarray]:
    from skimage import data

    return {"astronaut": data.astronaut()[:size, 100:100 + size], "chelsea": data.chelsea()[:size, :size],
            "coffee": data.coffee()[100:100 + size, 200:200 + size]}


def damage(img: np.ndarray, kind: str, level: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image

    if kind == "gaussian":
        return np.clip(img + rng.normal(0, level, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=level)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def strength_for(kind: str, level: int) -> float:
    """The denoise strength a user would pick: the noise's sigma (capped), or 15 for JPEG damage."""
    return min(MAX_STRENGTH, float(level)) if kind == "gaussian" else 15.0


def prepare(models_dir: Path | None) -> str:
    """A models folder with the denoisers: trained files from ``models_dir`` where present, else random."""
    folder = Path(tempfile.mkdtemp(prefix="denoise-bench-"))
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import _save, make_drunet, make_scunet  # noqa: E402

    kinds = []
    for mid, make in (("drunet-color", make_drunet), ("scunet-real", make_scunet)):
        trained = next((p for p in (models_dir / f"{mid}.pth", models_dir / f"{mid}.safetensors")
                        if models_dir and p.is_file()), None) if models_dir else None
        if trained:
            (folder / trained.name).symlink_to(trained.resolve())
        else:
            _save(make(), folder / f"{mid}.safetensors")
        kinds.append(f"{mid}: {'trained' if trained else 'random'}")
    os.environ["RESTORATION_MODELS_DIR"] = str(folder)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return ", ".join(kinds)


def run(size: int, cases: list[tuple[str, int]], device: str) -> list[dict]:
    from restoration import build_options, restore_image
    from restoration.metrics import compare

    rng = np.random.default_rng(0)
    rows = []
    for kind, level in cases:
        for name, clean in crops(size).items():
            noisy = damage(clean, kind, level, rng)
            ref = clean.astype(np.float32) / 255
            q = compare(noisy.astype(np.float32) / 255, ref)
            rows.append({"damage": f"{kind} {level}", "image": name, "denoiser": "none (input)",
                         "psnr": round(q["psnr"], 2), "ssim": round(q["ssim"], 4), "ms_per_mp": 0.0})
            for den in DENOISERS:
                opts = build_options(upscale=0, colorize="off", denoise=strength_for(kind, level), denoise_model=den,
                                     device=device)
                restore_image(noisy[:48, :48], opts)  # load the network first
                t0 = time.perf_counter()
                out = restore_image(noisy, opts).image.pixels
                dt = time.perf_counter() - t0
                q = compare(out, ref)
                rows.append({"damage": f"{kind} {level}", "image": name, "denoiser": den, "psnr": round(q["psnr"], 2),
                             "ssim": round(q["ssim"], 4), "ms_per_mp": round(dt * 1000 / (size * size / 1e6), 1)})
            print(rows[-4:], flush=True)
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Mean PSNR/SSIM/time per (damage, denoiser) over the images."""
    out = []
    for damage_kind in dict.fromkeys(r["damage"] for r in rows):
        for den in dict.fromkeys(r["denoiser"] for r in rows):
            sel = [r for r in rows if r["damage"] == damage_kind and r["denoiser"] == den]
            out.append({"damage": damage_kind, "denoiser": den,
                        "psnr": round(float(np.mean([r["psnr"] for r in sel])), 2),
                        "ssim": round(float(np.mean([r["ssim"] for r in sel])), 4),
                        "ms_per_mp": round(float(np.mean([r["ms_per_mp"] for r in sel])), 1)})
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="96 px crops (CPU); default 256 px")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models-dir", type=Path, help="trained drunet-color / scunet-real files, if you have them")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    weights = prepare(args.models_dir)
    cases = [("gaussian", 15), ("gaussian", 25), ("gaussian", 50), ("jpeg", 20), ("jpeg", 40)]
    rows = run(96 if args.quick else 256, cases, args.device)
    table = summary(rows)
    print("\n| damage | denoiser | PSNR dB | SSIM | ms/MP |\n|---|---|---|---|---|")
    for r in table:
        print(f"| {r['damage']} | {r['denoiser']} | {r['psnr']} | {r['ssim']} | {r['ms_per_mp']} |")
    result = {"meta": {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                       "date": time.strftime("%Y-%m-%d"), "weights": weights, "torch": torch.__version__},
              "summary": table, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
