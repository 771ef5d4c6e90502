"""One handler: every CartpoleError becomes ``Error: <message>`` and its class's exit code."""

from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from cartpole.cli import CartpoleGroup
from cartpole.errors import (
    CartpoleError,
    ConfigError,
    EnvError,
    EventsFileError,
    ModelMismatchError,
    OutputError,
    RenderError,
    first_line,
)
from cartpole.remote.errors import AuthError, BadAnswer, ServerError, Unreachable
from cartpole.serving.errors import BadRequest, MismatchedModel, ModelNotReady
from cartpole.serving.graph import Graph

CODES = [(CartpoleError, 1), (ConfigError, 2), (EnvError, 2), (OutputError, 2),
         (EventsFileError, 2), (RenderError, 2), (ModelMismatchError, 1), (BadRequest, 2),
         (ModelNotReady, 2), (MismatchedModel, 2), (Unreachable, 1), (ServerError, 1),
         (BadAnswer, 1), (AuthError, 1)]


@pytest.mark.parametrize(("error", "code"), CODES)
def test_the_handler_prints_one_line_and_the_class_exit_code(error, code):
    group = CartpoleGroup()

    @group.command()
    def boom() -> None:
        raise error("it broke")

    result = CliRunner().invoke(group, ["boom"])
    assert result.exit_code == code
    assert result.output == "Error: it broke\n"


def test_errors_outside_cartpole_are_not_swallowed():
    group = CartpoleGroup()

    @group.command()
    def boom() -> None:
        raise click.BadParameter("no")

    assert CliRunner().invoke(group, ["boom"]).exit_code == 2


def test_first_line():
    assert first_line(ValueError("one\ntwo")) == "one"
    assert first_line(ValueError("  ")) == "ValueError"
    assert first_line(ValueError("x" * 300), 200) == "x" * 200


def test_graph_set_up_mistakes_are_config_errors_not_bad_requests():
    model = SimpleNamespace(obs_dim=4, n_actions=2)
    for args, kwargs in [(([],), {}), (([model, model],), {}),
                         (([model],), {"router": "abtest"}),
                         (([model, model],), {"router": "nope"}),
                         (([model, model],), {"router": "epsilon-greedy", "epsilon": 2.0})]:
        with pytest.raises(ConfigError) as caught:
            Graph(*args, **kwargs)
        assert not isinstance(caught.value, BadRequest)
