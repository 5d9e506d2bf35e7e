"""engine.synth: parts, drawings and degradation are deterministic, complete and fast."""

from __future__ import annotations

import time

import numpy as np
import pymupdf
import pytest

from engine.synth import EXTRA_STYLES, FAMILIES, STYLES, degrade, draw_pdf, generate_part, render, spec_text


def test_same_seed_same_part_and_bytes() -> None:
    a, b = generate_part(123), generate_part(123)
    assert a == b
    assert draw_pdf(a) == draw_pdf(b)
    assert spec_text(a, "ja") == spec_text(b, "ja")
    assert generate_part(124) != a


def test_seed_to_part_mapping_is_stable() -> None:
    """Pretraining caches and benchmarks name parts by seed: changing this mapping must be deliberate."""
    got = [(p.part_no, p.family, p.style, p.material) for p in map(generate_part, (0, 1, 2, 42, 1234))]
    assert got == [("ZM-2553-W5U", "pin", "cad", "S45C"), ("A-68377-09", "plate", "jis", "SS400"),
                   ("ZB128778M", "shaft", "jis", "SCM435"), ("ZM-9279-W1U", "flange", "jis", "A5052"),
                   ("ZM-3999-Z2A", "panel", "jis", "SPCC")]


def test_random_instance_seed_is_reproducible() -> None:
    import random

    assert generate_part(random.Random(5)) == generate_part(random.Random(5))


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_draws_with_text_layer(family: str) -> None:
    part = generate_part(7, family=family)
    pdf = draw_pdf(part)
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        assert doc.page_count == 1
        text = doc[0].get_text()
    assert part.part_no in text
    assert part.material in text
    assert len(pdf) < 150_000  # fonts are subset


@pytest.mark.parametrize("style", STYLES + EXTRA_STYLES)
def test_every_style_renders(style: str) -> None:
    part = generate_part(11, style=style)
    img = render(part, dpi=50)
    assert img.mode == "L"
    a = np.asarray(img)
    assert a.min() < 50 and a.mean() > 200  # black lines on white paper
    with pymupdf.open(stream=draw_pdf(part), filetype="pdf") as doc:
        text = doc[0].get_text()
    assert part.part_no in text
    if style == "jp":
        assert part.name_ja in text and part.name_en not in text
    elif style == "cn":
        assert "技术要求" in text and part.name_en not in text and "GB/T 1804" in text
    elif style in ("iso", "cad"):
        assert part.name_en.lower() in text.lower()
    else:
        assert part.name_ja in text and part.name_en in text


def test_spec_text_mentions_key_facts() -> None:
    part = generate_part(3, family="shaft")
    ja, en = spec_text(part, "ja"), spec_text(part, "en")
    for s in (ja, en):
        assert part.part_no in s and part.material in s and part.material_info.standard in s
    assert part.name_ja in ja and part.name_en.lower() in en


def test_extra_styles_are_not_drawn_at_random() -> None:
    assert all(generate_part(s).style in STYLES for s in range(40))
    # asking for a style does not change the rest of the part
    a, b = generate_part(9, family="pin", style="cn"), generate_part(9, family="pin", style="jis")
    assert a.part_no == b.part_no and a.dims == b.dims


def test_unknown_family_or_style_is_an_error() -> None:
    with pytest.raises(ValueError):
        generate_part(1, family="spaceship")
    with pytest.raises(ValueError):
        generate_part(1, style="gothic")


@pytest.fixture(scope="module")
def page_150() -> "object":
    return render(generate_part(21, family="flange", style="jis"), dpi=150)


@pytest.mark.parametrize("kind", ["clean", "scan", "photo", "fax"])
def test_degrade_keeps_size_mode_and_is_deterministic(page_150, kind: str) -> None:
    out = degrade(page_150, 5, kind)
    assert out.size == page_150.size and out.mode == "L"
    assert np.array_equal(np.asarray(out), np.asarray(degrade(page_150, 5, kind)))
    rgb = degrade(page_150.convert("RGB"), 5, kind)
    assert rgb.mode == "RGB" and rgb.size == page_150.size


def test_degrade_rotation_swaps_sides(page_150) -> None:
    out = degrade(page_150, 1, "scan", rotate=90)
    assert out.size == (page_150.height, page_150.width)
    with pytest.raises(ValueError):
        degrade(page_150, 1, "scan", rotate=45)


def test_degrade_is_fast(page_150) -> None:
    rng = np.random.default_rng(0)
    for kind in ("scan", "photo", "fax"):
        times = []
        for _ in range(5):
            t = time.process_time()  # CPU time: robust to other processes on a shared machine
            degrade(page_150, rng, kind)
            times.append(time.process_time() - t)
        # budget is 50 ms on one idle core (about 25 ms measured with OpenCV); margin for slow CI
        assert min(times) < 0.10, (kind, times)


def test_no_missing_glyphs_in_drawings_and_documents() -> None:
    """Every non-Latin character written is in the CJK font (no empty boxes in renders)."""
    from engine.synth.documents import ASSEMBLIES, inspection_report, process_sheet, spec_sheet
    from engine.synth.notes import change_notice, field_report, meeting_minutes

    cjk = pymupdf.Font("cjk")
    pdfs = [draw_pdf(generate_part(s, family=f, style=st))
            for s, f in enumerate(FAMILIES) for st in STYLES + EXTRA_STYLES if (s + len(st)) % 3 == 0]
    part = generate_part(5, family="shaft")
    pdfs += [make(part, lang).data for make in (spec_sheet, process_sheet, inspection_report) for lang in ("ja", "en")]
    pdfs += [change_notice(part, "ja", "D-1").data, field_report(part, ASSEMBLIES[0], "F-1").data,
             meeting_minutes([part], ASSEMBLIES[1], "M-1").data]
    missing: set[str] = set()
    for pdf in pdfs:
        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            text = "".join(p.get_text() for p in doc)
        missing |= {c for c in text if ord(c) > 0x2FF and not c.isspace() and not cjk.has_glyph(ord(c))
                    and c not in "\ufb00\ufb01\ufb02\ufb03\ufb04"}  # ligatures come from shaping, not input
    assert not missing, sorted(missing)
