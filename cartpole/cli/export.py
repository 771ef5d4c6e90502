"""``cartpole export``: a trained model as ONNX, in a Triton model repository."""

from __future__ import annotations

import click

from cartpole.cli.common import CONTEXT, echo_json_line
from cartpole.paths import DEFAULT_MODEL

DEFAULT_OUT_DIR = ".models/onnx"


@click.command("export", context_settings=CONTEXT)
@click.argument("model", required=False, default=f"{DEFAULT_MODEL}.h5",
                type=click.Path(dir_okay=False))
@click.option("--format", "fmt", default="onnx", show_default=True, metavar="onnx",
              help="What to write; ONNX is the one format.")
@click.option("-o", "--out-dir", default=DEFAULT_OUT_DIR, show_default=True, metavar="DIR",
              help="Folder to write model.onnx and the Triton model repository in.")
@click.option("--name", default="cartpole", show_default=True,
              help="The model's name in the repository: the folder OUT_DIR/NAME and the "
                   "name in its config.pbtxt.")
def export(model: str, fmt: str, out_dir: str, name: str) -> None:
    """Export a trained model: ONNX, and a Triton model repository around it.

    MODEL is a .h5 written by `cartpole train` (default: .models/cartpole-rl-remote.h5);
    it is checked against its metadata .json as `cartpole serve` checks it. Writes:

    \b
      OUT_DIR/model.onnx          the model: input "obs" float32 [N, obs_dim],
                                  outputs "q_values" float32 [N, n_actions]
                                  and "action" int64 [N] (the greedy action)
      OUT_DIR/NAME/config.pbtxt   Triton's configuration (onnxruntime_onnx)
      OUT_DIR/NAME/1/model.onnx   the same model, as version 1

    OUT_DIR is a model repository for `tritonserver --model-repository OUT_DIR`, and
    OUT_DIR/NAME is what a Seldon Core 2 Model with `requirements: [onnx]` takes as its
    storageUri. Before writing, onnx's reference evaluator runs the graph and its
    answers are compared with the numpy policy's. The last line on stdout is a JSON
    object of what was written. Needs the onnx package: pip install 'cartpole[onnx]'.

    \b
    Examples:
      cartpole export                  .models/cartpole-rl-remote.h5 to .models/onnx
      cartpole export runs/GROUP/TRIAL/model.h5 --format onnx -o repo --name cp-a
      tritonserver --model-repository .models/onnx     serve it with Triton
    """
    from cartpole.agent.onnx_export import export_model

    result = export_model(model, out_dir, fmt, name)  # ExportError, OutputError: exit 2
    sizes = " -> ".join(map(str, (result.obs_dim, *result.hidden_sizes, result.n_actions)))
    click.echo(f"exported {model} ({sizes}) to {result.onnx_path} and the Triton model "
               f"{result.model_dir}", err=True)
    echo_json_line(result.as_dict())
