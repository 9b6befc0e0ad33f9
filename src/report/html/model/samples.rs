//! The probe's seconds on the report's time axis, bucketed for a long watch.

use super::{Sample, MAX_POINTS};
use crate::probe::ProbeSample;

/// Place the probe's seconds on the report's time axis and bucket them down to at most
/// `MAX_POINTS`. Each sample is emitted as its second ends, so the probe started at
/// (emitted - (second + 1) s); the earliest such estimate is the least delayed one (the
/// last sample, a partial second, is left out of it when there are others).
pub(super) fn place_samples(raw: &[(u64, ProbeSample)], duration_ms: u64) -> (Vec<Sample>, u64) {
    if raw.is_empty() {
        return (Vec::new(), 1);
    }
    let full = if raw.len() > 1 { &raw[..raw.len() - 1] } else { raw };
    let probe_start = full
        .iter()
        .map(|(at, s)| *at as i64 - (s.second as i64 + 1) * 1000)
        .min()
        .unwrap_or(0)
        .max(0) as u64;
    let per = raw.len().div_ceil(MAX_POINTS).max(1);
    let chunks = raw.len().div_ceil(per);
    let samples = raw
        .chunks(per)
        .enumerate()
        .map(|(i, chunk)| {
            let first = &chunk[0].1;
            let (reported, last) = &chunk[chunk.len() - 1];
            let start = probe_start
                .saturating_add(first.second.saturating_mul(1000))
                .min(duration_ms);
            let mut end = probe_start
                .saturating_add((last.second + 1).saturating_mul(1000))
                .min(duration_ms);
            // The last second is cut short where the probe stopped: its requests over the
            // time it had make its rate (at least a quarter second, so that a few requests
            // in the last milliseconds do not make a spike).
            if i + 1 == chunks {
                end = end.min(*reported).max(start);
            }
            let seconds = ((end - start) as f64 / 1000.0).max(0.25);
            let requests: u64 = chunk.iter().map(|(_, s)| s.requests).sum();
            let failed: u64 = chunk.iter().map(|(_, s)| s.failed).sum();
            // p50: the mean weighted by requests; p99: the worst second's.
            let p50 = if requests == 0 {
                0.0
            } else {
                chunk
                    .iter()
                    .map(|(_, s)| s.p50_ms * s.requests as f64)
                    .sum::<f64>()
                    / requests as f64
            };
            let p99 = chunk.iter().map(|(_, s)| s.p99_ms).fold(0.0, f64::max);
            Sample {
                second: first.second,
                start,
                end,
                requests,
                requests_per_s: requests as f64 / seconds,
                failed_per_s: failed as f64 / seconds,
                failed,
                p50_ms: p50,
                p99_ms: p99,
            }
        })
        .collect();
    (samples, per as u64)
}
