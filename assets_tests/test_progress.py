"""Long CLI work shows live bars on a terminal and plain lines in logs."""

import io
from datetime import date

from rich.console import Console

from ai_platform.tools.progress import Reporter
from ai_platform.tools.replay import replay


def test_replay_reports_each_file_against_a_total_known_from_the_start(zone, data_dir):
    seen = []
    result = replay(zone, date(2013, 1, 1), date(2013, 1, 3), progress=lambda done, total: seen.append((done, total)))
    files = result.written + result.unchanged
    assert files == 3 + 2 * 3  # the reference tables, then flights and weather per day
    assert seen == [(i, files) for i in range(1, files + 1)]

    seen.clear()
    replay(zone, date(2013, 1, 1), date(2013, 1, 3), years=2, with_reference=False, progress=lambda *a: seen.append(a))
    assert seen[-1] == (6, 6)


def _reporter(terminal: bool) -> tuple[Reporter, io.StringIO]:
    text = io.StringIO()
    return Reporter(Console(file=text, force_terminal=terminal, width=100)), text


def test_on_a_terminal_a_task_draws_a_bar_with_its_counts_and_messages_stay():
    reporter, text = _reporter(terminal=True)
    with reporter, reporter.task("weekly models", total=4) as advance:
        advance(3, 4)
        reporter._bars.refresh()
        reporter.echo("week 2013-03-05: promoted")
    out = text.getvalue()
    assert "weekly models" in out and "3/4" in out and "━" in out
    assert "week 2013-03-05: promoted" in out


def test_in_a_log_only_the_messages_are_written():
    reporter, text = _reporter(terminal=False)
    with reporter, reporter.task("weekly models", total=4) as advance:
        advance(3, 4)
        reporter.echo("week 2013-03-05: promoted")
    assert text.getvalue() == "week 2013-03-05: promoted\n"
