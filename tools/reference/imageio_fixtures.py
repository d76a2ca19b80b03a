"""Writes the image fixtures that Go's encoders cannot produce (a CMYK JPEG,
lossy and lossless WebP) for data/imageio tests.

Usage (Pillow from PyPI, e.g. `pip install pillow` in a throwaway venv):

    python tools/reference/imageio_fixtures.py data/datatest/testdata

Every image is 32x16: left half one colour, right half another, so decoders
can be checked on flat areas away from the seam. The colours are listed in
data/datatest/datatest.go; keep both in sync.
"""

import sys
from pathlib import Path

from PIL import Image

LEFT = (200, 30, 60)
RIGHT = (20, 160, 220)


def halves(mode, left, right):
    img = Image.new(mode, (32, 16), left)
    img.paste(Image.new(mode, (16, 16), right), (16, 0))
    return img


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # Pillow converts RGB to CMYK as C=255-R, M=255-G, Y=255-B, K=0 and writes
    # an Adobe APP14 marker, as Photoshop does.
    halves("RGB", LEFT, RIGHT).convert("CMYK").save(out / "cmyk.jpg", quality=95)
    halves("RGB", LEFT, RIGHT).save(out / "lossy.webp", quality=95)
    # Lossless with alpha: left half opaque, right half alpha 64.
    halves("RGBA", LEFT + (255,), RIGHT + (64,)).save(out / "alpha.webp", lossless=True)
    # Lossy with an alpha plane (VP8X + ALPH chunks), same colours.
    halves("RGBA", LEFT + (255,), RIGHT + (64,)).save(out / "lossy_alpha.webp", quality=95)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "data/datatest/testdata"))
