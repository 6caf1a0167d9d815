"""Draw the site's icon: static/img/favicon.svg by hand (below), static/img/favicon.ico from the same
shapes with Pillow (16, 32 and 48 px), for browsers that ask /favicon.ico (portal.views.favicon).
Run again after changing the shapes: `.venv/bin/python scripts/make_favicon.py`."""

from pathlib import Path

from PIL import Image, ImageDraw

IMG = Path(__file__).resolve().parents[1] / "static" / "img"
BRAND = "#c8102e"
# a member card on the brand's red: (x0, y0, x1, y1, corner radius, colour) on a 512 × 512 grid
SHAPES = [
    (0, 0, 512, 512, 96, BRAND),
    (72, 136, 440, 376, 32, "#ffffff"),
    (72, 184, 440, 232, 0, BRAND),
    (120, 288, 264, 320, 12, BRAND),
]


def svg() -> str:
    rects = "".join(
        f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" rx="{r}" fill="{c}"/>'
        for x0, y0, x1, y1, r, c in SHAPES
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">{rects}</svg>\n'


def png(size: int) -> Image.Image:
    big = 512
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1, r, c in SHAPES:
        draw.rounded_rectangle((x0, y0, x1 - 1, y1 - 1), radius=r, fill=c)
    return image.resize((size, size), Image.LANCZOS)


def main() -> None:
    (IMG / "favicon.svg").write_text(svg())
    png(48).save(IMG / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48)])


if __name__ == "__main__":
    main()
