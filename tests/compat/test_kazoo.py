"""kazoo (PyPI) against the server under test.

Every client operation of ZooKeeper 3.8 that kazoo exposes, with assertions on
values, error types and Stat fields.  Run with WARDEN_TEST_TARGET=zookeeper to
check the expectations themselves against Apache ZooKeeper 3.8.
"""

import re
import socket
import struct
import threading
import time

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType, KazooState, KeeperState
from kazoo.security import ACL, OPEN_ACL_UNSAFE, Id, Permissions, make_digest_acl

import zkwire
from conftest import expiries_seen, negotiated_timeout, wait_until


# What the server under test may legitimately print differently from
# ZooKeeper: its version string.  Warden claims 3.8.x so that clients gating
# features on the version keep working.
VERSION_EXPECT = {
    "zookeeper": re.compile(r"^3\.8\.0-"),
    "warden": re.compile(r"^3\.8\.\d+"),
}


class Events:
    """Collects watch callbacks; lets a test wait for the n-th one."""

    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def __call__(self, *args):
        with self.cond:
            self.items.append(args[0] if len(args) == 1 else args)
            self.cond.notify_all()

    def wait(self, n=1, timeout=10.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.items) >= n, timeout)
        assert ok, f"expected {n} event(s), got {self.items}"
        return self.items[n - 1]


def now_ms():
    return int(time.time() * 1000)


# --------------------------------------------------------------- sessions ---

def test_connect_negotiates_requested_timeout(make_client):
    c = make_client(timeout=10.0)
    assert c.connected
    assert c.state == KazooState.CONNECTED
    assert negotiated_timeout(c) == 10000
    sid, pwd = c.client_id
    assert sid != 0
    assert isinstance(pwd, bytes) and len(pwd) == 16


@pytest.mark.parametrize("asked,expected", [(1.0, 4000), (100.0, 40000)])
def test_session_timeout_clamped_to_2_and_20_ticks(make_client, asked, expected):
    c = make_client(timeout=asked)
    assert negotiated_timeout(c) == expected


def test_two_clients_get_distinct_sessions(zk, zk2):
    assert zk.client_id[0] != zk2.client_id[0]
    assert zk.client_id[1] != zk2.client_id[1]


# ----------------------------------------------------------------- create ---

def test_create_persistent_and_get(zk):
    before = now_ms()
    path = zk.create("/p", b"hello")
    assert path == "/p"
    data, st = zk.get("/p")
    assert data == b"hello"
    assert st.version == 0 and st.cversion == 0 and st.aversion == 0
    assert st.czxid == st.mzxid == st.pzxid and st.czxid > 0
    assert st.dataLength == 5 and st.numChildren == 0
    assert st.ephemeralOwner == 0
    assert st.ctime == st.mtime
    assert before - 5000 <= st.ctime <= now_ms() + 5000


def test_create_empty_value_and_include_data(zk):
    path, st = zk.create("/e", include_data=True)
    assert path == "/e"
    assert st.dataLength == 0 and st.version == 0
    data, st2 = zk.get("/e")
    assert data == b""
    assert st2 == st


def test_null_data_is_kept_apart_from_empty(server, zk):
    """A null buffer (jute length -1) is stored and answered as null.

    kazoo's create()/set() only send bytes, so null goes through kazoo's own
    records (as zkCli's `create /x` sends it) and a raw session reads the
    reply bytes: getData must answer length -1, not 0.
    """
    from kazoo.protocol.serialization import Create, SetData, Transaction

    assert zkwire.kazoo_call(zk, Create("/nul", None, OPEN_ACL_UNSAFE, 0)) == "/nul"
    zk.create("/emp")
    data, st = zk.get("/nul")
    assert data is None and st.dataLength == 0
    assert zk.get("/emp")[0] == b""
    raw = zkwire.RawSession(server.host, server.port, timeout_ms=10000)
    try:
        assert raw.get_data("/nul")[:2] == (0, None)
        assert raw.get_data("/emp")[:2] == (0, b"")
        assert raw.create("/nul/raw", None) == (0, "/nul/raw")
        assert raw.get_data("/nul/raw")[:2] == (0, None)
        zk.set("/nul", b"xy")
        err, st = raw.set_data("/nul", None)
        assert err == 0 and st.dataLength == 0 and st.version == 2
        assert raw.get_data("/nul")[:2] == (0, None)
    finally:
        raw.close()
    # setData null inside a multi, through kazoo's SetData record
    zk.set("/nul", b"z")
    zkwire.kazoo_call(zk, Transaction([SetData("/nul", None, -1)]))
    data, st = zk.get("/nul")
    assert data is None and st.dataLength == 0 and st.version == 4
    # and a node set back to empty is empty, not null
    zk.set("/nul", b"")
    assert zk.get("/nul")[0] == b""


