//! The seeded generator: a sequence of [`Op`]s over a small path space and a
//! few session slots. The same seed always gives the same sequence
//! (`ChaCha8Rng`, whose output is fixed by its specification).
//!
//! Ops name paths relative to the seed's root (`""` is the root itself), so
//! one sequence can run under any root. Versions are small literals, so
//! "right" and "wrong" versions both come up often without a model of the
//! tree; sequential names are guessed the same way (`s0000000003`).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Session slots per seed.
pub const SLOTS: usize = 3;

/// How a create is sent: its opcode, flags and (createTTL only) ttl.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateSpec {
    pub path: String,
    pub data: Vec<u8>,
    pub acl: AclChoice,
    /// 1 create, 15 create2, 19 createContainer, 21 createTTL.
    pub opcode: i32,
    pub flags: i32,
    pub ttl: i64,
}

/// ACLs the generator uses; `run.rs` turns them into ACL lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclChoice {
    Open,
    ReadOnly,
    /// world:anyone with these permission bits (0..=31).
    World(i32),
    /// ip:127.0.0.1, all permissions.
    Localhost,
    /// digest of user u1 (password p1), all permissions.
    DigestU1,
    /// world:anyone read + digest u1 all.
    ReadPlusU1,
    /// `auth:` (creator): needs an authenticated, non-ip identity.
    Creator,
    /// An empty list (InvalidACL).
    Empty,
    /// An unknown scheme (InvalidACL).
    BadScheme,
}

/// One op inside `multi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateSpec),
    Delete(String, i32),
    SetData(String, Vec<u8>, i32),
    Check(String, i32),
}

/// One op inside `multiRead`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadOp {
    GetData(String),
    GetChildren(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    Exists,
    GetData,
    GetChildren,
    GetChildren2,
}

/// One step of a sequence, run by session slot `s`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Create {
        s: usize,
        spec: CreateSpec,
    },
    Delete {
        s: usize,
        path: String,
        version: i32,
    },
    SetData {
        s: usize,
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Read {
        s: usize,
        kind: ReadKind,
        path: String,
        watch: bool,
    },
    GetAcl {
        s: usize,
        path: String,
    },
    SetAcl {
        s: usize,
        path: String,
        acl: AclChoice,
        version: i32,
    },
    Multi {
        s: usize,
        ops: Vec<MultiOp>,
    },
    MultiRead {
        s: usize,
        ops: Vec<ReadOp>,
    },
    /// mode 0 persistent, 1 persistent recursive.
    AddWatch {
        s: usize,
        path: String,
        mode: i32,
    },
    /// watcher type 1 children, 2 data, 3 any, 4 persistent, 5 recursive.
    RemoveWatches {
        s: usize,
        path: String,
        kind: i32,
    },
    CheckWatches {
        s: usize,
        path: String,
        kind: i32,
    },
    Sync {
        s: usize,
        path: String,
    },
    AllChildrenNumber {
        s: usize,
        path: String,
    },
    /// A path prefix, absolute once the root is put in front ("" = the root).
    GetEphemerals {
        s: usize,
        prefix: String,
    },
    /// closeSession, then a new session takes the slot.
    Close {
        s: usize,
    },
    /// addauth digest u<user>:p<user>.
    AddAuth {
        s: usize,
        user: u8,
    },
    WhoAmI {
        s: usize,
    },
    /// A request on the seed's quota nodes (what zkCli's setquota,
    /// listquota and delquota send), under `/zookeeper/quota<root>`.
    Quota {
        s: usize,
        op: QuotaOp,
    },
    /// addauth digest super:test, the configured super user.
    AddSuper {
        s: usize,
    },
}

/// Quota node requests; `rel` is the quota'd path relative to the seed's
/// root ("" = the root itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuotaOp {
    /// create /zookeeper/quota<root>[/rel] (null data, as zkCli creates it).
    Dir(String),
    /// create .../zookeeper_limits with StatsTrack text.
    CreateLimits(String, String),
    /// create .../zookeeper_stats "count=0,bytes=0".
    CreateStats(String),
    /// setData -1 of .../zookeeper_limits.
    SetLimits(String, String),
    /// getData of .../zookeeper_stats (listquota).
    GetStats(String),
    /// delete -1 of .../zookeeper_limits or (false) .../zookeeper_stats.
    Delete(String, bool),
}

