"""Contrastive losses as pure functions on embeddings (torch).

Every function takes embeddings (already produced by the towers) and returns a scalar
tensor, so each one is testable without a model. `ContrastiveLoss` combines them with the
weights of a `LossConfig`; the training loops only embed and call it.

Notation: B = batch size, K = queue length, D = embedding dim. Rows are L2-normalised
unless a docstring says otherwise. `logit_scale` is 1 / temperature.

Terms (see docs/learning.md):
- symmetric InfoNCE (CLIP): image->text and text->image cross-entropy over in-batch pairs;
  rows sharing a group id (same part, several renders) are all positives.
- queue InfoNCE (MoCo): anchors against their in-batch positives plus K momentum-encoder
  negatives from a FIFO queue; queue entries with the anchor's own id are masked out.
- hard-negative weighting (Robinson et al. 2021): negatives re-weighted by exp(beta * logit),
  normalised to mean 1 per row (as in the authors' code, the gradient flows through the weights).
- alignment + uniformity (Wang & Isola 2020).
- noise-robust variants: label-smoothed (soft) targets, and RINCE (Chuang et al. 2022).
- L2-SP (Li et al. 2018): squared distance to the starting weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Literal, Mapping

import torch
import torch.nn as nn

NoiseMode = Literal["none", "smooth", "rince"]


@dataclass(frozen=True)
class LossConfig:
    """Every weight of the training objective, declared once with its default."""

    # temperature (learnable, log-parameterised: logit_scale = exp(log_scale), clamped)
    init_temperature: float = 0.07
    min_temperature: float = 0.01
    max_temperature: float = 1.0
    learn_temperature: bool = True
    # term weights
    w_infonce: float = 1.0  # symmetric in-batch InfoNCE
    w_queue: float = 0.5  # InfoNCE against the momentum queue (both directions)
    w_align: float = 0.2  # alignment of positive pairs
    w_uniform: float = 0.1  # uniformity of each modality (averaged)
    w_l2sp: float = 0.0  # pull toward the starting weights (adaptation); 0 for pretraining
    w_view: float = 0.0  # self-supervised: a drawing's other view (momentum key) among the image queue
    # term shapes
    align_alpha: float = 2.0
    uniform_t: float = 2.0
    hard_negative_beta: float = 0.0  # 0 = plain InfoNCE; ~0.5-1.0 emphasises hard negatives
    noise: NoiseMode = "smooth"
    label_smoothing: float = 0.1  # used when noise == "smooth"
    rince_q: float = 0.5  # used when noise == "rince"; q -> 0 recovers InfoNCE
    rince_lambda: float = 0.01
    view_temperature: float = 0.1  # fixed, for the image->image view term (MoCo v2/v3 use 0.1-0.2)
    # momentum encoder / queue
    queue_size: int = 4096
    momentum: float = 0.995

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- temperature
def clamp_logit_scale(log_scale: torch.Tensor, min_temperature: float,
                      max_temperature: float) -> torch.Tensor:
    """exp(log_scale) clamped to [1/max_temperature, 1/min_temperature] (gradient passes inside)."""
    lo, hi = math.log(1.0 / max_temperature), math.log(1.0 / min_temperature)
    return log_scale.clamp(lo, hi).exp()  # ()


class LearnableTemperature(nn.Module):
    """Holds log(1/T) as a parameter; calling it returns the clamped logit scale 1/T."""

    def __init__(self, init_temperature: float = 0.07, min_temperature: float = 0.01,
                 max_temperature: float = 1.0, learnable: bool = True) -> None:
        super().__init__()
        self.min_temperature, self.max_temperature = min_temperature, max_temperature
        value = torch.tensor(math.log(1.0 / init_temperature))
        self.log_scale = nn.Parameter(value, requires_grad=learnable)

    def forward(self) -> torch.Tensor:
        return clamp_logit_scale(self.log_scale, self.min_temperature, self.max_temperature)

    @property
    def temperature(self) -> float:
        return float(1.0 / self.forward().detach())


# --------------------------------------------------------------------------- core CE
def group_mask(row_ids: torch.Tensor, col_ids: torch.Tensor) -> torch.Tensor:
    """(R,), (C,) integer ids -> (R, C) bool, True where the ids are equal."""
    return row_ids[:, None] == col_ids[None, :]  # (R, C)


def hard_negative_log_weights(logits: torch.Tensor, neg_mask: torch.Tensor,
                              beta: float) -> torch.Tensor:
    """log of importance weights w = exp(beta*l) / mean_neg(exp(beta*l)), 0 off the negatives.

    Robinson et al. 2021: the negatives' term becomes N * sum_n softmax(beta*l)_n exp(l_n), an
    importance-sampling estimate under a distribution tilted toward hard (similar) negatives.
    """
    if beta == 0.0:
        return torch.zeros_like(logits)
    z = (beta * logits).masked_fill(~neg_mask, -1e9)  # (R, C) finite: rows without negatives stay NaN-free
    n_neg = neg_mask.sum(dim=1, keepdim=True).clamp(min=1)  # (R, 1)
    log_w = z - torch.logsumexp(z, dim=1, keepdim=True) + torch.log(n_neg.to(logits.dtype))  # (R, C)
    return torch.where(neg_mask, log_w, torch.zeros_like(logits))  # (R, C)


def contrastive_cross_entropy(logits: torch.Tensor, pos_mask: torch.Tensor,
                              valid_mask: torch.Tensor | None = None, *,
                              hard_negative_beta: float = 0.0,
                              label_smoothing: float = 0.0) -> torch.Tensor:
    """Multi-positive InfoNCE per row, averaged over rows that have a positive.

    logits: (R, C) scaled similarities; pos_mask: (R, C) positives; valid_mask: (R, C) columns that
    take part at all (masked columns are neither positive nor negative). The target is uniform over a
    row's positives, mixed with `label_smoothing` of uniform mass over all valid columns (soft targets:
    a mislabeled pair then costs a bounded amount instead of dominating the gradient).
    """
    if valid_mask is None:
        valid_mask = torch.ones_like(pos_mask)
    pos = pos_mask & valid_mask  # (R, C)
    neg = valid_mask & ~pos  # (R, C)
    shifted = logits + hard_negative_log_weights(logits, neg, hard_negative_beta)  # (R, C)
    shifted = shifted.masked_fill(~valid_mask, float("-inf"))  # (R, C)
    log_p = shifted - torch.logsumexp(shifted, dim=1, keepdim=True)  # (R, C)
    n_pos = pos.sum(dim=1, keepdim=True).to(logits.dtype)  # (R, 1)
    n_valid = valid_mask.sum(dim=1, keepdim=True).to(logits.dtype)  # (R, 1)
    target = pos.to(logits.dtype) / n_pos.clamp(min=1)  # (R, C)
    if label_smoothing > 0.0:
        target = (1 - label_smoothing) * target + label_smoothing * valid_mask.to(logits.dtype) / n_valid
    log_p = torch.where(valid_mask, log_p, torch.zeros_like(log_p))  # (R, C) no -inf * 0
    per_row = -(target * log_p).sum(dim=1)  # (R,)
    has_pos = pos.any(dim=1)  # (R,)
    return per_row[has_pos].mean() if bool(has_pos.any()) else logits.sum() * 0.0


def rince(logits: torch.Tensor, pos_mask: torch.Tensor, valid_mask: torch.Tensor | None = None, *,
          q: float = 0.5, lam: float = 0.01) -> torch.Tensor:
    """RINCE (Chuang et al. 2022), per row: -exp(q*s_pos)/q + (lam * sum_valid exp(s))^q / q.

    s_pos is the log-sum-exp over a row's positives. q -> 0 tends to InfoNCE; q = 1 is symmetric and
    bounded, so noisy (mislabeled) pairs with a low s_pos contribute little gradient. Computed in the
    log domain so large logit scales do not overflow.
    """
    if valid_mask is None:
        valid_mask = torch.ones_like(pos_mask)
    pos = pos_mask & valid_mask  # (R, C)
    s_pos = torch.logsumexp(logits.masked_fill(~pos, float("-inf")), dim=1)  # (R,)
    s_all = torch.logsumexp(logits.masked_fill(~valid_mask, float("-inf")), dim=1)  # (R,)
    per_row = -torch.exp(q * s_pos) / q + torch.exp(q * (math.log(lam) + s_all)) / q  # (R,)
    has_pos = pos.any(dim=1)  # (R,)
    return per_row[has_pos].mean() if bool(has_pos.any()) else logits.sum() * 0.0


def _row_loss(logits: torch.Tensor, pos: torch.Tensor, valid: torch.Tensor | None,
              cfg: LossConfig) -> torch.Tensor:
    if cfg.noise == "rince":
        return rince(logits, pos, valid, q=cfg.rince_q, lam=cfg.rince_lambda)
    smoothing = cfg.label_smoothing if cfg.noise == "smooth" else 0.0
    return contrastive_cross_entropy(logits, pos, valid, hard_negative_beta=cfg.hard_negative_beta,
                                     label_smoothing=smoothing)


# --------------------------------------------------------------------------- InfoNCE forms
def symmetric_info_nce(a: torch.Tensor, b: torch.Tensor, logit_scale: torch.Tensor,
                       group_ids: torch.Tensor | None = None, *, hard_negative_beta: float = 0.0,
                       label_smoothing: float = 0.0) -> torch.Tensor:
    """CLIP loss: mean of a->b and b->a cross-entropy. a, b: (B, D) paired rows.

    group_ids: (B,) rows with equal ids are positives of each other (default: only the diagonal).
    """
    logits = logit_scale * a @ b.T  # (B, B)
    if group_ids is None:
        pos = torch.eye(a.shape[0], dtype=torch.bool, device=a.device)  # (B, B)
    else:
        pos = group_mask(group_ids, group_ids)  # (B, B)
    kw = dict(hard_negative_beta=hard_negative_beta, label_smoothing=label_smoothing)
    return 0.5 * (contrastive_cross_entropy(logits, pos, **kw)
                  + contrastive_cross_entropy(logits.T, pos.T, **kw))


def queue_logits(anchors: torch.Tensor, keys: torch.Tensor, queue_keys: torch.Tensor,
                 logit_scale: torch.Tensor, anchor_ids: torch.Tensor, key_ids: torch.Tensor,
                 queue_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits of anchors against [in-batch keys ; queue], with positive and valid masks.

    anchors: (B, D) one modality; keys: (B, D) the other modality of the same batch (positives where
    ids match); queue_keys: (K, D) momentum embeddings of earlier batches, queue_ids: (K,), -1 = empty.
    A queue entry whose id equals the anchor's id (the same sample or pair group seen earlier) is
    masked out: it is never used as a negative, nor as a (stale) positive.
    """
    all_keys = torch.cat([keys, queue_keys], dim=0)  # (B+K, D)
    logits = logit_scale * anchors @ all_keys.T  # (B, B+K)
    pos_batch = group_mask(anchor_ids, key_ids)  # (B, B)
    pos = torch.cat([pos_batch, torch.zeros(anchors.shape[0], queue_keys.shape[0], dtype=torch.bool,
                                             device=anchors.device)], dim=1)  # (B, B+K)
    q_valid = (queue_ids[None, :] >= 0) & ~group_mask(anchor_ids, queue_ids)  # (B, K)
    valid = torch.cat([torch.ones_like(pos_batch), q_valid], dim=1)  # (B, B+K)
    return logits, pos, valid