def test_create_existing_raises_node_exists(zk):
    zk.create("/dup", b"1")
    with pytest.raises(NodeExistsError):
        zk.create("/dup", b"2")
    assert zk.get("/dup")[0] == b"1"


def test_create_without_parent_raises_no_node(zk):
    with pytest.raises(NoNodeError):
        zk.create("/missing/child")
    assert zk.exists("/missing") is None


def test_create_makepath(zk):
    assert zk.create("/a/b/c", b"x", makepath=True) == "/a/b/c"
    assert zk.exists("/a") is not None
    assert zk.get_children("/a") == ["b"]
    assert zk.get("/a/b/c")[0] == b"x"


def test_create_sequential_suffix(zk):
    zk.create("/q")
    p1 = zk.create("/q/n-", b"", sequence=True)
    p2 = zk.create("/q/n-", b"", sequence=True)
    assert p1 == "/q/n-0000000000"
    assert p2 == "/q/n-0000000001"
    # the counter is the parent's cversion: a plain child bumps it too
    zk.create("/q/plain")
    assert zk.create("/q/", sequence=True) == "/q/0000000003"
    assert zk.exists("/q").cversion == 4
    # Observed on ZooKeeper 3.8: a delete bumps the parent's visible cversion
    # but not the counter the next sequential create uses.
    zk.delete("/q/plain")
    assert zk.exists("/q").cversion == 5
    assert zk.create("/q/n-", sequence=True) == "/q/n-0000000004"
    assert zk.exists("/q").cversion == 6
    assert sorted(zk.get_children("/q")) == [
        "0000000003", "n-0000000000", "n-0000000001", "n-0000000004"]


def test_create_ephemeral_owner_is_session(zk):
    zk.create("/eph", b"e", ephemeral=True)
    st = zk.exists("/eph")
    assert st.ephemeralOwner == zk.client_id[0]
    assert st.numChildren == 0


def test_create_ephemeral_sequential(zk):
    zk.create("/es")
    p = zk.create("/es/lock-", b"", ephemeral=True, sequence=True)
    assert re.fullmatch(r"/es/lock-\d{10}", p)
    assert p == "/es/lock-0000000000"
    assert zk.exists(p).ephemeralOwner == zk.client_id[0]


