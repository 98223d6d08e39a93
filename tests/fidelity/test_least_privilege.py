"""Every grant of our roles is used by a recorded or tabled call, or carries a reviewed reason."""

from __future__ import annotations

from .least_privilege import REASONS, review


def test_every_granted_action_and_resource_is_used_or_has_a_reason(checked):
    problems = []
    for name, result in checked.items():
        problems += [
            f"[{name}] {line}" for line in review(result.policies, result.decisions).unexplained()
        ]
    assert not problems, "\n".join(problems)


def test_every_reason_still_matches_a_grant(checked):
    """A reason whose grant is gone (removed or rescoped) goes too."""
    reviews = [review(c.policies, c.decisions) for c in checked.values()]
    stale = [
        reason
        for reason in REASONS
        if not any(
            reason.covers(grant, kind)
            for r in reviews
            for kind, grants in r.kinds()
            for grant in grants
        )
    ]
    assert not stale, "\n".join(f"{r.component}: {r.action} on {r.resource}" for r in stale)
