//! All connections of a run: opened together before the first batch, closed at any exit.

use super::{ConnectSpec, Host, HostError};
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Connections {}

impl Connections {
    pub fn new() -> Self {
        Connections::default()
    }

    /// Open every connection concurrently; one result per spec, in order.
    pub async fn open_all(&self, specs: &[ConnectSpec]) -> Vec<Result<Arc<dyn Host>, HostError>> {
        let _ = specs;
        todo!("host layer")
    }

    /// The open connection for `spec.name`, opening it now if it is not open yet.
    pub async fn get(&self, spec: &ConnectSpec) -> Result<Arc<dyn Host>, HostError> {
        let _ = spec;
        todo!("host layer")
    }

    /// Close every master. Called on every exit path, signals included.
    pub async fn close_all(&self) {}
}
