//! Apache ZooKeeper 3.8 from Debian's `zookeeper` package, started the way
//! the compatibility harness (tests/compat/servers.py) starts it, on a free
//! loopback port, and killed on drop.

use crate::support::four_letter;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ZooKeeper {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

const HOW_TO_INSTALL: &str = "the differential test runs every sequence against Apache ZooKeeper \
     3.8: install Debian's `zookeeper` package (`sudo apt-get install zookeeper`, which brings \
     java; ./test.sh installs it), or point JAVA and ZK_CLASSPATH at a java binary and a \
     ZooKeeper 3.8 class path";

fn java() -> PathBuf {
    if let Some(java) = std::env::var_os("JAVA") {
        return PathBuf::from(java);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("java"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no `java` on PATH: {HOW_TO_INSTALL}"))
}

fn class_path() -> String {
    if let Ok(cp) = std::env::var("ZK_CLASSPATH") {
        return cp;
    }
    let dir = std::env::var("ZK_JAR_DIR").unwrap_or_else(|_| "/usr/share/java".into());
    let jar = Path::new(&dir).join("zookeeper.jar");
    assert!(
        jar.is_file(),
        "{} not found: {HOW_TO_INSTALL}",
        jar.display()
    );
    format!("{dir}/zookeeper.jar:{dir}/slf4j-simple.jar")
}

impl ZooKeeper {
    /// Starts ZooKeeper. `check_interval_ms` is the container/TTL sweep
    /// interval (`znode.container.checkIntervalMs`).
    #[allow(dead_code)] // the differential test uses start_with
    pub fn start(check_interval_ms: u64) -> ZooKeeper {
        ZooKeeper::start_with(check_interval_ms, "")
    }

    /// As [`ZooKeeper::start`], with extra zoo.cfg lines (ZooKeeper takes a
    /// key it does not know, e.g. `enforceQuota`, as `zookeeper.<key>`).
    pub fn start_with(check_interval_ms: u64, extra_cfg: &str) -> ZooKeeper {
        let java = java();
        let class_path = class_path();
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 dataDir={}\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n{}\n",
                data.display(),
                extra_cfg
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("zookeeper.log")).unwrap();
        let child = Command::new(&java)
            .args([
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dzookeeper.extendedTypesEnabled=true",
                "-Dzookeeper.admin.enableServer=false",
                &format!("-Dznode.container.checkIntervalMs={check_interval_ms}"),
                "-Dzookeeper.4lw.commands.whitelist=*",
                // The txn log lives in a temporary directory: no fsync.
                "-Dzookeeper.forceSync=no",
                "-cp",
                &class_path,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(&cfg)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HOW_TO_INSTALL}", java.display()));
        let mut zk = ZooKeeper { child, port, dir };
        zk.wait_ready();
        zk
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "ZooKeeper exited ({status}) before it was ready; log:\n{}\n{HOW_TO_INSTALL}",
                    self.log()
                );
            }
            // `ruok` answers before the server takes sessions; `srvr` says
            // "not currently serving requests" until it does.
            if let Ok(text) = four_letter(self.port, "srvr") {
                if text.contains("Mode: ") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("ZooKeeper was not ready after 60 s; log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("zookeeper.log")).unwrap_or_default()
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