impl Op {
    pub fn slot(&self) -> usize {
        match self {
            Op::Create { s, .. }
            | Op::Delete { s, .. }
            | Op::SetData { s, .. }
            | Op::Read { s, .. }
            | Op::GetAcl { s, .. }
            | Op::SetAcl { s, .. }
            | Op::Multi { s, .. }
            | Op::MultiRead { s, .. }
            | Op::AddWatch { s, .. }
            | Op::RemoveWatches { s, .. }
            | Op::CheckWatches { s, .. }
            | Op::Sync { s, .. }
            | Op::AllChildrenNumber { s, .. }
            | Op::GetEphemerals { s, .. }
            | Op::Close { s }
            | Op::AddAuth { s, .. }
            | Op::Quota { s, .. }
            | Op::AddSuper { s }
            | Op::WhoAmI { s } => *s,
        }
    }
}

/// The op sequence of `seed`.
pub fn generate(seed: u64, count: usize) -> Vec<Op> {
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed),
    };
    (0..count).map(|_| g.op()).collect()
}

/// As [`generate`], with quota and super-user ops mixed in from a second
/// stream, so the ops [`generate`] gives for a seed (and the REGRESSIONS
/// that name them) are unchanged: the result is that sequence, in order,
/// with the extra ops inserted, cut to `count`.
pub fn generate_with_quotas(seed: u64, count: usize) -> Vec<Op> {
    let base = generate(seed, count);
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(seed ^ QUOTA_STREAM),
    };
    let mut out = Vec::with_capacity(count);
    for op in base {
        if g.pct(7) {
            out.extend(g.quota_burst());
        }
        out.push(op);
    }
    out.truncate(count);
    out
}

/// Seeds the second stream of [`generate_with_quotas`].
const QUOTA_STREAM: u64 = 0x9e37_79b9_7f4a_7c15;

struct Gen {
    rng: ChaCha8Rng,
}

const NAMES: [&str; 3] = ["a", "b", "c"];

impl Gen {
    fn pct(&mut self, p: u32) -> bool {
        self.rng.gen_range(0..100) < p
    }

