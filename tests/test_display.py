"""Terminal output shared by training and remote runs."""

import io

from cartpole.display import ProgressBar, fmt_number


def test_numbers_or_a_dash():
    assert fmt_number(None) == "-" and fmt_number(3.14159) == "3.1"
    assert fmt_number(1234.0, ",.0f") == "1,234"


def test_the_bar_shows_count_unit_and_figures():
    out = io.StringIO()
    bar = ProgressBar(10, "episodes", out)
    bar.update(3, "mean 42.0")
    bar.stop()
    text = out.getvalue()
    assert "3/10" in text and "episodes" in text and "mean 42.0" in text


def test_a_transient_bar_leaves_nothing_behind():
    from cartpole.remote.progress import RunProgress

    out = io.StringIO()
    progress = RunProgress(4, out, live=True)
    progress.close()
    assert "episodes" not in out.getvalue()
