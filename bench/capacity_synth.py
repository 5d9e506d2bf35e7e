"""Synthetic material for bench_capacity.py: text-tower-like vectors and drawing-archive text.

Both are deterministic (a seed and a position give the same output on every run), so the exact
answers of the vector queries can be computed while the index is built, and a library can be
grown from 1M to 10M chunks by continuing where the last run stopped.

Vectors (`MixtureVectors`): unit vectors from a hierarchical Gaussian mixture, calibrated on the
real MiniLM chunk vectors of the development library (bench_dev.py, 3,775 chunks): a shared mean
direction (real chunk vectors share one: the norm of their mean is 0.45), 300 topics x 30
subtopics whose centres have a decaying spectrum (a few directions carry most of the variance, as
in real embeddings), documents of 7 chunks around a point of their subtopic, and per-chunk noise.
At 3,775 vectors: random-pair cosine 0.21 ± 0.18 (real 0.21 ± 0.15), median cosine of the
1st / 10th / 100th neighbour 0.88 / 0.65 / 0.51 (real 0.87 / 0.71 / 0.52), top-50 principal
components 71 % of the variance (real 71 %).

Text (`ArchiveText`): documents of a drawing archive, by number. Every part has a drawing
(1 page) and two documents (specification, process or inspection sheet; 1 to 80 pages); each page
is a list of words with boxes, chunked by the product's chunker (engine.indexing.pipeline.chunk_page).
Words are drawn from a Zipf-Mandelbrot vocabulary of pseudo-words (exponent 1.0; the development
library's measured slope is 0.93), Japanese words (CJK unigrams and bigrams once analysed), sizes
and tolerances, materials and standards, and part numbers: each part has its own number
(`ZM-104233-B2P`, `A-20431-03`: a rare token and its parts), written on its drawing's title block
and in its documents, and documents cite the numbers of neighbouring parts (assemblies, BOMs).
Word shares are tuned so the analysed tokens come out close to the development library's
(letters 54 %, digits 21 %, letters+digits 16 %, CJK 9 %; ~87 tokens per chunk).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DIM = 384  # the text tower's dimension (all-MiniLM-L6-v2)
KNEE = 3000  # vocabulary ranks after which word frequencies fall faster (see zipf_cdf)


# --------------------------------------------------------------------------- vectors

class MixtureVectors:
    """Deterministic unit vectors: `block(start, n)` are the vectors of ids start+1 .. start+n."""

    def __init__(self, seed: int = 7, dim: int = DIM, topics: int = 300, subtopics: int = 30,
                 per_doc: int = 7, weights: tuple[float, float, float, float, float] = (0.5, 0.7, 0.5, 0.3, 0.4),
                 decay: float = 0.7) -> None:
        self.seed, self.dim, self.per_doc = seed, dim, per_doc
        self.topics, self.subtopics = topics, subtopics
        self.w_mean, self.w_topic, self.w_sub, self.w_doc, self.w_chunk = weights
        rng = np.random.default_rng([seed, 0])
        spectrum = np.arange(1, dim + 1, dtype=np.float32) ** -decay  # (dim,)
        spectrum /= np.sqrt((spectrum ** 2).sum())
        self.mean = _unit(rng.standard_normal(dim).astype(np.float32))  # (dim,)
        self.topic_centres = _unit(rng.standard_normal((topics, dim)).astype(np.float32) * spectrum)  # (T, dim)
        self.sub_centres = _unit(rng.standard_normal((topics * subtopics, dim)).astype(np.float32)
                                 * spectrum)  # (T*S, dim)

    def block(self, start: int, n: int) -> np.ndarray:
        """Vectors of ids start+1 .. start+n; `start` must be a multiple of `per_doc`."""
        return self._sample(np.random.default_rng([self.seed, 1, start]), n)

    def queries(self, n: int) -> np.ndarray:
        """Query vectors from the same mixture (new documents: none of them is in the index)."""
        return self._sample(np.random.default_rng([self.seed, 2]), n, per_doc=1)

    def _sample(self, rng: np.random.Generator, n: int, per_doc: int | None = None) -> np.ndarray:
        per_doc = per_doc or self.per_doc
        docs = (n + per_doc - 1) // per_doc
        topic = rng.integers(0, self.topics, docs)
        sub = topic * self.subtopics + rng.integers(0, self.subtopics, docs)
        doc = (self.w_mean * self.mean + self.w_topic * self.topic_centres[topic]
               + self.w_sub * self.sub_centres[sub]
               + self.w_doc * rng.standard_normal((docs, self.dim), dtype=np.float32) / math.sqrt(self.dim))  # (docs, dim)
        v = np.repeat(doc, per_doc, axis=0)[:n]  # (n, dim)
        v += self.w_chunk * rng.standard_normal((n, self.dim), dtype=np.float32) / math.sqrt(self.dim)
        return _unit(v)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def neighbour_stats(vectors: np.ndarray) -> dict[str, float]:
    """Cosine statistics of a small set of unit vectors (the calibration figures above)."""
    sims = vectors @ vectors.T  # (n, n)
    n = len(vectors)
    upper = sims[np.triu_indices(n, 1)]
    np.fill_diagonal(sims, -1.0)
    ranked = -np.sort(-sims, axis=1)  # (n, n), best first
    centred = vectors - vectors.mean(axis=0)
    var = np.linalg.svd(centred, compute_uv=False) ** 2
    out = {"vectors": n, "pair_cos_mean": float(upper.mean()), "pair_cos_sd": float(upper.std()),
           "mean_norm": float(np.linalg.norm(vectors.mean(axis=0))),
           "top50_pc_share": float(var[:50].sum() / var.sum())}
    for k in (1, 10, 100):
        if n > k:
            out[f"nn{k}_cos_median"] = float(np.median(ranked[:, k - 1]))
    return out


def true_top_k(best_ids: np.ndarray, best_sims: np.ndarray, queries: np.ndarray, block: np.ndarray,
               first_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge a block of vectors (ids first_id, first_id+1, ...) into the running exact top-k of
    each query; (ids, sims) are (q, k), best first."""
    k = best_ids.shape[1]
    sims = queries @ block.T  # (q, m)
    take = min(k, sims.shape[1])
    part = np.argpartition(-sims, take - 1, axis=1)[:, :take]  # (q, take)
    ids = np.concatenate([best_ids, part + first_id], axis=1)  # (q, k + take)
    vals = np.concatenate([best_sims, np.take_along_axis(sims, part, axis=1)], axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(ids, order, axis=1), np.take_along_axis(vals, order, axis=1)


# --------------------------------------------------------------------------- text

_CONSONANTS = "kstnhmyrwgzdbp"
_SYLLABLES = [c + v for c in _CONSONANTS for v in "aiueo"] + list("aiueo")  # 75
_CJK_CHARS = [chr(0x4E00 + 7 * i) for i in range(1400)] + [chr(c) for c in range(0x30A1, 0x30F7)]
MATERIALS = [
    "S45C", "SUS304", "SS400", "A5052", "SCM440", "SPCC", "A6061-T6", "SUS316L", "FC250", "C3604",
    "POM", "MC NYLON", "S50C", "SK3", "SUJ2", "SECC", "PEEK", "ADC12", "SCM415", "A2017",
    "JIS B 0405-m", "JIS B 0401", "ISO 2768-mK", "JIS B 1180", "ISO 1302", "JIS G 4051",
    "ASME Y14.5M", "JIS Z 3001", "ISO 8015", "JIS B 0021", "Ra1.6", "Ra3.2", "Ra6.3", "HRC40-45",
    "M8x1.25", "M6", "M10", "M12", "φ10H7", "φ20g6",
]
# sizes, tolerances and counts as printed; the first forms (one token once analysed) are the most common
_DIM_FORMS = ["{a}", "{a}", "{a}", "R{a}", "M{a}", "φ{a}", "{a}x{a2}", "{a}.{b}", "C0.{b}", "±0.{b}", "{a}-{a2}"]


def zipf_cdf(n: int, exponent: float = 1.0, shift: float = 2.7, knee: int = 0,
             tail_exponent: float = 2.0) -> np.ndarray:
    """Cumulative Zipf-Mandelbrot probabilities of ranks 0 .. n-1: p(r) ~ 1 / (r + 1 + shift)^s,
    falling with `tail_exponent` after rank `knee` (when given). A steeper tail is what makes a
    real vocabulary grow like n^0.5 with the text (Heaps' law) while its head keeps slope ~1."""
    r = np.arange(1, n + 1) + shift
    weights = r ** -exponent
    if knee:
        k = knee + shift
        tail = r > k
        weights[tail] = k ** -exponent * (r[tail] / k) ** -tail_exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def pseudo_word(rank: int) -> str:
    """A pronounceable letters-only word per rank (bijective base-75 syllables; rank 0 = 'ka')."""
    out, r = [], rank + 1
    while r > 0:
        r -= 1
        out.append(_SYLLABLES[r % len(_SYLLABLES)])
        r //= len(_SYLLABLES)
    return "".join(out)


def cjk_word(rank: int) -> str:
    """A 2- or 3-character Japanese-looking word per rank (characters scattered by a hash)."""
    h = (rank * 2654435761 + 12345) % 2**32
    n = len(_CJK_CHARS)
    chars = [_CJK_CHARS[h % n], _CJK_CHARS[(h // n) % n]]
    if rank % 3 == 2:
        chars.append(_CJK_CHARS[(h // (n * n)) % n])
    return "".join(chars)


def part_number(part: int) -> str:
    """The number of part `part`: two formats, unique per part."""
    h = (part * 2246822519 + 3266489917) % 2**32
    if part % 2:
        letters = chr(65 + h % 26) + chr(65 + (h // 26) % 26)
        return f"{letters}-{100000 + part // 2}-{chr(65 + (h >> 10) % 26)}{h % 9 + 1}{chr(65 + (h >> 15) % 26)}"
    return f"{chr(65 + h % 26)}-{10000 + part // 2}-{h % 90 + 10:02d}"


@dataclass(frozen=True)
class SynthDocument:
    doc_no: int
    part: int
    kind: str  # "drawing" | "document"
    path: str
    title: str
    pages: list[list[str]]  # words of each page


class ArchiveText:
    """Documents of a synthetic drawing archive, by number (3 per part: a drawing and two documents)."""

    # word shares: vocabulary word, number/size, Japanese word, part number, material/standard
    MIX = (0.66, 0.20, 0.035, 0.045, 0.06)

    def __init__(self, seed: int = 7, vocabulary: int = 3_000_000, knee: int = KNEE,
                 cjk_vocabulary: int = 20_000, per_folder: int = 24) -> None:
        self.seed, self.per_folder = seed, per_folder
        self.words = [pseudo_word(r) for r in range(50_000)]  # the rest made when drawn
        self.word_cdf = zipf_cdf(vocabulary, knee=knee)
        self.cjk = [cjk_word(r) for r in range(cjk_vocabulary)]
        self.cjk_cdf = zipf_cdf(cjk_vocabulary, knee=knee // 2)
        self.number_cdf = zipf_cdf(1000, 1.3, 1.0)
        self.decimal_cdf = zipf_cdf(99, 1.2, 1.0)
        self.material_cdf = zipf_cdf(len(MATERIALS), 1.0, 1.0)

    def document(self, doc_no: int) -> SynthDocument:
        rng = np.random.default_rng([self.seed, 3, doc_no])
        part, role = divmod(doc_no, 3)
        number = part_number(part)
        name = " ".join(self._vocab(rng, 2))
        if role == 0:  # the drawing: one page of title block, notes and dimensions
            pages = [self._page(rng, part, int(np.clip(rng.lognormal(math.log(180), 0.5), 40, 700)),
                                title_block=True)]
            kind, stem = "drawing", number
        else:
            n_pages = 1 if rng.random() < 0.55 else min(80, 2 + int(rng.geometric(0.25)))
            pages = [self._page(rng, part, int(np.clip(rng.lognormal(math.log(200), 0.7), 20, 900)),
                                title_block=(p == 0))
                     for p in range(n_pages)]
            kind, stem = "document", f"{('spec', 'sheet')[role - 1]}-{number}"
        folder = part // (self.per_folder // 3)
        path = f"/archive/site{folder % 7}/p{folder:06d}/{stem}.pdf"
        return SynthDocument(doc_no, part, kind, path, f"{number} {name}", pages)

    def _vocab(self, rng: np.random.Generator, n: int) -> list[str]:
        common = len(self.words)
        return [self.words[i] if i < common else pseudo_word(i)
                for i in np.searchsorted(self.word_cdf, rng.random(n)).tolist()]

    def _page(self, rng: np.random.Generator, part: int, n_words: int, *, title_block: bool) -> list[str]:
        kinds = rng.choice(len(self.MIX), size=n_words, p=self.MIX)
        counts = np.bincount(kinds, minlength=len(self.MIX))
        pools = [
            iter(self._vocab(rng, counts[0])),
            iter(self._numbers(rng, counts[1])),
            iter(self.cjk[i] for i in np.searchsorted(self.cjk_cdf, rng.random(counts[2]))),
            iter(self._part_refs(rng, part, counts[3])),
            iter(MATERIALS[i] for i in np.searchsorted(self.material_cdf, rng.random(counts[4]))),
        ]
        # "JIS B 0405-m" is three words on the page, as an extractor gives them
        words = [w for k in kinds.tolist() for w in next(pools[k]).split()]
        if title_block:
            words[:0] = [part_number(part)] + self._vocab(rng, 3)
        return words

    def _numbers(self, rng: np.random.Generator, n: int) -> list[str]:
        a = np.searchsorted(self.number_cdf, rng.random(n)) + 1
        a2 = np.searchsorted(self.decimal_cdf, rng.random(n)) + 1
        b = np.searchsorted(self.decimal_cdf, rng.random(n)) + 1
        forms = rng.integers(0, len(_DIM_FORMS), n)
        return [_DIM_FORMS[f].format(a=x, a2=y, b=z)
                for f, x, y, z in zip(forms.tolist(), a.tolist(), a2.tolist(), b.tolist())]

    def _part_refs(self, rng: np.random.Generator, part: int, n: int) -> list[str]:
        """A fifth of the numbers are the part's own, the others its neighbours' (an assembly's
        parts)."""
        own = rng.random(n) < 0.2
        offsets = rng.integers(-40, 41, n)
        return [part_number(part if o else max(0, part + d)) for o, d in zip(own.tolist(), offsets.tolist())]


def page_words(words: list[str]):
    """Word boxes laid out in lines (normalised page coordinates), as an extractor gives them."""
    from engine.types import Box, Word

    out, x, y = [], 0.05, 0.05
    for w in words:
        width = 0.008 * len(w) + 0.004
        if x + width > 0.95:
            x, y = 0.05, y + 0.016 if y < 0.93 else 0.05
        out.append(Word(w, Box(round(x, 4), round(y, 4), round(x + width, 4), round(y + 0.012, 4))))
        x += width + 0.006
    return tuple(out)


def token_stats(chunk_tokens: list[list[str]]) -> dict[str, float]:
    """Token statistics of analysed chunks: length, kinds and the Zipf slope (ranks 10-2000)."""
    from collections import Counter

    counts: Counter = Counter()
    for tokens in chunk_tokens:
        counts.update(tokens)
    total = sum(counts.values())
    kinds: Counter = Counter()
    for t, c in counts.items():
        if any("\u3040" <= ch <= "\u9fff" for ch in t):
            kinds["cjk"] += c
        elif t.isdigit():
            kinds["digits"] += c
        elif any(ch.isdigit() for ch in t):
            kinds["letters_digits"] += c
        else:
            kinds["letters"] += c
    freqs = np.array(sorted(counts.values(), reverse=True), dtype=np.float64)
    ranks = np.arange(1, len(freqs) + 1)
    sel = (ranks >= 10) & (ranks <= 2000)
    slope = float(np.polyfit(np.log(ranks[sel]), np.log(freqs[sel]), 1)[0]) if sel.sum() > 10 else float("nan")
    lengths = np.array([len(t) for t in chunk_tokens])
    return {"chunks": len(chunk_tokens), "tokens_per_chunk_mean": float(lengths.mean()),
            "tokens_per_chunk_median": float(np.median(lengths)), "vocabulary": len(counts),
            "zipf_slope_10_2000": slope, **{f"share_{k}": v / total for k, v in sorted(kinds.items())}}
