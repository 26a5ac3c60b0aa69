#!/usr/bin/python3
"""Store a file as a content blob (streamed in chunks) and read it back.

    put_get.py [--endpoint E] FILE          prints the blob's SHA-256
    put_get.py [--endpoint E] --get HASH OUT
"""

import argparse
import sys

from cairn_client import DEFAULT_ENDPOINT, CairnError, Connection

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT)
parser.add_argument("--get", metavar="HASH")
parser.add_argument("path")
args = parser.parse_args()

with Connection(args.endpoint, timeout=60) as node:
    try:
        if args.get:
            with open(args.path, "wb") as out:
                for part in node.content_iter(args.get):  # ranges, hash verified
                    out.write(part)
            print("wrote %s" % args.path)
        else:
            with open(args.path, "rb") as source:
                stored = node.content_put_stream(source)
            print(stored.hash.hex(), stored.size)
    except CairnError as error:
        sys.exit("cairn: %s" % error)
