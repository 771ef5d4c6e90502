import pytest

from tests.servers import mlflow_server


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory):
    """One real `mlflow server` for the session: tests keep apart by experiment name."""
    server = mlflow_server(tmp_path_factory.mktemp("mlflow"))
    yield server
    server.stop()
