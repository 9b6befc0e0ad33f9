//! Renderers of runner events.

pub mod human;
