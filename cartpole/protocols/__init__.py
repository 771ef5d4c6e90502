"""Wire formats shared by the server and the agent: Seldon's protobuf messages and the
Open Inference Protocol's, described by hand (``desc.py``) and built at import time."""
