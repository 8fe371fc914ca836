#!/usr/bin/env python3
"""Run a zkCli.sh session script against a server and print a normalised
transcript.

Script format (tests/compat/zkcli/*.txt), one command per line:

    # comment
    A: create /node "data"      <- command for zkCli session A
    B: ls -w /node              <- session B (a second zkCli.sh JVM)
    create /x                   <- no prefix = session A

Each session is one zkCli.sh JVM (``zkCli.sh -server host:port``) fed on
stdin.  Debian's zkCli.sh has no jline 2, so it reads plain lines and prints
no prompt.  After every command the tool sends ``printwatches`` (prints
``printwatches is on``, no server round trip) as an end-of-output marker, so
each command's output is cut exactly.  Watch events are printed by the
client's event thread; a script makes them land deterministically by sending
``sync <path>`` on the watching session after the change: the sync callback
runs on the same event thread, after the notification.

Sessions still open at the end get ``quit`` in order of first use.

``A: !after 1.5 addauth kerberos x`` sends the command, waits that many
seconds, and only then sends the end-of-output marker, so everything the
command caused asynchronously lands in its own output.  It is for what no
command can wait for, such as the AuthFailed event after a failed
``addauth`` (zkCli sends the auth packet without waiting for its answer).

Usage:  zkcli_transcript.py HOST:PORT SCRIPT [--raw]
"""

import os
import queue
import re
import subprocess
import sys
import threading
import time

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
MARKER_CMD = "printwatches"
MARKER_RE = re.compile(r"^printwatches is (on|off)$")
CONNECTED_LINE = "WatchedEvent state:SyncConnected type:None path:null"
CMD_TIMEOUT = float(os.environ.get("ZKCLI_CMD_TIMEOUT", "30"))

CLIENT_JVMFLAGS = "-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto"


class TranscriptError(RuntimeError):
    pass


class CliSession:
    def __init__(self, name, hosts):
        self.name = name
        env = dict(os.environ)
        env["TZ"] = "UTC"
        env.setdefault("CLIENT_JVMFLAGS", CLIENT_JVMFLAGS)
        self.proc = subprocess.Popen(
            [ZKCLI, "-server", hosts],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.banner = self._read_until(lambda l: l == CONNECTED_LINE, "connection")
        self.closed = False

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # EOF

    def _read_until(self, stop, what, timeout=CMD_TIMEOUT):
        got = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TranscriptError(
                    f"session {self.name}: no {what} after {timeout}s; output so far:\n"
                    + "\n".join(got))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                if what == "exit":
                    return got
                raise TranscriptError(
                    f"session {self.name}: zkCli.sh exited while waiting for {what}; "
                    "output:\n" + "\n".join(got))
            if stop(line):
                return got
            got.append(line)

    def run(self, cmd):
        wait = 0.0
        if cmd.startswith("!after "):
            _, seconds, cmd = cmd.split(None, 2)
            wait = float(seconds)
        self.proc.stdin.write(cmd + "\n")
        if cmd.split()[:1] == ["quit"]:
            self.proc.stdin.close()
            out = self._read_until(lambda l: False, "exit")
            self.proc.wait(timeout=CMD_TIMEOUT)
            self.closed = True
            # the Closed event is made by the client while the JVM exits
            # (racy, and nothing the server said): leave it out
            return [l for l in out if l not in ("", "WATCHER::")
                    and not l.startswith("WatchedEvent state:Closed")]
        self.proc.stdin.flush()
        time.sleep(wait)
        self.proc.stdin.write(MARKER_CMD + "\n")
        self.proc.stdin.flush()
        return self._read_until(lambda l: MARKER_RE.match(l) is not None, f"output of {cmd!r}")

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            self.proc.wait()


def parse_script(text):
    steps = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([A-Z]):\s*(.*)$", line)
        if m:
            steps.append((m.group(1), m.group(2)))
        else:
            steps.append(("A", line))
    return steps


def run_script(hosts, script_text):
    """Run the script; return the raw transcript (list of lines)."""
    sessions = {}
    out = []
    try:
        for name, cmd in parse_script(script_text):
            s = sessions.get(name)
            if s is None or s.closed:
                s = sessions[name] = CliSession(name, hosts)
                out.append(f"[{name}] <connected>")
            out.append(f"[{name}] {cmd}")
            out.extend(s.run(cmd))
        for name, s in sessions.items():
            if not s.closed:
                out.append(f"[{name}] quit")
                out.extend(s.run("quit"))
    finally:
        for s in sessions.values():
            s.kill()
    return out


# ------------------------------------------------------------ normalising ---

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d[,.]\d+ ")
DATE = r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d [A-Z]{2,5} \d{4}"
TIME_LINE = re.compile(r"^(ctime|mtime) = (" + DATE + r")$")
ZXID_LINE = re.compile(r"^(cZxid|mZxid|pZxid) = (0x[0-9a-fA-F]+)$")
OWNER_LINE = re.compile(r"^ephemeralOwner = (0x[0-9a-fA-F]+)$")
HOSTPORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")
EVENT_ZXID = re.compile(r" zxid: -?\d+$")


def normalise(lines):
    """Make two transcripts of the same script comparable.

    * drops log lines, SLF4J noise and the client-generated Closed event;
    * times -> <TIME> (the epoch, shown for /, is kept);
    * zxids -> z<rank> over the distinct zxids of the transcript, so equality
      and order survive but absolute values do not matter;
    * non-zero ephemeralOwner (session ids) -> session<k> in order of
      appearance; host:port -> HOST:PORT.
    """
    zxids = sorted({int(m.group(2), 16) for l in lines if (m := ZXID_LINE.match(l))})
    rank = {z: i for i, z in enumerate(zxids)}
    sessions = {}
    out = []
    skip_closed = 0
    for l in lines:
        if l.startswith("SLF4J:") or LOG_LINE.match(l):
            continue
        l = EVENT_ZXID.sub("", l)
        if l == "WatchedEvent state:Closed type:None path:null":
            # printed by the client while it exits; racy and client-made
            while out and out[-1] in ("", "WATCHER::"):
                out.pop()
            continue
        if m := TIME_LINE.match(l):
            t = m.group(2)
            l = f"{m.group(1)} = " + ("<EPOCH>" if t.startswith("Thu Jan 01 00:00:00") else "<TIME>")
        elif m := ZXID_LINE.match(l):
            l = f"{m.group(1)} = z{rank[int(m.group(2), 16)]}"
        elif m := OWNER_LINE.match(l):
            v = int(m.group(1), 16)
            if v != 0:
                sessions.setdefault(v, f"session{len(sessions) + 1}")
                l = f"ephemeralOwner = {sessions[v]}"
        l = HOSTPORT.sub("HOST:PORT", l)
        out.append(l)
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    hosts, script = argv[1], argv[2]
    with open(script) as f:
        raw = run_script(hosts, f.read())
    lines = raw if "--raw" in argv else normalise(raw)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
