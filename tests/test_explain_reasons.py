"""Which shared words count as reasons: whole words, not the drawings' template."""

from __future__ import annotations

from engine.search.explain import is_template, telling_tokens, whole_word_in


def test_a_katakana_tail_inside_a_longer_word_is_no_reason():
    assert not whole_word_in("ト素材", "スプロケット素材 SCM435")
    assert whole_word_in("素材", "スプロケット素材 SCM435")  # katakana → kanji: a word boundary
    assert whole_word_in("スプロケット素材", "工程表 スプロケット素材")
    assert not whole_word_in("スプロ", "スプロケット")


def test_kanji_compounds_and_latin_terms_are_kept():
    assert whole_word_in("熱処理", "熱処理条件 HRC45")  # kanji join kanji in compounds
    assert whole_word_in("s45c", "Material S45C")  # matched as whole tokens already
    assert whole_word_in("焼入れ", "") is True  # no page text to check (picture without OCR)


def test_template_words_are_those_on_most_similar_drawings():
    template = {"尺度": 1.0, "検図": 0.9, "14778": 0.1, "0405m": 0.7, "0405": 1.0}
    assert is_template(("尺度",), template) and is_template(("検図",), template)
    assert not is_template(("14778",), template)
    assert is_template(telling_tokens("JIS B 0405-M"), template)  # "jis" is too common to look up
    assert not is_template(("unseen",), template)  # not looked up: no evidence it is template
    assert not is_template(("尺度",), {})  # fewer than 3 similar drawings: no template


def test_a_library_link_is_the_first_reason():
    from engine.search.explain import summarise
    from engine.types import ScoreBreakdown

    scores = ScoreBreakdown(semantic=0.4)
    assert summarise(["B1002"], ["panel"], scores, names_drawing="/lib/a/B1002-A2P-A.pdf") == \
        "names B1002-A2P-A.pdf; shares B1002; words: panel; meaning 0.40"
    assert summarise([], [], scores, beside_drawing="/lib/a/b/x.pdf", folders_up=2) == \
        "2 folders above x.pdf; meaning 0.40"
    assert summarise([], [], ScoreBreakdown(), beside_drawing="/lib/x.pdf") == "beside x.pdf"