def queue_info_nce(anchors: torch.Tensor, keys: torch.Tensor, queue_keys: torch.Tensor,
                   logit_scale: torch.Tensor, anchor_ids: torch.Tensor, key_ids: torch.Tensor,
                   queue_ids: torch.Tensor, *, hard_negative_beta: float = 0.0,
                   label_smoothing: float = 0.0) -> torch.Tensor:
    """MoCo-style InfoNCE: one direction, negatives = other in-batch keys + the queue."""
    logits, pos, valid = queue_logits(anchors, keys, queue_keys, logit_scale, anchor_ids, key_ids,
                                      queue_ids)
    return contrastive_cross_entropy(logits, pos, valid, hard_negative_beta=hard_negative_beta,
                                     label_smoothing=label_smoothing)


# --------------------------------------------------------------------------- geometry terms
def alignment(a: torch.Tensor, b: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Wang & Isola: mean ||a_i - b_i||^alpha over positive pairs. a, b: (B, D)."""
    return (a - b).norm(dim=1).pow(alpha).mean()


def uniformity(x: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Wang & Isola: log mean_{i<j} exp(-t ||x_i - x_j||^2). x: (N, D), N >= 2."""
    n = x.shape[0]
    i, j = torch.triu_indices(n, n, offset=1, device=x.device)  # (P,), (P,)
    sq = (x[i] - x[j]).pow(2).sum(dim=1)  # (P,)
    return torch.logsumexp(-t * sq, dim=0) - math.log(sq.shape[0])


def l2_sp(current: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor],
          new_weight: float = 0.0) -> torch.Tensor:
    """L2-SP: sum ||w - w0||^2 over parameters present in `reference` (the starting point);
    parameters absent from it (a new head) get `new_weight` * ||w||^2 (plain weight decay)."""
    total: torch.Tensor | None = None
    for name, w in current.items():
        if name in reference:
            term = (w - reference[name].to(w.dtype)).pow(2).sum()
        elif new_weight:
            term = new_weight * w.pow(2).sum()
        else:
            continue
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return total


