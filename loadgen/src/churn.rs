//! Session churn: each task connects, creates an ephemeral znode, closes the
//! session, and starts over. One cycle is one operation; the phases have
//! their own latency rows.

use crate::conn::{connect, error_name, ConnError};
use crate::engine::{Recorder, Shared};
use crate::workload::create;
use bytes::Bytes;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warden::proto::requests::Request;
use warden::proto::types::CreateMode;

#[derive(Clone)]
pub struct ChurnCfg {
    pub addr: String,
    pub session_timeout_ms: i32,
    pub io_timeout: Duration,
    pub dir: String,
    pub payload: Bytes,
}

pub async fn churn_task(index: usize, cfg: ChurnCfg, shared: Arc<Shared>, rec: Recorder) {
    shared.ready.fetch_add(1, Release);
    if !shared.wait_go().await {
        return;
    }
    let mut n = 0u64;
    loop {
        if shared.stop.load(Relaxed) {
            return;
        }
        if let Some(b) = &shared.budget {
            if shared.measuring.load(Relaxed) && b.fetch_sub(1, Relaxed) <= 0 {
                return;
            }
        }
        match cycle(index, n, &cfg).await {
            Ok(Phases {
                connect,
                create,
                close,
            }) => {
                if shared.measuring.load(Relaxed) {
                    let mut r = rec.lock().unwrap();
                    r.part("connect", connect);
                    r.part("create ephemeral", create);
                    r.part("close", close);
                    r.ok("cycle", connect + create + close);
                }
            }
            Err(CycleError::Reply(err)) => {
                shared.note_error(format!("create ephemeral returned {}", error_name(err)));
                rec.lock().unwrap().error(error_name(err));
            }
            Err(CycleError::Conn(e)) => {
                shared.note_error(e.to_string());
                rec.lock().unwrap().conn_failures += 1;
                // A server that is gone is not retried in a tight loop.
                return;
            }
        }
        n += 1;
    }
}

struct Phases {
    connect: Duration,
    create: Duration,
    close: Duration,
}

enum CycleError {
    Conn(ConnError),
    Reply(i32),
}

async fn cycle(index: usize, n: u64, cfg: &ChurnCfg) -> Result<Phases, CycleError> {
    let t0 = Instant::now();
    let mut conn = connect(&cfg.addr, cfg.session_timeout_ms, cfg.io_timeout)
        .await
        .map_err(CycleError::Conn)?;
    let t1 = Instant::now();
    let path = format!("{}/e{index}-{n}", cfg.dir);
    let req = create(path, cfg.payload.clone(), CreateMode::Ephemeral.flags());
    let (h, _) = conn.call(&req).await.map_err(CycleError::Conn)?;
    let t2 = Instant::now();
    let (h2, _) = conn
        .call(&Request::CloseSession)
        .await
        .map_err(CycleError::Conn)?;
    let t3 = Instant::now();
    if h.err != 0 {
        return Err(CycleError::Reply(h.err));
    }
    if h2.err != 0 {
        return Err(CycleError::Reply(h2.err));
    }
    Ok(Phases {
        connect: t1 - t0,
        create: t2 - t1,
        close: t3 - t2,
    })
}
