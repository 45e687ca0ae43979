//! The exec stub: a few hundred bytes of machine code, executed from a sealed memfd, that sits
//! between the runtime and the container's command (the CVE-2019-5736 class).
//!
//! Why: the container's init is a clone of the host process (the `rcontainer` command, python3,
//! node, a C program). Until it execs, `/proc/self/exe` names the host's binary, and so does
//! every path the kernel resolves *during* that exec: the command itself (`/proc/self/exe`), the
//! interpreter of a `#!` script, the ELF interpreter of a binary. Any of them would run the
//! host's binary inside the container, where a neighbour could reopen it for writing through
//! `/proc/<pid>/exe`. So the child never execs the container's command itself: it execs this
//! stub (execveat on the memfd, no path involved), and the stub execs the command. From then on
//! `/proc/self/exe` is the sealed memfd: no host file, and nothing can write to it.
//!
//! The stub also holds the created container: it reports READY, then blocks until `start`
//! writes a byte to the exec fifo. So a created container is this stub, not a copy of the host:
//! no host memory to read, no host binary, no host directory as root or cwd (its setup is done).
//!
//! Its arguments: `argv[0]` the path to exec; `argv[1]` the report fd and `argv[2]` the start
//! (exec fifo) fd, in decimal; `argv[3]` an fd open on the LSM's exec attribute, or `-`, and
//! `argv[4]` the label to write there; `argv[5..]` the command's own argv; `envp` the command's
//! environment. Appended to its code, inside the loaded image, a seccomp filter (count, flags,
//! instructions; count 0: none). Steps:
//! 1. PR_SET_DUMPABLE 0; write READY on the report fd;
//! 2. read one byte from the start fd (retrying on EINTR; anything else ends it, status 127),
//!    close it, mark the report fd close-on-exec;
//! 3. write the label to the LSM fd and close it (the transition happens at the next exec);
//! 4. load the seccomp filter: the last thing before execve, as runc does with no_new_privs;
//! 5. execve. A failure of 3, 4 or 5 is written on the report fd as (step, errno), with SIGPIPE
//!    blocked (the creating process may be gone), and the stub exits 127.
//!
//! Run any other way (too few arguments, an fd that is not a number) it exits 127 doing nothing.

use std::os::fd::{FromRawFd, OwnedFd};

use crate::error::{Error, Result};

/// `step` values the stub reports when a late step failed (errno: why).
pub(crate) const EXEC_FAILED: u32 = u32::MAX - 5;
pub(crate) const LSM_FAILED: u32 = u32::MAX - 6;
pub(crate) const SECCOMP_FAILED: u32 = u32::MAX - 7;

