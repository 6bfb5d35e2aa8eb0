//! Length-prefixed JSON frames: a u32 big-endian byte count, then that many bytes of JSON.
//!
//! The reader checks the announced size against [`MAX_FRAME`] before allocating, so a peer can
//! neither exhaust the daemon's memory nor make it panic; any bad frame is an error for that one
//! connection.

use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Large enough for a jlist of thousands of apps with their environments.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("frame of {0} bytes is larger than the limit of {MAX_FRAME}")]
    TooBig(usize),
    #[error("malformed frame: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("frame not completed within {0} s")]
    Slow(u64),
    #[error("i/o error on the socket: {0}")]
    Io(#[from] std::io::Error),
}

pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = serde_json::to_vec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooBig(body.len()));
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, FrameError> {
    Ok(serde_json::from_slice(body)?)
}

pub async fn write<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    msg: &T,
) -> Result<(), FrameError> {
    w.write_all(&encode(msg)?).await?;
    w.flush().await?;
    Ok(())
}

/// What a body's buffer starts at: it grows with the bytes that really arrive, so a peer that
/// announces 64 MiB and sends nothing costs nothing (a thousand of them would otherwise ask
/// for 64 GiB up front).
const FIRST_CHUNK: usize = 64 * 1024;

fn too_short(len: usize, got: usize) -> FrameError {
    FrameError::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        format!("frame cut off after {got} of {len} bytes"),
    ))
}

async fn read_body_async<R: AsyncRead + Unpin>(
    r: &mut R,
    len: usize,
) -> Result<Vec<u8>, FrameError> {
    let mut body = Vec::with_capacity(len.min(FIRST_CHUNK));
    AsyncReadExt::take(&mut *r, len as u64)
        .read_to_end(&mut body)
        .await?;
    if body.len() < len {
        return Err(too_short(len, body.len()));
    }
    Ok(body)
}

pub async fn read<R: AsyncRead + Unpin, T: DeserializeOwned>(r: &mut R) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooBig(len));
    }
    decode(&read_body_async(r, len).await?)
}

/// [`read`], but once a frame's first byte is in, the rest must follow within `within`: a
/// connection may idle between frames for as long as it likes, but not hold the daemon
/// half-way through one (a client sending a byte a second).
pub async fn read_within<R: AsyncRead + Unpin, T: DeserializeOwned>(
    r: &mut R,
    within: std::time::Duration,
) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let rest = async {
        r.read_exact(&mut len[1..]).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooBig(len));
        }
        read_body_async(r, len).await
    };
    match tokio::time::timeout(within, rest).await {
        Ok(body) => decode(&body?),
        Err(_) => Err(FrameError::Slow(within.as_secs())),
    }
}

/// Blocking twins for the CLI, which has no async runtime: a command is one short exchange.
pub mod sync {
    use super::*;
    use std::io::{Read, Write};

    pub fn write<W: Write, T: Serialize>(w: &mut W, msg: &T) -> Result<(), FrameError> {
        w.write_all(&encode(msg)?)?;
        w.flush()?;
        Ok(())
    }

    pub fn read<R: Read, T: DeserializeOwned>(r: &mut R) -> Result<T, FrameError> {
        decode(&read_body(r)?)
    }

