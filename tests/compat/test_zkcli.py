"""zkCli.sh sessions: the server under test must print what ZooKeeper prints.

Each script under zkcli/ is run through Debian's zkCli.sh twice: against a
fresh Apache ZooKeeper 3.8 started here (the reference) and against a fresh
server under test (the `server` fixture).  Transcripts are normalised (times,
session ids, zxid values by rank) and must be equal.  With
WARDEN_TEST_TARGET=zookeeper both sides are ZooKeeper, which checks the
harness and the normaliser themselves.
"""

import difflib
import os
import threading
from pathlib import Path

import pytest

import zkcli_transcript as zt
from conftest import serve
from servers import ZooKeeperServer, make_target_server

HERE = Path(__file__).resolve().parent
SCRIPTS = sorted((HERE / "zkcli").glob("*.txt"))
OUT_DIR = Path(os.environ.get("ZKCLI_TRANSCRIPT_DIR", "/tmp/warden-zkcli-transcripts"))

pytestmark = pytest.mark.skipif(
    not os.path.exists(zt.ZKCLI), reason=f"{zt.ZKCLI} missing (install Debian's zookeeper-bin)")


def _run(hosts, text, result, key):
    try:
        result[key] = zt.run_script(hosts, text)
    except Exception as e:  # reported by the test thread
        result[key] = e


def server_settings(text):
    """A script's `#!cfg key=value` and `#!jvm -Dflag` lines: how both
    servers are configured for it."""
    cfg, jvm = {}, []
    for line in text.splitlines():
        if line.startswith("#!cfg "):
            k, _, v = line[len("#!cfg "):].strip().partition("=")
            cfg[k] = v
        elif line.startswith("#!jvm "):
            jvm.extend(line[len("#!jvm "):].split())
    return cfg, jvm


@pytest.fixture
def configured_server(request):
    """The `server` fixture, or a server under test started with the
    script's own settings."""
    cfg, jvm = server_settings(request.getfixturevalue("script").read_text())
    if not cfg and not jvm:
        yield request.getfixturevalue("server")
        return
    yield from serve(request, make_target_server(extra_cfg=cfg, jvm_flags=jvm))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_zkcli_transcript_matches_zookeeper(script, configured_server, request):
    server = configured_server
    text = script.read_text()
    cfg, jvm = server_settings(text)
    result = {}
    with ZooKeeperServer(extra_cfg=cfg, jvm_flags=jvm) as ref:
        # both sessions at once: the servers are independent
        t = threading.Thread(target=_run, args=(ref.hosts, text, result, "ref"))
        t.start()
        _run(server.hosts, text, result, "sut")
        t.join()
        if isinstance(result["ref"], Exception):
            request.node.add_report_section("call", "reference ZooKeeper log", ref.log_tail())
            raise result["ref"]
    if isinstance(result["sut"], Exception):
        raise result["sut"]
    ref_lines = zt.normalise(result["ref"])
    sut_lines = zt.normalise(result["sut"])
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for key, lines in (("zookeeper", ref_lines), (server.kind, sut_lines)):
        (OUT_DIR / f"{script.stem}.{key}.txt").write_text("\n".join(lines) + "\n")
    # a transcript where nothing ran would compare equal: guard against that
    n_cmds = len(zt.parse_script(text))
    assert sum(1 for l in ref_lines if l.startswith("[")) >= n_cmds
    if ref_lines != sut_lines:
        diff = "\n".join(difflib.unified_diff(
            ref_lines, sut_lines, "zookeeper-3.8", f"{server.describe()}", lineterm=""))
        pytest.fail(f"zkCli transcript of {script.name} differs:\n{diff}", pytrace=False)


# ------------------------------------------------ the normaliser itself ---

STAT_A = """[A] get -s /x
v
cZxid = 0x{c:x}
ctime = Sun Nov 22 00:24:15 UTC 2026
mZxid = 0x{m:x}
mtime = Sun Nov 22 00:24:{s} UTC 2026
pZxid = 0x{c:x}
ephemeralOwner = 0x{o:x}
SLF4J: noise
2026-11-22 00:24:15,123 [myid:] - INFO  [main:Foo@1] - log line"""


def _t(**kw):
    base = dict(c=2, m=5, s="15", o=0x1000005551e0000)
    base.update(kw)
    return STAT_A.format(**base).splitlines()


def test_normaliser_keeps_zxid_order_not_values():
    assert zt.normalise(_t()) == zt.normalise(_t(c=0x100000002, m=0x100000009, s="59",
                                                 o=0x2000000000001))
    # order of zxids matters
    assert zt.normalise(_t()) != zt.normalise(_t(c=5, m=2))
    # equality of zxids matters
    assert zt.normalise(_t()) != zt.normalise(_t(m=2))
    # ephemeral vs not matters
    assert zt.normalise(_t()) != zt.normalise(_t(o=0))


def test_normaliser_drops_noise_and_keeps_data():
    n = zt.normalise(_t())
    assert not any("SLF4J" in l or "INFO" in l for l in n)
    assert "ctime = <TIME>" in n and "ephemeralOwner = session1" in n
    other = _t()
    other[1] = "w"
    assert zt.normalise(other) != n
    epoch = zt.normalise(["ctime = Thu Jan 01 00:00:00 UTC 1970"])
    assert epoch == ["ctime = <EPOCH>"]
