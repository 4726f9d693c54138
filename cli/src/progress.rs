//! Progress on a terminal, and only there: never under `--json`, never when stderr is
//! a pipe or a file. Byte progress (a bar, a percentage and MiB/s) for streams of a
//! known length; an elapsed-time indicator for store operations that cannot say how
//! far along they are (compaction, rekey, backup, restore, passphrase change).

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Below this many bytes a stream shows no bar (it is over before one would help).
pub(crate) const BYTES_MIN: u64 = 8 << 20;

/// Whether progress may be drawn: stderr is a terminal and the output is not JSON.
pub(crate) fn wanted(json_mode: bool) -> bool {
    !json_mode && std::io::stderr().is_terminal()
}

/// A `Read` that draws `label [#####     ]  42%  310.2 MiB/s` as it is read.
struct Bytes<R> {
    inner: R,
    done: u64,
    total: u64,
    shown: u64,
    start: Instant,
    label: &'static str,
    finished: bool,
}

impl<R: Read> Read for Bytes<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        let pct = (self.done * 100)
            .checked_div(self.total)
            .unwrap_or(100)
            .min(100);
        if pct != self.shown {
            self.shown = pct;
            let secs = self.start.elapsed().as_secs_f64().max(1e-3);
            let mib_s = self.done as f64 / secs / (1 << 20) as f64;
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\r{} [{bar:<25}] {pct:>3}% {mib_s:>8.1} MiB/s", self.label);
        }
        if n == 0 && !self.finished {
            self.finished = true;
            eprintln!();
        }
        Ok(n)
    }
}

/// `r` with a byte bar when progress is wanted and the length is known and large.
pub(crate) fn reader(
    r: Box<dyn Read>,
    len: Option<u64>,
    label: &'static str,
    json_mode: bool,
) -> Box<dyn Read> {
    match len {
        Some(total) if total >= BYTES_MIN && wanted(json_mode) => Box::new(Bytes {
            inner: r,
            done: 0,
            total,
            shown: u64::MAX,
            start: Instant::now(),
            label,
            finished: false,
        }),
        _ => r,
    }
}

/// `label ⠋ 3.2s` redrawn ten times a second by a thread of its own while a long
/// operation runs; `finish` leaves `label: done in 3.4s`, dropping it unfinished
/// (an error) clears the line.
pub(crate) struct Activity {
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
    label: &'static str,
    start: Instant,
}

impl Activity {
    /// Starts drawing when progress is wanted; otherwise does nothing at all.
    pub(crate) fn start(label: &'static str, json_mode: bool) -> Activity {
        let start = Instant::now();
        let running = wanted(json_mode).then(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let seen = Arc::clone(&stop);
            let t = std::thread::spawn(move || {
                const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
                let mut i = 0usize;
                while !seen.load(Ordering::Relaxed) {
                    let frame = FRAMES.get(i % FRAMES.len()).copied().unwrap_or('|');
                    eprint!("\r{label} {frame} {:.1}s", start.elapsed().as_secs_f64());
                    let _ = std::io::stderr().flush();
                    i += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
            (stop, t)
        });
        Activity {
            running,
            label,
            start,
        }
    }

    fn stop(&mut self) -> bool {
        match self.running.take() {
            Some((stop, t)) => {
                stop.store(true, Ordering::Relaxed);
                let _ = t.join();
                eprint!("\r\x1b[2K");
                true
            }
            None => false,
        }
    }

    /// Stops drawing and says how long it took (on the terminal only).
    pub(crate) fn finish(mut self) {
        if self.stop() {
            eprintln!(
                "{}: done in {:.1}s",
                self.label,
                self.start.elapsed().as_secs_f64()
            );
        }
    }
}

impl Drop for Activity {
    fn drop(&mut self) {
        self.stop();
    }
}