    fn name(&mut self) -> &'static str {
        NAMES[self.rng.gen_range(0..NAMES.len())]
    }

    fn seq_name(&mut self) -> String {
        format!("s{:010}", self.rng.gen_range(0..6))
    }

    /// A path relative to the root: mostly one or two levels of a/b/c, the
    /// root itself, guessed sequential names, a too-deep path.
    fn path(&mut self) -> String {
        match self.rng.gen_range(0..100) {
            0..=39 => self.name().to_string(),
            40..=74 => format!("{}/{}", self.name(), self.name()),
            75..=81 => String::new(),
            82..=91 => format!("{}/{}", self.name(), self.seq_name()),
            92..=95 => self.seq_name(),
            _ => format!("{}/{}/{}", self.name(), self.name(), self.name()),
        }
    }

    fn data(&mut self) -> Vec<u8> {
        let len = [0, 1, 3, 8, 20][self.rng.gen_range(0..5)];
        (0..len).map(|_| self.rng.gen_range(b'a'..=b'z')).collect()
    }

    fn version(&mut self) -> i32 {
        match self.rng.gen_range(0..100) {
            0..=29 => -1,
            30..=64 => 0,
            65..=84 => 1,
            85..=94 => 2,
            _ => 7,
        }
    }

    fn acl(&mut self) -> AclChoice {
        match self.rng.gen_range(0..100) {
            0..=69 => AclChoice::Open,
            70..=75 => AclChoice::ReadOnly,
            76..=83 => AclChoice::World(self.rng.gen_range(0..32)),
            84..=86 => AclChoice::Localhost,
            87..=90 => AclChoice::DigestU1,
            91..=93 => AclChoice::ReadPlusU1,
            94..=96 => AclChoice::Creator,
            97..=98 => AclChoice::Empty,
            _ => AclChoice::BadScheme,
        }
    }

    fn watcher_type(&mut self) -> i32 {
        self.rng.gen_range(1..=5)
    }

    fn create_spec(&mut self) -> CreateSpec {
        // Mostly the opcode a client would use for the mode; sometimes not.
        let flags = match self.rng.gen_range(0..100) {
            0..=29 => 0,
            30..=49 => 1,
            50..=64 => 2,
            65..=77 => 3,
            78..=86 => 4,
            87..=92 => 5,
            93..=97 => 6,
            _ => [7, -1][self.rng.gen_range(0..2)],
        };
        let natural = match flags {
            4 => 19,
            5 | 6 => 21,
            _ => [1, 15][self.rng.gen_range(0..2)],
        };
        let opcode = if self.pct(6) {
            [1, 15, 19, 21][self.rng.gen_range(0..4)]
        } else {
            natural
        };
        let ttl = match self.rng.gen_range(0..100) {
            0..=84 => 3_600_000,
            85..=89 => 0,
            90..=94 => -5,
            _ => 1 << 41,
        };
        // createTTL with a non-TTL mode and a negative ttl passes ZooKeeper
        // 3.8.0's checks (`validateTTL` only rejects ttl >= 0 there) and the
        // CreateTTLTxn then kills its SyncThread: not generated.
        let ttl = if opcode == 21 && !matches!(flags, 5 | 6) && ttl < 0 {
            3_600_000
        } else {
            ttl
        };
        let path = if matches!(flags, 2 | 3 | 6) && self.pct(60) {
            format!("{}/s", self.name())
        } else {
            match self.path() {
                // A sequential node named after the root itself would be a
                // child of "/", shared by every seed.
                root if root.is_empty() && matches!(flags, 2 | 3 | 6) => "s".to_string(),
                path => path,
            }
        };
        CreateSpec {
            path,
            data: self.data(),
            acl: self.acl(),
            opcode,
            flags,
            ttl,
        }
    }

    fn multi_op(&mut self) -> MultiOp {
        match self.rng.gen_range(0..10) {
            0..=3 => {
                let mut spec = self.create_spec();
                if spec.acl == AclChoice::Empty || spec.acl == AclChoice::BadScheme {
                    spec.acl = AclChoice::Open;
                }
                // Inside multi only well-formed TTL and container creates:
                // ZooKeeper 3.8.0 fails a TTL mode under another opcode with
                // a ClassCastException, and can accept an out-of-range ttl
                // that then kills its SyncThread when applied.
                match spec.flags {
                    4 => spec.opcode = 19,
                    5 | 6 => {
                        spec.opcode = 21;
                        spec.ttl = 3_600_000;
                    }
                    _ if spec.opcode == 19 || spec.opcode == 21 => spec.opcode = 15,
                    _ => {}
                }
                MultiOp::Create(spec)
            }
            4..=5 => MultiOp::Delete(self.path(), self.version()),
            6..=7 => MultiOp::SetData(self.path(), self.data(), self.version()),
            _ => MultiOp::Check(self.path(), self.version()),
        }
    }

    fn op(&mut self) -> Op {
        let s = self.rng.gen_range(0..SLOTS);
        match self.rng.gen_range(0..100) {
            0..=21 => Op::Create {
                s,
                spec: self.create_spec(),
            },
            22..=29 => Op::Delete {
                s,
                path: self.path(),
                version: self.version(),
            },
            30..=38 => Op::SetData {
                s,
                path: self.path(),
                data: self.data(),
                version: self.version(),
            },
            // A standalone check (opcode 13, outside multi) is left out: no
            // client sends it, and ZooKeeper 3.8.0 logs it as a txn it cannot
            // apply ("Unsupported Txn with type=13") and shuts down.
            39..=55 => {
                let kind = [
                    ReadKind::Exists,
                    ReadKind::GetData,
                    ReadKind::GetChildren,
                    ReadKind::GetChildren2,
                ][self.rng.gen_range(0..4)];
                Op::Read {
                    s,
                    kind,
                    path: self.path(),
                    watch: self.pct(65),
                }
            }
            56..=58 => Op::GetAcl {
                s,
                path: self.path(),
            },
            59..=61 => Op::SetAcl {
                s,
                path: self.path(),
                acl: self.acl(),
                version: self.version(),
            },
            62..=69 => {
                let n = self.rng.gen_range(1..=4);
                let mut ops: Vec<MultiOp> = (0..n).map(|_| self.multi_op()).collect();
                if self.pct(50) {
                    // A failing op in the middle.
                    let at = self.rng.gen_range(0..=ops.len());
                    let bad = if self.pct(50) {
                        MultiOp::Check(String::new(), 99)
                    } else {
                        MultiOp::Delete("c/c/c".into(), -1)
                    };
                    ops.insert(at, bad);
                }
                Op::Multi { s, ops }
            }
            70..=73 => {
                let n = self.rng.gen_range(1..=4);
                let ops = (0..n)
                    .map(|_| {
                        if self.pct(50) {
                            ReadOp::GetData(self.path())
                        } else {
                            ReadOp::GetChildren(self.path())
                        }
                    })
                    .collect();
                Op::MultiRead { s, ops }
            }
            74..=79 => Op::AddWatch {
                s,
                path: self.path(),
                mode: self.rng.gen_range(0..2),
            },
            80..=83 => Op::RemoveWatches {
                s,
                path: self.path(),
                kind: self.watcher_type(),
            },
            84..=86 => Op::CheckWatches {
                s,
                path: self.path(),
                kind: self.watcher_type(),
            },
            87..=88 => Op::Sync {
                s,
                path: self.path(),
            },
            89..=90 => Op::AllChildrenNumber {
                s,
                path: self.path(),
            },
            91..=92 => Op::GetEphemerals {
                s,
                prefix: if self.pct(30) {
                    String::new()
                } else {
                    self.name().to_string()
                },
            },
            93..=95 => Op::Close { s },
            96..=98 => Op::AddAuth {
                s,
                user: self.rng.gen_range(1..=2),
            },
            _ => Op::WhoAmI { s },
        }
    }
}

