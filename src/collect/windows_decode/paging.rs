//! The resume-handle loop of the NetXxxEnum family and the level fallback of
//! NetSessionEnum, written over closures so the logic is tested without Windows.

use super::errors::{ERROR_ACCESS_DENIED, ERROR_INVALID_LEVEL};

/// How one call of a NetXxxEnum API ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEnd {
    /// NERR_Success: this was the last page.
    Complete,
    /// ERROR_MORE_DATA: call again with the updated resume handle.
    MoreData,
}

/// Why paging stopped without a complete result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PagingError<E> {
    /// The page fetch failed (a Win32 code, say).
    Fetch(E),
    /// The API kept saying "more data" without advancing: stop rather than spin.
    NoProgress { pages: usize },
    /// More pages than any real host produces.
    TooManyPages { pages: usize },
}

/// Upper bound on pages; each page holds at least one entry, and no host has
/// this many sessions.
pub const MAX_PAGES: usize = 100_000;

/// Call `fetch_page(&mut resume_handle)` until it reports [`PageEnd::Complete`],
/// collecting every page's rows in order.
///
/// A page that reports `MoreData` but returns no rows and leaves the resume
/// handle unchanged would repeat forever; that is an error, not a hang.
pub fn collect_pages<R, E>(
    mut fetch_page: impl FnMut(&mut u32) -> Result<(Vec<R>, PageEnd), E>,
) -> Result<Vec<R>, PagingError<E>> {
    let mut resume_handle = 0u32;
    let mut rows = Vec::new();
    for page in 1..=MAX_PAGES {
        let before = resume_handle;
        let (mut page_rows, end) = fetch_page(&mut resume_handle).map_err(PagingError::Fetch)?;
        let got_rows = !page_rows.is_empty();
        rows.append(&mut page_rows);
        match end {
            PageEnd::Complete => return Ok(rows),
            PageEnd::MoreData if !got_rows && resume_handle == before => {
                return Err(PagingError::NoProgress { pages: page });
            }
            PageEnd::MoreData => {}
        }
    }
    Err(PagingError::TooManyPages { pages: MAX_PAGES })
}

/// NetSessionEnum's levels, richest first.
pub const SESSION_LEVELS: [u32; 4] = [502, 10, 1, 0];

/// The outcome of trying levels in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelOutcome<R> {
    pub level: u32,
    pub rows: R,
    /// Levels refused before `level`, with their codes.
    pub refused: Vec<(u32, u32)>,
}

