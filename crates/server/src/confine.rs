//! Confinement of a `podium script-runner` process (Linux), the second wall
//! around a script behind the JavaScript engine's own sandbox: should a script
//! escape the engine, the process can do almost nothing.
//!
//! - [`unreadable`], first thing: the process may not be traced, nor its memory
//!   read through `/proc`, by other processes of the same user (it holds the task's
//!   input, secrets included), and it leaves no core file.
//! - [`lock_down`], once the request is read and the memory cap is set: no new
//!   privileges (no set-uid program could gain any), and a seccomp filter that
//!   allows only the system calls an evaluation makes: writing its answer (to
//!   standard output or error only, never to a descriptor it inherited), managing
//!   memory (never executable), the clock, and exiting. Anything else (opening a
//!   file, a socket, starting a process, tracing, changing limits) fails with
//!   `EPERM`. The list was read off evaluations of scripts and jq programs with
//!   `strace`; the tests of INLINE and JSON_JQ_TRANSFORM run under it.

use std::collections::BTreeMap;

use nix::libc;
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Forbids tracing the process and dumping its memory.
pub fn unreadable() -> Result<(), String> {
    nix::sys::prctl::set_dumpable(false).map_err(|e| format!("PR_SET_DUMPABLE: {e}"))
}

/// Sets no-new-privileges and installs the seccomp allow-list for this process
/// (it has one thread).
pub fn lock_down() -> Result<(), String> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    let program = filter()?;
    seccompiler::apply_filter(&program).map_err(|e| format!("seccomp: {e}"))
}

/// A rule that holds when the memory protection argument `arg` has no
/// `PROT_EXEC`: memory a script's process maps is never executable.
fn never_executable(arg: u8) -> Result<Vec<SeccompRule>, String> {
    let condition = SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(libc::PROT_EXEC as u64),
        0,
    )
    .map_err(|e| format!("seccomp condition: {e}"))?;
    Ok(vec![
        SeccompRule::new(vec![condition]).map_err(|e| format!("seccomp rule: {e}"))?,
    ])
}

/// Rules that hold when the call's first argument (a file descriptor) is one of
/// `fds`.
fn only_descriptors(fds: &[u64]) -> Result<Vec<SeccompRule>, String> {
    fds.iter()
        .map(|fd| {
            let condition =
                SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, *fd)
                    .map_err(|e| format!("seccomp condition: {e}"))?;
            SeccompRule::new(vec![condition]).map_err(|e| format!("seccomp rule: {e}"))
        })
        .collect()
}

fn filter() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| format!("seccomp: {e}"))?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    // An empty rule list allows the call whatever its arguments.
    for call in [
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_brk,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_madvise,
        libc::SYS_sigaltstack,
        libc::SYS_rt_sigreturn,
        libc::SYS_rt_sigprocmask,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        libc::SYS_clock_gettime,
        libc::SYS_clock_getres,
        libc::SYS_gettimeofday,
        libc::SYS_getrandom,
        libc::SYS_gettid,
    ] {
        rules.insert(call, Vec::new());
    }
    // Writing only the answer (and standard error): never to a descriptor the
    // process may have inherited from whatever started its server.
    rules.insert(libc::SYS_write, only_descriptors(&[1, 2])?);
    rules.insert(libc::SYS_mmap, never_executable(2)?);
    rules.insert(libc::SYS_mprotect, never_executable(2)?);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .map_err(|e| format!("seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("seccomp program: {e}"))
}
