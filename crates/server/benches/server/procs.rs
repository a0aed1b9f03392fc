//! CPU time from `/proc`: of a process tree, of this process, and of the whole
//! machine, so that a run can say what each side used and how much of the machine
//! other work took meanwhile.

/// A live process: its id, its parent's, and its CPU seconds (its own, all threads,
/// and those of the children it has reaped).
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    pub own: f64,
    pub reaped: f64,
}

/// Every process in `/proc`.
pub fn processes() -> Vec<Process> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let ticks = super::clock_ticks_per_second();
    let mut all = Vec::new();
    for entry in entries.filter_map(|e| e.ok()) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<f64> = rest
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0.0))
            .collect();
        // From the state (field 3): ppid is index 1, utime 11, stime 12, cutime 13, cstime 14.
        if fields.len() > 14 {
            all.push(Process {
                pid,
                parent: fields[1] as u32,
                own: (fields[11] + fields[12]) / ticks,
                reaped: (fields[13] + fields[14]) / ticks,
            });
        }
    }
    all
}

/// CPU seconds of `root` and every live process under it, with what they reaped.
pub fn tree_cpu(all: &[Process], root: u32) -> f64 {
    let mut total = 0.0;
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        for p in all {
            if p.pid == pid {
                total += p.own + p.reaped;
            }
            if p.parent == pid {
                stack.push(p.pid);
            }
        }
    }
    total
}

/// CPU seconds of this process alone (the load generator's share).
pub fn own_cpu_seconds() -> f64 {
    let me = std::process::id();
    processes()
        .iter()
        .find(|p| p.pid == me)
        .map_or(f64::NAN, |p| p.own)
}

/// How busy the machine's cores have been, and how much of that was this benchmark's
/// (this process, everything it started, and `extra`: processes of ours it did not
/// start, such as a database cluster), in CPU seconds.
#[derive(Clone, Copy)]
pub struct Machine {
    at: std::time::Instant,
    /// CPU seconds all cores were busy (including time stolen by the hypervisor).
    busy: f64,
    ours: f64,
}

impl Machine {
    pub fn now(extra: f64) -> Machine {
        let ticks = super::clock_ticks_per_second();
        let busy = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|stat| {
                let f: Vec<f64> = stat
                    .lines()
                    .next()?
                    .split_whitespace()
                    .skip(1)
                    .map(|v| v.parse().unwrap_or(0.0))
                    .collect();
                // user nice system idle iowait irq softirq steal: all but idle and iowait.
                Some(
                    (f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7)?)
                        / ticks,
                )
            })
            .unwrap_or(f64::NAN);
        Machine {
            at: std::time::Instant::now(),
            busy,
            ours: tree_cpu(&processes(), std::process::id()) + extra,
        }
    }

    /// The share of the cores that other work (or the hypervisor) took since `self`;
    /// `extra` as for [`Machine::now`], read now.
    pub fn others_since(self, extra: f64) -> f64 {
        let now = Machine::now(extra);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let wall = now.at.duration_since(self.at).as_secs_f64() * cores;
        (((now.busy - self.busy) - (now.ours - self.ours)) / wall).max(0.0)
    }
}