/// Try `fetch(level)` for each level in order, moving on when a level is
/// refused with ERROR_INVALID_LEVEL or access denied (level 502 needs admin
/// rights; level 10 does not). Any other error stops at once. When every
/// level is refused, access denied is reported in preference to "invalid
/// level", since it is the one the user can act on.
pub fn with_level_fallback<R>(
    levels: &[u32],
    mut fetch: impl FnMut(u32) -> Result<R, u32>,
) -> Result<LevelOutcome<R>, u32> {
    let mut refused = Vec::new();
    for &level in levels {
        match fetch(level) {
            Ok(rows) => {
                return Ok(LevelOutcome {
                    level,
                    rows,
                    refused,
                });
            }
            Err(code @ (ERROR_INVALID_LEVEL | ERROR_ACCESS_DENIED)) => refused.push((level, code)),
            Err(code) => return Err(code),
        }
    }
    let denied = refused.iter().any(|&(_, code)| code == ERROR_ACCESS_DENIED);
    Err(if denied {
        ERROR_ACCESS_DENIED
    } else {
        ERROR_INVALID_LEVEL
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A fake server holding `total` entries that hands out at most `per_page`
    /// per call, as NetWkstaUserEnum does with a small preferred length.
    fn fake_server(
        total: u32,
        per_page: u32,
    ) -> impl FnMut(&mut u32) -> Result<(Vec<u32>, PageEnd), u32> {
        move |resume| {
            let start = *resume;
            let end = (start + per_page).min(total);
            *resume = end;
            let rows = (start..end).collect();
            Ok((
                rows,
                if end < total {
                    PageEnd::MoreData
                } else {
                    PageEnd::Complete
                },
            ))
        }
    }

    #[test]
    fn several_more_data_rounds_are_joined_in_order() {
        let mut calls = 0;
        let mut server = fake_server(10, 3);
        let rows = collect_pages(|r| {
            calls += 1;
            server(r)
        })
        .unwrap();
        assert_eq!(rows, (0..10).collect::<Vec<_>>());
        assert_eq!(calls, 4);
    }

    #[test]
    fn zero_entries_is_an_empty_success() {
        let rows: Vec<u32> = collect_pages(fake_server(0, 5)).unwrap();
        assert!(rows.is_empty());
    }

    #[test]
    fn an_error_on_a_later_page_fails_the_whole_source() {
        let mut page = 0;
        let result = collect_pages(|resume| {
            page += 1;
            *resume += 1;
            if page == 3 {
                Err(1722)
            } else {
                Ok((vec![page], PageEnd::MoreData))
            }
        });
        assert_eq!(result, Err(PagingError::Fetch(1722)));
    }

    #[test]
    fn more_data_without_progress_stops() {
        let result: Result<Vec<u32>, PagingError<u32>> =
            collect_pages(|_| Ok((vec![], PageEnd::MoreData)));
        assert_eq!(result, Err(PagingError::NoProgress { pages: 1 }));
    }

    #[test]
    fn more_data_with_empty_page_but_moved_handle_continues() {
        let mut calls = 0;
        let rows = collect_pages(|resume| {
            calls += 1;
            *resume += 1;
            Ok::<_, u32>(if calls < 3 {
                (vec![], PageEnd::MoreData)
            } else {
                (vec![7], PageEnd::Complete)
            })
        })
        .unwrap();
        assert_eq!(rows, vec![7]);
    }

    #[test]
    fn level_fallback_moves_past_invalid_level_and_access_denied() {
        let mut tried = Vec::new();
        let outcome = with_level_fallback(&SESSION_LEVELS, |level| {
            tried.push(level);
            match level {
                502 => Err(ERROR_ACCESS_DENIED),
                10 => Err(ERROR_INVALID_LEVEL),
                _ => Ok(level * 2),
            }
        })
        .unwrap();
        assert_eq!(tried, vec![502, 10, 1]);
        assert_eq!(outcome.level, 1);
        assert_eq!(outcome.rows, 2);
        assert_eq!(outcome.refused, vec![(502, 5), (10, 124)]);
    }

    #[test]
    fn level_fallback_stops_on_other_errors() {
        let mut tried = Vec::new();
        let result = with_level_fallback(&SESSION_LEVELS, |level| -> Result<(), u32> {
            tried.push(level);
            Err(53)
        });
        assert_eq!(result, Err(53));
        assert_eq!(tried, vec![502]);
    }

    #[test]
    fn all_levels_refused_prefers_access_denied() {
        let result = with_level_fallback(&SESSION_LEVELS, |level| -> Result<(), u32> {
            Err(if level == 10 {
                ERROR_ACCESS_DENIED
            } else {
                ERROR_INVALID_LEVEL
            })
        });
        assert_eq!(result, Err(ERROR_ACCESS_DENIED));
        let result = with_level_fallback(&SESSION_LEVELS, |_| -> Result<(), u32> {
            Err(ERROR_INVALID_LEVEL)
        });
        assert_eq!(result, Err(ERROR_INVALID_LEVEL));
    }

    proptest! {
        #[test]
        fn any_page_size_yields_every_entry_once(total in 0u32..500, per_page in 1u32..64) {
            let rows = collect_pages(fake_server(total, per_page)).unwrap();
            prop_assert_eq!(rows, (0..total).collect::<Vec<_>>());
        }
    }
}
