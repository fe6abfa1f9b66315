//! The test harness, by concern.

pub mod app;
pub mod contract;
pub mod db;
pub mod fixtures;
pub mod live;
pub mod school;
pub mod servers;
