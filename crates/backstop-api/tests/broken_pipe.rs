//! A daemon that goes away while the CLI writes a request (`backstop down`
//! polling a daemon that is exiting) is an error the CLI reports, never a
//! SIGPIPE that kills it with exit 141 and no word. Its own test binary:
//! it sets SIGPIPE to its default action for the whole process, as the CLI
//! does, which no other test should share.

use backstop_api::Client;

#[test]
fn a_daemon_that_closes_mid_request_is_an_error_not_a_sigpipe() {
    // SAFETY: the default action of a signal, set before any other thread
    // of this test binary runs (it has this one test).
    unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        )
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("control.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Accepts, reads nothing and closes: a request larger than the
    // socket's buffer is still being written when the peer is gone.
    let server = std::thread::spawn(move || drop(listener.accept().unwrap()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let big = vec![0u8; 4_000_000];
    let answer = runtime.block_on(
        Client::new(&path).post_json::<_, serde_json::Value>("/api/v1/daemon/reload", &big),
    );
    server.join().unwrap();
    let error = answer.expect_err("the peer closed: no answer");
    assert!(!error.to_string().is_empty());
}
