"""What a process keeps between requests stays bounded in bytes, whatever clients send:
the message list's rendered rows and pages (a body may be up to the request limit), and
the router's memory of paths (it runs before authentication)."""

from __future__ import annotations

from flexchat import rendered
from flexchat.rendered import RenderedRows
from flexchat.testing import InProcessFlexchat


def test_rendered_rows_and_pages_stay_within_their_byte_budgets() -> None:
    cache = RenderedRows()
    big = "x" * (rendered.ROW_MAX // 2)
    for seq in range(4 * rendered.ROWS_BUDGET // len(big)):
        cache.put("http://h", seq, 1, big)
        held = sum(len(text) for texts in cache._by_base.values() for _, text in texts.values())
        assert held <= rendered.ROWS_BUDGET
    cache.put("http://h", 10**6, 1, "x" * (rendered.ROW_MAX + 1))
    assert cache.lookup("http://h", 1, [10**6])[1] == [10**6]  # too large to keep: rendered again

    page = b"x" * (rendered.PAGE_MAX // 2)
    for n in range(4 * rendered.PAGES_BUDGET // len(page)):
        cache.put_page("http://h", 1, [n], page)
        assert sum(map(len, cache._pages.values())) <= rendered.PAGES_BUDGET
    assert cache.page("http://h", 1, [n]) == page  # the last one is held
    cache.put_page("http://h", 1, [-1], b"x" * (rendered.PAGE_MAX + 1))
    assert cache.page("http://h", 1, [-1]) is None


def test_the_router_does_not_remember_long_anonymous_paths() -> None:
    with InProcessFlexchat() as flexchat:
        for n in range(50):
            answer = flexchat.request("GET", f"https://flex-api.twilio.com/v1/Channels/CH{'a' * 100_000}{n}")
            assert answer.status == 401
        assert sum(map(len, flexchat.app.router._found)) < 50_000
