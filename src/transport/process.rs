//! The process helpers every transport uses: how a child is tied to the
//! runner's life (it dies with it), held to an address space, described
//! when it died, and how a child of this binary keeps its protocol stdout
//! apart from what an engine prints.

use tokio::process::Command;

/// The environment of a process of this binary that runs engines (a worker,
/// a probe). `WASM_MATRIX_PARENT`: this process, for [`die_with_runner`].
/// (Huge pages are left as an embedder has them: the tool's mimalloc is
/// built with `no_thp`, so it does not madvise its segments for them.)
pub fn own_child(cmd: &mut std::process::Command) {
    cmd.env("WASM_MATRIX_PARENT", std::process::id().to_string());
}

/// The worker's side of [`die_with_parent`]: it asks for SIGKILL when the
/// runner that started it dies, and ends if that runner is already gone.
/// Done here rather than between fork and exec, so the runner starts
/// workers with posix_spawn (no fork: copying the runner's page tables for
/// each of the hundreds of restarts a crashing engine needs was a fifth of
/// a fuzz run's CPU).
pub fn die_with_runner() {
    let Some(parent) = std::env::var("WASM_MATRIX_PARENT").ok().and_then(|p| p.parse::<libc::pid_t>().ok()) else { return };
    // SAFETY: plain syscalls without pointers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(0);
        }
    }
}

/// Limits the process's address space (RLIMIT_AS, soft and hard), and so
/// that of everything it starts.
pub fn limit_address_space(cmd: &mut Command, bytes: u64) {
    // SAFETY: one prlimit call, async-signal-safe, touching no memory of ours.
    unsafe {
        cmd.pre_exec(move || crate::budget::rlimit_as(0, Some((bytes, bytes))).map(|_| ()));
    }
}

/// Makes the child get SIGKILL when this process dies, however it dies (a
/// SIGKILLed runner must not leave engines spinning). Linux only.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

pub fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let name = match sig {
            4 => " (SIGILL)",
            6 => " (SIGABRT)",
            7 => " (SIGBUS)",
            8 => " (SIGFPE)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            15 => " (SIGTERM)",
            _ => "",
        };
        format!("signal {sig}{name}")
    } else {
        match status.code() {
            Some(101) => "exit code 101 (a Rust panic)".into(),
            Some(c) => format!("exit code {c}"),
            None => "unknown exit status".into(),
        }
    }
}

/// The protocol's own copy of stdout. File descriptor 1 is then pointed at
/// stderr: what an engine prints by itself (WAMR's and wasm3's C `printf`)
/// lands in the worker's stderr, which the runner keeps, and never inside a
/// protocol line.
pub fn protocol_stdout() -> std::fs::File {
    use std::os::fd::FromRawFd;
    // SAFETY: dup of an open descriptor; the new one is owned by the File.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return std::fs::File::from_raw_fd(1);
        }
        libc::dup2(2, 1);
        std::fs::File::from_raw_fd(fd)
    }
}
