"""Watch restore on reconnect with a large watch set, and wchs/wchc/wchp with
persistent watches; run against both targets (WARDEN_TEST_TARGET).

kazoo 2.x never sends setWatches (after a reconnect its server-side watches
are simply gone), so these tests speak the wire protocol themselves and
reconnect the way ZooKeeper's Java client does (ClientCnxn.primeConnection):
the connect request carries the last zxid seen, then the watch lists follow
in setWatches packets of about 128 KiB of path text each (data, exist, child
lists in that order; setWatches2 only if a batch holds persistent watches),
all with xid -8.
"""

import re
import socket
import struct

OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_GET_CHILDREN = 8
OP_SYNC = 9
OP_SET_WATCHES = 101
OP_SET_WATCHES2 = 105
OP_ADD_WATCH = 106

SET_WATCHES_XID = -8
SET_WATCHES_MAX_LENGTH = 128 * 1024  # ClientCnxn.SET_WATCHES_MAX_LENGTH

EVENT_NAMES = {1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
               4: "NodeChildrenChanged"}
OPEN_ACL = struct.pack("!i", 1) + struct.pack("!i", 31) + b"".join(
    struct.pack("!i", len(s)) + s for s in (b"world", b"anyone"))


def _int(v):
    return struct.pack("!i", v)


def _long(v):
    return struct.pack("!q", v)


def _str(s):
    b = s.encode()
    return _int(len(b)) + b


def _strings(items):
    return _int(len(items)) + b"".join(_str(s) for s in items)


class Wire:
    """A pipelining wire client that tracks the last zxid like ClientCnxn."""

    def __init__(self, host, port, session_id=0, passwd=b"\0" * 16, last_zxid=0):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.xid = 0
        self.last_zxid = last_zxid
        self.events = []
        self.replies = {}
        body = (_int(0) + _long(last_zxid) + _int(10000) + _long(session_id)
                + _int(len(passwd)) + passwd + b"\0")
        self._send(body)
        resp = self._frame()
        _, timeout, self.session_id = struct.unpack_from("!iiq", resp, 0)
        assert timeout > 0, "session refused"
        (plen,) = struct.unpack_from("!i", resp, 16)
        self.passwd = bytes(resp[20:20 + plen])

    def _send(self, body):
        self.sock.sendall(_int(len(body)) + body)

    def _frame(self):
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack_from("!i", self.buf, 0)
                if len(self.buf) >= 4 + n:
                    frame = bytes(self.buf[4:4 + n])
                    del self.buf[:4 + n]
                    return frame
            d = self.sock.recv(1 << 20)
            if not d:
                raise ConnectionError("closed by server")
            self.buf += d

    def send(self, op, body, xid=None):
        if xid is None:
            self.xid += 1
            xid = self.xid
        self._send(_int(xid) + _int(op) + body)
        return xid

    def pump(self):
        """Reads one frame: events go to self.events, replies to self.replies."""
        frame = self._frame()
        xid, zxid, err = struct.unpack_from("!iqi", frame, 0)
        if xid == -1:
            etype, _state = struct.unpack_from("!ii", frame, 16)
            (n,) = struct.unpack_from("!i", frame, 24)
            self.events.append((EVENT_NAMES.get(etype, etype), frame[28:28 + n].decode()))
            return
        if zxid > 0:
            self.last_zxid = zxid
        self.replies.setdefault(xid, []).append((zxid, err, frame[16:]))

    def wait(self, xid):
        while not self.replies.get(xid):
            self.pump()
        reply = self.replies[xid].pop(0)
        if not self.replies[xid]:
            del self.replies[xid]
        return reply

    def call(self, op, body):
        return self.wait(self.send(op, body))

    def pipeline(self, requests):
        """Sends every (op, body) then waits for all; returns the errs."""
        xids = [self.send(op, body) for op, body in requests]
        return [self.wait(x)[1] for x in xids]

    def sync(self):
        self.call(OP_SYNC, _str("/"))
        # Everything up to the sync is delivered before this reply.
        self.call(OP_EXISTS, _str("/") + b"\0")

    def close_socket(self):
        self.sock.close()


