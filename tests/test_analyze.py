"""Japanese-aware lexical analysis and identifier extraction."""

from engine.analyze import (extract_identifiers, highlight_spans, lexical_tokens, number_parts, query_terms,
                            term_matches)


def matches(query: str, text: str) -> bool:
    toks = lexical_tokens(text)
    return all(term_matches(t, set(toks), toks) for t in query_terms(query))


def test_cjk_runs_become_unigrams_and_bigrams():
    assert lexical_tokens("軸受") == ["軸", "受", "軸受"]
    toks = lexical_tokens("焼入れ焼戻し")
    assert {"焼入", "入れ", "焼戻", "戻し", "焼", "し"} <= set(toks)


def test_one_and_two_character_japanese_terms_match():
    text = "主軸の軸受は焼入れ処理を行う。材質 S45C。"
    assert matches("軸", text)
    assert matches("軸受", text)
    assert matches("焼入れ", text)
    assert not matches("研削", text)
    assert not matches("焼戻し", text)


def test_full_width_and_case_are_normalised():
    assert matches("s45c", "材質：Ｓ４５Ｃ")
    assert matches("ＳＵＳ３０４", "material SUS304")


def test_identifiers_match_whole_prefix_or_part():
    text = "Drawing 1258-B2P-A rev C"
    assert matches("1258-B2P-A", text)
    assert matches("1258-B2P", text)  # prefix of the whole identifier
    assert matches("1258", text)
    assert matches("B2P", text)
    assert not matches("1259", text)


def test_extract_identifiers_finds_numbers_materials_standards():
    text = ("part nr.: 1013-A2P-A date: 18-3-2013 material S45C heat treated, "
            "tolerances JIS B 0405-m, steel per JIS G 4051, screw M3x10, ISO 2768-m")
    ids = extract_identifiers(text)
    assert "1013-A2P-A" in ids
    assert "S45C" in ids
    assert "JIS G 4051" in ids
    assert "M3X10" in ids
    assert "ISO 2768-M" in ids
    assert "ZB502779A" in extract_identifiers("図番 ZB502779A 材質 A5052")
    assert "A5052" in extract_identifiers("図番 ZB502779A 材質 A5052")
    assert not any(i.startswith("18-3") for i in ids), "dates are not identifiers"


def test_highlight_spans_map_back_to_original_text():
    text = "材質 Ｓ４５Ｃ、焼入れ処理。Part 1258-B2P-A"
    spans = highlight_spans(text, query_terms("焼入れ s45c 1258-b2p-a"))
    assert [text[a:b] for a, b in spans] == ["Ｓ４５Ｃ", "焼入れ", "1258-B2P-A"]


def test_stopwords_are_dropped_from_queries_only():
    assert [t.text for t in query_terms("the shaft of the motor")] == ["shaft", "motor"]
    assert "the" in lexical_tokens("the shaft")


def test_the_numbers_inside_a_code_are_its_parts_a_document_may_cite_alone():
    assert number_parts("B1002-A2P-A") == ("1002",)  # a parts list: "part number 1002"
    assert number_parts("b1002 a2p a") == ("1002",)  # typed with spaces
    assert number_parts("ISO 2768-m") == ("2768",)
    assert number_parts("AUSB0534-P203A61") == ("0534", "203")
    assert number_parts("JXS-01-03") == ()  # two digits: on every page
    assert number_parts("1002") == ()  # the code is the number
    assert number_parts("2019-08-15") == () and number_parts("30-120") == ()  # a date, a range
