"""Photo-like generated images and datasets, for tests, the demo and the benchmark.

NABirds may not be redistributed, so everything that needs bird photos makes its own: smooth
backgrounds, a blurred bird-like shape per class colour, and sensor-like noise, which compress and
resample like photographs rather than like flat synthetic patterns.
"""

from __future__ import annotations

import math
import os
import random
import uuid
from collections.abc import Iterable

from PIL import Image, ImageDraw, ImageFilter

WORKSHOP_CLASSES = {
    "0752": "Purple Martin",
    "0772": "Northern Cardinal",
    "0794": "American Goldfinch",
    "0842": "Eastern Bluebird",
}
SizeRange = tuple[tuple[int, int], tuple[int, int]]  # (width min, max), (height min, max)
_SIZE_RANGE: SizeRange = ((320, 520), (240, 400))
_CLASS_COLOURS = [
    (60, 40, 120),
    (200, 30, 40),
    (240, 210, 40),
    (70, 110, 210),
    (120, 90, 60),
    (30, 30, 30),
]


def photo(width: int, height: int, seed: int, colour: tuple | None = None) -> Image.Image:
    image = _scene(
        width, height, random.Random(seed), colour or _CLASS_COLOURS[seed % len(_CLASS_COLOURS)]
    )
    noise = Image.effect_noise((width, height), 24).convert("RGB")
    return Image.blend(image, noise, 0.06)


