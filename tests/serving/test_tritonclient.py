"""tritonclient's V2 HTTP client (a client nobody here wrote) against `cartpole serve`."""

import numpy as np
import pytest

from tests.servers import cartpole_serve

pytestmark = pytest.mark.slow  # starts `cartpole serve`

OBS = np.random.default_rng(9).normal(0, 0.5, (16, 4)).astype(np.float32)


def test_tritonclient_http_infers_the_policys_actions(tmp_path, model_file):
    httpclient = pytest.importorskip("tritonclient.http")
    from cartpole.serving.policy import ServedPolicy

    server = cartpole_serve(tmp_path, str(model_file), "--model-name", "cartpole")
    try:
        client = httpclient.InferenceServerClient(url=server.url.split("//")[1])
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("cartpole")
        meta = client.get_model_metadata("cartpole")
        assert meta["inputs"][0]["datatype"] == "FP32"
        obs = httpclient.InferInput("obs", list(OBS.shape), "FP32")
        obs.set_data_from_numpy(OBS)
        result = client.infer("cartpole", [obs], outputs=[
            httpclient.InferRequestedOutput("action"),
            httpclient.InferRequestedOutput("q_values")])
        q = ServedPolicy.load(model_file).network.q_values(OBS)
        np.testing.assert_array_equal(result.as_numpy("action"), q.argmax(1))
        np.testing.assert_allclose(result.as_numpy("q_values"), q, rtol=1e-5, atol=1e-6)
        with pytest.raises(Exception, match="no model"):
            client.infer("elsewhere", [obs])
    finally:
        server.stop()
