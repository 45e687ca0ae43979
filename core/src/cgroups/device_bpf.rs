//! The device controller of cgroup v2: there is no devices.allow file there; the kernel asks an
//! eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the cgroup whether each open or mknod
//! of a device node may proceed. Without one, a container with CAP_MKNOD can create and open any
//! device of the host (its disks, /dev/kmsg): this module compiles the container's device rules
//! into such a program and attaches it, as runc and crun do.
//!
//! The program is a list of rule blocks, the last rule first (the last matching rule decides,
//! as on v1), ending in "deny". Each block compares the request's type, access, major and minor
//! to the rule's and jumps to the next block on the first difference. Hand-assembled: the
//! instruction set used is eight opcodes, and no crate offers cgroup device programs.
//!
//! `p` (fifo) rules are skipped, as runc does: the kernel never asks the device controller about
//! fifos.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::{Error, Result};

// struct bpf_cgroup_dev_ctx { u32 access_type; /* access << 16 | type */ u32 major; u32 minor; }
const DEV_BLOCK: i32 = 1; // BPF_DEVCG_DEV_BLOCK
const DEV_CHAR: i32 = 2; // BPF_DEVCG_DEV_CHAR
const ACC_MKNOD: i32 = 1; // BPF_DEVCG_ACC_MKNOD
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_DETACH: libc::c_long = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// One eBPF instruction (struct bpf_insn).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    code: u8,
    regs: u8, // dst in the low nibble, src in the high one
    off: i16,
    imm: i32,
}

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: dst | (src << 4), off, imm }
}
/// dst = *(u32 *)(src + off)
fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// dst &= imm (32-bit)
fn and32(dst: u8, imm: i32) -> Insn {
    insn(0x54, dst, 0, 0, imm)
}
/// dst >>= imm (32-bit)
fn rsh32(dst: u8, imm: i32) -> Insn {
    insn(0x74, dst, 0, 0, imm)
}
/// dst = src (32-bit)
fn mov32_reg(dst: u8, src: u8) -> Insn {
    insn(0xbc, dst, src, 0, 0)
}
/// dst = imm
fn mov_imm(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
/// if dst != imm goto +off
fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
/// if dst != src goto +off
fn jne_reg(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x5d, dst, src, off, 0)
}
fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}

/// The access bits of a rule's `access` string (empty or absent: all three).
fn access_bits(field: &str, access: Option<&str>) -> Result<i32> {
    let access = access.filter(|a| !a.is_empty()).unwrap_or("rwm");
    let mut bits = 0;
    for c in access.chars() {
        bits |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return Err(Error::invalid(field, access, "device access is a combination of r, w and m")),
        };
    }
    Ok(bits)
}

/// A rule's major or minor: None for "any" (absent or negative, OCI's and runc's `*`).
fn number(field: &str, n: Option<i64>) -> Result<Option<i32>> {
    match n {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        Some(n) => i32::try_from(n).map(Some).map_err(|_| Error::invalid(field, n, "not a device number")),
    }
}

/// Checks every rule (type, access, numbers) without building anything: what create validates
/// before it makes the cgroup.
pub(crate) fn validate(rules: &[LinuxDeviceCgroup]) -> Result<()> {
    for (i, r) in rules.iter().enumerate() {
        let field = format!("linux.resources.devices[{i}]");
        access_bits(&format!("{field}.access"), r.access().as_deref())?;
        number(&format!("{field}.major"), r.major())?;
        number(&format!("{field}.minor"), r.minor())?;
    }
    Ok(())
}

