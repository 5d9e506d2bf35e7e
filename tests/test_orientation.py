"""Turned and mirrored query pages: which way up they lie (engine.orientation) and that the image
tower then finds their drawing first; pages turned at indexing are embedded upright too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.api import Engine
from engine.config import DEFAULT_PACK_DIR
from engine.orientation import (ORIENTATIONS, Orientation, page_orientation, picture_vectors, read_unmirrored,
                                turn, turn_array)
from engine.store.catalog import picture_fingerprint
from engine.types import Box, Word
from tests.fakes import FakeImageEncoder, FakeTextEncoder

real_pack = pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").exists(),
                               reason="default pack not built (zumen pack build-default)")


def gradient_page(mirrored: bool = False) -> Image.Image:
    """A page whose 'text' reads only with its dark corner top left (see GradientReader)."""
    yy, xx = np.mgrid[0:300, 0:400].astype(np.float32)
    page = (xx / 400 * 170 + yy / 300 * 85).astype(np.uint8)  # (300, 400): dark top left
    image = Image.fromarray(page, "L")
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else image


class GradientReader:
    """An OCR stand-in: a crop 'reads' confidently when it is darker on its left and top."""

    name = "gradient"

    def __init__(self) -> None:
        self.crops_read = 0

    def recognize_crops(self, crops: list[np.ndarray]) -> list[float]:
        self.crops_read += len(crops)
        out = []
        for c in crops:
            w, h = c.shape[1] // 2, c.shape[0] // 2
            upright = c[:, :w].mean() < c[:, w:].mean() and c[:h].mean() < c[h:].mean()
            out.append(0.95 if upright else 0.4)
        return out


WORDS = [Word(f"WORD{i}", Box(0.1, 0.1 + 0.1 * i, 0.6, 0.15 + 0.1 * i), 0.8) for i in range(4)]


def test_turning_pictures_and_pixel_arrays_agree_in_every_orientation():
    image = Image.fromarray(np.arange(12 * 20, dtype=np.uint8).reshape(12, 20))
    for o in ORIENTATIONS:
        assert np.array_equal(np.asarray(turn(image, o)), turn_array(np.asarray(image), o)), o
    assert turn(image, Orientation(90)).size == (12, 20)  # a quarter turn swaps the sides


def test_a_mirrored_page_reads_better_flipped():
    reader = GradientReader()
    assert page_orientation(reader, gradient_page(), WORDS, 0) == Orientation(0)
    assert page_orientation(reader, gradient_page(mirrored=True), WORDS, 0) == Orientation(0, mirrored=True)
    # OCR turned the mirrored page upside down: it reads best flipped top to bottom, i.e.
    # turned another half turn and mirrored
    upside_down = gradient_page(mirrored=True).transpose(Image.Transpose.ROTATE_180)
    assert page_orientation(reader, upside_down, WORDS, 180) == Orientation(180, mirrored=True)


def test_confident_words_need_no_check_and_no_words_leave_the_orientation_open():
    reader = GradientReader()
    sure = [Word(w.text, w.box, 0.99) for w in WORDS]
    assert page_orientation(reader, gradient_page(mirrored=True), sure, 90) == Orientation(90)
    assert reader.crops_read == 0  # the usual upright page costs nothing
    assert page_orientation(reader, gradient_page(), [], 0) == Orientation(0, known=False)


def test_unknown_orientation_compares_the_picture_in_all_eight():
    class Flat:
        def encode(self, images):
            return np.stack([np.asarray(im, np.float32).ravel()[:6] for im in images])

    image = Image.fromarray(np.arange(6, dtype=np.uint8).reshape(2, 3))
    vector, variants = picture_vectors(Flat(), image, Orientation(0, known=False))
    assert vector.shape == (6,) and variants.shape == (7, 6)
    vector, variants = picture_vectors(Flat(), image, Orientation(180))
    assert variants is None and list(vector) == [5, 4, 3, 2, 1, 0]


def test_a_turned_page_gets_its_own_vector_fingerprint():
    assert picture_fingerprint(12345, 0) == 12345  # upright pages keep their vectors
    assert picture_fingerprint(12345, 90) not in (12345, picture_fingerprint(12345, 270))


def rounded(box: Box) -> tuple[float, ...]:
    return tuple(round(v, 6) for v in (box.x0, box.y0, box.x1, box.y1))


class MirrorReader(GradientReader):
    """Reads a gradient page's words only the right way round (dark corner top left): a mirrored
    page reads as gibberish, weakly."""

    def __init__(self) -> None:
        super().__init__()
        self.pages_read = 0

    def read(self, image: Image.Image) -> list[Word]:
        return self.read_upright(image)[0]

    def read_upright(self, image: Image.Image) -> tuple[list[Word], int]:
        self.pages_read += 1
        grey = np.asarray(image.convert("L"), np.float32)
        if grey[:, : grey.shape[1] // 2].mean() < grey[:, grey.shape[1] // 2:].mean():
            return [Word("PART-4711", Box(0.1, 0.1, 0.4, 0.2), 0.99), Word("FLANGE", Box(0.5, 0.3, 0.7, 0.4), 0.98)], 0
        return [Word("llt4-TRAP", Box(0.6, 0.1, 0.9, 0.2), 0.5), Word("EGNALF", Box(0.3, 0.3, 0.5, 0.4), 0.5)], 0


def test_a_mirrored_page_is_read_again_the_right_way_round(tmp_path):
    """A mirrored scan reads as gibberish: once its words say it is mirrored, it is read again
    flipped, and its words (boxes back where they lie on the page) find its drawing."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bom.csv").write_text("part,material\nPART-4711 FLANGE,S45C\nPART-0815 SHAFT,SUS304\n", encoding="utf-8")
    mirrored, upright = tmp_path / "mirrored.png", tmp_path / "upright.png"
    gradient_page(mirrored=True).save(mirrored)
    gradient_page().save(upright)
    reader = MirrorReader()
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=FakeImageEncoder(),
                     ocr=reader) as engine:
        engine.index([docs])
        result = engine.search_file(mirrored)
        assert "PART-4711" in result.query_text and "llt4" not in result.query_text
        part = next(w for w in result.query_words if w.text == "PART-4711")
        assert rounded(part.box) == (0.6, 0.1, 0.9, 0.2)  # where it lies on the mirrored page
        assert result.related.hits[0].page == 1  # the BOM row that names the part (row 1)
        reader.pages_read = 0
        engine.search_file(upright)
        assert reader.pages_read == 1  # a page read the right way round is read once


