//! Shared by the fuzz targets: running the code under test on a thread with the stack
//! Podium's own threads have, so an unbounded recursion is found as it would happen
//! in the server.

/// The stack of tokio's worker threads and of the store's writer thread (2 MiB).
const SERVER_STACK_BYTES: usize = 2 * 1024 * 1024;

/// Runs `f` on a fresh thread with the server's stack size; a panic or a stack
/// overflow there aborts the process, which libFuzzer reports as a crash.
pub fn on_server_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .stack_size(SERVER_STACK_BYTES)
            .spawn_scoped(scope, f)
            .expect("a thread for the input");
        match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