/// The program for `rules` (in OCI order: later rules win); anything no rule matches is denied.
pub(crate) fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>> {
    let mut prog = vec![
        ldx_w(R2, R1, 0),
        and32(R2, 0xffff), // type
        ldx_w(R3, R1, 0),
        rsh32(R3, 16),    // access
        ldx_w(R4, R1, 4), // major
        ldx_w(R5, R1, 8), // minor
    ];
    for (i, r) in rules.iter().enumerate().rev() {
        let field = format!("linux.resources.devices[{i}]");
        let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => continue,
        };
        let access = access_bits(&format!("{field}.access"), r.access().as_deref())?;
        let major = number(&format!("{field}.major"), r.major())?;
        let minor = number(&format!("{field}.minor"), r.minor())?;
        // Conditions, each jumping past the block when it does not hold; the offsets are
        // filled in once the block's length is known.
        let mut block: Vec<Insn> = Vec::new();
        if let Some(t) = typ {
            block.push(jne_imm(R2, t, 0));
        }
        if access != ACC_ALL {
            // The request's access bits must all be in the rule's.
            block.push(mov32_reg(R1, R3));
            block.push(and32(R1, access));
            block.push(jne_reg(R1, R3, 0));
        }
        if let Some(m) = major {
            block.push(jne_imm(R4, m, 0));
        }
        if let Some(m) = minor {
            block.push(jne_imm(R5, m, 0));
        }
        let unconditional = block.is_empty();
        block.push(mov_imm(R0, i32::from(r.allow())));
        block.push(exit());
        let len = block.len();
        for (j, ins) in block.iter_mut().enumerate() {
            if ins.code == 0x55 || ins.code == 0x5d {
                ins.off = i16::try_from(len - j - 1).map_err(|_| Error::invalid(&field, "", "device rule too large"))?;
            }
        }
        prog.extend(block);
        if unconditional {
            // Matches everything: the earlier rules and the final deny could never run, and
            // the verifier refuses unreachable instructions.
            return check_len(prog, rules.len());
        }
    }
    prog.push(mov_imm(R0, 0));
    prog.push(exit());
    check_len(prog, rules.len())
}

fn check_len(prog: Vec<Insn>, rules: usize) -> Result<Vec<Insn>> {
    if prog.len() > 4096 {
        return Err(Error::invalid("linux.resources.devices", format!("{rules} rules"), "too many device rules for one BPF program"));
    }
    Ok(prog)
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::result::Result<libc::c_long, Errno> {
    // SAFETY: attr is a live, properly sized #[repr(C)] bpf_attr prefix for `cmd`.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T as *mut libc::c_void, std::mem::size_of::<T>() as libc::c_uint) };
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(r)
    }
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// Loads `prog`; on a verifier refusal the error carries the verifier's log.
fn load(prog: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"rcontainer");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: BPF_PROG_LOAD returned a new fd that nothing else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            let mut log = vec![0u8; 1 << 16];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr).map(|fd| {
                // SAFETY: as above; loaded the second time round, closed at once.
                drop(unsafe { OwnedFd::from_raw_fd(fd as i32) })
            });
            let end = log.iter().position(|b| *b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]);
            let last = text.lines().rev().take(3).collect::<Vec<_>>().join(" / ");
            Err(Error::Sys {
                op: format!("load the cgroup v2 device program (BPF_PROG_LOAD){}", if last.is_empty() { String::new() } else { format!(": {last}") }),
                errno: e,
            })
        }
    }
}

