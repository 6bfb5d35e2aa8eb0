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
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    decode(&body)
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
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        decode(&body)
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
}