#[cfg(target_arch = "x86_64")]
std::arch::global_asm!(
    ".pushsection .text.rcontainer_exec_stub,\"ax\",@progbits",
    ".globl rcontainer_exec_stub_start",
    ".hidden rcontainer_exec_stub_start",
    ".globl rcontainer_exec_stub_end",
    ".hidden rcontainer_exec_stub_end",
    ".p2align 4",
    "rcontainer_exec_stub_start:",
    "    mov rax, qword ptr [rsp]", // argc
    "    cmp rax, 6",
    "    jb 9f",
    "    lea r13, [rsp + 8]",         // argv
    "    lea r14, [r13 + rax*8 + 8]", // envp
    "    mov eax, 157",               // prctl(PR_SET_DUMPABLE, 0)
    "    mov edi, 4",
    "    xor esi, esi",
    "    syscall",
    "    mov rdi, qword ptr [r13 + 8]",
    "    call 20f",
    "    test rax, rax",
    "    js 9f",
    "    mov r15, rax", // report fd
    "    mov rdi, qword ptr [r13 + 16]",
    "    call 20f",
    "    test rax, rax",
    "    js 9f",
    "    mov rbx, rax", // start fd
    "    mov rdi, qword ptr [r13 + 24]",
    "    call 20f",
    "    mov r12, rax", // LSM fd, or -1
    "    sub rsp, 32",
    "    mov dword ptr [rsp], -1", // READY: step u32::MAX, errno 0
    "    mov dword ptr [rsp + 4], 0",
    "    mov eax, 1", // write(report, record, 8)
    "    mov rdi, r15",
    "    mov rsi, rsp",
    "    mov edx, 8",
    "    syscall",
    "2:",
    "    xor eax, eax", // read(start, buf, 1)
    "    mov rdi, rbx",
    "    lea rsi, [rsp + 8]",
    "    mov edx, 1",
    "    syscall",
    "    cmp rax, -4", // EINTR
    "    je 2b",
    "    cmp rax, 1",
    "    jne 9f",
    "    mov eax, 3", // close(start)
    "    mov rdi, rbx",
    "    syscall",
    "    mov eax, 72", // fcntl(report, F_SETFD, FD_CLOEXEC)
    "    mov rdi, r15",
    "    mov esi, 2",
    "    mov edx, 1",
    "    syscall",
    "    test r12, r12",
    "    js 4f",
    "    mov rsi, qword ptr [r13 + 32]", // write(lsm, label, strlen(label))
    "    xor edx, edx",
    "5:",
    "    cmp byte ptr [rsi + rdx], 0",
    "    je 6f",
    "    inc rdx",
    "    jmp 5b",
    "6:",
    "    mov eax, 1",
    "    mov rdi, r12",
    "    syscall",
    "    mov ecx, -7", // LSM_FAILED
    "    test rax, rax",
    "    js 8f",
    "    mov eax, 3", // close(lsm)
    "    mov rdi, r12",
    "    syscall",
    "4:",
    "    lea rbp, [rip + 3f]", // the seccomp trailer: count, flags, program
    "    mov eax, dword ptr [rbp]",
    "    test eax, eax",
    "    jz 14f",
    "    mov word ptr [rsp + 16], ax", // struct sock_fprog { len, filter }
    "    lea rcx, [rbp + 8]",
    "    mov qword ptr [rsp + 24], rcx",
    "    mov eax, 317", // seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)
    "    mov edi, 1",
    "    mov esi, dword ptr [rbp + 4]",
    "    lea rdx, [rsp + 16]",
    "    syscall",
    "    mov ecx, -8", // SECCOMP_FAILED
    "    test rax, rax",
    "    js 8f",
    "14:",
    "    mov eax, 59", // execve(argv[0], argv + 5, envp)
    "    mov rdi, qword ptr [r13]",
    "    lea rsi, [r13 + 40]",
    "    mov rdx, r14",
    "    syscall",
    "    mov ecx, -6", // EXEC_FAILED
    "8:",              // rax = -errno, ecx = the step
    "    neg eax",
    "    mov dword ptr [rsp + 4], eax",
    "    mov dword ptr [rsp], ecx",
    "    mov qword ptr [rsp + 8], 0x1000", // rt_sigprocmask(SIG_BLOCK, {SIGPIPE}, NULL, 8)
    "    mov eax, 14",
    "    xor edi, edi",
    "    lea rsi, [rsp + 8]",
    "    xor edx, edx",
    "    mov r10d, 8",
    "    syscall",
    "    mov eax, 1", // write(report, record, 8)
    "    mov rdi, r15",
    "    mov rsi, rsp",
    "    mov edx, 8",
    "    syscall",
    "9:",
    "    mov eax, 231", // exit_group(127)
    "    mov edi, 127",
    "    syscall",
    "    hlt",
    "20:", // rax = the decimal number at rdi (< 2^31), or -1
    "    xor eax, eax",
    "    movzx ecx, byte ptr [rdi]",
    "    test ecx, ecx",
    "    jz 22f",
    "21:",
    "    movzx ecx, byte ptr [rdi]",
    "    test ecx, ecx",
    "    jz 23f",
    "    sub ecx, 48",
    "    cmp ecx, 9",
    "    ja 22f",
    "    imul rax, rax, 10",
    "    add rax, rcx",
    "    cmp rax, 0x7fffffff",
    "    ja 22f",
    "    inc rdi",
    "    jmp 21b",
    "22:",
    "    mov rax, -1",
    "23:",
    "    ret",
    ".p2align 3",
    "3:",
    "rcontainer_exec_stub_end:",
    ".popsection",
);