def test_ephemeral_cannot_have_children(zk):
    zk.create("/eparent", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eparent/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/eparent/child", ephemeral=True)


def test_create_container(zk, target):
    path, st = zkwire.create_container(zk, "/ctr", b"c")
    assert path == "/ctr"
    # the server marks containers in ephemeralOwner but shows clients 0
    assert st.ephemeralOwner == 0
    assert zk.exists("/ctr").ephemeralOwner == 0
    assert st.dataLength == 1 and st.version == 0
    zk.create("/ctr/child")
    assert zk.exists("/ctr").numChildren == 1
    with pytest.raises(NodeExistsError):
        zkwire.create_container(zk, "/ctr")


def test_container_removed_after_last_child(zk, target):
    zkwire.create_container(zk, "/ctr2")
    zk.create("/ctr2/child")
    zk.delete("/ctr2/child")
    # ZooKeeper reaps containers on a timer (60 s by default; the harness
    # sets 1 s for its ZooKeeper through -Dznode.container.checkIntervalMs).
    wait_until(lambda: zk.exists("/ctr2") is None, timeout=70,
               what="empty container to be removed")


def test_create_ttl(zk):
    path, st = zkwire.create_ttl(zk, "/ttl", b"t", ttl=60000)
    assert path == "/ttl"
    # the TTL lives in ephemeralOwner on the server; clients are shown 0
    assert st.ephemeralOwner == 0 and st.version == 0 and st.dataLength == 1
    p2, _ = zkwire.create_ttl(zk, "/ttl-", ttl=60000, sequential=True)
    assert re.fullmatch(r"/ttl-\d{10}", p2)
    assert zk.get("/ttl")[0] == b"t"


def test_ttl_node_expires(zk):
    zkwire.create_ttl(zk, "/ttlx", b"", ttl=200)
    wait_until(lambda: zk.exists("/ttlx") is None, timeout=70,
               what="TTL node to be removed")


# ---------------------------------------------------------------- get/set ---

def test_set_with_versions(zk):
    zk.create("/v", b"0")
    st1 = zk.set("/v", b"one")
    assert st1.version == 1 and st1.dataLength == 3
    assert st1.mzxid > st1.czxid
    assert st1.mtime >= st1.ctime
    st2 = zk.set("/v", b"two", version=1)
    assert st2.version == 2
    with pytest.raises(BadVersionError):
        zk.set("/v", b"three", version=1)
    data, st = zk.get("/v")
    assert data == b"two"
    assert st == st2


def test_set_missing_node_raises(zk):
    with pytest.raises(NoNodeError):
        zk.set("/nope", b"x")
    with pytest.raises(NoNodeError):
        zk.get("/nope")


def test_exists_stat_relations(zk):
    assert zk.exists("/s") is None
    zk.create("/s", b"abc")
    parent0 = zk.exists("/s")
    zk.create("/s/c1", b"")
    c1 = zk.exists("/s/c1")
    parent1 = zk.exists("/s")
    assert parent1.pzxid == c1.czxid
    assert parent1.cversion == 1 and parent1.numChildren == 1
    assert parent1.mzxid == parent0.mzxid and parent1.version == 0
    assert parent1.czxid == parent0.czxid
    zk.delete("/s/c1")
    parent2 = zk.exists("/s")
    assert parent2.cversion == 2 and parent2.numChildren == 0
    assert parent2.pzxid > c1.czxid
    zk.set("/s", b"abcd")
    parent3 = zk.exists("/s")
    assert parent3.mzxid > parent2.pzxid
    assert parent3.pzxid == parent2.pzxid
    assert parent3.dataLength == 4 and parent3.version == 1
    # zxids are global: a node created later has a larger czxid
    zk.create("/s2")
    assert zk.exists("/s2").czxid > parent3.mzxid


def test_root_stat(zk):
    st = zk.exists("/")
    assert st.czxid == 0 and st.ctime == 0 and st.ephemeralOwner == 0
    assert "zookeeper" in zk.get_children("/")


def test_get_children_and_include_data(zk):
    zk.create("/kids")
    for n in ("b", "a", "c"):
        zk.create(f"/kids/{n}", n.encode())
    assert sorted(zk.get_children("/kids")) == ["a", "b", "c"]
    children, st = zk.get_children("/kids", include_data=True)
    assert sorted(children) == ["a", "b", "c"]
    assert st.numChildren == 3 and st.cversion == 3
    with pytest.raises(NoNodeError):
        zk.get_children("/nokids")


# ----------------------------------------------------------------- delete ---

def test_delete_with_version(zk):
    zk.create("/d", b"x")
    zk.set("/d", b"y")
    with pytest.raises(BadVersionError):
        zk.delete("/d", version=0)
    assert zk.exists("/d") is not None
    zk.delete("/d", version=1)
    assert zk.exists("/d") is None
    with pytest.raises(NoNodeError):
        zk.delete("/d")


def test_delete_not_empty(zk):
    zk.create("/ne/child", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete("/ne")
    assert zk.get_children("/ne") == ["child"]


def test_delete_recursive_and_ensure_path(zk):
    zk.ensure_path("/r/x/y")
    zk.ensure_path("/r/x/y")  # idempotent
    zk.create("/r/x/y/z", b"1")
    zk.create("/r/w", b"2")
    assert sorted(zk.get_children("/r")) == ["w", "x"]
    zk.delete("/r", recursive=True)
    assert zk.exists("/r") is None
    assert zk.exists("/r/x/y/z") is None


# ------------------------------------------------------------------- multi ---

def test_transaction_success(zk):
    zk.create("/t", b"0")
    tx = zk.transaction()
    tx.create("/t/a", b"a")
    tx.check("/t", 0)
    tx.set_data("/t", b"1")
    tx.create("/t/b")
    tx.delete("/t/b")
    res = tx.commit()
    assert res[0] == "/t/a"
    assert res[1] is True
    assert res[2].version == 1 and res[2].dataLength == 1
    assert res[3] == "/t/b"
    assert res[4] is True
    # all ops of one multi share one zxid
    assert zk.exists("/t/a").czxid == zk.exists("/t").mzxid
    assert zk.get_children("/t") == ["a"]


def test_transaction_failure_rolls_back(zk):
    zk.create("/tf", b"0")
    tx = zk.transaction()
    tx.create("/tf/new", b"")
    tx.set_data("/tf", b"x", version=7)   # fails: bad version
    tx.delete("/tf")
    res = tx.commit()
    assert len(res) == 3
    assert isinstance(res[0], RolledBackError)
    assert isinstance(res[1], BadVersionError)
    assert isinstance(res[2], RuntimeInconsistency)
    assert zk.exists("/tf/new") is None
    data, st = zk.get("/tf")
    assert data == b"0" and st.version == 0


def test_transaction_check_missing_node(zk):
    tx = zk.transaction()
    tx.check("/absent", 0)
    res = tx.commit()
    assert len(res) == 1 and isinstance(res[0], NoNodeError)


# -------------------------------------------------------------------- ACLs ---

def test_get_and_set_acls_with_aversion(zk):
    zk.create("/acl", b"")
    acls, st = zk.get_acls("/acl")
    assert acls == OPEN_ACL_UNSAFE
    assert acls[0].perms == Permissions.ALL
    assert acls[0].id == Id("world", "anyone")
    assert st.aversion == 0
    ro = [ACL(Permissions.READ | Permissions.ADMIN, Id("world", "anyone"))]
    st1 = zk.set_acls("/acl", ro, version=0)
    assert st1.aversion == 1 and st1.version == 0
    with pytest.raises(BadVersionError):
        zk.set_acls("/acl", OPEN_ACL_UNSAFE, version=0)
    acls2, st2 = zk.get_acls("/acl")
    assert acls2 == ro and st2.aversion == 1
    with pytest.raises(NoAuthError):  # no WRITE any more
        zk.set("/acl", b"x")
    with pytest.raises(NoNodeError):
        zk.get_acls("/no-such-acl")


def test_digest_acl_enforced(zk, make_client):
    acl = make_digest_acl("alice", "secret", all=True)
    zk.add_auth("digest", "alice:secret")
    zk.create("/secure", b"s", acl=[acl])
    assert zk.get("/secure")[0] == b"s"
    other = make_client()
    with pytest.raises(NoAuthError):
        other.get("/secure")
    with pytest.raises(NoAuthError):
        other.set("/secure", b"x")
    with pytest.raises(NoAuthError):  # getACL needs READ or ADMIN
        other.get_acls("/secure")
    acls, _ = zk.get_acls("/secure")
    assert acls == [acl]
    assert acls[0].id.id.startswith("alice:")
    # the world may still create siblings: the ACL is per node
    other.create("/open")


# -------------------------------------------------------------------- sync ---

def test_sync(zk, zk2):
    zk.create("/sy", b"1")
    assert zk2.sync("/sy") == "/sy"
    assert zk2.get("/sy")[0] == b"1"


# ----------------------------------------------------------------- watches ---

def test_get_watch_fires_once_on_change(zk, zk2):
    zk.create("/w", b"0")
    ev = Events()
    zk.get("/w", watch=ev)
    zk2.set("/w", b"1")
    e = ev.wait(1)
    assert e.type == EventType.CHANGED
    assert e.path == "/w"
    assert e.state == KeeperState.CONNECTED
    zk2.set("/w", b"2")
    zk2.set("/w", b"3")
    zk.sync("/w")
    time.sleep(0.3)
    assert len(ev.items) == 1  # one-shot


def test_get_watch_fires_on_delete(zk, zk2):
    zk.create("/wd", b"0")
    ev = Events()
    zk.get("/wd", watch=ev)
    zk2.delete("/wd")
    e = ev.wait(1)
    assert (e.type, e.path) == (EventType.DELETED, "/wd")


def test_exists_watch_on_missing_node_fires_created(zk, zk2):
    ev = Events()
    assert zk.exists("/wc", watch=ev) is None
    zk2.create("/wc", b"")
    e = ev.wait(1)
    assert (e.type, e.path) == (EventType.CREATED, "/wc")


def test_exists_watch_on_node_fires_changed(zk, zk2):
    zk.create("/wx", b"")
    ev = Events()
    assert zk.exists("/wx", watch=ev) is not None
    zk2.set("/wx", b"1")
    e = ev.wait(1)
    assert (e.type, e.path) == (EventType.CHANGED, "/wx")


def test_children_watch_fires_child_event(zk, zk2):
    zk.create("/wk")
    ev = Events()
    assert zk.get_children("/wk", watch=ev) == []
    zk2.set("/wk", b"data change does not fire a child watch")
    zk2.create("/wk/a")
    e = ev.wait(1)
    assert (e.type, e.path) == (EventType.CHILD, "/wk")
    zk2.create("/wk/b")
    zk.sync("/wk")
    time.sleep(0.3)
    assert len(ev.items) == 1


def test_children_watch_and_data_watch_on_delete(zk, zk2):
    zk.create("/wb/c", makepath=True)
    child_ev, data_ev = Events(), Events()
    zk.get_children("/wb/c", watch=child_ev)
    zk.get("/wb/c", watch=data_ev)
    zk2.delete("/wb/c")
    assert (data_ev.wait(1).type, data_ev.items[0].path) == (EventType.DELETED, "/wb/c")
    assert (child_ev.wait(1).type, child_ev.items[0].path) == (EventType.DELETED, "/wb/c")


def test_watch_event_arrives_before_new_data(server, zk2):
    """On one connection the notification precedes any reply showing the change."""
    zk2.create("/order", b"0")
    raw = zkwire.RawSession(server.host, server.port, timeout_ms=10000)
    try:
        err, data, st = raw.get_data("/order", watch=True)
        assert (err, data, st.version) == (0, b"0", 0)
        zk2.set("/order", b"1")
        err, data, st = raw.get_data("/order")
        assert (err, data, st.version) == (0, b"1", 1)
        # frames: reply(get), event(NodeDataChanged=3, SyncConnected=3), reply(get)
        assert raw.frames == [("reply", 1, 0), ("event", 3, 3, "/order"), ("reply", 2, 0)]
    finally:
        raw.close()


def test_data_watch_recipe(zk, zk2):
    zk.create("/dw", b"v0")
    calls = Events()

    @zk.DataWatch("/dw")
    def watcher(data, stat):
        calls((data, stat.version if stat else None))

    assert calls.wait(1) == (b"v0", 0)
    zk2.set("/dw", b"v1")
    assert calls.wait(2) == (b"v1", 1)
    zk2.delete("/dw")
    assert calls.wait(3) == (None, None)


def test_children_watch_recipe(zk, zk2):
    zk.create("/cw")
    calls = Events()

    @zk.ChildrenWatch("/cw")
    def watcher(children):
        calls(sorted(children))

    assert calls.wait(1) == []
    zk2.create("/cw/x")
    assert calls.wait(2) == ["x"]
    zk2.create("/cw/y")
    assert calls.wait(3) == ["x", "y"]


# ------------------------------------------------- session lifetime cases ---

def test_ephemeral_removed_on_close(zk, make_client):
    other = make_client()
    other.create("/gone", ephemeral=True)
    ev = Events()
    assert zk.exists("/gone", watch=ev) is not None
    other.stop()
    other.close()
    # closeSession is a transaction: once it is answered the node is gone
    assert zk.exists("/gone") is None
    assert (ev.wait(1).type, ev.items[0].path) == (EventType.DELETED, "/gone")


def test_ephemeral_removed_when_session_times_out(server, zk):
    raw = zkwire.RawSession(server.host, server.port, timeout_ms=4000)
    try:
        assert raw.timeout_ms == 4000
        err, path = raw.create("/silent", b"", flags=zkwire.FLAG_EPHEMERAL)
        assert err == 0 and path == "/silent"
        st = zk.exists("/silent")
        assert st.ephemeralOwner == raw.session_id
        time.sleep(1.5)
        assert zk.exists("/silent") is not None  # not expired early
        # no pings: expiry after the timeout (+ up to a tick or two)
        t0 = time.monotonic()
        wait_until(lambda: zk.exists("/silent") is None, timeout=15,
                   what="ephemeral of a silent session to be removed")
        assert raw.is_closed_by_peer(wait=5), "expired session's socket left open"
        assert time.monotonic() - t0 < 15
    finally:
        raw.close()


def test_session_expired_by_closing_it_from_a_second_client(zk, make_client):
    victim = make_client(timeout=6.0)
    states = []
    victim.add_listener(states.append)
    victim.create("/vict", ephemeral=True)
    sid, pwd = victim.client_id
    thief = make_client(client_id=(sid, pwd))
    assert thief.client_id[0] == sid
    thief.stop()  # closes the session
    assert zk.exists("/vict") is None
    wait_until(lambda: KazooState.LOST in states, timeout=20,
               what="first client to see its session expire")
    wait_until(lambda: victim.connected, timeout=20, what="kazoo to reconnect")
    assert victim.client_id[0] != sid


def test_reconnect_with_session_id_and_password_keeps_session(server, zk, make_client):
    raw = zkwire.RawSession(server.host, server.port, timeout_ms=20000)
    try:
        err, _ = raw.create("/keep", b"", flags=zkwire.FLAG_EPHEMERAL)
        assert err == 0
    finally:
        raw.close()  # drop the TCP connection without closing the session
    c = make_client(timeout=12.0, client_id=(raw.session_id, raw.passwd))
    assert c.client_id[0] == raw.session_id
    assert negotiated_timeout(c) == 12000  # renegotiated on reconnect
    assert expiries_seen(c) == 0
    st = c.exists("/keep")
    assert st is not None and st.ephemeralOwner == raw.session_id
    c.create("/keep2", ephemeral=True)
    assert zk.exists("/keep2").ephemeralOwner == raw.session_id


def test_wrong_password_gets_session_expired(server, zk, make_client):
    raw = zkwire.RawSession(server.host, server.port, timeout_ms=20000)
    try:
        raw.create("/pw", b"", flags=zkwire.FLAG_EPHEMERAL)
        bad = bytes(b ^ 0xFF for b in raw.passwd)
        c = make_client(client_id=(raw.session_id, bad))
        # the server answered the reconnect with timeout 0 = expired; kazoo
        # then started a fresh session
        assert expiries_seen(c) == 1
        assert c.client_id[0] != raw.session_id
        # the real session is untouched
        assert zk.exists("/pw").ephemeralOwner == raw.session_id
    finally:
        raw.close()


# ----------------------------------------------------- four-letter words ---

def test_server_version(zk, target):
    v = zk.server_version()
    assert v[:2] == (3, 8)
    envi = zk.command(b"envi")
    m = re.search(r"^zookeeper\.version=(\S+)", envi, re.M)
    assert m and VERSION_EXPECT[target].match(m.group(1)), envi


def test_ruok(zk):
    assert zk.command(b"ruok") == "imok"


def test_srvr(zk, target):
    zk.create("/srvr1")
    out = zk.command(b"srvr")
    m = re.search(r"^Zookeeper version: (.+)$", out, re.M)
    assert m and VERSION_EXPECT[target].match(m.group(1)), out
    assert re.search(r"^Mode: standalone$", out, re.M), out
    zx = re.search(r"^Zxid: 0x([0-9a-f]+)$", out, re.M)
    assert zx, out
    assert int(zx.group(1), 16) >= zk.exists("/srvr1").czxid
    assert re.search(r"^Node count: \d+$", out, re.M), out
    assert re.search(r"^Latency min/avg/max: \S+/\S+/\S+$", out, re.M), out
    assert re.search(r"^Connections: \d+$", out, re.M), out


def test_stat_lists_clients(zk, zk2):
    out = zk.command(b"stat")
    assert out.startswith("Zookeeper version: "), out
    assert "Clients:" in out
    assert len(re.findall(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=", out, re.M)) >= 2, out
    assert re.search(r"^Mode: standalone$", out, re.M)
    assert re.search(r"^Node count: \d+$", out, re.M)


def _mntr(zk):
    out = zk.command(b"mntr")
    kv = {}
    for line in out.splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            kv[k] = v
    return out, kv


def test_mntr_counts(zk, target):
    _, before = _mntr(zk)
    for key in ("zk_version", "zk_server_state", "zk_znode_count",
                "zk_watch_count", "zk_ephemerals_count",
                "zk_num_alive_connections", "zk_avg_latency",
                "zk_outstanding_requests", "zk_approximate_data_size"):
        assert key in before, (key, before)
    assert VERSION_EXPECT[target].match(before["zk_version"])
    assert before["zk_server_state"] == "standalone"
    base = int(before["zk_znode_count"])
    zk.create("/m1")
    zk.create("/m1/a")
    zk.create("/m1/b", ephemeral=True)
    zk.get("/m1", watch=lambda e: None)
    out, after = _mntr(zk)
    assert int(after["zk_znode_count"]) == base + 3, out
    assert int(after["zk_ephemerals_count"]) == int(before["zk_ephemerals_count"]) + 1
    assert int(after["zk_watch_count"]) == int(before["zk_watch_count"]) + 1
    zk.delete("/m1/a")
    _, after2 = _mntr(zk)
    assert int(after2["zk_znode_count"]) == base + 2


def test_conf(zk, server):
    out = zk.command(b"conf")
    kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    assert kv["clientPort"] == str(server.port)
    assert kv["tickTime"] == "2000"
    assert kv["minSessionTimeout"] == "4000"
    assert kv["maxSessionTimeout"] == "40000"
    assert kv["dataDir"].startswith(str(server.data_dir))


def test_cons_shows_session(zk):
    out = zk.command(b"cons")
    sid = "0x%x" % zk.client_id[0]
    assert re.search(r"sid=" + re.escape(sid) + r"\b", out), (sid, out)
    assert re.search(r"^ /127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+", out, re.M), out


def test_envi(zk, target):
    out = zk.command(b"envi")
    assert out.startswith("Environment:"), out
    keys = ["zookeeper.version", "host.name", "os.name", "user.dir"]
    if target == "zookeeper":
        keys.append("java.version")  # Warden is no JVM and does not pretend to be
    for key in keys:
        assert re.search(r"^" + re.escape(key) + "=", out, re.M), (key, out)


def test_wchs_and_dump(zk, zk2):
    zk.create("/wc1")
    zk.create("/wc2")
    zk.get("/wc1", watch=lambda e: None)
    zk.exists("/wc2", watch=lambda e: None)
    zk2.get("/wc1", watch=lambda e: None)
    out = zk.command(b"wchs")
    assert re.search(r"^2 connections watching 2 paths$", out, re.M), out
    assert re.search(r"^Total watches:3$", out, re.M), out
    zk2.create("/dumped", ephemeral=True)
    dump = zk.command(b"dump")
    assert "Sessions with Ephemerals (1):" in dump, dump
    sid = "0x%x" % zk2.client_id[0]
    assert re.search(r"^" + sid + r":\n\t/dumped$", dump, re.M), dump


def test_isro(zk):
    assert zk.command(b"isro") == "rw"


def test_unknown_four_letter_word_is_ignored(zk, server):
    # ZooKeeper treats an unknown 4-byte header as a frame length and waits;
    # either way the server keeps serving.
    s = socket.create_connection((server.host, server.port), timeout=3)
    s.sendall(b"xyzw")
    s.close()
    assert zk.command(b"ruok") == "imok"


# ------------------------------------------------------------ frame sizes ---

def test_large_value_near_1mb(zk):
    big = bytes(range(256)) * (1047552 // 256)
    assert len(big) == 1047552
    zk.create("/big", big)
    data, st = zk.get("/big")
    assert data == big
    assert st.dataLength == len(big)
    zk.set("/big", big[::-1])
    assert zk.get("/big")[0] == big[::-1]


def test_frame_over_maxbuffer_closes_only_that_connection(server, zk, zk2):
    raw = zkwire.RawSession(server.host, server.port, timeout_ms=10000)
    try:
        raw.sock.sendall(struct.pack("!i", 2 * 1024 * 1024) + b"\0" * 65536)
        assert raw.is_closed_by_peer(wait=10)
    finally:
        raw.close()
    zk2.create("/still-ok", b"1")
    assert zk.get("/still-ok")[0] == b"1"


def test_kazoo_value_over_maxbuffer_loses_connection(zk, zk2):
    zk.create("/over", b"")
    with pytest.raises(ConnectionLoss):
        zk.set("/over", b"x" * (1024 * 1024 + 1024))
    assert zk2.get("/over")[0] == b""
    # the client reconnects to the same session and keeps working
    wait_until(lambda: zk.connected, timeout=20, what="reconnect")
    assert zk.get("/over")[0] == b""
