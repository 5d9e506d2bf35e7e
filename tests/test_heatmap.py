"""Visual heatmaps: which patches of two pages made them alike (engine/search/heatmap.py)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from engine.search.heatmap import PagePatches, ink_cells, match_maps, page_cells


def test_a_letterboxed_page_maps_to_the_cells_that_cover_it():
    # an A4 landscape sheet in a 256 x 256 canvas of 16 x 16 patches: rows 2-13 hold the page
    assert page_cells((842, 595), (16, 16), (256, 256), "letterbox") == (slice(2, 14), slice(0, 16))
    assert page_cells((595, 842), (16, 16), (256, 256), "letterbox") == (slice(0, 16), slice(2, 14))
    assert page_cells((842, 595), (16, 16), (256, 256), "squash") == (slice(0, 16), slice(0, 16))


def test_only_cells_with_ink_count():
    image = Image.new("L", (160, 80), 255)
    ImageDraw.Draw(image).line((5, 5, 35, 5), fill=0, width=2)  # a stroke in the top-left cells
    ink = ink_cells(image, (4, 8))  # cells of 20 x 20 px
    assert ink[0, 0] and ink[0, 1] and ink.sum() == 2
    photo = Image.new("L", (160, 80), 170)  # grey paper of a phone photo: not ink
    ImageDraw.Draw(photo).line((5, 5, 35, 5), fill=40, width=2)
    assert ink_cells(photo, (4, 8)).sum() == 2


def test_the_shared_view_lights_up_on_both_pages_wherever_it_is_drawn():
    rng = np.random.default_rng(3)

    def unit(n):
        v = rng.normal(size=(n, 32)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    a, b = unit(12).reshape(3, 4, 32), unit(12).reshape(3, 4, 32)
    b[2, 3] = a[0, 1]  # one view, drawn top-left on one sheet and bottom-right on the other
    a_ink, b_ink = np.ones((3, 4), bool), np.ones((3, 4), bool)
    a_ink[1, 1] = False  # blank paper
    a_map, b_map = match_maps(PagePatches(a, a_ink), PagePatches(b, b_ink))
    assert a_map.shape == (3, 4) and b_map.shape == (3, 4)
    assert a_map[0, 1] == 1.0 and b_map[2, 3] == 1.0
    assert a_map[1, 1] == 0.0 and np.sort(a_map.ravel())[-2] < 1.0
    assert match_maps(PagePatches(a, np.zeros((3, 4), bool)), PagePatches(b, b_ink)) is None


def test_what_the_template_mates_match_as_well_stays_dark():
    """A title block on every sheet of a site matches on any two of them: measured against the
    query's template-mates, it explains nothing, and the view the two drawings share lights up."""
    rng = np.random.default_rng(5)

    def unit(n):
        v = rng.normal(size=(n, 32)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    a, b, mate = unit(12).reshape(3, 4, 32), unit(12).reshape(3, 4, 32), unit(12).reshape(3, 4, 32)
    title = unit(1)[0]
    a[2, 3] = b[2, 3] = mate[2, 3] = title  # the title block, bottom right on every sheet
    b[0, 0] = a[1, 2]  # the view the two drawings share
    ink = np.ones((3, 4), bool)
    a_plain, b_plain = match_maps(PagePatches(a, ink), PagePatches(b, ink))
    assert a_plain[2, 3] == 1.0 and b_plain[2, 3] == 1.0  # without mates the title block lights up
    a_map, b_map = match_maps(PagePatches(a, ink), PagePatches(b, ink), template=[PagePatches(mate, ink)])
    assert a_map[1, 2] == 1.0 and b_map[0, 0] == 1.0
    assert a_map[2, 3] < 0.5 and b_map[2, 3] < 0.5
    blank = PagePatches(mate, np.zeros((3, 4), bool))  # a blank mate changes nothing
    assert all(np.array_equal(x, y) for x, y in zip(
        match_maps(PagePatches(a, ink), PagePatches(b, ink), template=[blank]), (a_plain, b_plain)))


def test_a_map_of_a_page_turned_upright_is_turned_back_over_the_page_as_it_lies():
    from engine.orientation import ORIENTATIONS, turn_array
    from engine.search.heatmap import unturn_map

    heat = np.arange(12, dtype=np.float32).reshape(3, 4)  # the map of the page as it lies
    for o in ORIENTATIONS:
        assert np.array_equal(unturn_map(turn_array(heat, o), o), heat), o
