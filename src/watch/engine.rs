//! The healer: one redeploy at a time, for `zdd watch` and `zdd heal` alike.
//!
//! INTERFACE ONLY (issue 14 work in progress): the helper owning the watch core replaces
//! the bodies; the signatures are what `commands::heal` calls.

use crate::cli::ApplyArgs;
use crate::error::Error;
use crate::events::EventSink;
use crate::runner::StopSignal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often a host may be redeployed.
#[derive(Debug, Clone)]
pub struct HealLimits {
    /// Redeploys per host in any hour; then zdd gives up on it.
    pub max_redeploys_per_hour: u32,
    /// The wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
    /// Where the redeploy history is kept between processes (`zdd heal` runs once per
    /// Consul call); `None`: in memory (`zdd watch`).
    pub history: Option<PathBuf>,
}

/// What to heal: these hosts, or (empty) the whole service.
#[derive(Debug, Clone)]
pub struct HealRequest {
    pub hosts: Vec<String>,
    /// Why, for events and notifications ("web3: 3 failed checks: connection refused").
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum HealOutcome {
    /// Redeployed and the health checks pass; back in rotation.
    Healed { took: Duration },
    /// The redeploy did not heal it (its exit code); may be retried after `retry_in`.
    NotHealed { exit_code: i32, retry_in: Duration },
    /// Over the limit: left out of rotation, not tried again.
    GivenUp { reason: String },
    /// Another run holds the rollout lock: nothing done.
    Busy { holder: String },
    /// Stopped by a signal (a redeploy in flight finished its batch first).
    Interrupted,
}

pub struct Healer {
    _events: Arc<EventSink>,
}

impl Healer {
    /// `args`: the playbook, inventory, `-e` and connection flags every redeploy uses
    /// (`--limit` is set per request).
    pub fn new(
        _args: ApplyArgs,
        _limits: HealLimits,
        events: Arc<EventSink>,
        _stop: Arc<StopSignal>,
    ) -> Result<Healer, Error> {
        Ok(Healer { _events: events })
    }

    pub async fn heal(&mut self, _request: &HealRequest) -> HealOutcome {
        HealOutcome::GivenUp {
            reason: "the healer is not built yet".into(),
        }
    }
}
