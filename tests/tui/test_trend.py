"""The Activity tab's requests/s and tokens/s trend."""

from __future__ import annotations

from tui.tabs.activity import TREND_S, Trend, figures


def test_the_trend_counts_each_record_in_the_second_it_happened_and_forgets_old_ones():
    trend, now = Trend(), 1_000_000.5
    for ts, tokens in ((now - 1, 10), (now - 1, None), (now - 3.2, 5), (now - TREND_S - 5, 7)):
        trend.count({"ts": ts, "total_tokens": tokens})
    requests, tokens = trend.series(now)
    assert len(requests) == len(tokens) == TREND_S
    assert (requests[-2], tokens[-2]) == (2, 10)  # the last whole second
    assert (requests[-4], tokens[-4]) == (1, 5)
    assert sum(requests) == 3 and len(trend.seconds) == 2  # the record from before the window is gone


def test_the_header_rates_average_the_last_minute_not_the_last_second():
    trend, now = Trend(), 1_000_000.5
    for ago in (50, 30, 12):  # three requests in the last minute, none in the last seconds
        trend.count({"ts": now - ago, "total_tokens": 20})
    assert figures(*trend.series(now)) == " 0.05 req/s    1.0 tok/s"
