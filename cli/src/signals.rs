//! Signal names and numbers (runc accepts `TERM`, `SIGTERM`, `term` and `15`), and forwarding of
//! the signals `run` receives to the container.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::str::FromStr;

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::relay::Relay;
use crate::Failure;
use rcontainer_core::{Container, ExitStatus, Process};

pub fn parse(text: &str) -> Result<i32, Failure> {
    if let Ok(n) = text.parse::<i32>() {
        // 0: no signal, only whether the container's init is there (runc accepts it as a probe).
        if (0..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Failure::new(format!("invalid signal number {n}"), 1));
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&name).map(|s| s as i32).map_err(|_| Failure::new(format!("unknown signal {text:?}"), 1))
}

/// The signals `run` passes on to the container instead of dying from them.
fn forwarded() -> SigSet {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGWINCH, Signal::SIGCONT] {
        set.add(s);
    }
    set
}

/// Blocks the forwarded signals in this (still single-threaded) process; call before create.
pub fn block() -> Result<SignalFd, Failure> {
    let set = forwarded();
    set.thread_block().map_err(|e| Failure::new(format!("block signals: {e}"), 1))?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).map_err(|e| Failure::new(format!("signalfd: {e}"), 1))
}

/// What `run` and `exec` wait for in the foreground: a container's init, or an exec'd process.
pub trait Waited {
    fn pidfd_raw(&self) -> RawFd;
    fn signal(&mut self, sig: i32);
    fn wait_now(&mut self) -> Result<ExitStatus, Failure>;
}

impl Waited for Container {
    fn pidfd_raw(&self) -> RawFd {
        self.pidfd().map(|f| f.as_raw_fd()).unwrap_or(-1)
    }
    fn signal(&mut self, sig: i32) {
        let _ = self.kill(sig);
    }
    fn wait_now(&mut self) -> Result<ExitStatus, Failure> {
        Ok(self.wait(None)?)
    }
}

impl Waited for Process {
    fn pidfd_raw(&self) -> RawFd {
        self.pidfd().map(|f| f.as_raw_fd()).unwrap_or(-1)
    }
    fn signal(&mut self, sig: i32) {
        let _ = self.kill(sig);
    }
    fn wait_now(&mut self) -> Result<ExitStatus, Failure> {
        Ok(self.wait(None)?)
    }
}

/// Waits for the container's init or an exec'd process, forwarding received signals to it, and
/// copying between the caller's terminal and the container's pipes or pty when there is a relay.
pub fn wait_forwarding(container: &mut impl Waited, sfd: &mut SignalFd, mut relay: Option<&mut Relay>) -> Result<ExitStatus, Failure> {
    loop {
        let pidfd = container.pidfd_raw();
        let mut fds =
            vec![libc::pollfd { fd: sfd.as_fd().as_raw_fd(), events: libc::POLLIN, revents: 0 }, libc::pollfd { fd: pidfd, events: libc::POLLIN, revents: 0 }];
        if let Some(r) = relay.as_deref() {
            fds.extend(r.pollfds());
        }
        // SAFETY: valid pollfds.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if r < 0 {
            continue;
        }
        if fds[0].revents & libc::POLLIN != 0 {
            if let Ok(Some(info)) = sfd.read_signal() {
                match relay.as_deref() {
                    // A window resize of ours becomes one of the container's terminal (whose
                    // foreground process the kernel then tells with SIGWINCH itself).
                    Some(r) if r.has_pty() && info.ssi_signo as i32 == libc::SIGWINCH => r.resize(),
                    _ => container.signal(info.ssi_signo as i32),
                }
            }
        }
        if let Some(r) = relay.as_deref_mut() {
            if fds[2..].iter().any(|p| p.revents != 0) {
                r.pump(&fds[2..]);
            }
        }
        if fds[1].revents != 0 || pidfd < 0 {
            let status = container.wait_now()?;
            if let Some(r) = relay.as_deref_mut() {
                r.drain();
            }
            return Ok(status);
        }
    }
}