#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".pushsection .text.rcontainer_exec_stub,\"ax\",%progbits",
    ".globl rcontainer_exec_stub_start",
    ".hidden rcontainer_exec_stub_start",
    ".globl rcontainer_exec_stub_end",
    ".hidden rcontainer_exec_stub_end",
    ".p2align 4",
    "rcontainer_exec_stub_start:",
    "    ldr x19, [sp]", // argc
    "    cmp x19, #6",
    "    b.lo 9f",
    "    add x20, sp, #8", // argv
    "    add x21, x20, x19, lsl #3",
    "    add x21, x21, #8", // envp
    "    mov x8, #167",     // prctl(PR_SET_DUMPABLE, 0)
    "    mov x0, #4",
    "    mov x1, #0",
    "    svc #0",
    "    ldr x0, [x20, #8]",
    "    bl 20f",
    "    tbnz x0, #63, 9f",
    "    mov x22, x0", // report fd
    "    ldr x0, [x20, #16]",
    "    bl 20f",
    "    tbnz x0, #63, 9f",
    "    mov x23, x0", // start fd
    "    ldr x0, [x20, #24]",
    "    bl 20f",
    "    mov x24, x0", // LSM fd, or -1
    "    sub sp, sp, #32",
    "    movn w9, #0", // READY: step u32::MAX, errno 0
    "    str w9, [sp]",
    "    str wzr, [sp, #4]",
    "    mov x8, #64", // write(report, record, 8)
    "    mov x0, x22",
    "    mov x1, sp",
    "    mov x2, #8",
    "    svc #0",
    "2:",
    "    mov x8, #63", // read(start, buf, 1)
    "    mov x0, x23",
    "    add x1, sp, #8",
    "    mov x2, #1",
    "    svc #0",
    "    cmn x0, #4", // EINTR
    "    b.eq 2b",
    "    cmp x0, #1",
    "    b.ne 9f",
    "    mov x8, #57", // close(start)
    "    mov x0, x23",
    "    svc #0",
    "    mov x8, #25", // fcntl(report, F_SETFD, FD_CLOEXEC)
    "    mov x0, x22",
    "    mov x1, #2",
    "    mov x2, #1",
    "    svc #0",
    "    tbnz x24, #63, 4f",
    "    ldr x1, [x20, #32]", // write(lsm, label, strlen(label))
    "    mov x2, #0",
    "5:",
    "    ldrb w9, [x1, x2]",
    "    cbz w9, 6f",
    "    add x2, x2, #1",
    "    b 5b",
    "6:",
    "    mov x8, #64",
    "    mov x0, x24",
    "    svc #0",
    "    movn w10, #6", // LSM_FAILED
    "    tbnz x0, #63, 8f",
    "    mov x8, #57", // close(lsm)
    "    mov x0, x24",
    "    svc #0",
    "4:",
    "    adr x25, 3f", // the seccomp trailer: count, flags, program
    "    ldr w9, [x25]",
    "    cbz w9, 14f",
    "    strh w9, [sp, #16]", // struct sock_fprog { len, filter }
    "    add x9, x25, #8",
    "    str x9, [sp, #24]",
    "    mov x8, #277", // seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)
    "    mov x0, #1",
    "    ldr w1, [x25, #4]",
    "    add x2, sp, #16",
    "    svc #0",
    "    movn w10, #7", // SECCOMP_FAILED
    "    tbnz x0, #63, 8f",
    "14:",
    "    mov x8, #221", // execve(argv[0], argv + 5, envp)
    "    ldr x0, [x20]",
    "    add x1, x20, #40",
    "    mov x2, x21",
    "    svc #0",
    "    movn w10, #5", // EXEC_FAILED
    "8:",               // x0 = -errno, w10 = the step
    "    neg w0, w0",
    "    str w0, [sp, #4]",
    "    str w10, [sp]",
    "    mov x9, #0x1000", // rt_sigprocmask(SIG_BLOCK, {SIGPIPE}, NULL, 8)
    "    str x9, [sp, #8]",
    "    mov x8, #135",
    "    mov x0, #0",
    "    add x1, sp, #8",
    "    mov x2, #0",
    "    mov x3, #8",
    "    svc #0",
    "    mov x8, #64", // write(report, record, 8)
    "    mov x0, x22",
    "    mov x1, sp",
    "    mov x2, #8",
    "    svc #0",
    "9:",
    "    mov x8, #94", // exit_group(127)
    "    mov x0, #127",
    "    svc #0",
    "    brk #0",
    "20:", // x0 = the decimal number at x0 (< 2^31), or -1
    "    mov x1, x0",
    "    mov x0, #0",
    "    ldrb w2, [x1]",
    "    cbz w2, 22f",
    "21:",
    "    ldrb w2, [x1]",
    "    cbz w2, 23f",
    "    sub w2, w2, #48",
    "    cmp w2, #9",
    "    b.hi 22f",
    "    mov x3, #10",
    "    mul x0, x0, x3",
    "    add x0, x0, x2",
    "    mov x3, #0x7fffffff",
    "    cmp x0, x3",
    "    b.hi 22f",
    "    add x1, x1, #1",
    "    b 21b",
    "22:",
    "    mov x0, #-1",
    "23:",
    "    ret",
    ".p2align 3",
    "3:",
    "rcontainer_exec_stub_end:",
    ".popsection",
);

