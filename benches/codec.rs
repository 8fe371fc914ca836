//! Micro-benchmarks of the jute codec on the hot paths: decoding a getData
//! request, encoding a getData reply (1 KiB + Stat), a setData round trip.

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use warden::proto::requests::{PathWatchRequest, Request, RequestHeader, SetDataRequest};
use warden::proto::responses::{ReplyHeader, Response};
use warden::proto::types::{NodeData, OpCode, Stat};
use warden::proto::{decode_reply, decode_request, encode_reply, encode_request};

fn get_data_frame() -> BytesMut {
    let req = Request::GetData(PathWatchRequest {
        path: "/bench/some/node-0000000042".into(),
        watch: true,
    });
    let mut out = BytesMut::new();
    encode_request(&mut out, RequestHeader { xid: 42, op: 4 }, &req);
    out
}

fn decode_get_data(c: &mut Criterion) {
    let frame = get_data_frame();
    c.bench_function("decode getData request", |b| {
        b.iter(|| decode_request(black_box(&frame[4..])))
    });
}

fn encode_get_data_reply(c: &mut Criterion) {
    let header = ReplyHeader {
        xid: 42,
        zxid: 0x1_0000_0abc,
        err: 0,
    };
    let stat = Stat {
        czxid: 1,
        mzxid: 2,
        data_length: 1024,
        ..Stat::default()
    };
    let body = Response::GetData(NodeData::from(vec![7u8; 1024]), stat);
    let mut out = BytesMut::with_capacity(4096);
    c.bench_function("encode getData reply 1KiB", |b| {
        b.iter(|| {
            out.clear();
            encode_reply(&mut out, header, black_box(&body));
            out.len()
        })
    });
}

fn set_data_round_trip(c: &mut Criterion) {
    let req = Request::SetData(SetDataRequest {
        path: "/bench/some/node".into(),
        data: NodeData::from(vec![1u8; 128]),
        version: -1,
    });
    let reply = Response::Stat(Stat::default());
    let mut out = BytesMut::with_capacity(4096);
    c.bench_function("setData request+reply round trip", |b| {
        b.iter(|| {
            out.clear();
            encode_request(&mut out, RequestHeader { xid: 9, op: 5 }, black_box(&req));
            let decoded = decode_request(&out[4..]);
            out.clear();
            let header = ReplyHeader {
                xid: 9,
                zxid: 3,
                err: 0,
            };
            encode_reply(&mut out, header, &reply);
            (
                decoded.is_ok(),
                decode_reply(OpCode::SetData, &out[4..]).is_ok(),
            )
        })
    });
}

criterion_group!(
    benches,
    decode_get_data,
    encode_get_data_reply,
    set_data_round_trip
);
criterion_main!(benches);
