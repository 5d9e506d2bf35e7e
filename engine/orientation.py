"""Which way up a query page lies, so that its picture is compared upright.

OCR already turns every page it reads upright (`read_upright`: the clockwise rotation, 0/90/180/
270). A page can also be mirrored (a scan of a transparency from the back, a webcam or a phone's
front camera): its text then reads poorly whatever the rotation. `page_orientation` checks the
page's largest words as read and flipped left-right with the recogniser; only pages whose largest
words were not read confidently are checked (the usual upright page costs nothing).

When no readable text says which way is up (a photo too poor to read, a drawing without text),
the orientation is not known: the caller compares the picture in all eight orientations
(`ORIENTATIONS`) instead. A page found mirrored is read again the right way round
(`read_unmirrored`): its words, not only its picture, then find its drawing. Measured in
bench/bench_similar.py (docs/similar.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image

from engine.types import Box, Word

MIRROR_SAMPLE = 8  # the most confidently read words, read again as they are and flipped
SURE_CONF = 0.95  # OCR read them at least this confidently: the page is upright, no check
MIRROR_MARGIN = 0.05  # one reading must be this much more confident than the others to tell

@dataclass(frozen=True)
class Orientation:
    """How to turn a page as displayed so that it reads upright: first clockwise by `rotation`
    degrees (OCR's convention), then flip left-right when `mirrored`. `known` is False when no
    readable text told it (the picture is then compared in every orientation)."""

    rotation: int = 0
    mirrored: bool = False
    known: bool = True


ORIENTATIONS: tuple[Orientation, ...] = tuple(Orientation(r, m) for m in (False, True)
                                              for r in (0, 90, 180, 270))
_TURN = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180,
         270: Image.Transpose.ROTATE_90}  # PIL's ROTATE_n turn counter-clockwise


def turn(image: Image.Image, orientation: Orientation) -> Image.Image:
    """The page as it reads upright (exact: 90-degree turns and flips move pixels only)."""
    rotation = orientation.rotation % 360
    if rotation % 90:
        raise ValueError(f"rotation must be a multiple of 90, not {orientation.rotation}")
    out = image.transpose(_TURN[rotation]) if rotation else image
    return out.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if orientation.mirrored else out


def turn_array(pixels: np.ndarray, orientation: Orientation) -> np.ndarray:
    """`turn` for arrays whose last two axes are (height, width), e.g. preprocessed (c, h, w)."""
    out = np.rot90(pixels, k=-(orientation.rotation // 90) % 4, axes=(-2, -1))
    return out[..., ::-1] if orientation.mirrored else out


def _sample(words: Sequence[Word], width: int, height: int) -> list[Word]:
    """The most confidently read words of 3 characters or more written along the line (wide
    boxes): their reading tells whether the page is mirrored."""
    wide = [w for w in words if len(w.text.strip()) >= 3
            and (w.box.x1 - w.box.x0) * width > 1.2 * (w.box.y1 - w.box.y0) * height]
    return sorted(wide, key=lambda w: -w.conf)[:MIRROR_SAMPLE]


def _crops(image: Image.Image, words: Sequence[Word]) -> list[np.ndarray]:
    """Contiguous BGR crops of the words' boxes (the recogniser's input)."""
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    out = []
    for word in words:
        x0, y0 = int(word.box.x0 * w), int(word.box.y0 * h)
        x1, y1 = int(np.ceil(word.box.x1 * w)), int(np.ceil(word.box.y1 * h))
        if x1 - x0 >= 4 and y1 - y0 >= 4:
            out.append(np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1]))
    return out


def mirror_check(ocr, image: Image.Image, words: Sequence[Word],
                 rotation: int) -> tuple[float, float, float] | None:
    """Mean recognition confidence of the sampled words as they are, flipped left-right and
    flipped upside down, on the page turned upright by `rotation`; None when there is nothing to
    read or the OCR backend cannot read single crops (`recognize_crops`)."""
    recognize = getattr(ocr, "recognize_crops", None)
    upright = turn(image, Orientation(rotation))
    crops = _crops(upright, _sample(words, *upright.size))
    if recognize is None or not crops:
        return None
    confs = recognize(crops + [np.ascontiguousarray(c[:, ::-1]) for c in crops]
                      + [np.ascontiguousarray(c[::-1]) for c in crops])
    n = len(crops)
    return float(np.mean(confs[:n])), float(np.mean(confs[n:2 * n])), float(np.mean(confs[2 * n:]))


def page_orientation(ocr, image: Image.Image, words: Sequence[Word], rotation: int) -> Orientation:
    """The orientation of a page that OCR read as `words` after turning it by `rotation` (its
    `read_upright` result); `image` is the page as displayed.

    A mirrored page turned upright reads best flipped left-right; one that OCR turned the wrong
    way up (mirrored text upside down reads about as well as upright) reads best flipped upside
    down, which is the page turned another 180 degrees and mirrored."""
    upright_size = image.size if rotation in (0, 180) else image.size[::-1]
    sample = _sample(words, *upright_size)
    if not sample:
        return Orientation(rotation, known=False)
    if float(np.mean([w.conf for w in sample])) >= SURE_CONF:
        return Orientation(rotation)
    scores = mirror_check(ocr, image, words, rotation)
    if scores is None:
        return Orientation(rotation, known=False)
    as_is, left_right, upside_down = scores
    if left_right >= as_is + MIRROR_MARGIN and left_right >= upside_down:
        return Orientation(rotation, mirrored=True)
    if upside_down >= as_is + MIRROR_MARGIN:
        return Orientation((rotation + 180) % 360, mirrored=True)
    return Orientation(rotation, known=as_is >= max(left_right, upside_down) + MIRROR_MARGIN)


def picture_vectors(encoder, image: Image.Image,
                    orientation: Orientation) -> tuple[np.ndarray, np.ndarray | None]:
    """The query picture's image-tower vector, upright as `orientation` says ((dim,)), and the
    other orientations it is also compared in ((k, dim), or None): all seven others when the
    orientation is not known, else none."""
    wanted = [orientation] if orientation.known else [orientation, *_others(orientation)]
    if hasattr(encoder, "encode_turned"):
        vectors = encoder.encode_turned(image, wanted)  # (k, dim)
    else:  # encoders without it (test doubles): turn the picture itself
        vectors = encoder.encode([turn(image, o) for o in wanted])
    return vectors[0], (vectors[1:] if len(vectors) > 1 else None)


def _others(orientation: Orientation) -> list[Orientation]:
    """The seven orientations other than `orientation`."""
    return [o for o in ORIENTATIONS if (o.rotation, o.mirrored) != (orientation.rotation % 360, orientation.mirrored)]


def other_vectors(encoder, image: Image.Image, orientation: Orientation) -> list[np.ndarray] | None:
    """The query picture's vectors in the orientations other than `orientation`: [the page's
    three other turns (3, dim), its mirror image's four turns (4, dim)]; what its looks would be
    had OCR turned it otherwise or the mirror check decided the other way (a page read as
    gibberish gives no sure turn). None when the orientation is not known (every orientation is
    compared then)."""
    if not orientation.known:
        return None
    others = _others(orientation)
    if hasattr(encoder, "encode_turned"):
        vectors = encoder.encode_turned(image, others)
    else:
        vectors = encoder.encode([turn(image, o) for o in others])
    flipped = np.array([o.mirrored != orientation.mirrored for o in others])
    return [vectors[~flipped], vectors[flipped]]


def read_unmirrored(ocr, image: Image.Image, words: Sequence[Word], rotation: int,
                    orientation: Orientation) -> tuple[list[Word], Orientation] | None:
    """A page found mirrored (`page_orientation`) read again the right way round: (its words,
    their boxes put back where they lie on the page as OCR first turned it, by `rotation`, the
    frame of `words`; how the page reads upright), or None when that reading holds no more
    confidently read text than `words`.

    OCR's first turn of a mirrored page is a guess from gibberish: turned and flipped as the
    check says, the page may still lie on its side, and OCR turns it again. The page then reads
    upright turned by the difference and flipped: a left-right flip followed by a clockwise turn
    t is the turn -t followed by the flip."""
    from engine.extract.ocr import read_upright, text_score

    if not orientation.mirrored:
        return None
    again, turned = read_upright(ocr, turn(image, orientation))
    if text_score(again) <= text_score(words):
        return None

    def place(x: float, y: float) -> tuple[float, float]:
        """A point of the page as read again -> the same point of the page turned by `rotation`."""
        x, y = _turned_point(x, y, -(turned // 90))  # undo OCR's second turn, the flip, then
        return _turned_point(1 - x, y, (rotation - orientation.rotation) // 90)  # the first turn

    return _moved(again, place), Orientation((orientation.rotation - turned) % 360, mirrored=True)


def _turned_point(x: float, y: float, quarter_turns: int) -> tuple[float, float]:
    """Where a point of a page (0..1 of its width and height) lies once the page is turned
    clockwise by `quarter_turns` x 90 degrees (negative: counter-clockwise)."""
    for _ in range(quarter_turns % 4):
        x, y = 1 - y, x
    return x, y


def displayed_words(words: Sequence[Word], rotation: int) -> tuple[Word, ...]:
    """`words` read on a page OCR turned clockwise by `rotation` (their boxes in the upright
    page's frame, as the catalog keeps them), with their boxes where they lie on the page as
    displayed (what a preview draws them over)."""
    if not rotation % 360:
        return tuple(words)
    back = -((rotation % 360) // 90)
    return tuple(_moved(words, lambda x, y: _turned_point(x, y, back)))


def _moved(words: Sequence[Word], place) -> list[Word]:
    """`words` with each box's corners moved by `place` ((x, y) -> (x, y), page fractions)."""
    out = []
    for w in words:
        (ax, ay), (bx, by) = place(w.box.x0, w.box.y0), place(w.box.x1, w.box.y1)
        out.append(Word(w.text, Box(min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), w.conf))
    return out
