"""Minimal ZooKeeper wire-protocol pieces written for this suite.

Two uses:

* request records that kazoo 2.x does not expose (createContainer, createTTL),
  shaped like kazoo's own records (``type``, ``serialize()``,
  ``deserialize(buf, offset)``) so they can be sent through a real kazoo
  connection with ``client._call``;
* a tiny raw client (``RawSession``) for what no polite client will do:
  go silent until the session expires, or send a frame larger than
  jute.maxbuffer.

Encoding follows the Jute rules: big-endian ints/longs, strings and buffers as
int length + bytes (-1 = null), every frame prefixed with a 4-byte length.
"""

import socket
import struct
from collections import namedtuple

from kazoo.protocol.states import ZnodeStat
from kazoo.security import OPEN_ACL_UNSAFE

STAT = struct.Struct("!qqqqiiiqiiq")

OP_CREATE = 1
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_PING = 11
OP_CLOSE = -11
OP_CREATE_CONTAINER = 19
OP_CREATE_TTL = 21

# CreateMode flags (zookeeper CreateMode.toFlag())
FLAG_PERSISTENT = 0
FLAG_EPHEMERAL = 1
FLAG_PERSISTENT_SEQUENTIAL = 2
FLAG_EPHEMERAL_SEQUENTIAL = 3
FLAG_CONTAINER = 4
FLAG_PERSISTENT_WITH_TTL = 5
FLAG_PERSISTENT_SEQUENTIAL_WITH_TTL = 6


def _int(v):
    return struct.pack("!i", v)


def _long(v):
    return struct.pack("!q", v)


def _ustring(s):
    if s is None:
        return _int(-1)
    b = s.encode("utf-8")
    return _int(len(b)) + b


def _buffer(b):
    if b is None:
        return _int(-1)
    return _int(len(b)) + bytes(b)


def _acls(acls):
    out = _int(len(acls))
    for a in acls:
        out += _int(a.perms) + _ustring(a.id.scheme) + _ustring(a.id.id)
    return out


def _read_ustring(buf, off):
    (n,) = struct.unpack_from("!i", buf, off)
    off += 4
    if n < 0:
        return None, off
    return bytes(buf[off : off + n]).decode("utf-8"), off + n


def _create2_response(buf, off):
    path, off = _read_ustring(buf, off)
    stat = ZnodeStat._make(STAT.unpack_from(buf, off))
    return path, stat


class CreateContainer(namedtuple("CreateContainer", "path data acl")):
    """createContainer (op 19): a Create2Request with the container flag."""

    type = OP_CREATE_CONTAINER

    def serialize(self):
        return bytearray(
            _ustring(self.path) + _buffer(self.data) + _acls(self.acl)
            + _int(FLAG_CONTAINER)
        )

    @classmethod
    def deserialize(cls, buf, off):
        return _create2_response(buf, off)


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    """createTTL (op 21): CreateTTLRequest = Create2Request + long ttl."""

    type = OP_CREATE_TTL

    def serialize(self):
        return bytearray(
            _ustring(self.path) + _buffer(self.data) + _acls(self.acl)
            + _int(self.flags) + _long(self.ttl)
        )

    @classmethod
    def deserialize(cls, buf, off):
        return _create2_response(buf, off)


def kazoo_call(client, request, timeout=10):
    """Send one of the records above through a connected KazooClient."""
    async_result = client.handler.async_result()
    client._call(request, async_result)
    return async_result.get(timeout=timeout)


def create_container(client, path, data=b"", acl=None):
    return kazoo_call(client, CreateContainer(path, data, acl or OPEN_ACL_UNSAFE))


def create_ttl(client, path, data=b"", ttl=1000, sequential=False, acl=None):
    flags = FLAG_PERSISTENT_SEQUENTIAL_WITH_TTL if sequential else FLAG_PERSISTENT_WITH_TTL
    return kazoo_call(client, CreateTTL(path, data, acl or OPEN_ACL_UNSAFE, flags, ttl))


class RawSession:
    """A bare-bones session over one socket: handshake, create, ping."""

    def __init__(self, host, port, timeout_ms=4000, session_id=0, passwd=b"\0" * 16):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.xid = 0
        self.frames = []  # ("event", type, state, path) / ("reply", xid, err)
        body = (
            _int(0) + _long(0) + _int(timeout_ms) + _long(session_id)
            + _buffer(passwd) + b"\0"
        )
        self.send_frame(body)
        resp = self.recv_frame()
        proto, self.timeout_ms, self.session_id = struct.unpack_from("!iiq", resp, 0)
        (plen,) = struct.unpack_from("!i", resp, 16)
        self.passwd = bytes(resp[20 : 20 + plen])

    def send_frame(self, body):
        self.sock.sendall(_int(len(body)) + body)

    def _recv_exact(self, n):
        out = bytearray()
        while len(out) < n:
            d = self.sock.recv(n - len(out))
            if not d:
                raise ConnectionError("connection closed by server")
            out += d
        return bytes(out)

    def recv_frame(self):
        (n,) = struct.unpack("!i", self._recv_exact(4))
        return self._recv_exact(n)

    def request(self, op, body):
        self.xid += 1
        self.send_frame(_int(self.xid) + _int(op) + body)
        while True:
            resp = self.recv_frame()
            xid, zxid, err = struct.unpack_from("!iqi", resp, 0)
            if xid == -1:  # watch notification
                etype, state = struct.unpack_from("!ii", resp, 16)
                path, _ = _read_ustring(resp, 24)
                self.frames.append(("event", etype, state, path))
                continue
            self.frames.append(("reply", xid, err))
            return xid, zxid, err, resp[16:]

    def get_data(self, path, watch=False):
        """getData; returns (err, data, Stat tuple or None).

        data is None when the reply carries a null buffer (length -1).
        """
        xid, zxid, err, rest = self.request(
            OP_GET_DATA, _ustring(path) + (b"\1" if watch else b"\0"))
        if err:
            return err, None, None
        (n,) = struct.unpack_from("!i", rest, 0)
        if n < -1:
            raise ValueError(f"bad buffer length {n}")
        data = None if n == -1 else bytes(rest[4 : 4 + n])
        stat = ZnodeStat._make(STAT.unpack_from(rest, 4 + max(n, 0)))
        return err, data, stat

    def set_data(self, path, data, version=-1):
        """setData; data None sends a null buffer. Returns (err, Stat or None)."""
        xid, zxid, err, rest = self.request(
            OP_SET_DATA, _ustring(path) + _buffer(data) + _int(version))
        return err, (ZnodeStat._make(STAT.unpack_from(rest, 0)) if err == 0 else None)

    def create(self, path, data=b"", flags=FLAG_PERSISTENT):
        """create; data None sends a null buffer (as zkCli's `create /x`)."""
        body = _ustring(path) + _buffer(data) + _acls(OPEN_ACL_UNSAFE) + _int(flags)
        xid, zxid, err, rest = self.request(OP_CREATE, body)
        return err, (_read_ustring(rest, 0)[0] if err == 0 else None)

    def is_closed_by_peer(self, wait=10.0):
        """True if the server closes this connection within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