def test_a_page_whose_words_cannot_tell_is_read_flipped_too_and_the_better_reading_kept(tmp_path):
    class Undecided(MirrorReader):
        def recognize_crops(self, crops):  # the mirror check cannot tell
            return [0.5] * len(crops)

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bom.csv").write_text("part,material\nPART-4711 FLANGE,S45C\n", encoding="utf-8")
    gradient_page(mirrored=True).save(tmp_path / "mirrored.png")
    gradient_page().save(tmp_path / "upright.png")
    reader = Undecided()
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=FakeImageEncoder(),
                     ocr=reader) as engine:
        engine.index([docs])
        assert "PART-4711" in engine.search_file(tmp_path / "mirrored.png").query_text
        reader.pages_read = 0
        upright = engine.search_file(tmp_path / "upright.png")  # confident words: no check, read once
        assert "PART-4711" in upright.query_text and reader.pages_read == 1


def test_a_mirrored_reading_is_kept_when_reading_it_flipped_is_no_better():
    class Gibberish(MirrorReader):
        def read_upright(self, image):
            return [Word("xx", Box(0.1, 0.1, 0.2, 0.2), 0.3)], 0

    words = MirrorReader().read_upright(gradient_page(mirrored=True))[0]
    assert read_unmirrored(Gibberish(), gradient_page(mirrored=True), words, 0, Orientation(0, mirrored=True)) is None
    assert read_unmirrored(MirrorReader(), gradient_page(), words, 0, Orientation(0)) is None  # not mirrored
    # turned another half turn and mirrored: the boxes come back upside down, not flipped
    again = read_unmirrored(MirrorReader(), gradient_page().transpose(Image.Transpose.FLIP_TOP_BOTTOM),
                            words, 0, Orientation(180, mirrored=True))
    assert again is not None and rounded(again[0][0].box) == (0.1, 0.8, 0.4, 0.9)
    assert again[1] == Orientation(180, mirrored=True)


