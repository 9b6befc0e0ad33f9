//! What a redeploy said about rotation, heard from its events: when a server first went
//! out, and which servers the run left out at its end.

use crate::events::{Event, OutOfRotation, Reporter, RotationState};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What a redeploy said about rotation: when a server first went out, and which it left
/// out at its end.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<CaptureState>>);

#[derive(Default)]
struct CaptureState {
    first_out: Option<SystemTime>,
    left_out: Vec<OutOfRotation>,
}

impl Capture {
    pub fn first_out(&self) -> Option<SystemTime> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).first_out
    }

    pub fn out_of_rotation(&self) -> Vec<OutOfRotation> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).left_out.clone()
    }
}

impl Reporter for Capture {
    fn event(&mut self, event: &Event) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Rotation {
                state: RotationState::Out | RotationState::MayBeOut,
                ..
            } => {
                state.first_out.get_or_insert_with(SystemTime::now);
            }
            Event::OutOfRotation { servers } => state.left_out = servers.clone(),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_the_first_take_out_and_what_the_run_left_out() {
        let server = OutOfRotation {
            server: "loadbalancer/web1".into(),
            host: "web1".into(),
            load_balancer: "lb".into(),
            command: "enable".into(),
        };
        let capture = Capture::default();
        let mut reporter = capture.clone();
        assert_eq!(capture.first_out(), None);
        reporter.event(&Event::Rotation {
            server: server.clone(),
            state: RotationState::Back,
        });
        assert_eq!(capture.first_out(), None, "a server put back is not out");
        reporter.event(&Event::Rotation {
            server: server.clone(),
            state: RotationState::MayBeOut,
        });
        let first = capture.first_out().expect("out");
        reporter.event(&Event::Rotation {
            server: server.clone(),
            state: RotationState::Out,
        });
        assert_eq!(capture.first_out(), Some(first));
        reporter.event(&Event::OutOfRotation {
            servers: vec![server.clone()],
        });
        assert_eq!(capture.out_of_rotation(), vec![server]);
    }
}