def connect(server, **kw):
    """A Wire session; retried briefly, as ZooKeeper answers ruok (the
    fixture's readiness check) a moment before it takes sessions."""
    import time
    deadline = time.monotonic() + 20
    while True:
        try:
            return Wire(server.host, server.port, **kw)
        except (ConnectionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def create(path, data=b""):
    return OP_CREATE, _str(path) + _int(len(data)) + data + OPEN_ACL + _int(0)


def set_data(path, data=b"x"):
    return OP_SET_DATA, _str(path) + _int(len(data)) + data + _int(-1)


def delete(path):
    return OP_DELETE, _str(path) + _int(-1)


def set_watches_batches(last_zxid, data, exist, child, persistent=(), recursive=()):
    """The packets ClientCnxn.primeConnection sends, in order."""
    lists = [list(data), list(exist), list(child), list(persistent), list(recursive)]
    out = []
    while any(lists):
        batch = [[] for _ in lists]
        length = 0
        while length < SET_WATCHES_MAX_LENGTH:
            for i, items in enumerate(lists):
                if items:
                    path = items.pop(0)
                    batch[i].append(path)
                    length += len(path)
                    break
            else:
                break
        if batch[3] or batch[4]:
            body = _long(last_zxid) + b"".join(_strings(b) for b in batch)
            out.append((OP_SET_WATCHES2, body))
        else:
            body = _long(last_zxid) + b"".join(_strings(b) for b in batch[:3])
            out.append((OP_SET_WATCHES, body))
    return out


def wchs_total(server):
    out = server_four_letter(server, "wchs")
    m = re.search(r"^(\d+) connections watching (\d+) paths\nTotal watches:(\d+)$", out, re.M)
    assert m, out
    return tuple(int(g) for g in m.groups())


def server_four_letter(server, word):
    from servers import four_letter
    return four_letter(server.host, server.port, word)


N = 6000
PAD = "p" * 60


def test_large_watch_set_is_restored_after_reconnect(server):
    host, port = server.host, server.port
    a = connect(server)
    assert a.call(*create("/ws"))[1] == 0
    nodes = [f"/ws/n{i:05d}-{PAD}" for i in range(N)]
    missing = [f"/ws/missing{i:04d}-{PAD}" for i in range(300)]
    assert set(a.pipeline([create(p) for p in nodes])) == {0}
    # Thirds: getData watch (data list), exists watch on an existing node
    # (the Java client files it with the data watches too), getChildren
    # watch (child list); plus exists watches on missing nodes (exist list).
    reqs = []
    for i, p in enumerate(nodes):
        op = (OP_GET_DATA, OP_EXISTS, OP_GET_CHILDREN)[i % 3]
        reqs.append((op, _str(p) + b"\1"))
    reqs += [(OP_EXISTS, _str(p) + b"\1") for p in missing]
    errs = a.pipeline(reqs)
    assert errs == [0] * N + [-101] * len(missing)
    data_w = [p for i, p in enumerate(nodes) if i % 3 != 2]
    child_w = [p for i, p in enumerate(nodes) if i % 3 == 2]
    a.sync()
    assert wchs_total(server) == (1, N - len(child_w) + len(missing),
                                  N - len(child_w) + len(missing))
    last_zxid = a.last_zxid
    sid, pw = a.session_id, a.passwd
    a.close_socket()

    # What the watcher misses while it is away.
    b = connect(server)
    changed = data_w[0:600:3]            # NodeDataChanged
    deleted = data_w[1:600:3]            # NodeDeleted
    child_added = child_w[0:200]         # NodeChildrenChanged
    child_data = child_w[200:300]        # data change only: no event
    created = missing[0:100]             # NodeCreated
    writes = ([set_data(p) for p in changed] + [delete(p) for p in deleted]
              + [create(p + "/c") for p in child_added]
              + [set_data(p) for p in child_data] + [create(p) for p in created])
    assert set(b.pipeline(writes)) == {0}

    a = connect(server, session_id=sid, passwd=pw, last_zxid=last_zxid)
    assert a.session_id == sid
    batches = set_watches_batches(last_zxid, data_w, missing, child_w)
    assert len(batches) >= 3, len(batches)
    for op, body in batches:
        a.send(op, body, xid=SET_WATCHES_XID)
    for _ in batches:
        zxid, err, _ = a.wait(SET_WATCHES_XID)
        assert err == 0
    a.sync()
    expected = sorted(
        [("NodeDataChanged", p) for p in changed]
        + [("NodeDeleted", p) for p in deleted]
        + [("NodeChildrenChanged", p) for p in child_added]
        + [("NodeCreated", p) for p in created])
    assert sorted(a.events) == expected
    assert len(a.events) == len(expected)

    # Everything else is armed again: one more change to each fires it once.
    restored_data = [p for p in data_w if p not in set(changed) | set(deleted)]
    restored_child = [p for p in child_w if p not in set(child_added)]
    restored_exist = missing[100:]
    assert wchs_total(server) == (1, len(restored_data) + len(restored_exist),
                                  len(restored_data) + len(restored_exist))
    a.events.clear()
    writes = ([set_data(p) for p in restored_data]
              + [create(p + "/d") for p in restored_child]
              + [create(p) for p in restored_exist])
    assert set(b.pipeline(writes)) == {0}
    a.sync()
    expected = sorted(
        [("NodeDataChanged", p) for p in restored_data]
        + [("NodeChildrenChanged", p) for p in restored_child]
        + [("NodeCreated", p) for p in restored_exist])
    assert sorted(a.events) == expected
    assert len(a.events) == len(expected)
    # (ZooKeeper 3.8 then still prints "1 connections watching 0 paths": a
    # fired watch leaves its session's empty entry in watch2Paths. Not
    # asserted here.)
    assert wchs_total(server)[1:] == (0, 0)


def test_set_watches2_restores_persistent_watches(server):
    host, port = server.host, server.port
    a = connect(server)
    for p in ["/pw", "/pw/a", "/rw", "/rw/a"]:
        assert a.call(*create(p))[1] == 0
    a.sync()
    last_zxid, sid, pw = a.last_zxid, a.session_id, a.passwd
    a.close_socket()
    b = connect(server)
    assert set(b.pipeline([set_data("/pw"), set_data("/rw/a")])) == {0}
    a = connect(server, session_id=sid, passwd=pw, last_zxid=last_zxid)
    (op, body), = set_watches_batches(last_zxid, ["/pw/a"], [], [], ["/pw"], ["/rw"])
    assert op == OP_SET_WATCHES2
    a.send(op, body, xid=SET_WATCHES_XID)
    assert a.wait(SET_WATCHES_XID)[1] == 0
    a.sync()
    # Persistent watches never replay what was missed.
    assert a.events == []
    assert set(b.pipeline([set_data("/pw"), create("/pw/b"), set_data("/pw/a"),
                           create("/rw/a/x"), set_data("/rw")])) == {0}
    a.sync()
    assert a.events == [("NodeDataChanged", "/pw"), ("NodeChildrenChanged", "/pw"),
                        ("NodeDataChanged", "/pw/a"), ("NodeCreated", "/rw/a/x"),
                        ("NodeDataChanged", "/rw")]


def parse_wch(out):
    """wchc / wchp text -> {key: set(values)}."""
    table, key = {}, None
    for line in out.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t"):
            table[key].add(line.strip())
        else:
            key = line.strip()
            table[key] = set()
    return table


def test_wchs_wchc_wchp_count_persistent_watches(server):
    """ZooKeeper 3.8 reports its data-watch table (DataTree.dumpWatches*):
    data and exist watches and both persistent kinds, one entry per session
    and path, but no child watches."""
    host, port = server.host, server.port
    s1 = connect(server)
    s2 = connect(server)
    for p in ["/a", "/b", "/c"]:
        assert s1.call(*create(p))[1] == 0
    s2.sync()
    assert s1.pipeline([
        (OP_ADD_WATCH, _str("/a") + _int(0)),   # persistent
        (OP_GET_DATA, _str("/a") + b"\1"),      # same path, same session
        (OP_ADD_WATCH, _str("/b") + _int(1)),   # persistent recursive
        (OP_GET_CHILDREN, _str("/c") + b"\1"),  # child watch: not listed
    ]) == [0, 0, 0, 0]
    assert s2.pipeline([
        (OP_ADD_WATCH, _str("/c") + _int(1)),
        (OP_EXISTS, _str("/nope") + b"\1"),
        (OP_GET_CHILDREN, _str("/a") + b"\1"),
    ]) == [0, -101, 0]
    one, two = "0x%x" % s1.session_id, "0x%x" % s2.session_id
    assert wchs_total(server) == (2, 4, 4)
    assert parse_wch(server_four_letter(server, "wchc")) == {
        one: {"/a", "/b"}, two: {"/c", "/nope"}}
    assert parse_wch(server_four_letter(server, "wchp")) == {
        "/a": {one}, "/b": {one}, "/c": {two}, "/nope": {two}}
