//! The few Linux system calls `pause` makes, and its entry point.

use core::arch::{asm, global_asm};

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const WRITE: usize = 1;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGRETURN: usize = 15;
    pub const PAUSE: usize = 34;
    pub const EXIT_GROUP: usize = 231;
    pub const WAIT4: usize = 61;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const WRITE: usize = 64;
    pub const RT_SIGACTION: usize = 134;
    pub const RT_SIGRETURN: usize = 139;
    pub const PPOLL: usize = 73;
    pub const EXIT_GROUP: usize = 94;
    pub const WAIT4: usize = 260;
}

// The entry point: hand the initial stack pointer to `pause_main`, with the stack aligned.
#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov rdi, rsp",
    "and rsp, -16",
    "call pause_main",
    "ud2",
);

#[cfg(target_arch = "aarch64")]
global_asm!(".globl _start", "_start:", "mov x0, sp", "bl pause_main", "brk #0",);

// The signal restorer the kernel returns through after a handler (SA_RESTORER).
#[cfg(target_arch = "x86_64")]
global_asm!(".globl pause_restorer", "pause_restorer:", "mov rax, 15", "syscall",);

#[cfg(target_arch = "aarch64")]
global_asm!(".globl pause_restorer", "pause_restorer:", "mov x8, #139", "svc #0",);

unsafe extern "C" {
    fn pause_restorer();
}

#[cfg(target_arch = "x86_64")]
unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes a valid system call and arguments.
    unsafe {
        asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
             lateout("rcx") _, lateout("r11") _, options(nostack));
    }
    ret
}

#[cfg(target_arch = "aarch64")]
unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the caller passes a valid system call and arguments.
    unsafe {
        asm!("svc #0", in("x8") n, inlateout("x0") a as isize => ret, in("x1") b, in("x2") c, in("x3") d,
             options(nostack));
    }
    ret
}

pub fn write(fd: usize, bytes: &[u8]) {
    // SAFETY: the buffer is valid for its length.
    unsafe { syscall4(nr::WRITE, fd, bytes.as_ptr() as usize, bytes.len(), 0) };
}

pub fn exit(code: usize) -> ! {
    loop {
        // SAFETY: exit_group takes a status and does not return.
        unsafe { syscall4(nr::EXIT_GROUP, code, 0, 0, 0) };
    }
}

/// Sleeps until a signal arrives.
pub fn pause() {
    // SAFETY: pause (or ppoll with no descriptors and no timeout) only waits for a signal.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        syscall4(nr::PAUSE, 0, 0, 0, 0)
    };
    #[cfg(target_arch = "aarch64")]
    unsafe {
        syscall4(nr::PPOLL, 0, 0, 0, 0)
    };
}

/// Reaps one exited child without blocking: its pid, 0 if none has exited, negative on error
/// (no children at all).
pub fn reap_one() -> isize {
    const WNOHANG: usize = 1;
    let mut status: i32 = 0;
    // SAFETY: wait4 writes the status into our local; no rusage is asked for.
    unsafe { syscall4(nr::WAIT4, usize::MAX, &mut status as *mut i32 as usize, WNOHANG, 0) }
}

/// The kernel's `struct sigaction` layout for rt_sigaction.
#[repr(C)]
struct SigAction {
    handler: usize,
    flags: usize,
    restorer: usize,
    mask: u64,
}

const SIGINT: usize = 2;
const SIGTERM: usize = 15;
const SIGCHLD: usize = 17;
const SA_RESTORER: usize = 0x0400_0000;
const SA_RESTART: usize = 0x1000_0000;
const SA_NOCLDSTOP: usize = 1;

fn set_handler(signal: usize, handler: extern "C" fn(i32), flags: usize) -> bool {
    let action = SigAction {
        handler: handler as *const () as usize,
        flags: flags | SA_RESTORER | SA_RESTART,
        restorer: pause_restorer as *const () as usize,
        mask: 0,
    };
    // SAFETY: the action struct is valid; the handler and restorer live for the program.
    unsafe { syscall4(nr::RT_SIGACTION, signal, &action as *const SigAction as usize, 0, 8) == 0 }
}

/// Installs the handlers: `terminate` for SIGINT and SIGTERM, `child` for SIGCHLD.
pub fn install_handlers(terminate: extern "C" fn(i32), child: extern "C" fn(i32)) -> bool {
    let _ = nr::RT_SIGRETURN;
    set_handler(SIGINT, terminate, 0) && set_handler(SIGTERM, terminate, 0) && set_handler(SIGCHLD, child, SA_NOCLDSTOP)
}

/// Whether the NUL-terminated string at `ptr` equals `expected`.
///
/// # Safety
/// `ptr` must point to a NUL-terminated string.
pub unsafe fn c_str_eq(ptr: *const u8, expected: &[u8]) -> bool {
    for (i, want) in expected.iter().enumerate() {
        // SAFETY: reading stops at the first difference, so never past the terminating NUL.
        // Volatile reads keep the compiler from turning this into a call to libc's strlen.
        let got = unsafe { core::ptr::read_volatile(ptr.add(i)) };
        if got != *want {
            return false;
        }
    }
    // SAFETY: all of `expected` matched, so the string is at least that long.
    unsafe { core::ptr::read_volatile(ptr.add(expected.len())) == 0 }
}
