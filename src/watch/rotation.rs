//! One inventory host taken out of its load balancer and put back, through the
//! `LoadBalancer` trait, at the place the playbook's own rotation tasks name (the load
//! balancer, its endpoint, the server's name there and the host the commands run on).
//!
//! INTERFACE ONLY (issue 14 work in progress): the helper owning rotation replaces the
//! bodies; the signatures are what `watch::engine` calls.

use crate::events::EventSink;
use crate::lb::LoadBalancer;
use crate::load::Input;
use crate::runner::RunOptions;
use crate::template::Templater;
use std::sync::Arc;

/// Where one inventory host sits in one load balancer.
#[derive(Debug, Clone)]
pub struct Place {
    /// The inventory host served by the server.
    pub host: String,
    pub lb: &'static dyn LoadBalancer,
    /// The endpoint the playbook's task talks to (a socket path, `TCP:host:port`).
    pub endpoint: String,
    /// The server as the load balancer names it (`backend/server` for HAProxy).
    pub server: String,
    /// The inventory host the commands run on (the task's `delegate_to`, else `host`).
    pub via: String,
    /// Fewer servers than this left in rotation: refuse to take one out.
    pub min_up: usize,
}

impl Place {
    /// The shell command an operator runs to put it back.
    pub fn restore_command(&self) -> String {
        self.lb.restore_command(&self.server, Some(&self.endpoint))
    }
}

/// What `take_out` did.
#[derive(Debug, Clone, PartialEq)]
pub enum TakeOut {
    /// It took traffic and now takes none.
    Done,
    /// It already took no traffic (disabled or draining).
    AlreadyOut,
    /// Not taken out: the capacity guard (why, for the event).
    Refused(String),
}

/// Connections and rendering for rotation commands, built from the same input and options
/// as a run.
pub struct Rotation {
    _events: Arc<EventSink>,
}

impl Rotation {
    pub fn new(
        _input: &Input,
        _templater: Arc<Templater>,
        _opts: &RunOptions,
        events: Arc<EventSink>,
    ) -> Rotation {
        Rotation { _events: events }
    }

    /// The places the playbook's rotation tasks name for `host` (rendered for it, no
    /// connection): empty when no task of a play that runs on `host` takes it out.
    pub fn places(&self, _host: &str) -> Vec<Place> {
        Vec::new()
    }

    pub async fn take_out(&self, place: &Place) -> Result<TakeOut, String> {
        Err(format!("taking {} out is not built yet", place.host))
    }

    pub async fn put_back(&self, place: &Place) -> Result<(), String> {
        Err(format!("putting {} back is not built yet", place.host))
    }

    /// Whether the load balancer says it takes traffic.
    pub async fn in_rotation(&self, place: &Place) -> Result<bool, String> {
        Err(format!("asking about {} is not built yet", place.host))
    }

    /// Closes the connections it opened.
    pub async fn close(self) {}
}
