"""cairn_client: a Python client for a cairn node (docs/PROTOCOL.md).

    from cairn_client import Connection
    with Connection("tcp://127.0.0.1:7401") as node:
        print(node.ping().node_time_us)

Needs Debian's python3-zmq and python3-protobuf, and the modules the build
generates from schemas/*.proto (see cairn_client/_pb.py).
"""

from . import keys
from ._pb import Request, Response, message_class, status_name
from .connection import DEFAULT_ENDPOINT, Connection, content_hash
from .errors import CairnError, CairnTimeout

__all__ = ["Connection", "CairnError", "CairnTimeout", "DEFAULT_ENDPOINT", "Request",
           "Response", "content_hash", "keys", "message_class", "status_name"]
