"""TaskRouter's expression language as flexchat evaluates it (workflow filters and the
task list's EvaluateTaskAttributes)."""

from __future__ import annotations

from typing import Any

import pytest

from flexchat.domain.expressions import MAX_NESTING, compile_expression
from flexchat.errors import InvalidParameter

ATTRIBUTES: dict[str, Any] = {
    "channelType": "web", "tier": 3, "vip": True, "skills": ["fr", "en"], "name": "carol",
    "customer": {"region": "emea", "age": 41}, "note": None,
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 == 1", True), ("1==2", False),
        ("channelType == 'web'", True), ('channelType == "sms"', False), ("channelType = 'web'", True),
        ("channelType != 'sms'", True), ("tier > 2", True), ("tier >= 3", True), ("tier < 3", False),
        ("tier <= 2.5", False), ("vip == true", True), ("note == null", True),
        ("customer.region == 'emea'", True), ("task.customer.age > 40", True),
        ("channelType IN ['web', 'sms']", True), ("tier in [1, 2]", False), ("tier NOT IN [1, 2]", True),
        ("skills HAS 'fr'", True), ("skills has 'de'", False), ("name CONTAINS 'aro'", True),
        ("name contains 'x'", False),
        ("channelType == 'web' AND tier > 5", False), ("channelType == 'web' OR tier > 5", True),
        ("NOT vip == true", False), ("not (tier > 5 or name == 'carol')", False),
        ("(tier > 5 OR vip == true) AND skills HAS 'en'", True),
        # A missing key is null; comparing a string with a number matches nothing.
        ("missing == 1", False), ("missing != 1", True), ("customer.missing.deeper == 1", False),
        ("missing == null", True), ("missing > 1", False), ("skills[0] == 'fr'", True),
        ("skills[1] == 'en'", True), ("skills[5] == null", True), ("name[0] == null", True),
        ("task.skills[0] IN ['fr']", True),
        ("name > 1", False), ("skills CONTAINS 'fr'", False), ("name HAS 'c'", False),
        ("'it\\'s' == 'it\\'s'", True),
    ],
)
def test_evaluation(expression: str, expected: bool) -> None:
    assert compile_expression(expression)(ATTRIBUTES) is expected


@pytest.mark.parametrize(
    "expression",
    ["", "   ", "tier >", "tier > > 1", "(tier > 1", "tier > 1)", "tier ~ 1", "tier NOT 1", "[1, tier] == 1",
     "[1, 2", "skills[a] == 1", "skills[1 == 1", "skills[1.5] == 1", "skills[",
     "worker.skills HAS 'fr'", "taskrouter.dayOfWeek == 'Mon'", "tier", "AND tier > 1",
     "x" * 5000, "(" * (MAX_NESTING + 1) + "a == 1" + ")" * (MAX_NESTING + 1), "NOT " * 3000 + "a == 1"],
)
def test_what_cannot_be_read_is_a_400_naming_the_parameter(expression: str) -> None:
    with pytest.raises(InvalidParameter, match=r"^Invalid EvaluateTaskAttributes: "):
        compile_expression(expression, "EvaluateTaskAttributes")


def test_nesting_within_the_bound_works() -> None:
    depth = MAX_NESTING - 1
    assert compile_expression("(" * depth + "tier == 3" + ")" * depth)(ATTRIBUTES) is True
