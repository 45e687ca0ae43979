//! Foreground `run`: what stands between the caller's terminal and the container. The caller's
//! terminal is never handed to the container (a container could push input into the caller's
//! shell with TIOCSTI):
//! - without a terminal of its own (no `-t`, `process.terminal` false), every stdio fd of ours
//!   that is a terminal is replaced, for the container, by a pipe, and this process copies
//!   between the two while it waits (runc does the same);
//! - with one, the container gets a new pty; this process puts its own terminal in raw mode
//!   (restored on every way out), copies between it and the pty's master, and passes window
//!   size changes on (docker run -it, runc run with terminal: true).
//!
//! A detached container (`create`, `run -d`) gets /dev/null in place of a terminal.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::termios::{self, SetArg, Termios};

use crate::Failure;

/// One direction of copying: from `from` to `to`, with what could not be written yet.
struct Copy {
    from: RawFd,
    to: RawFd,
    /// Our end of a pipe (`from` or `to`), closed at EOF so the container sees it too.
    ours: Option<OwnedFd>,
    pending: Vec<u8>,
    done: bool,
}

impl Copy {
    fn finish(&mut self) {
        self.done = true;
        self.pending.clear();
        self.ours = None;
    }
}

/// The caller's terminal settings, put back when dropped.
struct RawMode {
    fd: RawFd,
    saved: Termios,
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(borrow(self.fd), SetArg::TCSANOW, &self.saved);
    }
}

/// What stands between the caller's stdio and the container's, and what to copy.
pub struct Relay {
    /// The container's ends of the pipes, passed to `create` and closed here after it.
    container_ends: [Option<OwnedFd>; 3],
    copies: Vec<Copy>,
    /// The pty master, for a container with a terminal.
    pty: Option<OwnedFd>,
    raw: Option<RawMode>,
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
        let mut relay = Relay { container_ends: [None, None, None], copies: Vec::new(), pty: None, raw: None };
        for fd in ttys {
            let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(fail)?;
            let (theirs, ours) = if fd == 0 { (r, w) } else { (w, r) };
            set_nonblocking(ours.as_fd()).map_err(fail)?;
            let (from, to) = if fd == 0 { (0, ours.as_raw_fd()) } else { (ours.as_raw_fd(), fd) };
            relay.copies.push(Copy { from, to, ours: Some(ours), pending: Vec::new(), done: false });
            relay.container_ends[fd as usize] = Some(theirs);
        }
        Ok(Some(relay))
    }

    /// A relay for a container with a terminal: its pty `master` to our stdout, and our stdin to
    /// it when `stdin` (docker's -i). Our terminal, if stdin is one and is relayed, goes raw (so
    /// Ctrl-C reaches the container's foreground process, not us) until the relay is dropped;
    /// the pty gets our terminal's size.
    pub fn for_pty(master: OwnedFd, stdin: bool) -> Result<Relay, Failure> {
        let fail = |e: Errno| Failure::new(format!("terminal: {e}"), 125);
        set_nonblocking(master.as_fd()).map_err(fail)?;
        let mut relay = Relay { container_ends: [None, None, None], copies: Vec::new(), pty: None, raw: None };
        if stdin {
            relay.copies.push(Copy { from: 0, to: master.as_raw_fd(), ours: None, pending: Vec::new(), done: false });
            if is_tty(0) {
                let saved = termios::tcgetattr(borrow(0)).map_err(fail)?;
                let mut raw = saved.clone();
                termios::cfmakeraw(&mut raw);
                termios::tcsetattr(borrow(0), SetArg::TCSANOW, &raw).map_err(fail)?;
                relay.raw = Some(RawMode { fd: 0, saved });
            }
        }
        relay.copies.push(Copy { from: master.as_raw_fd(), to: 1, ours: None, pending: Vec::new(), done: false });
        relay.pty = Some(master);
        relay.resize();
        Ok(relay)
    }

    /// Whether this relays a terminal of the container's own (window sizes are passed on).
    pub fn has_pty(&self) -> bool {
        self.pty.is_some()
    }

    /// Gives the container's terminal the size of ours (at start, and on SIGWINCH).
    pub fn resize(&self) {
        let Some(pty) = &self.pty else { return };
        for fd in [0, 1, 2] {
            let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
            // SAFETY: ioctl into a live winsize on our own fds.
            if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
                // SAFETY: as above, on the master we own.
                unsafe { libc::ioctl(pty.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
                return;
            }
        }
    }

    /// The fds the container gets in place of ours (None: ours, not a terminal).
    pub fn container_stdio(&self) -> [Option<RawFd>; 3] {
        [0, 1, 2].map(|i| self.container_ends[i].as_ref().map(|f| f.as_raw_fd()))
    }

    /// After `create`: the container holds its ends; ours must go, so that EOF can come.
    pub fn close_container_ends(&mut self) {
        self.container_ends = [None, None, None];
    }

    fn active(&self) -> impl Iterator<Item = &Copy> {
        self.copies.iter().filter(|c| !c.done)
    }

    /// pollfd entries for what can move now.
    pub fn pollfds(&self) -> Vec<libc::pollfd> {
        self.active()
            .map(|c| {
                if c.pending.is_empty() {
                    libc::pollfd { fd: c.from, events: libc::POLLIN, revents: 0 }
                } else {
                    libc::pollfd { fd: c.to, events: libc::POLLOUT, revents: 0 }
                }
            })
            .collect()
    }

    /// Moves what `ready` (poll's answer for [`Relay::pollfds`]) says can move without blocking.
    pub fn pump(&mut self, ready: &[libc::pollfd]) {
        let is_ready = |fd: RawFd| ready.iter().any(|p| p.fd == fd && p.revents != 0);
        for c in self.copies.iter_mut().filter(|c| !c.done) {
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
                continue;
            }
            if !is_ready(c.from) {
                continue;
            }
            let mut buf = [0u8; 16384];
            match nix::unistd::read(borrow(c.from), &mut buf) {
                // EOF (a pty master says EIO once every slave fd is closed).
                Ok(0) | Err(Errno::EIO) => c.finish(),
                Ok(n) => c.pending.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => c.finish(),
            }
        }
    }

    /// Once the container has exited: copies what it left in the output (until EOF, or until
    /// nothing comes for a moment: a process that outlived the init may hold it open).
    pub fn drain(&mut self) {
        for c in self.copies.iter_mut().filter(|c| c.from == 0) {
            c.finish();
        }
        loop {
            let mut fds = self.pollfds();
            if fds.is_empty() {
                return;
            }
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
    // SAFETY: the fds are ours (stdio, or fds the Relay owns) for as long as the relay runs.
    unsafe { BorrowedFd::borrow_raw(fd) }
}