impl Gen {
    /// StatsTrack text as zkCli writes it: soft/hard count and bytes limits.
    fn limits(&mut self) -> String {
        let mut v = [-1i64; 4];
        for _ in 0..self.rng.gen_range(1..=2) {
            let i = self.rng.gen_range(0..4);
            v[i] = if i % 2 == 0 {
                self.rng.gen_range(1..=6)
            } else {
                self.rng.gen_range(0..=60)
            };
        }
        format!(
            "count={},bytes={}=;byteHardLimit={};countHardLimit={}",
            v[0], v[1], v[3], v[2]
        )
    }

    fn quota_rel(&mut self) -> String {
        if self.pct(50) {
            String::new()
        } else {
            self.name().to_string()
        }
    }

    /// One or more quota ops; a setquota (dirs, limits, stats) half the time.
    fn quota_burst(&mut self) -> Vec<Op> {
        let s = self.rng.gen_range(0..SLOTS);
        let rel = self.quota_rel();
        let op = |op| Op::Quota { s, op };
        match self.rng.gen_range(0..100) {
            0..=44 => {
                let mut ops = vec![op(QuotaOp::Dir(String::new()))];
                if !rel.is_empty() {
                    ops.push(op(QuotaOp::Dir(rel.clone())));
                }
                ops.push(op(QuotaOp::CreateLimits(rel.clone(), self.limits())));
                ops.push(op(QuotaOp::CreateStats(rel.clone())));
                ops.push(op(QuotaOp::GetStats(rel)));
                ops
            }
            45..=59 => vec![op(QuotaOp::SetLimits(rel, self.limits()))],
            60..=79 => vec![op(QuotaOp::GetStats(rel))],
            80..=89 => vec![op(QuotaOp::Delete(rel, self.pct(70)))],
            _ => vec![Op::AddSuper { s }],
        }
    }
}

#[test]
fn quota_ops_leave_the_base_sequence_in_order() {
    let base = generate(11, 300);
    let mixed = generate_with_quotas(11, 300);
    assert_eq!(mixed.len(), 300);
    let kept: Vec<&Op> = mixed
        .iter()
        .filter(|o| !matches!(o, Op::Quota { .. } | Op::AddSuper { .. }))
        .collect();
    assert!(kept.len() < 300, "some quota ops are mixed in");
    assert_eq!(kept, base.iter().take(kept.len()).collect::<Vec<_>>());
}

#[test]
fn generation_is_stable_per_seed() {
    assert_eq!(generate(7, 50), generate(7, 50));
    assert_ne!(generate(7, 50), generate(8, 50));
}