def large_photo(
    width: int, height: int, seed: int, colour: tuple | None = None, grain: float = 0.06
) -> Image.Image:
    """A ~1 MP photo-like image in ~35 ms (photo() takes ~125 ms), the same for a seed in any process.

    The scene is drawn at 1/4 size and scaled up; seeded luminance grain (not effect_noise, whose C rand()
    depends on what the process did before) gives the fine detail that makes a photo's JPEG ~200 KB/MP
    at quality 90 (grain 0.06).
    """
    rng = random.Random(seed)
    small = (max(8, width // 4), max(8, height // 4))
    scene = _scene(*small, rng, colour or _CLASS_COLOURS[seed % len(_CLASS_COLOURS)])
    texture = Image.frombytes("L", small, rng.randbytes(small[0] * small[1])).convert("RGB")
    scene = Image.blend(scene, texture, 0.06).resize((width, height), Image.Resampling.BILINEAR)
    grain_image = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert(
        "RGB"
    )
    return Image.blend(scene, grain_image, grain)


def sharp_photo(width: int, height: int, seed: int) -> Image.Image:
    """large_photo() with hundreds of thin, hard-edged lines over it (twigs, feather edges): the detail
    that a careless resize turns into broken, stair-stepped lines. For checking resampling quality."""
    rng = random.Random(seed)
    image = large_photo(width, height, seed)
    draw = ImageDraw.Draw(image)
    for _ in range(300):
        x, y = rng.randrange(width), rng.randrange(height)
        end = (x + rng.randrange(-200, 200), y + rng.randrange(-200, 200))
        draw.line(
            [(x, y), end],
            fill=tuple(rng.randrange(256) for _ in range(3)),
            width=rng.choice((1, 2)),
        )
    return image


def grating_photo(width: int, height: int, seed: int, shrink: float) -> Image.Image:
    """large_photo() with patches of fine sinusoidal stripes (a fence, reeds, a bird's barred
    feathers) whose period is 2.1 to 4 pixels of an image shrunk `shrink` times: just below the
    shrunk image's Nyquist limit, where a resize shows whether it keeps detail without aliasing."""
    import numpy as np

    rng = random.Random(seed)
    image = np.asarray(large_photo(width, height, seed), dtype=np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(6):
        period = rng.uniform(2.1, 4.0) * shrink
        angle = rng.uniform(0, math.pi)
        cx, cy = rng.randrange(width), rng.randrange(height)
        radius = rng.uniform(0.15, 0.4) * min(width, height)
        inside = ((x - cx) ** 2 + (y - cy) ** 2) < radius**2
        phase = (x * math.cos(angle) + y * math.sin(angle)) * (2 * math.pi / period)
        stripes = 0.5 + 0.5 * np.sin(phase)
        light = np.array([rng.uniform(150, 250) for _ in range(3)], dtype=np.float32)
        dark = np.array([rng.uniform(10, 90) for _ in range(3)], dtype=np.float32)
        pattern = dark + stripes[..., None] * (light - dark)
        image = np.where(inside[..., None], pattern, image)
    return Image.fromarray(np.clip(image + 0.5, 0, 255).astype(np.uint8))


def foliage_photo(width: int, height: int, seed: int) -> Image.Image:
    """large_photo() with clumps of leaves: high-contrast texture down to single pixels, as in a
    photo of a bird in a tree taken with a sharp lens."""
    import numpy as np

    rng = random.Random(seed)
    base = np.asarray(large_photo(width, height, seed), dtype=np.float32)
    fine = np.frombuffer(rng.randbytes(width * height), np.uint8).reshape(height, width)
    texture = Image.fromarray(fine).filter(ImageFilter.GaussianBlur(0.7))
    leaves = (np.asarray(texture, dtype=np.float32) - 128) * 5 + 110
    green = np.stack([leaves * 0.45, leaves, leaves * 0.3], axis=2)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    for _ in range(14):
        r = rng.uniform(0.08, 0.3) * min(width, height)
        cx, cy = rng.randrange(width), rng.randrange(height)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    inside = np.asarray(mask)[..., None] > 0
    return Image.fromarray(np.clip(np.where(inside, green, base) + 0.5, 0, 255).astype(np.uint8))


def star_field(width: int, height: int, seed: int) -> Image.Image:
    """A night sky: a faint gradient with sensor noise and thousands of stars, each a small
    blur of one to a few pixels (point sources, which a careless resize drops or doubles)."""
    import numpy as np

    rng = random.Random(seed)
    sky = np.linspace(8, 30, height, dtype=np.float32)[:, None] * np.ones((1, width), np.float32)
    noise = np.frombuffer(rng.randbytes(width * height), np.uint8).reshape(height, width)
    sky = sky + (noise.astype(np.float32) - 128) * 0.04
    stars = np.zeros((height, width), np.float32)
    for _ in range(width * height // 300):
        x, y = rng.randrange(1, width - 1), rng.randrange(1, height - 1)
        stars[y, x] += 255 * rng.random() ** 2 + 20
    blurred = Image.fromarray(np.clip(stars, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.6)
    )
    light = sky + np.asarray(blurred, dtype=np.float32) * 1.8
    tint = np.stack([light, light * 0.97, light * 1.05 + 4], axis=2)
    return Image.fromarray(np.clip(tint + 0.5, 0, 255).astype(np.uint8))


def feather_photo(width: int, height: int, seed: int) -> Image.Image:
    """large_photo() with feather-like fans of thin curved barbs 2 to 4.5 pixels apart."""
    rng = random.Random(seed)
    image = large_photo(width, height, seed)
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        cx, cy = rng.randrange(width), rng.randrange(height)
        outer = rng.uniform(0.15, 0.5) * min(width, height)
        spacing = rng.uniform(2.0, 4.5)
        colour = tuple(rng.randrange(256) for _ in range(3))
        start = rng.uniform(0, 360)
        for k in range(int(outer / spacing)):
            r = outer - k * spacing
            draw.arc((cx - r, cy - r, cx + r, cy + r), start, start + 70, fill=colour, width=1)
    return image


REAL_PHOTO_LIKE = {
    "gratings": lambda width, height, seed: grating_photo(
        width, height, seed, min(width, height) / 256
    ),
    "foliage": foliage_photo,
    "stars": star_field,
    "thin lines": sharp_photo,
    "feathers": feather_photo,
}
"""Generators of the fine detail that separates resizes, by name; each (width, height, seed)."""


def _scene(width: int, height: int, rng: random.Random, body: tuple) -> Image.Image:
    sky = tuple(rng.randrange(80, 230) for _ in range(3))
    ground = tuple(rng.randrange(20, 140) for _ in range(3))
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(
        Image.new("RGB", (width, height), ground), Image.new("RGB", (width, height), sky), gradient
    )
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # branches and leaves
        x, y = rng.randrange(width), rng.randrange(height)
        shade = tuple(max(0, min(255, c + rng.randrange(-60, 60))) for c in ground)
        draw.ellipse(
            (
                x,
                y,
                x + rng.randrange(width // 8, width // 2),
                y + rng.randrange(height // 16, height // 5),
            ),
            fill=shade,
        )
    cx, cy = rng.randrange(width // 4, 3 * width // 4), rng.randrange(height // 4, 3 * height // 4)
    size = min(width, height) // rng.choice((3, 4, 5))
    draw.ellipse((cx - size, cy - size // 2, cx + size, cy + size // 2), fill=body)
    draw.ellipse((cx + size // 2, cy - size, cx + size + size // 3, cy - size // 3), fill=body)
    draw.polygon(
        [
            (cx - size, cy),
            (cx - size - size // 2, cy - size // 3),
            (cx - size - size // 2, cy + size // 3),
        ],
        fill=tuple(c // 2 for c in body),
    )
    return image.filter(ImageFilter.GaussianBlur(radius=max(1.0, min(width, height) / 300)))


def save(image: Image.Image, path: str, quality: int = 90) -> str:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if path.lower().endswith(".png"):
        image.save(path, "PNG", compress_level=1)
    else:
        image.save(path, "JPEG", quality=quality)
    return path


def _sizes(rng: random.Random, portrait_share: float, size_range: SizeRange) -> tuple[int, int]:
    (wmin, wmax), (hmin, hmax) = size_range
    width, height = rng.randint(wmin, wmax), rng.randint(hmin, hmax)
    return (height, width) if rng.random() < portrait_share else (width, height)


def folder_dataset(
    root: str,
    per_class: int,
    classes: Iterable[str] | None = None,
    seed: int = 0,
    portrait_share: float = 0.25,
    png_share: float = 0.1,
    size_range: SizeRange = _SIZE_RANGE,
) -> list[str]:
    """images/<class>/<n>.jpg|png under `root`; returns the relative paths written."""
    rng = random.Random(seed)
    written = []
    for number, class_id in enumerate(classes or WORKSHOP_CLASSES):
        for i in range(per_class):
            width, height = _sizes(rng, portrait_share, size_range)
            ext = ".png" if rng.random() < png_share else ".jpg"
            relative = f"{class_id}/{class_id}_{i:04d}{ext}"
            save(
                photo(
                    width,
                    height,
                    rng.randrange(1 << 30),
                    _CLASS_COLOURS[number % len(_CLASS_COLOURS)],
                ),
                os.path.join(root, relative),
            )
            written.append(relative)
    return written


def nabirds_dataset(
    folder: str,
    per_class: int,
    classes: dict[str, str] | None = None,
    seed: int = 0,
    portrait_share: float = 0.25,
    png_share: float = 0.1,
    extra_classes: dict[str, str] | None = None,
    size_range: SizeRange = _SIZE_RANGE,
) -> dict[str, int]:
    """A dataset in the NABirds layout: images/NNNN/<uuid>.jpg plus images.txt, image_class_labels.txt,
    classes.txt, train_test_split.txt and sizes.txt in `folder`. `extra_classes` appear in classes.txt
    with no images (as NABirds' parent classes do)."""
    classes = classes or WORKSHOP_CLASSES
    rng = random.Random(seed)
    rows = []
    for number, class_id in enumerate(classes):
        for _ in range(per_class):
            width, height = _sizes(rng, portrait_share, size_range)
            image_id = str(uuid.UUID(int=rng.getrandbits(128)))
            ext = ".png" if rng.random() < png_share else ".jpg"
            relative = f"{class_id}/{image_id.replace('-', '')}{ext}"
            save(
                photo(
                    width,
                    height,
                    rng.randrange(1 << 30),
                    _CLASS_COLOURS[number % len(_CLASS_COLOURS)],
                ),
                os.path.join(folder, "images", relative),
            )
            rows.append(
                (image_id, relative, class_id, 1 if rng.random() < 0.7 else 0, width, height)
            )
    all_classes = dict(extra_classes or {})
    all_classes.update(classes)

    def write(name: str, lines: Iterable[str]) -> None:
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)

    write("images.txt", (f"{r[0]} {r[1]}" for r in rows))
    write("image_class_labels.txt", (f"{r[0]} {int(r[2])}" for r in rows))
    write(
        "classes.txt",
        (
            f"{int(cid)} {name}"
            for cid, name in sorted(all_classes.items(), key=lambda c: int(c[0]))
        ),
    )
    write("train_test_split.txt", (f"{r[0]} {r[3]}" for r in rows))
    write("sizes.txt", (f"{r[0]} {r[4]} {r[5]}" for r in rows))
    return {"images": len(rows), "classes": len(classes)}
