"""Contrastive losses and the negative queue: values on hand-made inputs, gradients, masking."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.learn import losses as L  # noqa: E402
from engine.learn.queue import NegativeQueue  # noqa: E402


def _unit(rows) -> torch.Tensor:
    x = torch.tensor(rows, dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def _np_ce(logits: np.ndarray) -> float:
    """mean_i -log softmax(logits_i)[i], by hand."""
    out = []
    for i, row in enumerate(logits):
        out.append(-(row[i] - math.log(np.exp(row).sum())))
    return float(np.mean(out))


# --------------------------------------------------------------------------- values
def test_symmetric_info_nce_matches_numpy():
    a = _unit([[1, 0], [0, 1], [1, 1]])
    b = _unit([[1, 0.2], [0.1, 1], [1, 0.8]])
    scale = torch.tensor(10.0, dtype=torch.float64)
    got = L.symmetric_info_nce(a, b, scale).item()
    lg = 10.0 * a.numpy() @ b.numpy().T
    want = 0.5 * (_np_ce(lg) + _np_ce(lg.T))
    assert got == pytest.approx(want, rel=1e-10)


def test_perfect_pairs_give_small_loss_and_swapped_give_large():
    a = _unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    scale = torch.tensor(20.0, dtype=torch.float64)
    good = L.symmetric_info_nce(a, a, scale).item()
    bad = L.symmetric_info_nce(a, a[[1, 2, 0]], scale).item()
    # by hand: -log(e^20 / (e^20 + 2)) ~ 2 e^-20 ; swapped: -log(1 / (e^20 + 2)) ~ 20
    assert good == pytest.approx(math.log1p(2 * math.exp(-20)), rel=1e-6)
    assert bad == pytest.approx(math.log(math.exp(20) + 2), rel=1e-9)


def test_group_ids_make_multi_positive_targets():
    # rows 0 and 1 are two renders of the same part: for row 0 the target is 1/2 on col 0 and col 1
    lg = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)
    pos = torch.tensor([[True, True, False]])
    got = L.contrastive_cross_entropy(lg, pos).item()
    lse = math.log(math.exp(2) + math.exp(1) + 1)
    want = -0.5 * ((2 - lse) + (1 - lse))
    assert got == pytest.approx(want, rel=1e-12)


def test_label_smoothing_value():
    lg = torch.tensor([[3.0, 1.0, 0.0]], dtype=torch.float64)
    pos = torch.tensor([[True, False, False]])
    eps = 0.3
    got = L.contrastive_cross_entropy(lg, pos, label_smoothing=eps).item()
    logp = lg.numpy()[0] - math.log(np.exp(lg.numpy()[0]).sum())
    target = np.array([1 - eps + eps / 3, eps / 3, eps / 3])
    assert got == pytest.approx(float(-(target * logp).sum()), rel=1e-12)


def test_valid_mask_drops_columns():
    lg = torch.tensor([[1.0, 5.0, 0.5]], dtype=torch.float64)
    pos = torch.tensor([[True, False, False]])
    valid = torch.tensor([[True, False, True]])
    got = L.contrastive_cross_entropy(lg, pos, valid).item()
    assert got == pytest.approx(-(1.0 - math.log(math.exp(1.0) + math.exp(0.5))), rel=1e-12)


def test_hard_negative_weights_by_hand():
    lg = torch.tensor([[2.0, 1.0, 0.0]], dtype=torch.float64)
    pos = torch.tensor([[True, False, False]])
    beta = 1.0
    got = L.contrastive_cross_entropy(lg, pos, hard_negative_beta=beta).item()
    # negatives l=1 and l=0: w = exp(beta*l) / mean(exp(beta*l))
    w = np.exp([1.0, 0.0]) / np.exp([1.0, 0.0]).mean()
    denom = math.exp(2) + w[0] * math.exp(1) + w[1] * math.exp(0)
    assert got == pytest.approx(-(2 - math.log(denom)), rel=1e-12)
    # beta = 0 is plain InfoNCE
    plain = L.contrastive_cross_entropy(lg, pos, hard_negative_beta=0.0).item()
    assert plain == pytest.approx(-(2 - math.log(math.exp(2) + math.exp(1) + 1)), rel=1e-12)
    assert got > plain  # the hard negative weighs more


def test_rince_value_and_limit():
    lg = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.5, 0.3]], dtype=torch.float64)
    pos = torch.eye(3, dtype=torch.bool)[:2]
    q, lam = 0.5, 0.01
    got = L.rince(lg, pos, q=q, lam=lam).item()
    rows = []
    for i, r in enumerate(lg.numpy()):
        rows.append(-math.exp(q * r[i]) / q + (lam * np.exp(r).sum()) ** q / q)
    assert got == pytest.approx(float(np.mean(rows)), rel=1e-12)
    # q -> 0 with lam = 1: RINCE -> InfoNCE (up to the constant, which cancels: -1/q + 1/q)
    small = L.rince(lg, pos, q=1e-6, lam=1.0).item()
    assert small == pytest.approx(L.contrastive_cross_entropy(lg, pos).item(), rel=1e-4)


def test_alignment_and_uniformity_by_hand():
    a = _unit([[1, 0], [0, 1]])
    b = _unit([[0, 1], [0, 1]])
    assert L.alignment(a, b).item() == pytest.approx((2.0 + 0.0) / 2)  # ||e1-e2||^2 = 2
    x = _unit([[1, 0], [0, 1], [-1, 0]])
    # pair sq distances: 2, 4, 2
    want = math.log((math.exp(-4) + math.exp(-8) + math.exp(-4)) / 3)
    assert L.uniformity(x, t=2.0).item() == pytest.approx(want, rel=1e-12)


def test_l2_sp():
    w0 = {"a": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.5])}
    cur = {"a": torch.tensor([1.5, 2.0]), "b": torch.tensor([0.0]), "head": torch.tensor([3.0])}
    assert L.l2_sp(cur, w0).item() == pytest.approx(0.25 + 0.25)
    assert L.l2_sp(cur, w0, new_weight=0.1).item() == pytest.approx(0.5 + 0.9)


def test_temperature_is_clamped_and_learnable():
    t = L.LearnableTemperature(init_temperature=0.07, min_temperature=0.05, max_temperature=1.0)
    assert t().item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        t.log_scale.fill_(10.0)
    assert t().item() == pytest.approx(1 / 0.05, rel=1e-5)
    with torch.no_grad():
        t.log_scale.fill_(math.log(10.0))
    (t() * 2).backward()
    assert t.log_scale.grad is not None and t.log_scale.grad.item() == pytest.approx(20.0, rel=1e-5)


# --------------------------------------------------------------------------- gradients
def _rand_unit(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    return x / x.norm(dim=-1, keepdim=True)


@pytest.mark.parametrize("beta,eps", [(0.0, 0.0), (0.7, 0.0), (0.0, 0.2), (0.5, 0.1)])
def test_gradcheck_symmetric_info_nce(beta, eps):
    a = _rand_unit(4, 5, seed=1).requires_grad_()
    b = _rand_unit(4, 5, seed=2).requires_grad_()
    s = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    ids = torch.tensor([0, 1, 1, 2])
    fn = lambda a, b, s: L.symmetric_info_nce(a, b, s, ids, hard_negative_beta=beta,  # noqa: E731
                                              label_smoothing=eps)
    assert torch.autograd.gradcheck(fn, (a, b, s))


def test_gradcheck_queue_rince_and_geometry():
    a = _rand_unit(3, 4, seed=3).requires_grad_()
    b = _rand_unit(3, 4, seed=4).requires_grad_()
    qk = _rand_unit(5, 4, seed=5)
    s = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    ids = torch.tensor([7, 8, 9])
    qids = torch.tensor([7, 1, -1, 9, 2])
    assert torch.autograd.gradcheck(
        lambda a, b, s: L.queue_info_nce(a, b, qk, s, ids, ids, qids, hard_negative_beta=0.5,
                                         label_smoothing=0.1), (a, b, s))
    pos = torch.eye(3, dtype=torch.bool)
    assert torch.autograd.gradcheck(lambda a, b: L.rince(2 * a @ b.T, pos, q=0.5), (a, b))
    assert torch.autograd.gradcheck(lambda a, b: L.alignment(a, b), (a, b))
    assert torch.autograd.gradcheck(lambda a: L.uniformity(a, 2.0), (a,))


def test_combined_loss_runs_and_backprops():
    torch.manual_seed(0)
    img = torch.nn.functional.normalize(torch.randn(6, 8), dim=1).requires_grad_()
    txt = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    ids = torch.arange(6)
    q = NegativeQueue(16, 8)
    q.enqueue(torch.nn.functional.normalize(torch.randn(10, 8), dim=1), torch.arange(3, 13))
    for noise in ("none", "smooth", "rince"):
        loss = L.ContrastiveLoss(L.LossConfig(noise=noise, hard_negative_beta=0.5))
        out = loss(img, txt, ids, img_queue=q.contents(), txt_queue=q.contents())
        assert set(out) >= {"loss", "infonce", "queue", "align", "uniform", "temperature"}
        out["loss"].backward()
        assert img.grad is not None and torch.isfinite(img.grad).all()
        assert loss.temperature.log_scale.grad is not None
        img.grad = None


# --------------------------------------------------------------------------- queue
def test_queue_fifo_and_wraparound():
    q = NegativeQueue(size=4, dim=2)
    assert len(q) == 0
    keys, ids = q.contents()
    assert (ids == -1).all()
    q.enqueue(torch.tensor([[1.0, 0], [2, 0], [3, 0]]), torch.tensor([1, 2, 3]))
    assert len(q) == 3
    q.enqueue(torch.tensor([[4.0, 0], [5, 0]]), torch.tensor([4, 5]))  # 1 is evicted
    keys, ids = q.contents()
    assert ids.tolist() == [2, 3, 4, 5]
    assert keys[:, 0].tolist() == [2, 3, 4, 5]
    q.enqueue(torch.arange(12, dtype=torch.float32).reshape(6, 2), torch.arange(10, 16))  # > size
    assert q.contents()[1].tolist() == [12, 13, 14, 15]


def test_queue_never_own_negative_and_masks_duplicates():
    q = NegativeQueue(size=5, dim=2)
    q.enqueue(torch.eye(2).repeat(2, 1)[:3], torch.tensor([10, 11, 10]))
    mask = q.negative_mask(torch.tensor([10, 12]))
    # slots: ids 10, 11, 10, -1, -1
    assert mask.tolist() == [[False, True, False, False, False], [True, True, True, False, False]]
    # the loss sees the same masking: anchor id 10 with its queue twin identical to itself
    a = torch.tensor([[1.0, 0.0]])
    keys, ids = q.contents()
    lg, pos, valid = L.queue_logits(a, a, keys, torch.tensor(1.0), torch.tensor([10]),
                                    torch.tensor([10]), ids)
    assert valid.tolist() == [[True, False, True, False, False, False]]
    assert pos.tolist() == [[True, False, False, False, False, False]]


def test_queue_state_round_trip():
    q = NegativeQueue(size=3, dim=2)
    q.enqueue(torch.ones(2, 2), torch.tensor([1, 2]))
    r = NegativeQueue(size=3, dim=2)
    r.load_state_dict(q.state_dict())
    assert r.ptr == 2 and len(r) == 2 and r.contents()[1].tolist() == q.contents()[1].tolist()


def test_single_row_without_negatives_is_finite():
    a = _rand_unit(1, 4, seed=9).requires_grad_()
    loss = L.symmetric_info_nce(a, a, torch.tensor(5.0, dtype=torch.float64), hard_negative_beta=1.0)
    loss.backward()
    assert torch.isfinite(a.grad).all()


def test_combined_loss_on_a_batch_of_one_skips_uniformity():
    """The last batch of an epoch can hold one pair: uniformity has no pair to spread, the rest runs."""
    a = _rand_unit(1, 4, seed=3).float().requires_grad_()
    out = L.ContrastiveLoss(L.LossConfig(w_uniform=0.1))(a, _rand_unit(1, 4, seed=4).float(), torch.tensor([0]))
    assert "uniform" not in out and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert torch.isfinite(a.grad).all()


def test_view_term_finds_each_drawing_s_other_view_among_the_queue():
    """Self-supervised term: an image's positive is the other view of its own drawing (ids equal),
    the negatives the batch's other views and the image queue, at the fixed view temperature;
    equal to MoCo's queue InfoNCE, and absent unless weighted and given views."""
    img = _rand_unit(4, 6, seed=11).float().requires_grad_()
    views = _rand_unit(4, 6, seed=12).float()
    txt = _rand_unit(4, 6, seed=13).float()
    ids = torch.tensor([0, 1, 2, 2])  # two renderings of drawing 2: positives of each other
    queue = (_rand_unit(5, 6, seed=14).float(), torch.tensor([2, 7, 8, -1, 9]))  # -1: an empty slot
    cfg = L.LossConfig(w_infonce=0, w_queue=0, w_align=0, w_uniform=0, w_view=1.0, view_temperature=0.2,
                       noise="none")
    out = L.ContrastiveLoss(cfg)(img, txt, ids, img_queue=queue, views=views)
    expected = L.queue_info_nce(img, views, queue[0], torch.tensor(5.0), ids, ids, queue[1])
    assert out["view"].item() == pytest.approx(expected.item(), rel=1e-6)
    # by hand: row 0 against every view and the filled queue slots; row 2 (drawing 2) has two
    # positives (its own view and its sibling rendering's) and never drawing 2's queued view
    logits = 5.0 * img.detach().numpy() @ np.concatenate([views.numpy(), queue[0].numpy()]).T  # (4, 9)
    row0 = logits[0, [0, 1, 2, 3, 4, 5, 6, 8]]
    row2 = logits[2, [0, 1, 2, 3, 5, 6, 8]]
    ce0 = -(row0[0] - math.log(np.exp(row0).sum()))
    ce2 = -(0.5 * (row2[2] + row2[3]) - math.log(np.exp(row2).sum()))
    one = L.queue_info_nce(img[[0, 2]], views, queue[0], torch.tensor(5.0), ids[[0, 2]], ids, queue[1])
    assert one.item() == pytest.approx(0.5 * (ce0 + ce2), rel=1e-5)
    out["loss"].backward()
    assert img.grad is not None and torch.isfinite(img.grad).all()
    without = L.ContrastiveLoss(L.LossConfig())(img, txt, ids, img_queue=queue)
    assert "view" not in without
    no_queue = L.ContrastiveLoss(cfg)(img, txt, ids, views=views)  # the first batch: views only
    assert torch.isfinite(no_queue["view"])
