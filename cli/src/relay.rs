//! Foreground `run` without a terminal of its own: the caller's terminal is never handed to the
//! container. Every stdio fd of ours that is a terminal is replaced, for the container, by a
//! pipe, and this process copies between the two while it waits (runc does the same). Handed the
//! terminal itself, a container could push input into the caller's shell with TIOCSTI.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use crate::Failure;

/// One direction of copying: from `from` to `to`, with what could not be written yet.
struct Copy {
    from: RawFd,
    to: RawFd,
    /// Our end of the pipe (`from` or `to`); closed at EOF, so the container sees it too.
    ours: Option<OwnedFd>,
    pending: Vec<u8>,
    eof: bool,
}

impl Copy {
    fn finish(&mut self) {
        self.eof = true;
        self.pending.clear();
        self.ours = None;
    }
}

/// The pipes standing in for the terminal, and what to copy.
pub struct Relay {
    /// The container's ends, passed to `create` and closed here after it.
    container_ends: [Option<OwnedFd>; 3],
    copies: Vec<Copy>,
}

fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty on any fd number is harmless.
    unsafe { libc::isatty(fd) == 1 }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(|_| ())
}

impl Relay {
    /// A relay for every stdio fd of ours that is a terminal; None when none is.
    pub fn for_terminals() -> Result<Option<Relay>, Failure> {
        let ttys: Vec<RawFd> = (0..3).filter(|fd| is_tty(*fd)).collect();
        if ttys.is_empty() {
            return Ok(None);
        }
        let fail = |e: Errno| Failure::new(format!("pipe for the container's stdio: {e}"), 125);
        let mut relay = Relay { container_ends: [None, None, None], copies: Vec::new() };
        for fd in ttys {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(fail)?;
            let (theirs, ours) = if fd == 0 { (r, w) } else { (w, r) };
            set_nonblocking(ours.as_fd()).map_err(fail)?;
            let (from, to) = if fd == 0 { (0, ours.as_raw_fd()) } else { (ours.as_raw_fd(), fd) };
            relay.copies.push(Copy { from, to, ours: Some(ours), pending: Vec::new(), eof: false });
            relay.container_ends[fd as usize] = Some(theirs);
        }
        Ok(Some(relay))
    }

    /// The fds the container gets in place of ours (None: ours, not a terminal).
    pub fn container_stdio(&self) -> [Option<RawFd>; 3] {
        [0, 1, 2].map(|i| self.container_ends[i].as_ref().map(|f| f.as_raw_fd()))
    }

    /// After `create`: the container holds its ends; ours must go, so that EOF can come.
    pub fn close_container_ends(&mut self) {
        self.container_ends = [None, None, None];
    }

    /// pollfd entries for what can move now.
    pub fn pollfds(&self) -> Vec<libc::pollfd> {
        let mut v = Vec::new();
        for c in self.copies.iter().filter(|c| c.ours.is_some()) {
            if !c.pending.is_empty() {
                v.push(libc::pollfd { fd: c.to, events: libc::POLLOUT, revents: 0 });
            } else if !c.eof {
                v.push(libc::pollfd { fd: c.from, events: libc::POLLIN, revents: 0 });
            }
        }
        v
    }

    /// Moves what `ready` (poll's answer for [`Relay::pollfds`]) says can move without blocking.
    pub fn pump(&mut self, ready: &[libc::pollfd]) {
        let is_ready = |fd: RawFd| ready.iter().any(|p| p.fd == fd && p.revents != 0);
        for c in self.copies.iter_mut().filter(|c| c.ours.is_some()) {
            if !c.pending.is_empty() {
                if !is_ready(c.to) {
                    continue;
                }
                match nix::unistd::write(borrow(c.to), &c.pending) {
                    Ok(n) => {
                        c.pending.drain(..n);
                    }
                    Err(Errno::EAGAIN | Errno::EINTR) => {}
                    // The reader is gone (the container closed its stdin, our terminal hung up).
                    Err(_) => c.finish(),
                }
                if c.pending.is_empty() && c.eof {
                    c.finish();
                }
                continue;
            }
            if c.eof {
                c.finish();
                continue;
            }
            if !is_ready(c.from) {
                continue;
            }
            let mut buf = [0u8; 16384];
            match nix::unistd::read(borrow(c.from), &mut buf) {
                // EOF: pass it on once what was read is written.
                Ok(0) => c.finish(),
                Ok(n) => c.pending.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => c.finish(),
            }
        }
    }

    /// Once the container has exited: copies what it left in the output pipes (until EOF, or
    /// until nothing comes for a moment: a process that outlived the init may hold them).
    pub fn drain(&mut self) {
        self.copies.retain(|c| c.from != 0);
        loop {
            let fds = self.pollfds();
            if fds.is_empty() {
                return;
            }
            let mut fds = fds;
            // SAFETY: valid pollfd entries.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 200) };
            if r == 0 {
                return;
            }
            if r < 0 && Errno::last() != Errno::EINTR {
                return;
            }
            self.pump(&fds);
        }
    }
}

/// For a container that outlives this command (`create`, `run -d`): each stdio fd of ours that is
/// a terminal is replaced by /dev/null (there is nobody left to relay it). The returned fd must
/// stay open until the container is created.
pub fn detached_stdio() -> Result<([Option<RawFd>; 3], Option<OwnedFd>), Failure> {
    let ttys: Vec<RawFd> = (0..3).filter(|fd| is_tty(*fd)).collect();
    if ttys.is_empty() {
        return Ok(([None; 3], None));
    }
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDWR | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(|e| Failure::new(format!("open /dev/null: {e}"), 125))?;
    let mut fds = [None; 3];
    for fd in ttys {
        fds[fd as usize] = Some(null.as_raw_fd());
    }
    eprintln!("rcontainer: the container gets /dev/null in place of this terminal (a container never gets the caller's terminal)");
    Ok((fds, Some(null)))
}

fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the fds are ours (stdio, or pipes the Relay owns) for as long as the relay runs.
    unsafe { BorrowedFd::borrow_raw(fd) }
}
