//! What each connection sends: seeded choices of operation and key.

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use warden::proto::requests::{
    CreateRequest, DeleteRequest, PathWatchRequest, Request, SetDataRequest,
};
use warden::proto::types::{Acl, OpCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Create,
    SetData,
    Delete,
    GetData,
    Exists,
    GetChildren,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::SetData => "setData",
            Op::Delete => "delete",
            Op::GetData => "getData",
            Op::Exists => "exists",
            Op::GetChildren => "getChildren",
        }
    }
}

/// Operations with cumulative percentage weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix(Vec<(Op, u32)>);

impl Mix {
    /// From (op, percent) pairs adding up to 100; zero weights are dropped.
    pub fn new(parts: &[(Op, u32)]) -> Mix {
        let mut acc = 0;
        let mut v = Vec::new();
        for &(op, pct) in parts {
            if pct > 0 {
                acc += pct;
                v.push((op, acc));
            }
        }
        assert_eq!(acc, 100, "mix must add up to 100%");
        Mix(v)
    }

    pub fn pick(&self, roll: u32) -> Op {
        debug_assert!(roll < 100);
        self.0
            .iter()
            .find(|(_, upto)| roll < *upto)
            .map(|(op, _)| *op)
            .expect("weights add up to 100")
    }
}

/// Key paths: `{prefix}/k{i}` are prepopulated; creates go to `{dir}/c{conn}-{n}`.
#[derive(Clone, Debug)]
pub struct Keys {
    pub prefix: String,
    pub count: u64,
}

impl Keys {
    pub fn key(&self, i: u64) -> String {
        format!("{}/k{}", self.prefix, i)
    }
}

/// One connection's request generator.
pub struct Generator {
    mix: Mix,
    keys: Keys,
    /// Parent of this run's creates.
    create_dir: String,
    conn: usize,
    payload: Bytes,
    rng: SmallRng,
    created: u64,
    deleted: u64,
}

impl Generator {
    pub fn new(
        mix: Mix,
        keys: Keys,
        create_dir: String,
        conn: usize,
        payload: Bytes,
        seed: u64,
    ) -> Generator {
        Generator {
            mix,
            keys,
            create_dir,
            conn,
            payload,
            rng: SmallRng::seed_from_u64(seed ^ (conn as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            created: 0,
            deleted: 0,
        }
    }

    pub fn next(&mut self) -> (Request, Op) {
        let mut op = self.mix.pick(self.rng.gen_range(0..100));
        if op == Op::Delete && self.deleted >= self.created {
            op = Op::Create;
        }
        let req = match op {
            Op::Create => {
                let path = format!("{}/c{}-{}", self.create_dir, self.conn, self.created);
                self.created += 1;
                Request::Create(
                    OpCode::Create,
                    CreateRequest {
                        path,
                        data: self.payload.clone().into(),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                        ttl: None,
                    },
                )
            }
            Op::Delete => {
                // Oldest first: in one session, the create is processed first.
                let path = format!("{}/c{}-{}", self.create_dir, self.conn, self.deleted);
                self.deleted += 1;
                Request::Delete(DeleteRequest { path, version: -1 })
            }
            Op::SetData => Request::SetData(SetDataRequest {
                path: self.random_key(),
                data: self.payload.clone().into(),
                version: -1,
            }),
            Op::GetData => Request::GetData(self.path_watch()),
            Op::Exists => Request::Exists(self.path_watch()),
            Op::GetChildren => Request::GetChildren(self.path_watch()),
        };
        (req, op)
    }

    fn random_key(&mut self) -> String {
        let i = self.rng.gen_range(0..self.keys.count);
        self.keys.key(i)
    }

    fn path_watch(&mut self) -> PathWatchRequest {
        PathWatchRequest {
            path: self.random_key(),
            watch: false,
        }
    }
}

/// A create request for a persistent node (setup).
pub fn create(path: String, data: Bytes, flags: i32) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path,
            data: data.into(),
            acl: Acl::open_unsafe(),
            flags,
            ttl: None,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen(mix: Mix, seed: u64) -> Generator {
        let keys = Keys {
            prefix: "/p".into(),
            count: 10,
        };
        Generator::new(mix, keys, "/p/w".into(), 3, Bytes::from_static(b"x"), seed)
    }

    #[test]
    fn mix_picks_by_cumulative_weight() {
        let m = Mix::new(&[(Op::Create, 20), (Op::SetData, 0), (Op::Delete, 80)]);
        assert_eq!(m.pick(0), Op::Create);
        assert_eq!(m.pick(19), Op::Create);
        assert_eq!(m.pick(20), Op::Delete);
        assert_eq!(m.pick(99), Op::Delete);
        assert!(!m.0.iter().any(|(o, _)| *o == Op::SetData));
    }

    #[test]
    #[should_panic]
    fn mix_must_add_up() {
        Mix::new(&[(Op::GetData, 50)]);
    }

    #[test]
    fn deletes_only_what_was_created_oldest_first() {
        let mut g = gen(Mix::new(&[(Op::Delete, 100)]), 1);
        // Nothing created yet: a delete becomes a create.
        let (r, op) = g.next();
        assert_eq!(op, Op::Create);
        assert!(matches!(r, Request::Create(_, ref c) if c.path == "/p/w/c3-0"));
        let (r, op) = g.next();
        assert_eq!(op, Op::Delete);
        assert!(matches!(r, Request::Delete(ref d) if d.path == "/p/w/c3-0"));
    }

    #[test]
    fn same_seed_same_sequence() {
        let mix = Mix::new(&[(Op::GetData, 50), (Op::SetData, 50)]);
        let a: Vec<_> = (0..50).map(|_| gen(mix.clone(), 9).next().0).collect();
        let mut ga = gen(mix.clone(), 9);
        let mut gb = gen(mix.clone(), 9);
        for _ in 0..100 {
            assert_eq!(ga.next().0, gb.next().0);
        }
        let mut gc = gen(mix, 10);
        let differs = (0..100).any(|_| ga.next().0 != gc.next().0);
        assert!(differs);
        assert_eq!(a.len(), 50);
    }

    #[test]
    fn keys_stay_in_the_key_space() {
        let mut g = gen(Mix::new(&[(Op::GetData, 100)]), 5);
        for _ in 0..200 {
            match g.next().0 {
                Request::GetData(p) => {
                    let i: u64 = p.path.strip_prefix("/p/k").unwrap().parse().unwrap();
                    assert!(i < 10);
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
