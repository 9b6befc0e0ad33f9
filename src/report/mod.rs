//! Renderers of runner events: the same events drawn for people and for machines.

pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod log_file;
pub mod notify;
pub mod progress;
