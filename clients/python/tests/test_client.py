#!/usr/bin/python3
"""Tests of cairn_client against a real cairnd (python3 unittest).

Each test starts its own node (tests/cairn_node.py). `test_client.py
--list` prints one "ctest-name test-name" line per test, which ctest
registers (clients/python/CMakeLists.txt); `test_client.py NAME` runs one,
no argument all.
"""

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cairn_client  # noqa: E402
from cairn_client import CairnError, CairnTimeout, keys  # noqa: E402
from cairn_node import Node, wire_api_version  # noqa: E402

SIGNATURE = b"\x01" * 64  # an unsigned channel takes any 64 bytes


class ClientTest(unittest.TestCase):
    node_args = ()

    def setUp(self):
        self.node = Node(*self.node_args)
        self.addCleanup(self.node.stop)
        self.conn = self.node.connect()
        self.addCleanup(self.conn.close)

    # ---- basics ---------------------------------------------------------------
    def test_ping_info(self):
        pong = self.conn.ping(b"hello")
        self.assertEqual(pong.payload, b"hello")
        self.assertGreater(pong.node_time_us, 0)
        info = self.conn.info()
        self.assertEqual(info.api_version, wire_api_version())
        self.assertGreaterEqual(info.api_version, 1)
        self.assertEqual(info.pid, self.node.process.pid)

    def test_config(self):
        self.assertIsNone(self.conn.config_get("py.name"))
        self.assertEqual(self.conn.config_get("py.name", b"none"), b"none")
        self.assertTrue(self.conn.config_set("py.name", "alice"))
        self.assertFalse(self.conn.config_set("py.name", b"bob"))
        self.assertEqual(self.conn.config_get("py.name"), b"bob")

    # ---- pipelining -------------------------------------------------------------
    def test_pipelining(self):
        # 1000 requests in flight at once (client_in_flight_max), answers
        # taken in the reverse order: each is matched by its id.
        sent = []
        for i in range(1000):
            if i % 3 == 0:
                sent.append((self.conn.send("config_set", {"key": "pipe.%d" % i,
                                                           "value": b"%d" % i}), i))
            elif i % 3 == 1:
                sent.append((self.conn.send("config_get", {"key": "pipe.%d" % (i - 1)}), i))
            else:
                sent.append((self.conn.send("ping", {"payload": b"%d" % i}), i))
        self.assertEqual(self.conn.in_flight, 1000)
        for request_id, i in reversed(sent):
            body = self.conn.answer(request_id)
            if i % 3 == 2:
                self.assertEqual(body.payload, b"%d" % i)
            elif i % 3 == 0:
                self.assertEqual(body.key, "pipe.%d" % i)
        self.assertEqual(self.conn.in_flight, 0)
        self.assertEqual(self.conn.dropped_answers, 0)
        # More than the socket's send queue (SNDHWM 1000) without taking an
        # answer: send() reads answers while its queue is full.
        pings = [self.conn.send("ping", {"payload": b"%d" % i}) for i in range(3000)]
        for i, request_id in enumerate(pings):
            self.assertEqual(self.conn.answer(request_id).payload, b"%d" % i)
        # pipeline(): the same through a window, results in order.
        results = self.conn.pipeline([("config_get", {"key": "pipe.%d" % i})
                                      for i in range(0, 1000, 3)], window=1000)
        self.assertEqual([r.value for r in results], [b"%d" % i for i in range(0, 1000, 3)])

    def test_request_ids(self):
        # Any uint64 is an id, 0 included; the client refuses to reuse one
        # still in flight (the answers could not be told apart).
        for request_id in (0, 2**64 - 1):
            self.assertEqual(self.conn.send("ping", request_id=request_id), request_id)
            with self.assertRaisesRegex(ValueError, "in flight"):
                self.conn.send("ping", request_id=request_id)
            self.assertEqual(self.conn.result(request_id).id, request_id)

    # ---- errors -------------------------------------------------------------------
    def test_error_status(self):
        with self.assertRaises(CairnError) as caught:
            self.conn.config_set("../bad", "v")
        self.assertEqual(caught.exception.status_name, "INVALID")
        self.assertEqual(caught.exception.status, 2)  # cairn.Status INVALID
        self.assertIn("key", caught.exception.message)
        with self.assertRaises(CairnError) as caught:
            self.conn.content_get("00" * 32)
        self.assertEqual(caught.exception.status_name, "NOT_FOUND")
        self.conn.ping()  # the connection goes on

    def test_timeout(self):
        with self.node.connect(timeout=0.3) as silent:
            silent.ping()
            self.node.stop()
            with self.assertRaises(CairnTimeout) as caught:
                silent.ping()
            self.assertEqual(caught.exception.kind, "ping")
            self.assertEqual(silent.in_flight, 0)
            with self.assertRaisesRegex(ValueError, "waiting"):
                silent.result(caught.exception.id)
        with self.assertRaisesRegex(ValueError, "closed"):
            silent.ping()

    # ---- content ------------------------------------------------------------------
    def test_content_stream(self):
        blob = os.urandom(3 * 65536 + 123)  # four chunks of 64 KiB
        digest = hashlib.sha256(blob).digest()
        stored = self.conn.content_put(blob, chunk_size=65536)
        self.assertEqual((stored.hash, stored.size), (digest, len(blob)))
        self.assertTrue(self.conn.content_has(digest.hex()))
        parts = list(self.conn.content_iter(digest, chunk_size=65536))
        self.assertEqual(len(parts), 4)
        self.assertEqual(b"".join(parts), blob)
        self.assertEqual(self.conn.content_get(digest), blob)  # one range
        # From a file, and with a wrong expected hash: refused, nothing kept.
        other = os.urandom(200000)
        stored = self.conn.content_put_stream(io.BytesIO(other), chunk_size=65536,
                                              expected_hash=hashlib.sha256(other).digest())
        self.assertEqual(stored.size, len(other))
        with self.assertRaises(CairnError):
            self.conn.content_put(os.urandom(150000), chunk_size=65536,
                                  expected_hash=b"\0" * 32)
        small = self.conn.content_put(b"small")
        self.assertEqual(small.hash, hashlib.sha256(b"small").digest())
        self.assertTrue(self.conn.content_delete(small.hash))
        self.assertFalse(self.conn.content_has(small.hash))

    # ---- paging -------------------------------------------------------------------
    def test_paging(self):
        self.conn.channel_create("#py-paging", unsigned_messages=True)
        ids = self.conn.pipeline(
            [("message_store", {"message": {
                "id": "00000000-0000-4000-8000-%012d" % i, "timestamp": 1000.0 + i,
                "channel": "#py-paging", "sender_id": "s", "content": b"m%d" % i,
                "signature": SIGNATURE}}) for i in range(250)])
        self.assertEqual(len(ids), 250)
        newest = self.conn.message_store("#py-paging", "last", sender_id="s", signature=SIGNATURE,
                                         timestamp=5000.0)
        seen = [m.id for m in self.conn.iter_messages("#py-paging", page_size=40)]
        self.assertEqual(len(seen), 251)
        self.assertEqual(len(set(seen)), 251)
        self.assertEqual(seen[0], newest)
        self.assertEqual(seen[-1], "00000000-0000-4000-8000-%012d" % 0)
        page = self.conn.message_list("#py-paging", limit=40)
        self.assertTrue(page.more)
        self.assertEqual(len(page.messages), 40)

    # ---- the examples run as written ------------------------------------------
    def test_examples(self):
        examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples")

        def run(name, *args):
            done = subprocess.run([sys.executable, os.path.join(examples, name),
                                   "--endpoint", self.node.endpoint, *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            self.assertEqual(done.returncode, 0, done.stdout)
            return done.stdout.decode()

        self.assertIn("wire API %d" % wire_api_version(), run("ping_info.py"))
        self.assertIn("1000 config sets", run("pipeline.py", "--count", "1000"))
        with tempfile.TemporaryDirectory() as tmp:
            path, back = os.path.join(tmp, "in"), os.path.join(tmp, "out")
            with open(path, "wb") as out:
                out.write(os.urandom(5 * 1024 * 1024))  # two 4 MiB chunks
            digest = run("put_get.py", path).split()[0]
            run("put_get.py", "--get", digest, back)
            with open(path, "rb") as a, open(back, "rb") as b:
                self.assertEqual(a.read(), b.read())

    # ---- malformed use, refused before anything is sent ----------------------
    def test_malformed_use(self):
        conn = self.conn
        cases = [
            (TypeError, "str", lambda: conn.send(123)),
            (ValueError, "unknown request kind", lambda: conn.send("no_such_kind")),
            (TypeError, "cairn.Ping, not cairn.ConfigGet",
             lambda: conn.send("ping", cairn_client.message_class("ConfigGet")())),
            (TypeError, "cairn.ConfigGet", lambda: conn.send("config_get", {"key": 5})),
            (TypeError, "fields of", lambda: conn.send("config_get", {"nope": 1})),
            (TypeError, "int", lambda: conn.send("ping", request_id="1")),
            (ValueError, "request_id", lambda: conn.send("ping", request_id=-1)),
            (ValueError, "request_id", lambda: conn.send("ping", request_id=2**64)),
            (TypeError, "key must be str", lambda: conn.config_set(1, "v")),
            (TypeError, "value must be bytes", lambda: conn.config_set("k", 5)),
            (TypeError, "payload", lambda: conn.ping(42)),
            (ValueError, "64 hex", lambda: conn.content_get("zz")),
            (ValueError, "32 bytes", lambda: conn.content_has(b"short")),
            (TypeError, "data must be bytes", lambda: conn.content_put("text")),
            (ValueError, "chunk_size", lambda: conn.content_put(b"x", chunk_size=0)),
            (ValueError, "64 bytes", lambda: conn.message_store("c", "t", sender_id="s", signature=b"x")),
            (TypeError, "timeout", lambda: conn.call("ping", timeout="1")),
            (ValueError, "limit", lambda: conn.message_list("c", limit=5000)),
            (ValueError, "both", lambda: cairn_client.Connection(server_key="x" * 40)),
            (ValueError, "40 Z85", lambda: keys.public_key("short")),
            (ValueError, "max_frame_bytes", lambda: cairn_client.Connection(
                self.node.endpoint, max_frame_bytes=100).ping(b"x" * 200)),
        ]
        for error, text, use in cases:
            with self.subTest(text=text):
                with self.assertRaisesRegex(error, text):
                    use()
        self.assertEqual(conn.in_flight, 0)
        self.assertEqual(conn.ping(b"ok").payload, b"ok")


class BusyTest(unittest.TestCase):
    """A node that lets one client have one request in flight: a flood
    meets BUSY, surfaced as CairnError with the node's message."""

    def setUp(self):
        self.node = Node("--client-in-flight-max=1")
        self.addCleanup(self.node.stop)

    def test_busy(self):
        with self.node.connect() as conn:
            results = conn.pipeline([("config_set", {"key": "busy.%d" % i, "value": b"v"})
                                     for i in range(300)], window=300, errors="return")
            busy = [r for r in results if isinstance(r, CairnError)]
            self.assertTrue(busy)
            self.assertLess(len(busy), 300)
            for error in busy:
                self.assertEqual(error.status_name, "BUSY")
                self.assertIn("read your answers", error.message)
            with self.assertRaises(CairnError) as caught:
                conn.pipeline([("config_set", {"key": "again.%d" % i, "value": b"v"})
                               for i in range(300)], window=300)
            self.assertEqual(caught.exception.status_name, "BUSY")
            # One at a time nothing is BUSY; busy_retries retries what is.
            self.assertFalse(conn.config_set("busy.0", "w"))
            conn.busy_retries = 5
            self.assertEqual(conn.config_get("busy.0"), b"w")


class CurveTest(unittest.TestCase):
    """client_auth=curve: keys on the allow-list get in, others get nothing."""

    def setUp(self):
        self.node = Node(curve=True)
        self.addCleanup(self.node.stop)

    def test_curve(self):
        with self.node.connect() as conn:
            self.assertEqual(conn.ping(b"curve").payload, b"curve")
            self.assertGreaterEqual(conn.info().api_version, 1)
        # A key file written by the client, and one by `cairn keygen`.
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "py.key")
            keys.save(keys.generate(), path)
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            with self.assertRaises(FileExistsError):
                keys.save(keys.generate(), path)
            mine = keys.load(path)
            cli_path = os.path.join(tmp, "cli.key")
            cli = os.environ.get("CAIRN_CLI", os.path.join(os.path.dirname(
                os.path.abspath(__file__)), "..", "..", "..", "build", "cairn"))
            done = subprocess.run([cli, "keygen", cli_path], stdout=subprocess.PIPE,
                                  check=True, timeout=30)
            from_cli = keys.load(cli_path)
            self.assertEqual(from_cli.public, done.stdout.strip())
            self.node.allow(from_cli.public)
            with self.node.connect(client_key=cli_path, server_key=self.node.server_key) as conn:
                self.assertEqual(conn.ping(b"cli").payload, b"cli")
            # Not on the list, no keys, or a wrong server key: no answer.
            for options in ({"client_key": mine, "server_key": self.node.server_key},
                            {"client_key": from_cli, "server_key": keys.generate().public},
                            {"server_key": None, "client_key": None}):
                with self.node.connect(timeout=0.5, **options) as conn:
                    with self.assertRaises(CairnTimeout):
                        conn.ping()
        # The server key as 64 hex digits works as well.
        from zmq.utils import z85
        hex_key = z85.decode(self.node.server_key.encode()).hex()
        with self.node.connect(server_key=hex_key, client_key=self.node.client_key) as conn:
            conn.ping()


def _tests():
    loader = unittest.TestLoader()
    for case in (ClientTest, BusyTest, CurveTest):
        for name in loader.getTestCaseNames(case):
            yield name[len("test_"):], case, name


def main(argv):
    if argv[1:] == ["--list"]:
        for short, _, _ in _tests():
            print("python.client.%s %s" % (short, short))
        return 0
    wanted = set(argv[1:])
    suite = unittest.TestSuite(case(name) for short, case, name in _tests()
                               if not wanted or short in wanted)
    unknown = wanted - {short for short, _, _ in _tests()}
    if unknown:
        print("unknown test %s; --list names them" % sorted(unknown), file=sys.stderr)
        return 2
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
