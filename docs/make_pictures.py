"""Make the README's before/after picture from a scikit-image sample photo.

The photo is shrunk 4x (area filter), then brought back to its size twice: with bicubic
interpolation and with the real ``realesrgan-x4plus`` network through ``restoration``. The picture
shows a crop of both side by side, with the original for reference.

    RESTORATION_MODELS_DIR=/path/to/weights python docs/make_pictures.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restoration import RestoreOptions, restore_image  # noqa: E402
from restoration.metrics import compare, sharpness  # noqa: E402


def label(tile: np.ndarray, text: str) -> Image.Image:
    img = Image.fromarray(tile)
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=22)
    box = draw.textbbox((10, 8), text, font=font)
    draw.rectangle((box[0] - 6, box[1] - 4, box[2] + 6, box[3] + 4), fill=(0, 0, 0))
    draw.text((10, 8), text, fill=(255, 255, 255), font=font)
    return img


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("before_after.png")))
    parser.add_argument("--model", default="realesrgan-x4plus")
    args = parser.parse_args()

    original = data.chelsea()  # 451x300 cat photo, public domain
    h, w = (original.shape[0] // 4) * 4, (original.shape[1] // 4) * 4
    original = original[:h, :w]
    small = cv2.resize(original, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    bicubic = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    result = restore_image(
        small, RestoreOptions(upscale=4, model=args.model, colorize="off"), reference=original
    )
    restored = np.clip(result.image.pixels * 255 + 0.5, 0, 255).astype(np.uint8)
    print(f"{args.model}: {result.report.seconds['total']:.1f} s on {result.report.device}")
    for name, img in (("bicubic", bicubic), (args.model, restored), ("original", original)):
        f = img.astype(np.float32) / 255
        m = compare(f, original.astype(np.float32) / 255)
        print(f"  {name:>18}: PSNR {m['psnr']:6.2f} dB  SSIM {m['ssim']:.4f}  sharpness {sharpness(f):.5f}")

    # A crop around the cat's face, enlarged 2x with nearest neighbour so the pixels stay visible.
    y0, x0, size = 40, 110, 200
    small_up = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    crops = [c[y0:y0 + size, x0:x0 + size] for c in (small_up, bicubic, restored, original)]
    crops = [cv2.resize(c, (size * 2, size * 2), interpolation=cv2.INTER_NEAREST) for c in crops]
    titles = [f"input {w // 4}x{h // 4}", "bicubic x4", f"{args.model} x4", "original"]
    tiles = [label(c, t) for c, t in zip(crops, titles)]
    gap = 6
    canvas = Image.new("RGB", (len(tiles) * (size * 2) + (len(tiles) - 1) * gap, size * 2), "white")
    for i, tile in enumerate(tiles):
        canvas.paste(tile, (i * (size * 2 + gap), 0))
    canvas.save(args.output, optimize=True)
    print(f"wrote {args.output} ({canvas.width}x{canvas.height})")


if __name__ == "__main__":
    main()
