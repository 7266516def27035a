//! Fixtures of the msrpc integration tests and benchmark.
//!
//! Separate from `tests/support/` (the Linux collector's Samba fixture): this
//! smbd runs in a private mount namespace so that NetrWkstaUserEnum, which
//! Samba answers from the *default* utmp file (`getutxent`, ignoring
//! `utmp directory`), reads the fixture's records instead of the machine's.
#![allow(dead_code)]
pub mod samba;
