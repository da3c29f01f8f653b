//! What the kernel says about a process: resident memory, CPU time, and the
//! open-files limit, read from `/proc` (Linux only).

use std::fs;
use std::io;
use std::process::Command;
use std::sync::OnceLock;

/// Resident set size of process `pid` in KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_vm_rss(&status).ok_or_else(|| invalid(format!("no VmRSS line for pid {pid}")))
}

/// CPU time process `pid` has used so far, user plus system, in seconds
/// (`utime` + `stime` in `/proc/<pid>/stat`).
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let ticks = parse_cpu_ticks(&stat)
        .ok_or_else(|| invalid(format!("cannot read utime/stime for pid {pid}")))?;
    Ok(ticks as f64 / clock_ticks_per_second() as f64)
}

/// The open-files limit of this process, `(soft, hard)`, from
/// `/proc/self/limits`; `u64::MAX` stands for "unlimited".
///
/// Every WebSocket connection costs one file descriptor in this process and
/// one in the server, which inherits this process's soft limit.
pub fn open_files_limit() -> io::Result<(u64, u64)> {
    let limits = fs::read_to_string("/proc/self/limits")?;
    parse_open_files(&limits).ok_or_else(|| invalid("no `Max open files` line".to_owned()))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`), from
/// `getconf CLK_TCK`; 100, the value on every mainstream Linux, if that fails.
fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // `pid (comm) state ...`: comm may hold spaces and parentheses, so count
    // fields after the last `)`. There, field 3 (state) comes first; utime and
    // stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

fn parse_open_files(limits: &str) -> Option<(u64, u64)> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut values = line["Max open files".len()..].split_whitespace().map(|v| {
        if v == "unlimited" {
            Some(u64::MAX)
        } else {
            v.parse().ok()
        }
    });
    Some((values.next()??, values.next()??))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tchorus\nVmPeak:\t  9000 kB\nVmRSS:\t   12345 kB\nThreads:\t3\n";
        assert_eq!(parse_vm_rss(status), Some(12345));
    }

    #[test]
    fn reads_cpu_ticks_past_a_tricky_comm() {
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert_eq!(parse_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn reads_open_files_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            20000                20000                files\n";
        assert_eq!(parse_open_files(limits), Some((20000, 20000)));
        let unlimited =
            "Max open files            1024                 unlimited            files\n";
        assert_eq!(parse_open_files(unlimited), Some((1024, u64::MAX)));
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        let (soft, hard) = open_files_limit().unwrap();
        assert!(soft <= hard);
    }
}
