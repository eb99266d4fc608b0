//! What a process costs: its CPU time from /proc, and pinning it to one CPU so that a load
//! generator on the other does not share its core.

use std::process::{Command, Stdio};

use anyhow::{Context as _, ensure};

/// Pins every thread of `pid` to one CPU.
pub(crate) fn pin(pid: u32, cpu: usize) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .context("running taskset")?;
    ensure!(status.success(), "taskset failed for {pid}");
    Ok(())
}

/// User plus system CPU time of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat).
pub(crate) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after it do not.
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is fields[0] here, so utime (14) is fields[11] and stime (15) fields[12].
    let tick = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("a short /proc stat line")?.parse()?)
    };
    Ok(tick(11)? + tick(12)?)
}

pub(crate) fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}