def test_a_mirrored_page_ocr_first_turned_sideways_is_read_upright_and_flipped():
    """OCR's first turn of a mirrored page is a guess from gibberish (here 90 degrees): turned
    and flipped as the check says, the page still lies on its side and OCR turns it back. The
    words land where they lie on the page as first turned, and the page reads upright flipped."""
    class Sideways(MirrorReader):
        def read_upright(self, image):
            if image.width < image.height:  # lying on its side: read it turned clockwise
                words, _ = super().read_upright(image.transpose(Image.Transpose.ROTATE_270))
                return words, 90
            return super().read_upright(image)

    page = gradient_page(mirrored=True)  # landscape, only mirrored
    words = [Word("llt4-TRAP", Box(0.1, 0.6, 0.2, 0.9), 0.5)]  # read at 90: the frame of `words`
    again = read_unmirrored(Sideways(), page, words, 90, Orientation(90, mirrored=True))
    assert again is not None
    found, orientation = again
    assert orientation == Orientation(0, mirrored=True)  # only mirrored, after all
    # PART-4711 lies at (0.6..0.9, 0.1..0.2) of the page as displayed (see the first test);
    # turned 90 degrees clockwise that is x 0.8..0.9, y 0.6..0.9
    assert rounded(found[0].box) == (0.8, 0.6, 0.9, 0.9)


# -- with the real image tower -----------------------------------------------------------------
class TurnedOcr:
    """OCR stand-in that reads one confident word and says how the page is turned: portrait
    pictures of these landscape drawings lie on their side (turned counter-clockwise)."""

    name = "turned"

    def __init__(self, words: bool = True) -> None:
        self.words = words

    def read(self, image: Image.Image) -> list[Word]:
        return self.read_upright(image)[0]

    def read_upright(self, image: Image.Image) -> tuple[list[Word], int]:
        words = [Word("DRAWING-0001", Box(0.6, 0.85, 0.9, 0.9), 0.99)] if self.words else []
        return words, 90 if image.height > image.width else 0


def sheet(seed: int) -> Image.Image:
    """A small landscape 'drawing': border, title block and a few shapes of its own."""
    rng = np.random.default_rng(seed)
    img = Image.new("L", (840, 594), 255)
    d = ImageDraw.Draw(img)
    d.rectangle((15, 15, 825, 579), outline=0, width=3)
    d.rectangle((560, 470, 825, 579), outline=0, width=2)
    for _ in range(6):
        x, y = rng.integers(40, 480, 2)
        w, h = rng.integers(40, 200, 2)
        if rng.random() < 0.5:
            d.ellipse((x, y, x + w, y + h), outline=0, width=3)
        else:
            d.rectangle((x, y, x + w, y + h), outline=0, width=3)
    d.polygon([(60, 560), (60 + int(rng.integers(100, 400)), 420), (500, 560)], outline=0, width=2)
    return img


@pytest.fixture
def drawings(tmp_path: Path) -> Path:
    folder = tmp_path / "drawings"
    folder.mkdir()
    for i in range(6):
        sheet(i).save(folder / f"sheet{i}.png")
    return folder


@real_pack
def test_a_turned_scan_finds_its_own_drawing_first(tmp_path, drawings):
    query = tmp_path / "turned.png"
    sheet(3).transpose(Image.Transpose.ROTATE_90).save(query)
    with Engine.open(tmp_path / "lib", ocr=TurnedOcr()) as engine:
        engine.index([drawings])
        hits = engine.search_file(query, evidence={"visual"}).similar.hits
        assert Path(hits[0].path).name == "sheet3.png"
        assert hits[0].scores.visual > 0.99
    with Engine.open(tmp_path / "lib", ocr=None) as engine:  # taken as it comes: not the same picture
        hits = engine.search_file(query, evidence={"visual"}).similar.hits
        own = next(h for h in hits if Path(h.path).name == "sheet3.png")
        assert own.scores.visual < 0.97


@real_pack
def test_a_mirrored_picture_without_readable_text_is_compared_in_every_orientation(tmp_path, drawings):
    query = tmp_path / "mirrored.png"
    sheet(4).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(query)
    with Engine.open(tmp_path / "lib", ocr=TurnedOcr(words=False)) as engine:
        engine.index([drawings])
        hits = engine.search_file(query, evidence={"visual"}).similar.hits
        assert Path(hits[0].path).name == "sheet4.png"
        assert hits[0].scores.visual > 0.99