    /// One frame's JSON, undecoded: `pm jlist` prints the daemon's bytes as they come.
    pub fn read_body<R: Read>(r: &mut R) -> Result<Vec<u8>, FrameError> {
        let mut len = [0u8; 4];
        match r.read_exact(&mut len) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FrameError::Closed)
            }
            Err(e) => return Err(e.into()),
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::TooBig(len));
        }
        let mut body = Vec::with_capacity(len.min(FIRST_CHUNK));
        Read::take(&mut *r, len as u64).read_to_end(&mut body)?;
        if body.len() < len {
            return Err(too_short(len, body.len()));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, Response, TargetRequest};

    #[tokio::test]
    async fn round_trip() {
        let req = Request::Stop(TargetRequest {
            targets: vec!["web".into(), "3".into()],
            cwd: None,
        });
        let bytes = encode(&req).expect("encodes");
        let mut cursor = std::io::Cursor::new(bytes);
        let back: Request = read(&mut cursor).await.expect("decodes");
        match back {
            Request::Stop(t) => assert_eq!(t.targets, vec!["web", "3"]),
            other => panic!("wrong verb {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_frame_started_must_finish_in_time() {
        let (mut a, mut b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut a, &[0, 0])
            .await
            .expect("write");
        let err = read_within::<_, Request>(&mut b, std::time::Duration::from_millis(50))
            .await
            .expect_err("slow");
        assert!(matches!(err, FrameError::Slow(_)), "{err}");
    }

    #[tokio::test]
    async fn an_announced_size_is_not_allocated_before_it_arrives() {
        let mut bytes = (MAX_FRAME as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let mut cursor = std::io::Cursor::new(bytes);
        let err = read::<_, Request>(&mut cursor).await.expect_err("cut off");
        assert!(err.to_string().contains("cut off after 2 of"), "{err}");
    }

    #[tokio::test]
    async fn rejects_oversized_without_allocating() {
        let mut bytes = (u32::MAX).to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let mut cursor = std::io::Cursor::new(bytes);
        let err = read::<_, Response>(&mut cursor).await.expect_err("too big");
        assert!(matches!(err, FrameError::TooBig(_)), "{err}");
    }

    #[tokio::test]
    async fn rejects_garbage_and_truncation() {
        let mut cursor = std::io::Cursor::new(vec![0, 0, 0, 3, b'x', b'y', b'z']);
        assert!(matches!(
            read::<_, Request>(&mut cursor).await,
            Err(FrameError::Malformed(_))
        ));
        let mut cursor = std::io::Cursor::new(vec![0, 0, 0, 10, b'{']);
        assert!(matches!(
            read::<_, Request>(&mut cursor).await,
            Err(FrameError::Io(_))
        ));
        let mut cursor = std::io::Cursor::new(vec![0, 0]);
        assert!(matches!(
            read::<_, Request>(&mut cursor).await,
            Err(FrameError::Closed)
        ));
        let mut cursor =
            std::io::Cursor::new(encode(&serde_json::json!({"verb": "nope"})).expect("encodes"));
        assert!(matches!(
            read::<_, Request>(&mut cursor).await,
            Err(FrameError::Malformed(_))
        ));
    }

    mod fuzz {
        //! Whatever bytes a peer sends, the decoder answers a request or an error, never a
        //! panic, and never allocates what a length prefix announces before it arrives.
        use super::super::*;
        use crate::protocol::{Request, TargetRequest};
        use proptest::prelude::*;

        fn block_on<F: std::future::Future>(f: F) -> F::Output {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .expect("runtime")
                .block_on(f)
        }

        fn json_like() -> impl Strategy<Value = Vec<u8>> {
            let pieces = prop::sample::select(vec![
                "{",
                "}",
                "[",
                "]",
                ",",
                ":",
                "\"verb\"",
                "\"hello\"",
                "\"start\"",
                "\"apps\"",
                "\"targets\"",
                "\"protocol\"",
                "null",
                "1e999",
                "-0",
                "\"\\u0000\"",
                "\"\\ud800\"",
                "\"list\"",
                "\"stop\"",
                "true",
                "42",
                "\"env\"",
                "\"script\"",
            ]);
            prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat().into_bytes())
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn any_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                let mut c = std::io::Cursor::new(bytes.clone());
                let _ = block_on(read::<_, Request>(&mut c));
                let mut c = std::io::Cursor::new(bytes);
                let _ = sync::read::<_, Request>(&mut c);
            }

            #[test]
            fn any_json_like_body_decodes_or_fails(body in json_like()) {
                let mut framed = (body.len() as u32).to_be_bytes().to_vec();
                framed.extend_from_slice(&body);
                let mut c = std::io::Cursor::new(framed);
                let _ = block_on(read::<_, Request>(&mut c));
            }

            #[test]
            fn a_cut_frame_is_an_error(targets in prop::collection::vec("\\PC{0,20}", 0..8), cut in any::<prop::sample::Index>()) {
                let req = Request::Stop(TargetRequest { targets: targets.clone(), cwd: None });
                let bytes = encode(&req).expect("encodes");
                let at = cut.index(bytes.len());
                let mut c = std::io::Cursor::new(bytes[..at].to_vec());
                prop_assert!(block_on(read::<_, Request>(&mut c)).is_err());
                let mut c = std::io::Cursor::new(bytes);
                match block_on(read::<_, Request>(&mut c)) {
                    Ok(Request::Stop(t)) => prop_assert_eq!(t.targets, targets),
                    other => prop_assert!(false, "{other:?}"),
                }
            }

            #[test]
            fn a_huge_prefix_costs_nothing(len in (MAX_FRAME as u32 / 2)..=u32::MAX, tail in prop::collection::vec(any::<u8>(), 0..64)) {
                let mut framed = len.to_be_bytes().to_vec();
                framed.extend_from_slice(&tail);
                let mut c = std::io::Cursor::new(framed);
                prop_assert!(block_on(read::<_, Request>(&mut c)).is_err());
            }
        }
    }
}
