//! Test harness: a real cloud-api router on 127.0.0.1:0 over a fresh SQLite file or a fresh
//! PostgreSQL database, plus helpers to make users and call the API like a client does. By concern in
//! `harness/`: databases, the app, a school, live sockets, media fixtures, throwaway servers.

mod harness;
pub use harness::app::*;
pub use harness::db::*;
pub use harness::fixtures::*;
pub use harness::live::*;
pub use harness::school::*;
pub use harness::servers::*;