@real_pack
def test_a_scan_indexed_on_its_side_is_embedded_upright(tmp_path, drawings):
    sheet(5).transpose(Image.Transpose.ROTATE_90).save(drawings / "sideways.png")
    query = tmp_path / "upright.jpg"  # not the library's bytes (an identical file is left out)
    sheet(5).save(query, quality=90)
    with Engine.open(tmp_path / "lib", ocr=TurnedOcr()) as engine:
        engine.index([drawings])
        hits = engine.search_file(query, evidence={"visual"}).similar.hits
        assert {Path(h.path).name for h in hits[:2]} == {"sheet5.png", "sideways.png"}
        assert min(h.scores.visual for h in hits[:2]) > 0.99


@real_pack
def test_heatmaps_compare_both_pages_upright_and_lie_over_them_as_they_are(tmp_path, drawings):
    """A scan fed in sideways, and a library page OCR read on its side, are compared upright
    (as search compares them); each map is turned back to lie over its page as displayed."""
    sheet(5).transpose(Image.Transpose.ROTATE_90).save(drawings / "sideways.png")
    upright, turned = tmp_path / "upright.png", tmp_path / "turned.png"  # exact pixels either way
    sheet(3).save(upright)
    sheet(3).transpose(Image.Transpose.ROTATE_90).save(turned)
    with Engine.open(tmp_path / "lib", ocr=TurnedOcr()) as engine:
        engine.index([drawings])
        if not getattr(engine._lib.image_encoder, "has_patches", False):
            pytest.skip("the default pack has no patch output")
        hits = {Path(h.path).name: h for h in engine.search_file(upright, evidence={"visual"}).similar.hits}
        engine.search_file(turned, evidence={"visual"})
        for name in ("sheet5.png", "sideways.png"):
            query_up, hit_up = engine.visual_heatmaps(upright, hits[name])
            query_turned, hit_same = engine.visual_heatmaps(turned, hits[name])
            assert query_turned.shape == query_up.shape[::-1]  # over the page as it lies
            assert np.allclose(query_turned, np.rot90(query_up), atol=1e-4)
            assert np.allclose(hit_same, hit_up, atol=1e-4)
        # the sideways copy's map is the upright copy's, turned with its page
        _, upright_copy = engine.visual_heatmaps(upright, hits["sheet5.png"])
        _, sideways_copy = engine.visual_heatmaps(upright, hits["sideways.png"])
        assert np.allclose(sideways_copy, np.rot90(upright_copy), atol=1e-4)


def test_words_of_a_page_read_turned_are_handed_out_over_the_page_as_displayed(tmp_path, drawings):
    """OCR reads a sideways scan turned upright and the catalog keeps its words in that frame;
    previews draw boxes over the page as it is displayed, so the engine hands them out there:
    the sheet's title block, bottom right when upright, lies top right on the sideways page."""
    sheet(5).transpose(Image.Transpose.ROTATE_90).save(drawings / "sideways.png")  # turned left
    query = tmp_path / "sideways-copy.jpg"  # not the library's bytes: read afresh
    sheet(5).transpose(Image.Transpose.ROTATE_90).save(query, quality=90)
    with Engine.open(tmp_path / "lib", text_encoder=FakeTextEncoder(), image_encoder=FakeImageEncoder(),
                     ocr=TurnedOcr()) as engine:
        engine.index([drawings])
        upright = engine.page_words(drawings / "sheet5.png")[0].box  # read upright: as stored
        assert rounded(upright) == (0.6, 0.85, 0.9, 0.9)
        assert rounded(engine.page_words(drawings / "sideways.png")[0].box) == (0.85, 0.1, 0.9, 0.4)
        # a preview turned clockwise by page_turn shows it upright, boxes and all
        assert engine.page_turn(drawings / "sideways.png") == 90 and engine.page_turn(drawings / "sheet5.png") == 0
        result = engine.search_file(query)
        assert rounded(result.query_words[0].box) == (0.85, 0.1, 0.9, 0.4)
        hits = engine.search("DRAWING-0001", limit=20).hits  # highlighted where the word is shown
        boxes = {Path(h.path).name: [rounded(b) for b in h.explanation.boxes] for h in hits}
        assert boxes["sideways.png"] == [(0.85, 0.1, 0.9, 0.4)] and boxes["sheet5.png"] == [(0.6, 0.85, 0.9, 0.9)]
