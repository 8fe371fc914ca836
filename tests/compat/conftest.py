"""Fixtures for the compatibility suite.

Environment:
  WARDEN_TEST_TARGET  warden (default) | zookeeper — the server under test
  WARDEN_BIN          Warden binary (default target/release/warden)
  WARDEN_SHARDS       shards=N written to zoo.cfg (default 1)
"""

import logging
import re
import time

import pytest
from kazoo.client import KazooClient

from servers import ServerStartError, make_target_server, target_name

# Set after the first failed start, so that a server that cannot start fails
# every test at once instead of making each wait for the readiness timeout.
_start_failure = None


def pytest_report_header(config):
    import os

    return (
        f"compat target: {target_name()}, "
        f"shards={os.environ.get('WARDEN_SHARDS', '1')}, "
        f"WARDEN_BIN={os.environ.get('WARDEN_BIN', 'target/release/warden')}"
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "server_options(**kw): keyword arguments for the server under test "
        "(extra_cfg=dict of zoo.cfg lines, jaas=JAAS file text)",
    )


@pytest.fixture(scope="session")
def target():
    """'warden' or 'zookeeper'."""
    return target_name()


@pytest.fixture
def server(request):
    """A fresh server under test: free loopback port, empty data dir.

    Its log is attached to the report of a failing test. A test marked
    ``server_options(...)`` gets a server started with those options.
    """
    options = request.node.get_closest_marker("server_options")
    yield from serve(request, make_target_server(**(options.kwargs if options else {})))


def serve(request, srv):
    """Starts `srv`, yields it, then stops it and removes its directory; its
    log is attached to the report of a failing test. For fixtures."""
    global _start_failure
    if _start_failure is not None:
        pytest.fail(f"server under test could not start earlier in this run:\n{_start_failure}",
                    pytrace=False)
    try:
        srv.start()
    except ServerStartError as e:
        _start_failure = str(e)
        srv.stop()
        pytest.fail(f"server under test could not start:\n{e}", pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            request.node.add_report_section(
                "call", f"server log ({srv.log_path})", srv.log_tail()
            )
        srv.cleanup()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


class _SessionLog(logging.Handler):
    """Keeps the session timeouts kazoo logs when a session is established."""

    def __init__(self):
        super().__init__(level=1)
        self.negotiated = []
        self.expired = 0
        self.auth_failed = 0

    def emit(self, record):
        m = re.search(r"negotiated session timeout: (\d+)", record.getMessage())
        if m:
            self.negotiated.append(int(m.group(1)))
        if "Session has expired" in record.getMessage():
            self.expired += 1
        if "AUTH_FAILED closing" in record.getMessage():
            self.auth_failed += 1
        if record.levelno >= logging.INFO:
            logging.getLogger("kazoo.client").handle(record)


def expiries_seen(client):
    """How many times kazoo was told its session had expired."""
    return client._compat_session_log.expired


def auth_failures_seen(client):
    """How many times kazoo gave up a connection as AUTH_FAILED."""
    return client._compat_session_log.auth_failed


def negotiated_timeout(client):
    """Session timeout (ms) the server granted to `client`, as kazoo saw it."""
    return client._compat_session_log.negotiated[-1]


@pytest.fixture
def make_client(server):
    """Factory for connected KazooClients to the server under test."""
    clients = []

    def make(timeout=10.0, connect=True, **kw):
        kw.setdefault("hosts", server.hosts)
        log = logging.getLogger(f"compat.kazoo.{id(kw)}.{len(clients)}")
        log.setLevel(1)
        log.propagate = False
        handler = _SessionLog()
        log.addHandler(handler)
        kw.setdefault("logger", log)
        c = KazooClient(timeout=timeout, **kw)
        c._compat_session_log = handler
        clients.append(c)
        if connect:
            c.start(timeout=15)
        return c

    yield make
    for c in clients:
        try:
            c.stop()
            c.close()
        except Exception:  # pragma: no cover - teardown best effort
            logging.exception("closing kazoo client")


@pytest.fixture
def zk(make_client):
    return make_client()


@pytest.fixture
def zk2(make_client):
    return make_client()


def wait_until(pred, timeout=10.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