/// The ids of the device programs attached to the cgroup itself (not its ancestors).
fn attached(cgroup: &OwnedFd) -> std::result::Result<Vec<u32>, Errno> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr)?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// Compiles `rules` and makes the program the device controller of the cgroup `dir`: attached
/// first, then any program attached there before detached, so there is no moment without one.
pub(crate) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let prog = load(&program(rules)?)?;
    let cgroup: OwnedFd =
        nix::fcntl::open(dir, nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
            .map_err(|e| Error::Sys { op: format!("open {}", dir.display()), errno: e })?;
    let old = attached(&cgroup).map_err(|e| Error::Sys { op: format!("list the device programs of {} (BPF_PROG_QUERY)", dir.display()), errno: e })?;
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
    };
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| Error::Sys { op: format!("attach the device program to {} (BPF_PROG_ATTACH)", dir.display()), errno: e })?;
    for id in old {
        let mut get = GetFdAttr { prog_id: id, ..Default::default() };
        let Ok(fd) = bpf(BPF_PROG_GET_FD_BY_ID, &mut get) else { continue };
        // SAFETY: a new fd from BPF_PROG_GET_FD_BY_ID.
        let old_fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut detach =
            AttachAttr { target_fd: cgroup.as_raw_fd() as u32, attach_bpf_fd: old_fd.as_raw_fd() as u32, attach_type: BPF_CGROUP_DEVICE, attach_flags: 0 };
        bpf(BPF_PROG_DETACH, &mut detach)
            .map_err(|e| Error::Sys { op: format!("detach the previous device program of {} (BPF_PROG_DETACH)", dir.display()), errno: e })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(allow: bool, typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str) -> LinuxDeviceCgroup {
        let mut r = LinuxDeviceCgroup::default();
        r.set_allow(allow);
        r.set_typ(Some(typ));
        r.set_major(major);
        r.set_minor(minor);
        r.set_access(Some(access.into()));
        r
    }

    /// Runs the program on one request, as the kernel would (an interpreter of the eight
    /// opcodes `program` emits).
    fn run(prog: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> i64 {
        let ctx = [((access << 16) | typ) as u32, major as u32, minor as u32];
        let mut r = [0i64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0x61 => r[dst] = i64::from(ctx[(i.off / 4) as usize]),
                0x54 => r[dst] = i64::from((r[dst] as u32) & (i.imm as u32)),
                0x74 => r[dst] = i64::from((r[dst] as u32) >> i.imm),
                0xbc => r[dst] = i64::from(r[src] as u32),
                0xb7 => r[dst] = i64::from(i.imm),
                0x55 if r[dst] != i64::from(i.imm) => pc += i.off as usize,
                0x5d if r[dst] != r[src] => pc += i.off as usize,
                0x55 | 0x5d => {}
                0x95 => return r[0],
                c => panic!("opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn the_last_matching_rule_decides_and_the_rest_is_denied() {
        let rules = vec![
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::C, None, None, "m"),
            rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            rule(true, LinuxDeviceType::C, Some(136), None, "rw"),
            rule(false, LinuxDeviceType::C, Some(136), Some(7), "w"),
            rule(true, LinuxDeviceType::P, None, None, "rwm"),
        ];
        let p = program(&rules).expect("program");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 3), 1, "null");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 4, 4), 1, "mknod of any char device");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 4, 4), 0, "but not opening it");
        assert_eq!(run(&p, DEV_BLOCK, ACC_READ, 8, 0), 0, "a disk");
        assert_eq!(run(&p, DEV_BLOCK, ACC_MKNOD, 8, 0), 0, "mknod of a block device");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 5), 1, "pts read");
        assert_eq!(run(&p, DEV_CHAR, ACC_MKNOD, 136, 5), 1, "pts mknod: the c *:* m rule");
        assert_eq!(run(&p, DEV_CHAR, ACC_WRITE, 136, 7), 0, "a later deny wins");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 136, 7), 1, "for the access it names only");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ | ACC_WRITE, 1, 11), 0, "kmsg");
        let all = program(&[rule(true, LinuxDeviceType::A, None, None, "rwm")]).expect("program");
        assert_eq!(run(&all, DEV_BLOCK, ACC_ALL, 8, 0), 1, "allow all (privileged)");
        assert_eq!(run(&program(&[]).expect("program"), DEV_CHAR, ACC_READ, 1, 3), 0, "no rules: deny");
        // Nothing after a rule that matches everything (the verifier refuses unreachable code).
        let p = program(&rules[..1]).expect("program");
        assert_eq!(p.len(), 6 + 2, "{p:?}");
        let p = program(&[rules[2].clone(), rule(true, LinuxDeviceType::A, None, None, "rwm")]).expect("program");
        assert_eq!(p.len(), 6 + 2, "{p:?}");
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(validate(&[rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwx")]).is_err());
        assert!(validate(&[rule(true, LinuxDeviceType::C, Some(1 << 40), Some(3), "r")]).is_err());
        assert!(validate(&[rule(true, LinuxDeviceType::C, Some(-1), None, "")]).is_ok());
    }
}
