#!/usr/bin/python3
"""Pipelining: set many config keys with a window of requests in flight,
then page through a channel's messages.

    pipeline.py [--endpoint E] [--count N] [--channel '#general']
"""

import argparse
import time

from cairn_client import DEFAULT_ENDPOINT, CairnError, Connection

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT)
parser.add_argument("--count", type=int, default=1000)
parser.add_argument("--channel", default="#general")
args = parser.parse_args()

with Connection(args.endpoint, busy_retries=5) as node:
    started = time.monotonic()
    results = node.pipeline((("config_set", {"key": "example.%d" % i, "value": b"v"})
                             for i in range(args.count)), window=500, errors="return")
    failed = [r for r in results if isinstance(r, CairnError)]
    print("%d config sets in %.3f s, %d failed" % (args.count, time.monotonic() - started,
                                                   len(failed)))
    try:
        for message in node.iter_messages(args.channel, page_size=100):
            print("%.3f %s %r" % (message.timestamp, message.sender_id, message.content[:40]))
    except CairnError as error:
        print("listing %s: %s" % (args.channel, error))
