"""The part of Seldon's ``prediction.proto`` the agent uses, built at import time.

Messages are described by hand with the same package (``seldon.protos``), names,
field numbers and types as Seldon's file, so the bytes on the wire are the same; a
field we leave out is skipped when an answer is decoded. No generated code and no
``grpcio-tools``: protobuf's runtime builds the classes from this description. The
description lives in a pool of its own, so it never clashes with seldon-core's
generated module if both are imported.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2
from google.protobuf.message_factory import GetMessageClass

PACKAGE = "seldon.protos"
F = descriptor_pb2.FieldDescriptorProto


def _field(name: str, number: int, kind: int, type_name: str = "", repeated: bool = False,
           oneof: int | None = None, packed: bool = False) -> F:
    field = F(name=name, number=number, type=kind,
              label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
    if type_name:
        field.type_name = type_name
    if oneof is not None:
        field.oneof_index = oneof
    if packed:
        field.options.packed = True
    return field


def _message(name: str, fields: list[F], oneofs: tuple[str, ...] = (),
             nested: list[descriptor_pb2.DescriptorProto] = (),
             enums: list[descriptor_pb2.EnumDescriptorProto] = ()
             ) -> descriptor_pb2.DescriptorProto:
    message = descriptor_pb2.DescriptorProto(name=name, field=fields, nested_type=nested,
                                             enum_type=enums)
    for oneof in oneofs:
        message.oneof_decl.add(name=oneof)
    return message


def _map_entry(name: str, value_kind: int, value_type: str = "") -> descriptor_pb2.DescriptorProto:
    entry = _message(name, [_field("key", 1, F.TYPE_STRING),
                            _field("value", 2, value_kind, value_type)])
    entry.options.map_entry = True
    return entry


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
        _message("Metric", [
            _field("key", 1, F.TYPE_STRING),
            _field("type", 2, F.TYPE_ENUM, p + "Metric.MetricType"),
            _field("value", 3, F.TYPE_FLOAT),
            _field("tags", 4, F.TYPE_MESSAGE, p + "Metric.TagsEntry", repeated=True)],
            nested=[_map_entry("TagsEntry", F.TYPE_STRING)], enums=[metric_type]),
        _message("Tensor", [_field("shape", 1, F.TYPE_INT32, repeated=True, packed=True),
                            _field("values", 2, F.TYPE_DOUBLE, repeated=True, packed=True)]),
        _message("DefaultData", [
            _field("names", 1, F.TYPE_STRING, repeated=True),
            _field("tensor", 2, F.TYPE_MESSAGE, p + "Tensor", oneof=0),
            _field("ndarray", 3, F.TYPE_MESSAGE, list_value, oneof=0)], ("data_oneof",)),
        _message("Meta", [
            _field("puid", 1, F.TYPE_STRING),
            _field("tags", 2, F.TYPE_MESSAGE, p + "Meta.TagsEntry", repeated=True),
            _field("routing", 3, F.TYPE_MESSAGE, p + "Meta.RoutingEntry", repeated=True),
            _field("requestPath", 4, F.TYPE_MESSAGE, p + "Meta.RequestPathEntry",
                   repeated=True),
            _field("metrics", 5, F.TYPE_MESSAGE, p + "Metric", repeated=True)],
            nested=[_map_entry("TagsEntry", F.TYPE_MESSAGE, value),
                    _map_entry("RoutingEntry", F.TYPE_INT32),
                    _map_entry("RequestPathEntry", F.TYPE_STRING)]),
        _message("Status", [
            _field("code", 1, F.TYPE_INT32), _field("info", 2, F.TYPE_STRING),
            _field("reason", 3, F.TYPE_STRING),
            _field("status", 4, F.TYPE_ENUM, p + "Status.StatusFlag")], enums=[status_flag]),
        _message("SeldonMessage", [
            _field("status", 1, F.TYPE_MESSAGE, p + "Status"),
            _field("meta", 2, F.TYPE_MESSAGE, p + "Meta"),
            _field("data", 3, F.TYPE_MESSAGE, p + "DefaultData", oneof=0),
            _field("binData", 4, F.TYPE_BYTES, oneof=0),
            _field("strData", 5, F.TYPE_STRING, oneof=0),
            _field("jsonData", 6, F.TYPE_MESSAGE, value, oneof=0)], ("data_oneof",)),
        _message("Feedback", [
            _field("request", 1, F.TYPE_MESSAGE, p + "SeldonMessage"),
            _field("response", 2, F.TYPE_MESSAGE, p + "SeldonMessage"),
            _field("reward", 3, F.TYPE_FLOAT),
            _field("truth", 4, F.TYPE_MESSAGE, p + "SeldonMessage")]),
    ]
    return descriptor_pb2.FileDescriptorProto(
        name="cartpole/seldon_prediction_subset.proto", package=PACKAGE, syntax="proto3",
        dependency=["google/protobuf/struct.proto"], message_type=messages)


def _classes() -> dict[str, Any]:
    pool = descriptor_pool.DescriptorPool()
    struct_file = descriptor_pb2.FileDescriptorProto()
    struct_pb2.DESCRIPTOR.CopyToProto(struct_file)
    pool.Add(struct_file)
    pool.Add(_file())
    return {name: GetMessageClass(pool.FindMessageTypeByName(f"{PACKAGE}.{name}"))
            for name in ("Metric", "Tensor", "DefaultData", "Meta", "Status", "SeldonMessage",
                         "Feedback")}


_CLASSES = _classes()
Tensor = _CLASSES["Tensor"]
DefaultData = _CLASSES["DefaultData"]
Meta = _CLASSES["Meta"]
Status = _CLASSES["Status"]
SeldonMessage = _CLASSES["SeldonMessage"]
Feedback = _CLASSES["Feedback"]


def method(service: str, name: str) -> str:
    """The gRPC path of a method, e.g. ``/seldon.protos.Seldon/Predict``."""
    return f"/{PACKAGE}.{service}/{name}"