/// The stub's machine code (position-independent; it touches only its stack).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn code() -> &'static [u8] {
    extern "C" {
        static rcontainer_exec_stub_start: u8;
        static rcontainer_exec_stub_end: u8;
    }
    // SAFETY: two labels around the stub's code in our own read-only text section; the bytes
    // between them are only read.
    unsafe {
        let start = std::ptr::addr_of!(rcontainer_exec_stub_start);
        let end = std::ptr::addr_of!(rcontainer_exec_stub_end);
        std::slice::from_raw_parts(start, end as usize - start as usize)
    }
}

#[cfg(target_arch = "x86_64")]
const EM_MACHINE: u16 = 62;
#[cfg(target_arch = "aarch64")]
const EM_MACHINE: u16 = 183;

/// A static position-independent ELF executable around [`code`] and its seccomp trailer (the
/// filter to load before the final execve, or none): the ELF header, a PT_LOAD of the whole file
/// (read + execute) and a PT_GNU_STACK (non-executable stack); entry at the code.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn image(seccomp: Option<(&[libc::sock_filter], libc::c_uint)>) -> Vec<u8> {
    const EHDR: usize = 64;
    const PHDR: usize = 56;
    let code = code();
    let (filter, flags) = seccomp.unwrap_or((&[], 0));
    let entry = (EHDR + 2 * PHDR) as u64;
    let total = entry + code.len() as u64 + 8 + 8 * filter.len() as u64;
    let mut v = Vec::with_capacity(total as usize);
    let u16_ = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let u32_ = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    let u64_ = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&x.to_le_bytes());
    // e_ident: magic, 64-bit, little-endian, version 1, System V ABI.
    v.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    u16_(&mut v, 3); // e_type: ET_DYN
    u16_(&mut v, EM_MACHINE);
    u32_(&mut v, 1); // e_version
    u64_(&mut v, entry); // e_entry
    u64_(&mut v, EHDR as u64); // e_phoff
    u64_(&mut v, 0); // e_shoff
    u32_(&mut v, 0); // e_flags
    u16_(&mut v, EHDR as u16); // e_ehsize
    u16_(&mut v, PHDR as u16); // e_phentsize
    u16_(&mut v, 2); // e_phnum
    u16_(&mut v, 64); // e_shentsize
    u16_(&mut v, 0); // e_shnum
    u16_(&mut v, 0); // e_shstrndx
                     // PT_LOAD, PF_R | PF_X, the whole file at address 0 (+ the load bias).
    u32_(&mut v, 1);
    u32_(&mut v, 4 | 1);
    for x in [0, 0, 0, total, total, 0x10000] {
        u64_(&mut v, x);
    }
    // PT_GNU_STACK, PF_R | PF_W.
    u32_(&mut v, 0x6474_e551);
    u32_(&mut v, 4 | 2);
    for x in [0, 0, 0, 0, 0, 16] {
        u64_(&mut v, x);
    }
    v.extend_from_slice(code);
    // The trailer, at the code's end label (8-aligned): count, flags, instructions.
    u32_(&mut v, filter.len() as u32);
    u32_(&mut v, flags);
    for f in filter {
        u16_(&mut v, f.code);
        v.extend_from_slice(&[f.jt, f.jf]);
        u32_(&mut v, f.k);
    }
    debug_assert_eq!(v.len() as u64, total);
    v
}

