//! Progress of a long copy or check on stderr: an indicatif bar on a terminal, and a plain
//! line every few seconds otherwise (logs, CI, `nohup`), so a long run never looks stuck.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often the plain line is printed when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// One phase's progress: items (or bytes) done out of a total, when the total is known.
pub struct Progress {
    label: String,
    total: Option<u64>,
    bytes: bool,
    bar: ProgressBar,
    plain: Option<Mutex<PlainState>>,
}

struct PlainState {
    done: u64,
    last_print: Instant,
    printed: bool,
}

impl Progress {
    /// Counts items; `total` when it is known in advance.
    pub fn items(label: &str, total: Option<u64>) -> Self {
        Self::new(label, total, false)
    }

    /// Counts bytes out of `total`.
    pub fn bytes(label: &str, total: u64) -> Self {
        Self::new(label, Some(total), true)
    }

    fn new(label: &str, total: Option<u64>, bytes: bool) -> Self {
        let bar = match total {
            Some(total) => ProgressBar::new(total),
            None => ProgressBar::new_spinner(),
        };
        let template = match (total.is_some(), bytes) {
            (true, true) => {
                "{prefix:>12} [{bar:24}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta})"
            }
            (true, false) => "{prefix:>12} [{bar:24}] {human_pos}/{human_len} (eta {eta})",
            (false, _) => "{prefix:>12} {spinner} {human_pos} ({elapsed})",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_owned());
        let plain = bar.is_hidden().then(|| {
            Mutex::new(PlainState {
                done: 0,
                last_print: Instant::now(),
                printed: false,
            })
        });
        if plain.is_none() && total.is_none() {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Self {
            label: label.to_owned(),
            total,
            bytes,
            bar,
            plain,
        }
    }

    pub fn add(&self, amount: u64) {
        self.bar.inc(amount);
        if let Some(plain) = &self.plain {
            let mut state = plain
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            state.done += amount;
            if state.last_print.elapsed() >= PLAIN_EVERY {
                state.last_print = Instant::now();
                state.printed = true;
                eprintln!("{}", self.line(state.done));
            }
        }
    }

    /// Ends the phase (a plain line that was printed gets its final count).
    pub fn finish(self) {
        self.bar.finish_and_clear();
        if let Some(plain) = &self.plain {
            let state = plain
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.printed {
                eprintln!("{}", self.line(state.done));
            }
        }
    }

    fn line(&self, done: u64) -> String {
        let unit = if self.bytes { " bytes" } else { "" };
        match self.total {
            Some(total) if total > 0 => format!(
                "{}: {done}/{total}{unit} ({}%)",
                self.label,
                done * 100 / total
            ),
            _ => format!("{}: {done}{unit}", self.label),
        }
    }
}