# --------------------------------------------------------------------------- combined
class ContrastiveLoss(nn.Module):
    """The training objective: weighted sum of the terms above, per `LossConfig`.

    forward() returns a dict of detached parts for logging plus "loss" (with gradient).
    """

    def __init__(self, cfg: LossConfig = LossConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.temperature = LearnableTemperature(cfg.init_temperature, cfg.min_temperature,
                                                cfg.max_temperature, cfg.learn_temperature)

    def forward(self, img: torch.Tensor, txt: torch.Tensor, ids: torch.Tensor, *,
                img_queue: tuple[torch.Tensor, torch.Tensor] | None = None,
                txt_queue: tuple[torch.Tensor, torch.Tensor] | None = None,
                params: Mapping[str, torch.Tensor] | None = None,
                reference: Mapping[str, torch.Tensor] | None = None,
                views: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """img, txt: (B, D) normalised; ids: (B,) pair-group ids.

        img_queue = (keys (K, D), ids (K,)): momentum image embeddings, negatives for text anchors.
        txt_queue likewise: text embeddings, negatives for image anchors.
        views: (B, D) momentum-encoder embeddings of another view of each row's drawing (another
        rendering, crop, line weight): with `w_view`, each image must find its own drawing's view
        among the batch's other views and the image queue (MoCo; rows and entries of one pair
        group are never negatives of each other), at the fixed `view_temperature`.
        """
        cfg = self.cfg
        scale = self.temperature()  # ()
        parts: dict[str, torch.Tensor] = {}
        smoothing = cfg.label_smoothing if cfg.noise == "smooth" else 0.0
        kw = dict(hard_negative_beta=cfg.hard_negative_beta, label_smoothing=smoothing)
        if cfg.noise == "rince":
            pos = group_mask(ids, ids)  # (B, B)
            logits = scale * img @ txt.T  # (B, B)
            parts["infonce"] = 0.5 * (rince(logits, pos, q=cfg.rince_q, lam=cfg.rince_lambda)
                                      + rince(logits.T, pos.T, q=cfg.rince_q, lam=cfg.rince_lambda))
        else:
            parts["infonce"] = symmetric_info_nce(img, txt, scale, ids, **kw)
        total = cfg.w_infonce * parts["infonce"]
        if cfg.w_queue and (img_queue is not None or txt_queue is not None):
            terms = []
            if txt_queue is not None:  # image anchors vs text queue
                lg, pos, val = queue_logits(img, txt, txt_queue[0], scale, ids, ids, txt_queue[1])
                terms.append(_row_loss(lg, pos, val, cfg))
            if img_queue is not None:  # text anchors vs image queue
                lg, pos, val = queue_logits(txt, img, img_queue[0], scale, ids, ids, img_queue[1])
                terms.append(_row_loss(lg, pos, val, cfg))
            parts["queue"] = sum(terms) / len(terms)
            total = total + cfg.w_queue * parts["queue"]
        if cfg.w_align:
            parts["align"] = alignment(img, txt, cfg.align_alpha)
            total = total + cfg.w_align * parts["align"]
        if cfg.w_uniform and img.shape[0] > 1:  # a batch of one has no pairs to spread
            parts["uniform"] = 0.5 * (uniformity(img, cfg.uniform_t) + uniformity(txt, cfg.uniform_t))
            total = total + cfg.w_uniform * parts["uniform"]
        if cfg.w_view and views is not None:
            q_keys, q_ids = img_queue if img_queue is not None else (views[:0], ids[:0])
            lg, pos, val = queue_logits(img, views, q_keys, torch.tensor(1.0 / cfg.view_temperature),
                                        ids, ids, q_ids)
            parts["view"] = _row_loss(lg, pos, val, cfg)
            total = total + cfg.w_view * parts["view"]
        if cfg.w_l2sp and params is not None and reference is not None:
            parts["l2sp"] = l2_sp(params, reference)
            total = total + cfg.w_l2sp * parts["l2sp"]
        out = {k: v.detach() for k, v in parts.items()}
        out["temperature"] = (1.0 / scale).detach()
        out["loss"] = total
        return out


def trainable_named_params(modules: Iterable[nn.Module]) -> dict[str, torch.Tensor]:
    """name -> parameter of every trainable parameter of the given modules (for L2-SP)."""
    out: dict[str, torch.Tensor] = {}
    for k, m in enumerate(modules):
        for name, p in m.named_parameters():
            if p.requires_grad:
                out[f"{k}.{name}"] = p
    return out
