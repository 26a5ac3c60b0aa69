"""CURVE keys for the client endpoint (docs/PROTOCOL.md "Sockets and security").

A key pair is two 32-byte curve25519 keys, written as 40 Z85 characters each.
The key file is the one ``cairn keygen FILE`` writes (ZPL, the layout of a
czmq zcert secret file, mode 0600)::

    #   cairn CURVE key pair: keep this file secret
    curve
        public-key = "<40 Z85 characters>"
        secret-key = "<40 Z85 characters>"

A public key in text (the node's server key from ``cairnd server-key``, a
line of DATA_DIR/curve/clients) is 40 Z85 characters or 64 hex digits.
"""

import collections
import os
import re

import zmq
from zmq.utils import z85

KeyPair = collections.namedtuple("KeyPair", "public secret")
KeyPair.__doc__ = "A CURVE key pair, each key 40 Z85 characters (bytes)."

_Z85 = re.compile(rb"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_HEX = re.compile(rb"^[0-9a-fA-F]{64}$")


def public_key(text):
    """A public key given as 40 Z85 characters or 64 hex digits (str or
    bytes) -> its 40 Z85 characters as bytes; ValueError otherwise."""
    if isinstance(text, str):
        text = text.encode("ascii", "replace")
    if not isinstance(text, bytes):
        raise TypeError("a CURVE public key is text (40 Z85 characters or 64 hex digits), "
                        "not %s" % type(text).__name__)
    text = text.strip()
    if _HEX.match(text):
        return z85.encode(bytes.fromhex(text.decode("ascii")))
    if _Z85.match(text):
        return text
    raise ValueError("a CURVE public key is 40 Z85 characters or 64 hex digits; got %d "
                     "characters (the node's key: cairnd server-key --data-dir DIR)" % len(text))


def generate():
    """A new random key pair."""
    public, secret = zmq.curve_keypair()
    return KeyPair(public, secret)


def save(pair, path):
    """Writes `pair` to a new key file (0600); never replaces a file."""
    text = ('#   cairn CURVE key pair: keep this file secret\ncurve\n'
            '    public-key = "%s"\n    secret-key = "%s"\n'
            % (pair.public.decode("ascii"), pair.secret.decode("ascii")))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


def load(path):
    """Reads a key file (``cairn keygen``'s layout) and checks that its
    public key belongs to its secret key."""
    values = {}
    with open(path, "rb") as source:
        for line in source:
            match = re.match(rb'^\s*(public-key|secret-key)\s*=\s*"?([^"\s]+)"?\s*$', line)
            if match:
                values[match.group(1)] = match.group(2)
    if b"public-key" not in values or b"secret-key" not in values:
        raise ValueError("%s is not a CURVE key file: it needs curve/public-key and "
                         "curve/secret-key (make one with cairn keygen FILE)" % path)
    public = public_key(values[b"public-key"])
    secret = public_key(values[b"secret-key"])
    if zmq.curve_public(secret) != public:
        raise ValueError("%s: the public key does not belong to the secret key" % path)
    return KeyPair(public, secret)
