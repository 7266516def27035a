//! Shared fixtures of the integration tests.
#![allow(dead_code)]
pub mod samba;
