"""The Open Inference Protocol's gRPC messages (package ``inference``), built at import time.

The part of KServe's ``grpc_predict_v2.proto`` that ``GRPCInferenceService`` needs for
ServerLive, ServerReady, ModelReady, ServerMetadata, ModelMetadata and ModelInfer,
described by hand (``cartpole/protocols/desc.py``) with the file's names, field numbers
and types; the tests check the bytes against tritonclient's generated classes.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from cartpole.protocols.desc import F, build, field, map_entry, message

PACKAGE = "inference"
SERVICE = f"{PACKAGE}.GRPCInferenceService"


def _file() -> descriptor_pb2.FileDescriptorProto:
    p = f".{PACKAGE}."
    parameter = p + "InferParameter"

    def parameters(number: int) -> F:
        return field("parameters", number, F.TYPE_MESSAGE, "", repeated=True)

    def tensor(name: str, owner: str, with_contents: bool = True) -> descriptor_pb2.DescriptorProto:
        fields = [field("name", 1, F.TYPE_STRING)]
        if with_contents:
            fields += [field("datatype", 2, F.TYPE_STRING),
                       field("shape", 3, F.TYPE_INT64, repeated=True, packed=True)]
        number = 4 if with_contents else 2
        params = parameters(number)
        params.type_name = f"{p}{owner}.{name}.ParametersEntry"
        fields.append(params)
        if with_contents:
            fields.append(field("contents", 5, F.TYPE_MESSAGE, p + "InferTensorContents"))
        return message(name, fields, nested=[map_entry("ParametersEntry", F.TYPE_MESSAGE,
                                                       parameter)])

    def top_parameters(owner: str, number: int) -> F:
        params = parameters(number)
        params.type_name = f"{p}{owner}.ParametersEntry"
        return params

    messages = [
        message("ServerLiveRequest", []),
        message("ServerLiveResponse", [field("live", 1, F.TYPE_BOOL)]),
        message("ServerReadyRequest", []),
        message("ServerReadyResponse", [field("ready", 1, F.TYPE_BOOL)]),
        message("ModelReadyRequest", [field("name", 1, F.TYPE_STRING),
                                      field("version", 2, F.TYPE_STRING)]),
        message("ModelReadyResponse", [field("ready", 1, F.TYPE_BOOL)]),
        message("ServerMetadataRequest", []),
        message("ServerMetadataResponse", [
            field("name", 1, F.TYPE_STRING), field("version", 2, F.TYPE_STRING),
            field("extensions", 3, F.TYPE_STRING, repeated=True)]),
        message("ModelMetadataRequest", [field("name", 1, F.TYPE_STRING),
                                         field("version", 2, F.TYPE_STRING)]),
        message("ModelMetadataResponse", [
            field("name", 1, F.TYPE_STRING),
            field("versions", 2, F.TYPE_STRING, repeated=True),
            field("platform", 3, F.TYPE_STRING),
            field("inputs", 4, F.TYPE_MESSAGE, p + "ModelMetadataResponse.TensorMetadata",
                  repeated=True),
            field("outputs", 5, F.TYPE_MESSAGE, p + "ModelMetadataResponse.TensorMetadata",
                  repeated=True)],
            nested=[message("TensorMetadata", [
                field("name", 1, F.TYPE_STRING), field("datatype", 2, F.TYPE_STRING),
                field("shape", 3, F.TYPE_INT64, repeated=True, packed=True)])]),
        message("InferParameter", [
            field("bool_param", 1, F.TYPE_BOOL, oneof=0),
            field("int64_param", 2, F.TYPE_INT64, oneof=0),
            field("string_param", 3, F.TYPE_STRING, oneof=0),
            field("double_param", 4, F.TYPE_DOUBLE, oneof=0),
            field("uint64_param", 5, F.TYPE_UINT64, oneof=0)], ("parameter_choice",)),
        message("InferTensorContents", [
            field("bool_contents", 1, F.TYPE_BOOL, repeated=True, packed=True),
            field("int_contents", 2, F.TYPE_INT32, repeated=True, packed=True),
            field("int64_contents", 3, F.TYPE_INT64, repeated=True, packed=True),
            field("uint_contents", 4, F.TYPE_UINT32, repeated=True, packed=True),
            field("uint64_contents", 5, F.TYPE_UINT64, repeated=True, packed=True),
            field("fp32_contents", 6, F.TYPE_FLOAT, repeated=True, packed=True),
            field("fp64_contents", 7, F.TYPE_DOUBLE, repeated=True, packed=True),
            field("bytes_contents", 8, F.TYPE_BYTES, repeated=True)]),
        message("ModelInferRequest", [
            field("model_name", 1, F.TYPE_STRING), field("model_version", 2, F.TYPE_STRING),
            field("id", 3, F.TYPE_STRING), top_parameters("ModelInferRequest", 4),
            field("inputs", 5, F.TYPE_MESSAGE, p + "ModelInferRequest.InferInputTensor",
                  repeated=True),
            field("outputs", 6, F.TYPE_MESSAGE,
                  p + "ModelInferRequest.InferRequestedOutputTensor", repeated=True),
            field("raw_input_contents", 7, F.TYPE_BYTES, repeated=True)],
            nested=[tensor("InferInputTensor", "ModelInferRequest"),
                    tensor("InferRequestedOutputTensor", "ModelInferRequest",
                           with_contents=False),
                    map_entry("ParametersEntry", F.TYPE_MESSAGE, parameter)]),
        message("ModelInferResponse", [
            field("model_name", 1, F.TYPE_STRING), field("model_version", 2, F.TYPE_STRING),
            field("id", 3, F.TYPE_STRING), top_parameters("ModelInferResponse", 4),
            field("outputs", 5, F.TYPE_MESSAGE, p + "ModelInferResponse.InferOutputTensor",
                  repeated=True),
            field("raw_output_contents", 6, F.TYPE_BYTES, repeated=True)],
            nested=[tensor("InferOutputTensor", "ModelInferResponse"),
                    map_entry("ParametersEntry", F.TYPE_MESSAGE, parameter)]),
    ]
    return descriptor_pb2.FileDescriptorProto(
        name="cartpole/inference_v2_subset.proto", package=PACKAGE, syntax="proto3",
        message_type=messages)


NAMES = ("ServerLiveRequest", "ServerLiveResponse", "ServerReadyRequest",
         "ServerReadyResponse", "ModelReadyRequest", "ModelReadyResponse",
         "ServerMetadataRequest", "ServerMetadataResponse", "ModelMetadataRequest",
         "ModelMetadataResponse", "InferParameter", "InferTensorContents",
         "ModelInferRequest", "ModelInferResponse")
CLASSES = build(_file(), NAMES)


def method(name: str) -> str:
    """The gRPC path of a method, e.g. ``/inference.GRPCInferenceService/ModelInfer``."""
    return f"/{SERVICE}/{name}"
