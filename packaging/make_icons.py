"""Make the Windows .ico and macOS .icns from app/desktop/assets/hearth.png.

Why committed outputs: the Windows and macOS builds then need no image
library; run this again (with Pillow installed) when the PNG changes:

    python packaging/make_icons.py

The PNG is 256 px, so the .icns's 512 and 1024 px (Retina) images are
upscaled from it; a larger source would make them sharper.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "app" / "desktop" / "assets" / "hearth.png"
ICO = ROOT / "packaging" / "windows" / "hearth.ico"
ICNS = ROOT / "packaging" / "macos" / "hearth.icns"
ICO_SIZES = [16, 20, 24, 32, 40, 48, 64, 96, 128, 256]


def main() -> int:
    from PIL import Image  # build-time only: not a dependency of Hearth

    image = Image.open(SOURCE).convert("RGBA")
    ICO.parent.mkdir(parents=True, exist_ok=True)
    ICNS.parent.mkdir(parents=True, exist_ok=True)
    image.save(ICO, format="ICO", sizes=[(n, n) for n in ICO_SIZES])
    large = [image.resize((n, n), Image.Resampling.LANCZOS) for n in (512, 1024)]
    image.save(ICNS, format="ICNS", append_images=large)
    for path in (ICO, ICNS):
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