/// A sealed, close-on-exec memfd holding the stub: what the child execs (execveat, AT_EMPTY_PATH).
/// One per container; nothing can write to it (F_SEAL_WRITE, GROW, SHRINK, then F_SEAL_SEAL).
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub(crate) fn memfd(seccomp: Option<(&[libc::sock_filter], libc::c_uint)>) -> Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    const MFD_EXEC: libc::c_uint = 0x10;
    const F_SEAL_EXEC: libc::c_int = 0x20;
    let name = c"rcontainer-exec-stub";
    let create = |flags: libc::c_uint| {
        // SAFETY: memfd_create with a valid name; a returned fd is ours.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), flags) };
        if fd < 0 {
            Err(nix::errno::Errno::last())
        } else {
            // SAFETY: a fresh fd.
            Ok(unsafe { OwnedFd::from_raw_fd(fd) })
        }
    };
    let base = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // MFD_EXEC (Linux 6.3) asks for an executable memfd where vm.memfd_noexec would default to
    // not; older kernels refuse the flag with EINVAL.
    let fd = match create(base | MFD_EXEC) {
        Err(nix::errno::Errno::EINVAL) => create(base),
        r => r,
    }
    .and_then(crate::sys::not_stdio)
    .map_err(|e| match e {
        // vm.memfd_noexec = 2 forbids executable memfds.
        nix::errno::Errno::EACCES => {
            Error::Unsupported("the exec stub needs an executable memfd, which vm.memfd_noexec = 2 forbids on this host (set it to 0 or 1)".into())
        }
        e => Error::Sys { op: "memfd_create (exec stub)".into(), errno: e },
    })?;
    let image = image(seccomp);
    let mut written = 0;
    while written < image.len() {
        // SAFETY: writing from a live buffer to our fd.
        let n = unsafe { libc::write(fd.as_raw_fd(), image[written..].as_ptr() as *const libc::c_void, image.len() - written) };
        if n < 0 {
            let e = nix::errno::Errno::last();
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(Error::Sys { op: "write exec stub to its memfd".into(), errno: e });
        }
        written += n as usize;
    }
    let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on our fd with integer arguments.
    let mut r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals | F_SEAL_EXEC) };
    if r < 0 && nix::errno::Errno::last() == nix::errno::Errno::EINVAL {
        // F_SEAL_EXEC is Linux 6.3+.
        // SAFETY: as above.
        r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) };
    }
    if r < 0 {
        return Err(Error::Sys { op: "seal the exec stub's memfd".into(), errno: nix::errno::Errno::last() });
    }
    Ok(fd)
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub(crate) fn memfd(_seccomp: Option<(&[libc::sock_filter], libc::c_uint)>) -> Result<OwnedFd> {
    Err(Error::Unsupported(
        "this architecture has no exec stub: rcontainer cannot keep the host binary from the container here (x86_64 and aarch64 only)".into(),
    ))
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe")
    }

    /// Runs the stub from `memfd` with `args` (after its own argv[0] `path`), the report pipe's
    /// write end and the start pipe's read end inherited; returns the child, the report's read
    /// end and the start pipe's write end.
    fn spawn(memfd: &OwnedFd, path: &str, extra: &[&str]) -> (std::process::Child, std::fs::File, OwnedFd) {
        let (rr, rw) = pipe();
        let (sr, sw) = pipe();
        let (rw_fd, sr_fd) = (rw.as_raw_fd(), sr.as_raw_fd());
        let mut cmd = Command::new(format!("/proc/self/fd/{}", memfd.as_raw_fd()));
        cmd.arg0(path)
            .args([rw_fd.to_string(), sr_fd.to_string(), "-".into(), String::new()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, prctl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::fcntl(rw_fd, libc::F_SETFD, 0);
                libc::fcntl(sr_fd, libc::F_SETFD, 0);
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn the stub");
        drop((rw, sr));
        (child, std::fs::File::from(rr), sw)
    }

    fn record(f: &mut std::fs::File) -> Option<(u32, i32)> {
        let mut b = [0u8; 8];
        match f.read(&mut b).expect("read report") {
            8 => Some((u32::from_ne_bytes([b[0], b[1], b[2], b[3]]), i32::from_ne_bytes([b[4], b[5], b[6], b[7]]))),
            0 => None,
            n => panic!("short record: {n} bytes"),
        }
    }

    #[test]
    fn image_is_a_small_static_pie() {
        let img = image(None);
        assert_eq!(&img[..4], b"\x7fELF");
        assert_eq!(u16::from_le_bytes([img[16], img[17]]), 3, "ET_DYN");
        assert!(img.len() < 1024, "{} bytes", img.len());
    }

    #[test]
    fn the_stub_reports_ready_waits_for_start_then_execs() {
        let memfd = memfd(None).expect("memfd");
        let (child, mut report, start) = spawn(&memfd, "/bin/echo", &["echo", "hello", "world"]);
        assert_eq!(record(&mut report), Some((u32::MAX, 0)), "READY first");
        nix::unistd::write(&start, b"1").expect("start");
        assert_eq!(record(&mut report), None, "EOF once the command has exec'd");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world\n");
        assert!(out.status.success());
    }

    #[test]
    fn the_stub_reports_a_failed_exec_and_exits_127() {
        let memfd = memfd(None).expect("memfd");
        let (child, mut report, start) = spawn(&memfd, "/no/such/binary", &["x"]);
        assert_eq!(record(&mut report), Some((u32::MAX, 0)));
        nix::unistd::write(&start, b"1").expect("start");
        assert_eq!(record(&mut report), Some((EXEC_FAILED, libc::ENOENT)));
        assert_eq!(child.wait_with_output().expect("wait").status.code(), Some(127));
    }

    #[test]
    fn the_stub_run_any_other_way_does_nothing() {
        let memfd = memfd(None).expect("memfd");
        // As an interpreter of itself, or with fds that are not numbers: exit 127, no exec.
        for args in [vec!["--version"], vec!["x", "y", "-", "", "/bin/echo", "pwned"]] {
            let out =
                Command::new(format!("/proc/self/fd/{}", memfd.as_raw_fd())).args(&args).stdin(Stdio::null()).stderr(Stdio::piped()).output().expect("run");
            assert_eq!(out.status.code(), Some(127), "{args:?}");
            assert!(out.stdout.is_empty(), "{args:?}: {:?}", out.stdout);
        }
        // The memfd is sealed: nothing can change what the next container runs.
        let path = format!("/proc/self/fd/{}", memfd.as_raw_fd());
        let w = std::fs::OpenOptions::new().write(true).open(&path).and_then(|mut f| std::io::Write::write_all(&mut f, b"x"));
        assert!(w.is_err(), "wrote to the sealed exec stub");
    }

    #[test]
    fn the_stub_loads_its_seccomp_filter_right_before_exec() {
        // BPF: load the syscall number; uname → ERRNO(EPERM); everything else allowed.
        let filter = [
            libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 0 },
            libc::sock_filter { code: 0x15, jt: 0, jf: 1, k: libc::SYS_uname as u32 },
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x0005_0000 | libc::EPERM as u32 },
            libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0x7fff_0000 },
        ];
        let memfd = memfd(Some((&filter, 0))).expect("memfd");
        let (child, mut report, start) = spawn(&memfd, "/bin/uname", &["uname"]);
        assert_eq!(record(&mut report), Some((u32::MAX, 0)));
        nix::unistd::write(&start, b"1").expect("start");
        assert_eq!(record(&mut report), None);
        let out = child.wait_with_output().expect("wait");
        assert!(!out.status.success(), "uname ran unfiltered: {:?}", String::from_utf8_lossy(&out.stdout));
    }
}
