//! Bottom layer: progress of long steps. A bar (indicatif) when standard error is a terminal;
//! plain lines at every tenth of the work otherwise, when asked for (logs of batch jobs and
//! notebooks, where a bar would print thousands of lines); nothing at all when not verbose.
//!
//! ```
//! let mut p = genolm::progress::Progress::new("scoring", 3, false);
//! for _ in 0..3 {
//!     p.inc(1, "a genome");
//! }
//! p.finish();
//! ```

use std::io::IsTerminal;
use std::time::Instant;

/// One long step's progress.
#[derive(Debug)]
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    next_line: u64,
    lines: bool,
    t0: Instant,
}

impl Progress {
    /// Progress over `total` units. A bar on a terminal whatever `verbose`; plain lines
    /// otherwise when `verbose`.
    pub fn new(label: impl Into<String>, total: usize, verbose: bool) -> Self {
        let label = label.into();
        let tty = std::io::stderr().is_terminal();
        let bar = tty.then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            b.set_prefix(label.clone());
            b
        });
        Progress {
            bar,
            label,
            total: total as u64,
            done: 0,
            next_line: 0,
            lines: verbose && !tty,
            t0: Instant::now(),
        }
    }

    /// `n` more units done; `msg` says what is being done now.
    pub fn inc(&mut self, n: usize, msg: &str) {
        self.done += n as u64;
        if let Some(b) = &self.bar {
            b.set_message(msg.to_string());
            b.inc(n as u64);
        } else if self.lines && self.done >= self.next_line {
            eprintln!(
                "{}: {}/{} {msg} ({:.0} s)",
                self.label,
                self.done,
                self.total,
                self.t0.elapsed().as_secs_f64()
            );
            self.next_line = self.done + (self.total / 10).max(1);
        }
    }

    /// Done: clear the bar.
    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish_and_clear();
        }
    }
}
