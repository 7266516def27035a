//! The Net*Enum calling pattern shared by wkssvc and srvsvc: try info levels
//! from richest to poorest, falling back on ERROR_INVALID_LEVEL, and follow
//! the resume handle while the server says ERROR_MORE_DATA.

use super::error::{RemoteError, WERR_INVALID_LEVEL, WERR_MORE_DATA};
use super::ndr::{EnumReply, Field, Value, decode_enum_reply};

/// Upper bound on resume round trips, so a server that never finishes cannot hold a scan.
const MAX_PAGES: usize = 10_000;

/// The rows of one successful enumeration and the level that produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerated {
    pub level: u32,
    pub rows: Vec<Vec<Value>>,
}

/// One enumeration call: (level, resume handle) → NDR reply stub.
pub trait EnumCall {
    fn call(&mut self, level: u32, resume_handle: u32) -> Result<Vec<u8>, RemoteError>;
}

impl<F: FnMut(u32, u32) -> Result<Vec<u8>, RemoteError>> EnumCall for F {
    fn call(&mut self, level: u32, resume_handle: u32) -> Result<Vec<u8>, RemoteError> {
        self(level, resume_handle)
    }
}

/// Enumerate at the first level in `levels` the server supports.
pub fn enumerate(
    call: &mut impl EnumCall,
    name: &'static str,
    levels: &[(u32, &[Field])],
) -> Result<Enumerated, RemoteError> {
    let mut last_error = None;
    for &(level, layout) in levels {
        match enumerate_level(call, name, level, layout) {
            Err(RemoteError::Win32 {
                code: WERR_INVALID_LEVEL,
                call,
            }) => {
                last_error = Some(RemoteError::Win32 {
                    code: WERR_INVALID_LEVEL,
                    call,
                });
            }
            other => return other,
        }
    }
    Err(last_error.unwrap_or(RemoteError::Win32 {
        call: name,
        code: WERR_INVALID_LEVEL,
    }))
}

fn enumerate_level(
    call: &mut impl EnumCall,
    name: &'static str,
    level: u32,
    layout: &[Field],
) -> Result<Enumerated, RemoteError> {
    let mut rows = Vec::new();
    let mut resume = 0;
    for _ in 0..MAX_PAGES {
        let stub = call.call(level, resume)?;
        let reply: EnumReply = decode_enum_reply(&stub, name, layout)?;
        match reply.status {
            0 | WERR_MORE_DATA => {
                if reply.level != level {
                    return Err(super::wire::DecodeError::new(
                        name,
                        format!("answered level {} to a level {level} request", reply.level),
                    )
                    .into());
                }
                let progressed = !reply.rows.is_empty();
                rows.extend(reply.rows);
                if reply.status == 0 {
                    return Ok(Enumerated { level, rows });
                }
                match reply.resume_handle {
                    Some(next) if progressed => resume = next,
                    // MORE_DATA without progress or without a handle would loop forever.
                    _ => {
                        return Err(super::wire::DecodeError::new(
                            name,
                            "ERROR_MORE_DATA without progress or resume handle",
                        )
                        .into());
                    }
                }
            }
            code => return Err(RemoteError::Win32 { call: name, code }),
        }
    }
    Err(super::wire::DecodeError::new(
        name,
        format!("still ERROR_MORE_DATA after {MAX_PAGES} pages"),
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::msrpc::ndr::encode_enum_reply;

    const NAME: [Field; 1] = [Field::Str];

    fn reply(level: u32, names: &[&str], resume: Option<u32>, status: u32) -> Vec<u8> {
        encode_enum_reply(
            &EnumReply {
                level,
                rows: names
                    .iter()
                    .map(|n| vec![Value::Str(Some(n.to_string()))])
                    .collect(),
                total_entries: 9,
                resume_handle: resume,
                status,
            },
            &NAME,
        )
    }

    #[test]
    fn falls_back_on_invalid_level_and_follows_resume_handles() {
        let mut seen = Vec::new();
        let mut call = |level: u32, resume: u32| {
            seen.push((level, resume));
            Ok(match (level, resume) {
                (502, _) => reply(502, &[], None, WERR_INVALID_LEVEL),
                (0, 0) => reply(0, &["a", "b"], Some(2), WERR_MORE_DATA),
                (0, 2) => reply(0, &["c"], Some(3), 0),
                _ => reply(level, &[], None, 87),
            })
        };
        let got = enumerate(&mut call, "NetrSessionEnum", &[(502, &NAME), (0, &NAME)]).unwrap();
        assert_eq!(got.level, 0);
        assert_eq!(got.rows.len(), 3);
        assert_eq!(seen, vec![(502, 0), (0, 0), (0, 2)]);
    }

    #[test]
    fn access_denied_stops_without_trying_other_levels() {
        let mut calls = 0;
        let mut call = |level: u32, _| {
            calls += 1;
            Ok(reply(level, &[], None, 5))
        };
        let err = enumerate(&mut call, "NetrWkstaUserEnum", &[(1, &NAME), (0, &NAME)]).unwrap_err();
        assert!(matches!(err, RemoteError::Win32 { code: 5, .. }));
        assert_eq!(calls, 1);
    }

    #[test]
    fn more_data_without_progress_is_an_error_not_a_loop() {
        let mut call = |level: u32, _| Ok(reply(level, &[], Some(1), WERR_MORE_DATA));
        assert!(matches!(
            enumerate(&mut call, "NetrWkstaUserEnum", &[(0, &NAME)]),
            Err(RemoteError::Decode(_))
        ));
    }
}
