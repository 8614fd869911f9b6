#!/usr/bin/env python3
"""Checks that our protobuf definitions are wire-compatible with ZITADEL's.

Usage: check_compat.py OURS.pb THEIRS.pb

Both arguments are FileDescriptorSets (protoc --descriptor_set_out, with --include_imports for theirs).
Every message, enum and service method declared under proto/ must exist in theirs under the same fully
qualified name, with the same fields (name, number, type, label, oneof, presence, json_name), the same
reserved numbers and names, the same enum values, and the same request and response types. Prints each
difference and exits 1 if there is any, 0 otherwise.
"""

import sys

from google.protobuf import descriptor_pb2

FieldProto = descriptor_pb2.FieldDescriptorProto
TYPE_NAMES = {number: name for name, number in FieldProto.Type.items()}
LABEL_NAMES = {number: name for name, number in FieldProto.Label.items()}


def load(path):
    files = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as handle:
        files.ParseFromString(handle.read())
    return files


class Index:
    """Messages, enums and methods of a descriptor set by fully qualified name, each with its file."""

    def __init__(self, files):
        self.messages, self.enums, self.methods, self.file_of = {}, {}, {}, {}
        for file in files.file:
            scope = "." + file.package if file.package else ""
            for message in file.message_type:
                self._message(scope, file.name, message)
            for enum in file.enum_type:
                self._enum(scope, file.name, enum)
            for service in file.service:
                for method in service.method:
                    name = f"{scope}.{service.name}/{method.name}"
                    self.methods[name] = method
                    self.file_of[name] = file.name

    def _message(self, scope, file_name, message):
        name = f"{scope}.{message.name}"
        self.messages[name] = message
        self.file_of[name] = file_name
        for nested in message.nested_type:
            self._message(name, file_name, nested)
        for enum in message.enum_type:
            self._enum(name, file_name, enum)

    def _enum(self, scope, file_name, enum):
        name = f"{scope}.{enum.name}"
        self.enums[name] = enum
        self.file_of[name] = file_name


def field_facts(message):
    """What decides a field's encoding and its JSON name, keyed by field number."""
    facts = {}
    for field in message.field:
        in_oneof = field.HasField("oneof_index") and not field.proto3_optional
        facts[field.number] = (
            ("name", field.name),
            ("type", TYPE_NAMES[field.type]),
            ("type_name", field.type_name),
            ("label", LABEL_NAMES[field.label]),
            ("oneof", message.oneof_decl[field.oneof_index].name if in_oneof else None),
            ("proto3_optional", field.proto3_optional),
            ("json_name", field.json_name),
        )
    return facts


def reserved_facts(message):
    ranges = sorted((r.start, r.end) for r in message.reserved_range)
    return ranges, sorted(message.reserved_name)


def compare_message(name, ours, theirs, out):
    our_fields, their_fields = field_facts(ours), field_facts(theirs)
    for number in sorted(set(our_fields) | set(their_fields)):
        mine, zitadels = our_fields.get(number), their_fields.get(number)
        if mine is None:
            out.append(f"{name}: field {number} {dict(zitadels)['name']} is missing")
        elif zitadels is None:
            out.append(f"{name}: field {number} {dict(mine)['name']} is not in ZITADEL's")
        elif mine != zitadels:
            for (key, value), (_, expected) in zip(mine, zitadels):
                if value != expected:
                    out.append(f"{name}: field {number} {key} is {value!r}, ZITADEL has {expected!r}")
    if reserved_facts(ours) != reserved_facts(theirs):
        out.append(f"{name}: reserved {reserved_facts(ours)}, ZITADEL has {reserved_facts(theirs)}")


def compare_enum(name, ours, theirs, out):
    mine = {value.number: value.name for value in ours.value}
    zitadels = {value.number: value.name for value in theirs.value}
    if mine != zitadels:
        out.append(f"{name}: values {sorted(mine.items())}, ZITADEL has {sorted(zitadels.items())}")


def compare_method(name, ours, theirs, out):
    for key in ("input_type", "output_type", "client_streaming", "server_streaming"):
        value, expected = getattr(ours, key), getattr(theirs, key)
        if value != expected:
            out.append(f"{name}: {key} is {value!r}, ZITADEL has {expected!r}")


def differences(ours, theirs, our_files):
    out = []
    kinds = (
        ("message", ours.messages, theirs.messages, compare_message),
        ("enum", ours.enums, theirs.enums, compare_enum),
        ("rpc", ours.methods, theirs.methods, compare_method),
    )
    for kind, mine, zitadels, compare in kinds:
        for name in sorted(mine):
            if ours.file_of[name] not in our_files:
                continue
            if name not in zitadels:
                out.append(f"{name}: {kind} is not in ZITADEL's")
            else:
                compare(name, mine[name], zitadels[name], out)
    return out


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    our_set = load(argv[1])
    # Well-known types come in through --include_imports; only files of our own tree are checked.
    our_files = {f.name for f in our_set.file if not f.name.startswith("google/protobuf/")}
    ours, theirs = Index(our_set), Index(load(argv[2]))
    found = differences(ours, theirs, our_files)
    for line in found:
        print(line)
    checked = sum(
        1
        for table in (ours.messages, ours.enums, ours.methods)
        for name in table
        if ours.file_of[name] in our_files
    )
    print(f"{checked} definitions checked, {len(found)} differences")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
