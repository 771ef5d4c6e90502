"""The part of Seldon's ``prediction.proto`` the agent uses, built at import time.

Messages are described by hand (``cartpole/protocols/desc.py``) with the same package
(``seldon.protos``), names, field numbers and types as Seldon's file, so the bytes on
the wire are the same; a field we leave out is skipped when an answer is decoded.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2

from cartpole.protocols.desc import F, build, field, map_entry, message

PACKAGE = "seldon.protos"


def _file() -> descriptor_pb2.FileDescriptorProto:
    p = f".{PACKAGE}."
    value, list_value = ".google.protobuf.Value", ".google.protobuf.ListValue"
    status_flag = descriptor_pb2.EnumDescriptorProto(name="StatusFlag")
    status_flag.value.add(name="SUCCESS", number=0)
    status_flag.value.add(name="FAILURE", number=1)
    metric_type = descriptor_pb2.EnumDescriptorProto(name="MetricType")
    for number, name in enumerate(("COUNTER", "GAUGE", "TIMER")):
        metric_type.value.add(name=name, number=number)
    messages = [
        message("Metric", [
            field("key", 1, F.TYPE_STRING),
            field("type", 2, F.TYPE_ENUM, p + "Metric.MetricType"),
            field("value", 3, F.TYPE_FLOAT),
            field("tags", 4, F.TYPE_MESSAGE, p + "Metric.TagsEntry", repeated=True)],
            nested=[map_entry("TagsEntry", F.TYPE_STRING)], enums=[metric_type]),
        message("Tensor", [field("shape", 1, F.TYPE_INT32, repeated=True, packed=True),
                            field("values", 2, F.TYPE_DOUBLE, repeated=True, packed=True)]),
        message("DefaultData", [
            field("names", 1, F.TYPE_STRING, repeated=True),
            field("tensor", 2, F.TYPE_MESSAGE, p + "Tensor", oneof=0),
            field("ndarray", 3, F.TYPE_MESSAGE, list_value, oneof=0)], ("data_oneof",)),
        message("Meta", [
            field("puid", 1, F.TYPE_STRING),
            field("tags", 2, F.TYPE_MESSAGE, p + "Meta.TagsEntry", repeated=True),
            field("routing", 3, F.TYPE_MESSAGE, p + "Meta.RoutingEntry", repeated=True),
            field("requestPath", 4, F.TYPE_MESSAGE, p + "Meta.RequestPathEntry",
                   repeated=True),
            field("metrics", 5, F.TYPE_MESSAGE, p + "Metric", repeated=True)],
            nested=[map_entry("TagsEntry", F.TYPE_MESSAGE, value),
                    map_entry("RoutingEntry", F.TYPE_INT32),
                    map_entry("RequestPathEntry", F.TYPE_STRING)]),
        message("Status", [
            field("code", 1, F.TYPE_INT32), field("info", 2, F.TYPE_STRING),
            field("reason", 3, F.TYPE_STRING),
            field("status", 4, F.TYPE_ENUM, p + "Status.StatusFlag")], enums=[status_flag]),
        message("SeldonMessage", [
            field("status", 1, F.TYPE_MESSAGE, p + "Status"),
            field("meta", 2, F.TYPE_MESSAGE, p + "Meta"),
            field("data", 3, F.TYPE_MESSAGE, p + "DefaultData", oneof=0),
            field("binData", 4, F.TYPE_BYTES, oneof=0),
            field("strData", 5, F.TYPE_STRING, oneof=0),
            field("jsonData", 6, F.TYPE_MESSAGE, value, oneof=0)], ("data_oneof",)),
        message("Feedback", [
            field("request", 1, F.TYPE_MESSAGE, p + "SeldonMessage"),
            field("response", 2, F.TYPE_MESSAGE, p + "SeldonMessage"),
            field("reward", 3, F.TYPE_FLOAT),
            field("truth", 4, F.TYPE_MESSAGE, p + "SeldonMessage")]),
    ]
    return descriptor_pb2.FileDescriptorProto(
        name="cartpole/seldon_prediction_subset.proto", package=PACKAGE, syntax="proto3",
        dependency=["google/protobuf/struct.proto"], message_type=messages)


_CLASSES = build(_file(), ("Metric", "Tensor", "DefaultData", "Meta", "Status",
                          "SeldonMessage", "Feedback"), with_struct=True)
Tensor = _CLASSES["Tensor"]
DefaultData = _CLASSES["DefaultData"]
Meta = _CLASSES["Meta"]
Status = _CLASSES["Status"]
SeldonMessage = _CLASSES["SeldonMessage"]
Feedback = _CLASSES["Feedback"]


def method(service: str, name: str) -> str:
    """The gRPC path of a method, e.g. ``/seldon.protos.Seldon/Predict``."""
    return f"/{PACKAGE}.{service}/{name}"
