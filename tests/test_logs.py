from tests.logs import records

STDERR = """\
WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
2026-12-02 15:32:25,097 WARNING cartpole.metrics.resilient: metrics engine visdom is unreachable
2026-12-02 15:32:25,098 WARNING mlflow.tracking: not ours
2026-12-02 15:32:26,001 INFO cartpole.metrics: {"event": "eval"}
2026-12-02 15:32:27,500 WARNING cartpole: replacing m.h5
"""


def test_only_the_projects_records_are_counted():
    assert records(STDERR, "WARNING") == [STDERR.splitlines()[1], STDERR.splitlines()[4]]
    assert len(records(STDERR)) == 3
