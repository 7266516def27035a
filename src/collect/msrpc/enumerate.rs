//! The Net*Enum calling pattern shared by wkssvc and srvsvc: try info levels
//! from richest to poorest, falling back on ERROR_INVALID_LEVEL, and follow
//! the resume handle while the server says ERROR_MORE_DATA.

use std::time::Instant;

use super::error::{RemoteError, WERR_INVALID_LEVEL, WERR_MORE_DATA};
use super::ndr::{Field, Fields, PageError, decode_enum_page};
use super::wire::DecodeError;

/// Upper bound on resume round trips, so a server that never finishes cannot hold a scan.
const MAX_PAGES: usize = 10_000;

/// What one enumeration may take, whatever the server says: a peer that
/// pages forever meets one of these, never the machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows kept, over all pages.
    pub max_rows: usize,
    /// Bytes the kept rows hold: the rows' vector plus their strings as the
    /// allocator sizes them ([`super::ndr::heap_footprint`]).
    pub max_bytes: usize,
    /// Checked before every page: the pages come from the peer.
    pub deadline: Instant,
}

/// The rows of one successful enumeration and the level that produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerated<R> {
    pub level: u32,
    pub rows: Vec<R>,
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

/// Enumerate at the first level in `levels` the server supports; `build`
/// makes a row of a level from its decoded fields.
pub fn enumerate<R>(
    call: &mut impl EnumCall,
    name: &'static str,
    levels: &[(u32, &[Field])],
    limits: &Limits,
    mut build: impl FnMut(u32, &mut Fields) -> R,
) -> Result<Enumerated<R>, RemoteError> {
    let mut last_error = None;
    for &(level, layout) in levels {
        match enumerate_level(call, name, level, layout, limits, &mut build) {
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

fn enumerate_level<R>(
    call: &mut impl EnumCall,
    name: &'static str,
    level: u32,
    layout: &[Field],
    limits: &Limits,
    build: &mut impl FnMut(u32, &mut Fields) -> R,
) -> Result<Enumerated<R>, RemoteError> {
    let mut rows = Vec::new();
    let mut heap_bytes = 0usize;
    let mut resume = 0;
    for _ in 0..MAX_PAGES {
        // Each call also waits under the deadline; this catches a peer that
        // answers fast but never finishes.
        if Instant::now() >= limits.deadline {
            return Err(RemoteError::Timeout {
                during: "paging through a list",
            });
        }
        let stub = call.call(level, resume)?;
        let room = limits.max_rows.saturating_sub(rows.len());
        let page = match decode_enum_page(&stub, name, layout, room, &mut rows, |fields| {
            build(level, fields)
        }) {
            Ok(page) => page,
            Err(PageError::Decode(err)) => return Err(err.into()),
            Err(PageError::TooManyRows { .. }) => {
                return Err(RemoteError::Limit {
                    limit: format!("{} rows (--max-rows)", limits.max_rows),
                });
            }
        };
        heap_bytes = heap_bytes.saturating_add(page.heap_bytes);
        let held = rows
            .capacity()
            .saturating_mul(size_of::<R>())
            .saturating_add(heap_bytes);
        if held > limits.max_bytes {
            return Err(RemoteError::Limit {
                limit: format!("{} bytes of rows", limits.max_bytes),
            });
        }
        match page.status {
            0 | WERR_MORE_DATA => {
                if page.level != level {
                    return Err(DecodeError::new(
                        name,
                        format!("answered level {} to a level {level} request", page.level),
                    )
                    .into());
                }
                if page.status == 0 {
                    return Ok(Enumerated { level, rows });
                }
                match page.resume_handle {
                    Some(next) if page.rows > 0 => resume = next,
                    // MORE_DATA without progress or without a handle would loop forever.
                    _ => {
                        return Err(DecodeError::new(
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
    Err(RemoteError::Limit {
        limit: format!("{MAX_PAGES} pages"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::msrpc::ndr::{EnumReply, Value, encode_enum_reply};
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            max_rows: 1_000_000,
            max_bytes: 256 << 20,
            deadline: Instant::now() + Duration::from_secs(60),
        }
    }

    fn name(_level: u32, fields: &mut Fields) -> String {
        fields.take_text(0).unwrap_or_default()
    }

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
        let got = enumerate(
            &mut call,
            "NetrSessionEnum",
            &[(502, &NAME), (0, &NAME)],
            &limits(),
            name,
        )
        .unwrap();
        assert_eq!(got.level, 0);
        assert_eq!(got.rows, ["a", "b", "c"]);
        assert_eq!(seen, vec![(502, 0), (0, 0), (0, 2)]);
    }

    #[test]
    fn access_denied_stops_without_trying_other_levels() {
        let mut calls = 0;
        let mut call = |level: u32, _| {
            calls += 1;
            Ok(reply(level, &[], None, 5))
        };
        let err = enumerate(
            &mut call,
            "NetrWkstaUserEnum",
            &[(1, &NAME), (0, &NAME)],
            &limits(),
            name,
        )
        .unwrap_err();
        assert!(matches!(err, RemoteError::Win32 { code: 5, .. }));
        assert_eq!(calls, 1);
    }

    #[test]
    fn more_data_without_progress_is_an_error_not_a_loop() {
        let mut call = |level: u32, _| Ok(reply(level, &[], Some(1), WERR_MORE_DATA));
        assert!(matches!(
            enumerate(
                &mut call,
                "NetrWkstaUserEnum",
                &[(0, &NAME)],
                &limits(),
                name
            ),
            Err(RemoteError::Decode(_))
        ));
    }

    /// A server that pages forever: endless ERROR_MORE_DATA with progress.
    fn endless(rows_per_page: usize) -> impl FnMut(u32, u32) -> Result<Vec<u8>, RemoteError> {
        let names: Vec<String> = (0..rows_per_page).map(|i| format!("user{i:06}")).collect();
        move |level, resume| {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            Ok(reply(level, &names, Some(resume + 1), WERR_MORE_DATA))
        }
    }

    #[test]
    fn endless_pages_stop_at_the_row_limit_with_an_error_not_a_short_list() {
        let limits = Limits {
            max_rows: 2_500,
            ..limits()
        };
        let mut pages = 0;
        let mut inner = endless(1_000);
        let mut call = |level, resume| {
            pages += 1;
            inner(level, resume)
        };
        let err =
            enumerate(&mut call, "NetrWkstaUserEnum", &[(0, &NAME)], &limits, name).unwrap_err();
        assert!(
            matches!(&err, RemoteError::Limit { limit } if limit.contains("2500 rows")),
            "{err}"
        );
        // Two pages fit; the third is refused before it is decoded.
        assert_eq!(pages, 3);
    }

    #[test]
    fn endless_pages_stop_at_the_byte_limit() {
        let limits = Limits {
            max_bytes: 100_000,
            ..limits()
        };
        let err = enumerate(
            &mut endless(1_000),
            "NetrWkstaUserEnum",
            &[(0, &NAME)],
            &limits,
            name,
        )
        .unwrap_err();
        assert!(
            matches!(&err, RemoteError::Limit { limit } if limit.contains("100000 bytes")),
            "{err}"
        );
    }

    #[test]
    fn endless_pages_stop_at_the_deadline_even_when_each_page_is_fast() {
        let limits = Limits {
            deadline: Instant::now() + Duration::from_millis(200),
            max_rows: usize::MAX,
            max_bytes: usize::MAX,
        };
        let started = Instant::now();
        let mut inner = endless(1);
        // A page per millisecond: the page limit would take ten seconds.
        let mut call = |level, resume| {
            std::thread::sleep(Duration::from_millis(1));
            inner(level, resume)
        };
        let err =
            enumerate(&mut call, "NetrWkstaUserEnum", &[(0, &NAME)], &limits, name).unwrap_err();
        assert!(matches!(err, RemoteError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
