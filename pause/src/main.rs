//! `pause`: the infra container of every Podium pod.
//!
//! It holds the pod's network, IPC (and, when shared, PID) namespaces for the app containers
//! to join, and otherwise does nothing: it sleeps in pause(2). SIGINT and SIGTERM end it with
//! status 0. When the pod shares its PID namespace it is PID 1, so it reaps every zombie on
//! SIGCHLD. `-v` prints its version.
//!
//! It is `no_std` and talks to Linux with raw system calls, so the binary is static, needs
//! nothing at run time, and stays a few kilobytes (Kubernetes' own pause is C and assembly).
//! Only x86_64 and aarch64 Linux are supported.
#![no_std]
#![no_main]
// Raw system calls and the process entry point are unsafe by nature; this is the only crate
// in Podium that needs them.
#![allow(unsafe_code)]

mod sys;

use core::panic::PanicInfo;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Called from the entry point with the initial stack: argc, then the argv pointers.
///
/// # Safety
/// `stack` must be the process's initial stack pointer.
#[unsafe(no_mangle)]
unsafe extern "C" fn pause_main(stack: *const usize) -> ! {
    // SAFETY: the kernel lays out argc followed by argc argv pointers at the initial stack.
    let argc = unsafe { *stack };
    if argc > 1 {
        // SAFETY: argv[1] exists when argc > 1 and is a NUL-terminated string.
        let arg = unsafe { *stack.add(2) as *const u8 };
        // SAFETY: as above.
        if unsafe { sys::c_str_eq(arg, b"-v") || sys::c_str_eq(arg, b"--version") } {
            sys::write(1, b"pause (podium) ");
            sys::write(1, VERSION.as_bytes());
            sys::write(1, b"\n");
            sys::exit(0);
        }
        sys::write(2, b"usage: pause [-v]\n");
        sys::exit(1);
    }
    if !sys::install_handlers(on_terminate, on_child) {
        sys::write(2, b"pause: could not install signal handlers\n");
        sys::exit(2);
    }
    loop {
        sys::pause();
    }
}

extern "C" fn on_terminate(_signal: i32) {
    sys::write(1, b"pause: shutting down\n");
    sys::exit(0);
}

extern "C" fn on_child(_signal: i32) {
    // Reap every child that has exited; more than one may share a single SIGCHLD.
    while sys::reap_one() > 0 {}
}

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    sys::exit(2)
}

/// Cargo builds binaries for integration tests with unwinding panics whatever the profile
/// says; the panic handler above never unwinds, so the personality routine is never called.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
