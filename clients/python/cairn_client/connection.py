"""A connection to a cairn node's client endpoint (docs/PROTOCOL.md).

One DEALER socket; each request gets an id of its own (a counter), so many
may be in flight at once and answers, which may come back in any order, are
matched by id. ``send`` / ``result`` are the two halves of a call;
``call`` is both; ``pipeline`` keeps a window of requests in flight; the
typed helpers below them cover the common requests.
"""

import collections
import random
import time
import uuid

import zmq
from google.protobuf.message import DecodeError, Message

from . import _pb, keys
from .errors import CairnError, CairnTimeout

DEFAULT_ENDPOINT = "tcp://127.0.0.1:7401"
ID_MAX = 2**64 - 1
CHUNK_MAX = 16 * 1024 * 1024  # ContentChunk / ContentRead, content.proto
DEFAULT_CHUNK = 4 * 1024 * 1024
DEFAULT_MAX_FRAME = 64 * 1024 * 1024  # the node's max_frame_bytes default
_BUSY = _pb.cairn_pb2.BUSY
_OK = _pb.cairn_pb2.OK


def _check_int(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("%s must be an int, not %s" % (name, type(value).__name__))
    if not low <= value <= high:
        raise ValueError("%s must be %d..%d, not %d" % (name, low, high, value))
    return value


def _check_bytes(name, value, text_ok=True):
    if isinstance(value, str) and text_ok:
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("%s must be bytes%s, not %s" % (name, " or str" if text_ok else "",
                                                    type(value).__name__))


def _check_str(name, value):
    if not isinstance(value, str):
        raise TypeError("%s must be str, not %s" % (name, type(value).__name__))
    return value


def content_hash(value):
    """A content hash: 32 bytes, or 64 hex digits as str -> 32 bytes."""
    if isinstance(value, str):
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError("a content hash is 32 bytes or 64 hex digits, not %r" % value)
        return raw
    raw = _check_bytes("a content hash", value, text_ok=False)
    if len(raw) != 32:
        raise ValueError("a content hash is 32 bytes (SHA-256), not %d" % len(raw))
    return raw


class Connection:
    """A DEALER connection to a node's client endpoint.

    ``server_key`` (the node's public key, from ``cairnd server-key``) and
    ``client_key`` (a keys.KeyPair or the path of a ``cairn keygen`` file)
    turn CURVE on; give both or neither. ``timeout`` (seconds) bounds each
    wait for an answer; ``linger`` (seconds) how long close() tries to
    deliver requests not yet sent. ``busy_retries`` is how often ``call``
    repeats a request answered BUSY, with exponential backoff.
    """

    def __init__(self, endpoint=DEFAULT_ENDPOINT, *, server_key=None, client_key=None,
                 timeout=5.0, linger=0.0, busy_retries=0, max_frame_bytes=DEFAULT_MAX_FRAME,
                 context=None):
        _check_str("endpoint", endpoint)
        if (server_key is None) != (client_key is None):
            raise ValueError("CURVE needs both server_key (the node's public key: cairnd "
                             "server-key) and client_key (a key pair: keys.generate() or a "
                             "cairn keygen file), or neither")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            raise TypeError("timeout is a number of seconds > 0, not %r" % (timeout,))
        self.timeout = float(timeout)
        self.busy_retries = _check_int("busy_retries", busy_retries, 0, 1000)
        self.max_frame_bytes = _check_int("max_frame_bytes", max_frame_bytes, 1, 2**62)
        self.dropped_answers = 0  # answers to no request waiting (late, after a timeout)
        self._next_id = 1
        self._outstanding = {}  # id -> kind
        self._answers = {}  # id -> Response, received and not yet taken
        self._socket = (context or zmq.Context.instance()).socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, int(linger * 1000))
        if server_key is not None:
            pair = client_key if isinstance(client_key, keys.KeyPair) else keys.load(client_key)
            self._socket.curve_serverkey = keys.public_key(server_key)
            self._socket.curve_publickey = pair.public
            self._socket.curve_secretkey = pair.secret
        self._socket.connect(endpoint)

    # ---- lifetime -------------------------------------------------------------
    def close(self):
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def in_flight(self):
        """Requests sent whose answer has not been taken."""
        return len(self._outstanding)

    # ---- the two halves of a call -------------------------------------------------
    def send(self, kind, message=None, *, request_id=None, timeout=None):
        """Sends one request and returns its id. ``kind`` is a member of
        cairn.Request.body ("ping", "config_get", ...), ``message`` its
        message (or a dict of its fields; None: all defaults)."""
        request = self._build(kind, message, request_id)
        data = request.SerializeToString()
        if len(data) > self.max_frame_bytes:
            raise ValueError("a %s request of %d bytes is over max_frame_bytes (%d): the node "
                             "would drop the connection; stream large content (content_put "
                             "does)" % (kind, len(data), self.max_frame_bytes))
        self._send_frame(data, self._deadline(timeout), kind)
        self._outstanding[request.id] = kind
        return request.id

    def result(self, request_id, timeout=None):
        """The Response (status not checked) to the request sent with
        ``request_id``; CairnTimeout when none comes in time, after which a
        late answer is dropped."""
        if request_id not in self._outstanding:
            raise ValueError("no request with id %r is waiting for its answer on this "
                             "connection" % (request_id,))
        deadline = self._deadline(timeout)
        while request_id not in self._answers:
            if not self._receive(deadline):
                kind = self._outstanding.pop(request_id)
                raise CairnTimeout("no answer within %.3f s; the request may still be carried "
                                   "out (see docs/PROTOCOL.md, Timeouts and retries)"
                                   % (timeout or self.timeout), request_id, kind)
        del self._outstanding[request_id]
        return self._answers.pop(request_id)

    def answer(self, request_id, timeout=None):
        """The body of the answer to ``request_id``; CairnError if not OK."""
        kind = self._outstanding.get(request_id)
        return self._unwrap(self.result(request_id, timeout), kind)

    def call(self, kind, message=None, *, timeout=None, busy_retries=None):
        """Sends one request, waits for its answer and returns its body
        (e.g. a cairn.Pong); CairnError for any status but OK. BUSY is
        retried ``busy_retries`` times (default: the connection's), with
        backoff from 10 ms doubling to 1 s."""
        retries = self.busy_retries if busy_retries is None else \
            _check_int("busy_retries", busy_retries, 0, 1000)
        backoff = 0.01
        for attempt in range(retries + 1):
            response = self.result(self.send(kind, message, timeout=timeout), timeout)
            if response.status == _BUSY and attempt < retries:
                time.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, 1.0)
                continue
            return self._unwrap(response, kind)

    def pipeline(self, requests, *, window=500, timeout=None, errors="raise"):
        """Sends (kind, message) pairs with at most ``window`` in flight and
        returns their bodies in the order given. errors="raise" raises the
        first CairnError once every answer is in; "return" puts each
        CairnError in the list in place of its body."""
        _check_int("window", window, 1, 1000000)
        if errors not in ("raise", "return"):
            raise ValueError('errors is "raise" or "return", not %r' % (errors,))
        results, pending = [], collections.deque()
        for kind, message in requests:
            if len(pending) >= window:
                self._pipeline_take(pending, results, timeout)
            pending.append((len(results), self.send(kind, message, timeout=timeout)))
            results.append(None)
        while pending:
            self._pipeline_take(pending, results, timeout)
        if errors == "raise":
            for item in results:
                if isinstance(item, CairnError):
                    raise item
        return results

    def _pipeline_take(self, pending, results, timeout):
        index, request_id = pending.popleft()
        try:
            results[index] = self.answer(request_id, timeout)
        except CairnError as error:
            results[index] = error

    # ---- typed helpers ---------------------------------------------------------
    def ping(self, payload=b""):
        """Ping (answered by the node itself): the cairn.Pong."""
        return self.call("ping", {"payload": _check_bytes("payload", payload)})

    def info(self):
        """The node's cairn.InfoReply (version, api_version, counters)."""
        return self.call("info")

    def config_get(self, key, default=None):
        """The value of config `key` (bytes), or `default` when absent."""
        value = self.call("config_get", {"key": _check_str("key", key)})
        return value.value if value.found else default

    def config_set(self, key, value):
        """Sets config `key` (str) to `value` (bytes or str); True when the
        key was created."""
        return self.call("config_set", {"key": _check_str("key", key),
                                        "value": _check_bytes("value", value)}).created

    def channel_create(self, name, *, unsigned_messages=False, encrypted=False, password=""):
        """Creates a channel; the cairn.Channel."""
        return self.call("channel_create", {
            "name": _check_str("name", name), "unsigned_messages": bool(unsigned_messages),
            "encrypted": bool(encrypted), "password": _check_str("password", password)})

    def message_store(self, channel, content, *, sender_id, signature, message_id=None,
                      sender_name="", timestamp=None, encrypted=False, nonce=b""):
        """Stores a message (messages.proto, "Signature": `signature` is the
        sender's Ed25519 signature; an unsigned channel takes any 64 bytes);
        returns its id (a new UUID unless given)."""
        signature = _check_bytes("signature", signature, text_ok=False)
        if len(signature) != 64:
            raise ValueError("signature is 64 bytes (Ed25519), not %d" % len(signature))
        if timestamp is not None and (isinstance(timestamp, bool)
                                      or not isinstance(timestamp, (int, float))):
            raise TypeError("timestamp is unix seconds (int or float), not %s"
                            % type(timestamp).__name__)
        message = {
            "id": _check_str("message_id", message_id) if message_id else str(uuid.uuid4()),
            "timestamp": time.time() if timestamp is None else float(timestamp),
            "sender_id": _check_str("sender_id", sender_id),
            "sender_name": _check_str("sender_name", sender_name),
            "channel": _check_str("channel", channel),
            "content": _check_bytes("content", content), "encrypted": bool(encrypted),
            "signature": signature, "nonce": _check_bytes("nonce", nonce, text_ok=False)}
        return self.call("message_store", {"message": message}).id

    def message_list(self, channel, *, limit=0, before=None, since=0.0):
        """One page (cairn.MessagePage) of a channel, newest first; `before`
        is the keyset cursor (timestamp, id) of the previous page's last
        message."""
        fields = {"channel": _check_str("channel", channel),
                  "limit": _check_int("limit", limit, 0, 1000), "since": float(since)}
        if before is not None:
            timestamp, before_id = before
            fields.update(before_timestamp=float(timestamp),
                          before_id=_check_str("before id", before_id))
        return self.call("message_list", fields)

    def iter_messages(self, channel, *, page_size=100, since=0.0):
        """Every message of a channel, newest first, a page at a time with
        the keyset cursor (stable while messages are added)."""
        _check_int("page_size", page_size, 1, 1000)
        before = None
        while True:
            page = self.message_list(channel, limit=page_size, before=before, since=since)
            yield from page.messages
            if not page.more or not page.messages:
                return
            last = page.messages[-1]
            before = (last.timestamp, last.id)

    def content_put(self, data, *, expected_hash=b"", chunk_size=DEFAULT_CHUNK):
        """Stores a blob (bytes); one ContentPut up to `chunk_size`, else a
        stream of chunks. The cairn.ContentStored (hash, size)."""
        data = _check_bytes("data", data, text_ok=False)
        _check_int("chunk_size", chunk_size, 1, CHUNK_MAX)
        expected = content_hash(expected_hash) if expected_hash else b""
        if len(data) <= chunk_size:
            return self.call("content_put", {"data": data, "expected_hash": expected})
        view = memoryview(data)
        return self.content_put_stream((view[at:at + chunk_size]
                                        for at in range(0, len(data), chunk_size)),
                                       expected_hash=expected)

    def content_put_stream(self, source, *, expected_hash=b"", chunk_size=DEFAULT_CHUNK):
        """Streams a blob: `source` is a binary file (read in `chunk_size`
        pieces) or an iterable of bytes (each 1..16 MiB). ContentBegin,
        ContentChunk..., ContentCommit; on any failure the stream is aborted
        and the error raised. The cairn.ContentStored."""
        _check_int("chunk_size", chunk_size, 1, CHUNK_MAX)
        expected = content_hash(expected_hash) if expected_hash else b""
        if hasattr(source, "read"):
            pieces = iter(lambda: source.read(chunk_size), b"")
        else:
            try:
                pieces = iter(source)
            except TypeError:
                raise TypeError("source is a binary file or an iterable of bytes, not %s"
                                % type(source).__name__) from None
        begun = self.call("content_begin", {"expected_hash": expected})
        if begun.exists:
            return _pb.message_class("ContentStored")(hash=expected)
        stream, offset = begun.stream_id, 0
        try:
            for piece in pieces:
                piece = _check_bytes("a chunk", piece, text_ok=False)
                if not piece:
                    continue
                self.call("content_chunk", {"stream_id": stream, "offset": offset,
                                            "data": piece})
                offset += len(piece)
            return self.call("content_commit", {"stream_id": stream, "expected_hash": expected})
        except BaseException:
            try:
                self.call("content_abort", {"stream_id": stream}, timeout=1.0)
            except CairnError:
                pass  # the stream times out on the node (stream_timeout_ms)
            raise

    def content_iter(self, content, *, chunk_size=DEFAULT_CHUNK, verify=True):
        """The bytes of a blob, a ContentRead range at a time, in order.
        With `verify` the node hashes the whole blob: a blob that does not
        match gets CairnError CORRUPT at its last range."""
        wanted = content_hash(content)
        _check_int("chunk_size", chunk_size, 1, CHUNK_MAX)
        offset = 0
        while True:
            part = self.call("content_read", {"hash": wanted, "offset": offset,
                                              "length": chunk_size, "skip_verify": not verify})
            if part.data:
                yield part.data
            offset += len(part.data)
            if part.end:
                if verify and not part.verified:
                    raise CairnError(_pb.cairn_pb2.CORRUPT, "CORRUPT",
                                     "the node did not verify the blob's hash", None,
                                     "content_read")
                return
            if not part.data:
                raise CairnError(_pb.cairn_pb2.INTERNAL, "INTERNAL",
                                 "an empty range before the end of the blob", None,
                                 "content_read")

    def content_get(self, content, *, chunk_size=DEFAULT_CHUNK, verify=True):
        """The whole blob as bytes (see content_iter)."""
        return b"".join(self.content_iter(content, chunk_size=chunk_size, verify=verify))

    def content_has(self, content):
        return self.call("content_has", {"hash": content_hash(content)}).exists

    def content_delete(self, content):
        return self.call("content_delete", {"hash": content_hash(content)}).removed

    # ---- inside ------------------------------------------------------------------
    def _deadline(self, timeout):
        if timeout is None:
            timeout = self.timeout
        elif isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise TypeError("timeout is a number of seconds > 0, not %r" % (timeout,))
        return time.monotonic() + timeout

    def _build(self, kind, message, request_id):
        if not isinstance(kind, str):
            raise TypeError("a request kind is a str (a member of cairn.Request.body, e.g. "
                            "'ping'), not %s" % type(kind).__name__)
        field = _pb.BODY.get(kind)
        if field is None:
            raise ValueError("unknown request kind %r: the kinds are the members of "
                             "cairn.Request.body in the schemas this client was built with"
                             % kind)
        cls = _pb.message_class(field.message_type.name)
        if message is None:
            message = cls()
        elif isinstance(message, dict):
            try:
                message = cls(**message)
            except (TypeError, ValueError) as error:
                raise TypeError("%s: %s takes the fields of cairn.%s: %s"
                                % (kind, kind, field.message_type.name, error)) from None
        elif not isinstance(message, Message) or \
                message.DESCRIPTOR.full_name != field.message_type.full_name:
            given = message.DESCRIPTOR.full_name if isinstance(message, Message) \
                else type(message).__name__
            raise TypeError("request kind %r takes a %s, not %s"
                            % (kind, field.message_type.full_name, given))
        if request_id is None:
            while self._next_id in self._outstanding or self._next_id in self._answers:
                self._next_id = self._next_id % ID_MAX + 1
            request_id = self._next_id
            self._next_id = self._next_id % ID_MAX + 1
        else:
            _check_int("request_id", request_id, 0, ID_MAX)
            if request_id in self._outstanding:
                raise ValueError("request id %d is in flight on this connection: the node "
                                 "would answer both with that id, and the answers could not "
                                 "be told apart" % request_id)
        request = _pb.Request(id=request_id)
        body = getattr(request, kind)
        body.SetInParent()
        body.MergeFrom(message)
        return request

    def _send_frame(self, data, deadline, kind):
        if self._socket is None:
            raise ValueError("the connection is closed")
        while True:
            try:
                self._socket.send(data, zmq.NOBLOCK)
                return
            except zmq.Again:
                pass
            # The socket's queue is full: read answers meanwhile, so that a
            # node blocked on its answers to us never waits for our sends.
            left = deadline - time.monotonic()
            if left <= 0:
                raise CairnTimeout("could not send within the timeout: the node takes no "
                                   "requests (is it running at this endpoint?)", None, kind)
            if self._socket.poll(max(1, int(left * 1000)), zmq.POLLIN | zmq.POLLOUT) \
                    & zmq.POLLIN:
                self._receive(deadline)

    def _receive(self, deadline):
        """Reads one answer into the table; False at the deadline."""
        if self._socket is None:
            raise ValueError("the connection is closed")
        left = deadline - time.monotonic()
        if left <= 0 or not self._socket.poll(max(1, int(left * 1000)), zmq.POLLIN):
            return False
        frames = self._socket.recv_multipart()
        response = _pb.Response()
        try:
            if len(frames) != 1:
                raise DecodeError("%d frames" % len(frames))
            response.ParseFromString(frames[0])
        except DecodeError:
            self.dropped_answers += 1
            return True
        if response.id in self._outstanding and response.id not in self._answers:
            self._answers[response.id] = response
        else:
            self.dropped_answers += 1
        return True

    @staticmethod
    def _unwrap(response, kind):
        if response.status != _OK:
            raise CairnError(response.status, _pb.status_name(response.status), response.error,
                             response.id, kind)
        body = response.WhichOneof("body")
        return getattr(response, body) if body else None
