//! CPU time, read from Linux's `/proc`, for the load generators (`issuer`, `verifier` and
//! `attester` examples) and the workload benchmarks: results are reported per CPU-second
//! of the process that did the work (the server under load, or the measuring thread), so a
//! busy machine or a slow load generator does not change them. Tooling only: no role or
//! library links this crate outside its examples and benchmarks.

use std::time::Duration;

/// The kernel's `USER_HZ`: the unit of the CPU times in `/proc/<pid>/stat`. Linux fixes it
/// at 100 for user space on every architecture it supports, whatever `CONFIG_HZ` is.
pub const USER_HZ: u64 = 100;

/// Why a CPU time could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// The `/proc` file could not be read (no such process, or not Linux).
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file does not have the documented layout.
    #[error("{0} does not have the layout proc(5) documents")]
    Layout(String),
}

/// User + system CPU time of process `pid` so far (`/proc/<pid>/stat`, fields 14 and 15).
pub fn process_cpu(pid: u32) -> Result<Duration, MeasureError> {
    let path = format!("/proc/{pid}/stat");
    let text = read(&path)?;
    let ticks = stat_cpu_ticks(&text).ok_or(MeasureError::Layout(path))?;
    Ok(Duration::from_millis(ticks.saturating_mul(1000 / USER_HZ)))
}

/// User + system CPU time of this process so far.
pub fn own_cpu() -> Result<Duration, MeasureError> {
    process_cpu(std::process::id())
}

/// CPU time of the calling thread so far (`/proc/thread-self/schedstat`, nanoseconds: finer
/// than the tick-based process times, for single-threaded micro-benchmarks).
pub fn thread_cpu() -> Result<Duration, MeasureError> {
    let path = "/proc/thread-self/schedstat";
    let text = read(path)?;
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| MeasureError::Layout(path.to_owned()))?;
    Ok(Duration::from_nanos(ns))
}

fn read(path: &str) -> Result<String, MeasureError> {
    std::fs::read_to_string(path).map_err(|source| MeasureError::Read {
        path: path.to_owned(),
        source,
    })
}

/// utime + stime of a `/proc/<pid>/stat` line. The command name (field 2) is in
/// parentheses and may itself hold spaces and parentheses, so fields are counted after the
/// *last* `)`: state is then the first, utime the 12th and stime the 13th.
fn stat_cpu_ticks(text: &str) -> Option<u64> {
    let (_, after) = text.rsplit_once(')')?;
    let mut fields = after.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_after_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (tokio (rt) worker) S 1 4242 4242 0 -1 4194560 1200 0 0 0 \
                    321 79 0 0 20 0 9 0 1234 567890 1234 18446744073709551615";
        assert_eq!(stat_cpu_ticks(line), Some(400));
    }

    #[test]
    fn rejects_a_truncated_or_garbled_line() {
        assert_eq!(stat_cpu_ticks("4242 (x) S 1 2 3"), None);
        assert_eq!(stat_cpu_ticks("no parenthesis at all"), None);
        assert_eq!(stat_cpu_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1"), None);
    }

    #[test]
    fn reads_this_process_and_this_thread() {
        assert!(own_cpu().is_ok());
        assert!(thread_cpu().is_ok());
        assert!(matches!(
            process_cpu(u32::MAX),
            Err(MeasureError::Read { .. })
        ));
    }
}
