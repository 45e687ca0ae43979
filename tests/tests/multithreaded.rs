//! A multithreaded parent (what Python and Node hosts are): containers are created while 8 other
//! threads allocate and free memory in a tight loop. After clone only the calling thread exists
//! in the child, so a lock another thread held (malloc's) stays locked forever: the child must
//! use only raw syscalls until exec (DESIGN.md, "The child").
//!
//! This test binary installs the allocator guard of DESIGN.md: a global allocator that, when
//! called in a process other than the one that started the binary, writes "allocation in
//! container child" to fd 2 and `_exit(99)`s, so an allocation that slips into the child between
//! clone and exec makes create fail instead of hanging once in a thousand runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcontainer_core::Container;
use rcontainer_tests::*;

const MESSAGE: &[u8] = b"allocation in container child\n";

/// The pid of the process the binary started as (set by the first allocation, which happens in
/// the runtime's startup, long before any container).
static GUARD_PID: AtomicI32 = AtomicI32::new(0);
/// Allocations seen in the original process.
static GUARD_ALLOCS: AtomicU64 = AtomicU64::new(0);

struct ChildAllocGuard;

impl ChildAllocGuard {
    #[inline]
    fn check() {
        // The raw syscall: glibc's getpid() is not cached any more, but be explicit.
        // SAFETY: getpid has no arguments and cannot fail.
        let pid = unsafe { libc::syscall(libc::SYS_getpid) } as i32;
        match GUARD_PID.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => {}
            Err(first) if first == pid => {}
            Err(_) => {
                // SAFETY: write and _exit are async-signal-safe raw calls on a static buffer.
                unsafe {
                    libc::write(2, MESSAGE.as_ptr() as *const libc::c_void, MESSAGE.len());
                    libc::_exit(99);
                }
            }
        }
        GUARD_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for ChildAllocGuard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        Self::check();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GUARD: ChildAllocGuard = ChildAllocGuard;

#[test]
fn the_allocator_guard_is_installed_and_counts_parent_allocations() {
    let before = GUARD_ALLOCS.load(Ordering::Relaxed);
    let v = std::hint::black_box(vec![7u8; 4096]);
    drop(v);
    let after = GUARD_ALLOCS.load(Ordering::Relaxed);
    assert!(after >= before + 2, "the guard saw no allocation: before {before}, after {after}");
    assert_eq!(GUARD_PID.load(Ordering::SeqCst), std::process::id() as i32, "guard armed for another pid");
}

#[test]
fn the_allocator_guard_stops_a_forked_child_that_allocates() {
    // fork() then allocate in the child: the guard must report and _exit(99) before touching
    // malloc (which another thread of this process may hold locked).
    let (r, w) = pipe();
    use std::os::fd::AsRawFd;
    let wfd = w.as_raw_fd();
    // SAFETY: the child only performs dup2, an allocation (which the guard turns into write +
    // _exit), and _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: raw calls only in the forked child.
        unsafe {
            libc::dup2(wfd, 2);
            let b = std::hint::black_box(Box::new([1u8; 64]));
            std::hint::black_box(&b);
            libc::_exit(0);
        }
    }
    drop(w);
    let mut status = 0;
    // SAFETY: reaping our own child.
    let r_pid = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r_pid, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(libc::WEXITSTATUS(status), 99, "the guard did not stop the child");
    let text = read_on_thread(r).join().expect("reader");
    assert_eq!(text.as_bytes(), MESSAGE);
}

/// Eight threads that allocate and free memory of varied sizes in a tight loop, until `stop`.
/// One also takes stdout's lock each round; one also creates and joins a thread each round (a
/// thread being created at clone time is what makes glibc's setxid broadcast — setgroups(),
/// setuid()... wrappers — wait forever in the child).
fn start_allocators(stop: &Arc<AtomicBool>) -> Vec<std::thread::JoinHandle<u64>> {
    (0..8)
        .map(|t| {
            let stop = Arc::clone(stop);
            std::thread::spawn(move || {
                // Lower priority: the allocators must hold locks often, not starve the test.
                // SAFETY: setpriority on this thread (Linux: a tid is a process id here).
                unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t, 10) };
                let mut n = 0u64;
                let mut keep: Vec<Vec<u8>> = Vec::with_capacity(64);
                while !stop.load(Ordering::Relaxed) {
                    for i in 0..64usize {
                        let size = 16 + ((i * 7919 + t * 131 + n as usize) % 8192);
                        let v = vec![i as u8; size];
                        if keep.len() < 64 {
                            keep.push(v);
                        } else {
                            keep[i] = v;
                        }
                        n += 1;
                    }
                    keep.truncate(8);
                    let s = format!("{n}{t}");
                    std::hint::black_box(&s);
                    if t == 0 {
                        drop(std::io::stdout().lock());
                    }
                    if t == 1 {
                        let h = std::thread::spawn(|| std::hint::black_box(vec![0u8; 128]).len());
                        n += h.join().unwrap_or(0) as u64 / 128;
                    }
                }
                n
            })
        })
        .collect()
}

#[test]
fn containers_while_8_threads_allocate_500_times() {
    require_root!();
    let iterations: usize = std::env::var("RCT_MT_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let root = StateRoot::new();
    let rootfs = Rootfs::busybox();
    let spec = rcontainer_core::SpecBuilder::new(["/bin/true"]).rootfs(rootfs.path()).build();

    // The watchdog: a hang (the failure this test exists for) aborts after 120 s (or
    // $RCT_MT_WATCHDOG_SECS) with a message.
    let done = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0));
    {
        let (done, progress) = (Arc::clone(&done), Arc::clone(&progress));
        std::thread::spawn(move || {
            let secs = std::env::var("RCT_MT_WATCHDOG_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(120);
            let deadline = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < deadline {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            write_stderr(&format!(
                "WATCHDOG: containers_while_8_threads_allocate_500_times hung after {} containers (a container child stuck between clone and exec?); children: {:?}\n",
                progress.load(Ordering::SeqCst),
                children()
            ));
            kill_children();
            std::process::abort();
        });
    }

    let stop = Arc::new(AtomicBool::new(false));
    let allocators = start_allocators(&stop);
    let started = Instant::now();
    let mut result = Ok(());
    for i in 0..iterations {
        let id = unique_id("mt");
        let r = (|| -> Result<(), String> {
            let mut c = Guard(Container::create(&id, &spec, &root.options()).map_err(|e| format!("create: {e}"))?);
            c.start().map_err(|e| format!("start: {e}"))?;
            let st = c.wait(Some(Duration::from_secs(30))).map_err(|e| format!("wait: {e}"))?;
            if st.code != Some(0) {
                return Err(format!("/bin/true ended with {st}"));
            }
            c.delete(false).map_err(|e| format!("delete: {e}"))
        })();
        if let Err(e) = r {
            result = Err(format!("container {i} ({id}): {e}"));
            break;
        }
        progress.store(i as u64 + 1, Ordering::SeqCst);
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let allocated: u64 = allocators.into_iter().map(|h| h.join().expect("allocator thread")).sum();
    done.store(true, Ordering::SeqCst);
    eprintln!("{} containers in {elapsed:?} while the allocator threads made {allocated} allocations", progress.load(Ordering::SeqCst));
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(allocated > 0, "the allocator threads did not run");
    assert!(root.container_dirs().is_empty(), "left: {:?}", root.container_dirs());
}
