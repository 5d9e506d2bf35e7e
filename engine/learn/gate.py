"""Site adaptation's gate: may a new pack version be activated? (pure, no torch)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from engine.learn.adapt import AdaptConfig


def refusal(before: dict, after: dict, guard: Optional[dict], cfg: "AdaptConfig") -> str:
    """Why a new version must not be activated ("" when it may): its held-out mAP did not improve,
    or the keyword queries of the pairs file (`guard`: {"before", "after"}) lost mAP."""
    if after["map"] <= before["map"] + cfg.min_improvement:
        return f"the held-out mAP did not improve ({before['map']:.3f} -> {after['map']:.3f})"
    if guard and guard["after"]["map"] < guard["before"]["map"] - cfg.guard_tolerance:
        return f"keyword queries got worse (mAP {guard['before']['map']:.3f} -> {guard['after']['map']:.3f})"
    return ""
