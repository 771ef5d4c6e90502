"""Protobuf messages described by hand and built at import time: no generated code, no
``grpcio-tools``. The Seldon (``protocols/seldon.py``) and Open Inference Protocol
(``protocols/inference.py``) messages are written this way, with the same package, names,
field numbers and types as their ``.proto`` files, so the bytes on the wire are the
same. Each file lives in a descriptor pool of its own, so it never clashes with a
generated module of the same package imported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, struct_pb2
from google.protobuf.message_factory import GetMessageClass

F = descriptor_pb2.FieldDescriptorProto


def field(name: str, number: int, kind: int, type_name: str = "", repeated: bool = False,
          oneof: int | None = None, packed: bool = False) -> F:
    """A field: ``kind`` is one of ``F.TYPE_*``, ``type_name`` a message or enum's."""
    described = F(name=name, number=number, type=kind,
                  label=F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL)
    if type_name:
        described.type_name = type_name
    if oneof is not None:
        described.oneof_index = oneof
    if packed:
        described.options.packed = True
    return described


def message(name: str, fields: list[F], oneofs: tuple[str, ...] = (),
            nested: Sequence[descriptor_pb2.DescriptorProto] = (),
            enums: Sequence[descriptor_pb2.EnumDescriptorProto] = ()
            ) -> descriptor_pb2.DescriptorProto:
    described = descriptor_pb2.DescriptorProto(name=name, field=fields, nested_type=nested,
                                               enum_type=enums)
    for oneof in oneofs:
        described.oneof_decl.add(name=oneof)
    return described


def map_entry(name: str, value_kind: int, value_type: str = "",
              key_kind: int = F.TYPE_STRING) -> descriptor_pb2.DescriptorProto:
    """The entry type of a ``map<key, value>`` field called after ``name``."""
    entry = message(name, [field("key", 1, key_kind), field("value", 2, value_kind,
                                                              value_type)])
    entry.options.map_entry = True
    return entry


def build(file: descriptor_pb2.FileDescriptorProto, names: Sequence[str],
          with_struct: bool = False) -> dict[str, Any]:
    """The message classes ``names`` (package-relative) of ``file``, in a pool of its own."""
    pool = descriptor_pool.DescriptorPool()
    if with_struct:
        struct_file = descriptor_pb2.FileDescriptorProto()
        struct_pb2.DESCRIPTOR.CopyToProto(struct_file)
        pool.Add(struct_file)
    pool.Add(file)
    return {name: GetMessageClass(pool.FindMessageTypeByName(f"{file.package}.{name}"))
            for name in names}
