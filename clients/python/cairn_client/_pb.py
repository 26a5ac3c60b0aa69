"""The Python modules generated from schemas/*.proto.

They are made at build time (``cmake --build build`` runs ``protoc
--python_out`` into ``build/clients/python/pb2``) and never checked in. The
generated modules import each other by their top-level names (``cairn_pb2``
imports ``messages_pb2``...), so that directory goes on ``sys.path``: set
``PYTHONPATH=clients/python:build/clients/python/pb2`` or ``CAIRN_PB2_DIR``.
"""

import os
import sys

_dir = os.environ.get("CAIRN_PB2_DIR")
if _dir and _dir not in sys.path:
    sys.path.insert(0, _dir)

try:
    import cairn_pb2  # noqa: E402  (cairn.proto: Request, Response, Status)
except ImportError as error:  # pragma: no cover - depends on the set-up
    raise ImportError(
        "cairn_client needs the modules generated from schemas/*.proto (cairn_pb2 and "
        "one per store): build the project (cmake --build build makes them in "
        "build/clients/python/pb2), then put that directory on PYTHONPATH or name it "
        "in CAIRN_PB2_DIR (%s)" % error) from error

from google.protobuf import symbol_database  # noqa: E402

Request = cairn_pb2.Request
Response = cairn_pb2.Response

# Request.body member name -> its field (message type, number).
BODY = {field.name: field for field in Request.DESCRIPTOR.oneofs_by_name["body"].fields}


def message_class(name):
    """The generated class of message ``cairn.<name>`` (e.g. "Ping")."""
    try:
        return symbol_database.Default().GetSymbol("cairn." + name)
    except KeyError:
        raise TypeError("no message cairn.%s in the schemas this client was built with"
                        % name) from None


def status_name(status):
    """The name of a Status value ("BUSY"), or its number for a newer status."""
    try:
        return cairn_pb2.Status.Name(status)
    except ValueError:
        return str(status)
