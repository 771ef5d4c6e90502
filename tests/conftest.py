import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session", autouse=True)
def _tensorflow_one_thread():
    """Fix TensorFlow's threads once for the whole session, as the CLI does."""
    from cartpole.runtime import configure_tensorflow

    configure_tensorflow(1)
