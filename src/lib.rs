//! lingerscan: find lingering user sessions on Windows and Linux hosts.
//!
//! Data flows one way: [`collect`] → [`model::HostSnapshot`] → [`analyze`] →
//! findings → [`report`].

pub mod analyze;
pub mod close;
pub mod collect;
pub mod directory;
pub mod dns;
pub mod fleet;
pub mod history;
pub mod identity;
pub mod model;
mod observed_de;
pub mod report;
pub mod snapshot_io;
#[doc(hidden)]
pub mod synthetic;
pub mod targets;
