//! Progress of a fleet scan on stderr: hosts done of the total, lingering
//! and failed so far, rate and ETA (indicatif). Only on a terminal: piped
//! or redirected, stderr carries errors alone.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::sink::{FleetSummary, HostSummary};

/// What the writer tells a progress display.
pub trait Progress {
    fn start(&mut self, total: Option<u128>);
    fn host_done(&mut self, host: &HostSummary, fleet: &FleetSummary);
    /// Ctrl-C (or a closed output): no new hosts; running ones are waited for.
    fn stopping(&mut self);
    fn finish(&mut self, fleet: &FleetSummary);
}

/// No display (`--quiet`, `--no-progress`, not a terminal, one host).
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _total: Option<u128>) {}
    fn host_done(&mut self, _host: &HostSummary, _fleet: &FleetSummary) {}
    fn stopping(&mut self) {}
    fn finish(&mut self, _fleet: &FleetSummary) {}
}

/// A bar on stderr.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new() -> Bar {
        Bar {
            bar: ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        }
    }
}

impl Default for Bar {
    fn default() -> Self {
        Bar::new()
    }
}

/// The rate as "12.3 hosts/s" (indicatif's own `{per_sec}` prints four decimals).
fn rate(per_sec: f64) -> String {
    if per_sec.is_finite() {
        format!("{per_sec:.1} hosts/s")
    } else {
        "- hosts/s".to_string()
    }
}

fn message(fleet: &FleetSummary) -> String {
    format!("{} lingering, {} failed", fleet.lingering, fleet.failed)
}

impl Progress for Bar {
    fn start(&mut self, total: Option<u128>) {
        let template = match total {
            Some(_) => {
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} hosts, {msg}, {rate}, ETA {eta}"
            }
            None => "{spinner} [{elapsed_precise}] {pos} hosts, {msg}, {rate}",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            let style = style.with_key(
                "rate",
                |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
                    let _ = out.write_str(&rate(state.per_sec()));
                },
            );
            self.bar.set_style(style);
        }
        if let Some(total) = total {
            self.bar
                .set_length(u64::try_from(total).unwrap_or(u64::MAX));
        }
        self.bar.set_message(message(&FleetSummary::default()));
        // Ticks while every running host waits on a silent peer, so the
        // elapsed time and the rate keep moving.
        self.bar.enable_steady_tick(Duration::from_millis(250));
    }

    fn host_done(&mut self, _host: &HostSummary, fleet: &FleetSummary) {
        self.bar.set_message(message(fleet));
        self.bar.inc(1);
    }

    fn stopping(&mut self) {
        self.bar.println(
            "stopping: no new hosts; waiting for the running ones (their --timeout at most); Ctrl-C again to quit now",
        );
    }

    fn finish(&mut self, fleet: &FleetSummary) {
        self.bar.set_message(message(fleet));
        self.bar.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::rate;

    #[test]
    fn rate_has_one_decimal_and_a_unit() {
        assert_eq!(rate(12.345_678), "12.3 hosts/s");
        assert_eq!(rate(0.0), "0.0 hosts/s");
        assert_eq!(rate(f64::INFINITY), "- hosts/s");
    }
}
