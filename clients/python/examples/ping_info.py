#!/usr/bin/python3
"""Ping a node and print what Info says.

    PYTHONPATH=clients/python:build/clients/python/pb2 \\
        clients/python/examples/ping_info.py [--endpoint tcp://127.0.0.1:7401] \\
        [--server-key KEY --client-key FILE]
"""

import argparse

from cairn_client import DEFAULT_ENDPOINT, Connection

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT)
parser.add_argument("--server-key", help="the node's public key (cairnd server-key)")
parser.add_argument("--client-key", help="a key file (cairn keygen FILE) on the node's list")
args = parser.parse_args()

with Connection(args.endpoint, server_key=args.server_key, client_key=args.client_key) as node:
    pong = node.ping(b"hello")
    info = node.info()
    print("pong at %d us" % pong.node_time_us)
    print("cairnd %s, wire API %d, pid %d, up %d s" % (info.version, info.api_version, info.pid,
                                                       info.uptime_s))
