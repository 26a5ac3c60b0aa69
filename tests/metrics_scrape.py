#!/usr/bin/env python3
"""Scrapes a cairnd metrics endpoint over a plain TCP socket and parses the
answer with prometheus_client's own parser (an independent check that the
exposition is valid, not just present).

    metrics_scrape.py PORT

Prints one line per family, "TYPE NAME TYPE", then one per sample,
"SAMPLE NAME LABELS VALUE" (LABELS: k=v,... sorted, or -). Exits 1 with the
reason on stderr when the answer is not a 200 with the exposition's content
type, or does not parse."""

import socket
import sys

from prometheus_client.parser import text_string_to_metric_families


def scrape(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n")
        answer = b""
        while not complete(answer):
            chunk = conn.recv(65536)
            if not chunk:
                sys.exit("the node closed before a whole answer: %r" % answer[:200])
            answer += chunk
    return answer


def complete(answer):
    """Whether the answer holds its head and Content-Length bytes of body
    (a client reads that much and closes, as curl and Prometheus do)."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    sys.exit("no Content-Length in %r" % head)


def main():
    answer = scrape(int(sys.argv[1]))
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        sys.exit("no end of head in the answer: %r" % answer[:200])
    lines = head.decode("ascii").split("\r\n")
    if lines[0] != "HTTP/1.1 200 OK":
        sys.exit("status line: %r" % lines[0])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if not headers.get("content-type", "").startswith("text/plain; version=0.0.4"):
        sys.exit("content type: %r" % headers.get("content-type"))
    if int(headers.get("content-length", "-1")) != len(body):
        sys.exit("content length %s, body %d bytes" % (headers.get("content-length"), len(body)))
    for family in text_string_to_metric_families(body.decode("utf-8")):
        print("TYPE %s %s" % (family.name, family.type))
        for sample in family.samples:
            labels = ",".join("%s=%s" % kv for kv in sorted(sample.labels.items())) or "-"
            print("SAMPLE %s %s %r" % (sample.name, labels, float(sample.value)))


if __name__ == "__main__":
    main()
