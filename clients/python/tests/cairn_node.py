"""A real cairnd for the Python client's tests: a free loopback port, a
temporary data dir, stopped by its PID (SIGTERM, expected exit 0).

CAIRND names the binary (the ctest sets it; default build/cairnd)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import cairn_client
from cairn_client import keys

HERE = os.path.dirname(os.path.abspath(__file__))
CAIRND = os.environ.get("CAIRND", os.path.join(HERE, "..", "..", "..", "build", "cairnd"))
START_S = 30.0
PORT_TRIES = 5


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_cairnd(*args):
    """Runs cairnd with `args` to its end; (exit status, standard output)."""
    done = subprocess.run([CAIRND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, check=False)
    return done.returncode, done.stdout.decode("utf-8", "replace") + (
        done.stderr.decode("utf-8", "replace") if done.returncode else "")


class Node:
    """cairnd started with `args`. With `curve`, the client endpoint is
    CURVE (client_auth=curve) and self.client_key (a KeyPair on its
    allow-list) and self.server_key are set."""

    def __init__(self, *args, curve=False):
        self.dir = tempfile.mkdtemp(prefix="cairn-py-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "cairnd.log")
        self.process = None
        self.status = None  # the exit status, once stopped
        self.server_key = self.client_key = None
        args = list(args)
        if curve:
            status, out = run_cairnd("server-key", "--data-dir=" + self.data)
            assert status == 0, out
            self.server_key = out.strip()
            self.client_key = keys.generate()
            self.allow(self.client_key.public)
            args.append("--client-auth=curve")
        for _ in range(PORT_TRIES):
            self.endpoint = "tcp://127.0.0.1:%d" % _free_port()
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(
                    [CAIRND, "--data-dir=" + self.data, "--client-endpoint=" + self.endpoint,
                     *args], stdout=log, stderr=subprocess.STDOUT)
            if self._ready():
                return
            if self.process.poll() is None:
                break  # running but silent: no point in another port
            self.process = None  # the port was taken meanwhile: another one
        self.stop(expect_clean=False)
        raise RuntimeError("cairnd did not answer a ping within %.0f s; its log:\n%s"
                           % (START_S, self.read_log()))

    def allow(self, public):
        os.makedirs(os.path.join(self.data, "curve"), mode=0o700, exist_ok=True)
        with open(os.path.join(self.data, "curve", "clients"), "ab") as out:
            out.write(public + b" test client\n")

    def connect(self, **options):
        if self.server_key and "server_key" not in options:
            options.update(server_key=self.server_key, client_key=self.client_key)
        return cairn_client.Connection(self.endpoint, **options)

    def _ready(self):
        deadline = time.monotonic() + START_S
        with self.connect(timeout=0.2) as probe:
            for _ in range(int(START_S / 0.2) + 1):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    return False
                try:
                    probe.ping()
                    return True
                except cairn_client.CairnTimeout:
                    continue
        return False

    def read_log(self):
        try:
            with open(self.log, "r", errors="replace") as log:
                return log.read()[-4000:]
        except OSError:
            return "(no log)"

    def stop(self, expect_clean=True):
        """SIGTERM to our child's PID, then waits; its exit status. A
        second call returns the first one's."""
        if self.process is None:
            return self.status
        status = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                status = self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                status = self.process.wait(timeout=10)
        elif self.process is not None:
            status = self.process.returncode
        self.process = None
        self.status = status
        if expect_clean and status != 0:
            raise AssertionError("cairnd exited %s; its log:\n%s" % (status, self.read_log()))
        shutil.rmtree(self.dir, ignore_errors=True)
        return status


def wire_api_version():
    """The wire API number `cairnd --version` prints."""
    status, out = run_cairnd("--version")
    assert status == 0, out
    match = re.search(r"\(wire API (\d+)\)", out)
    assert match, out
    return int(match.group(1))
