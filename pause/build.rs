//! Links `pause` as a static, non-PIE executable with no C runtime: `_start` is ours.

fn main() {
    for arg in ["-nostartfiles", "-nodefaultlibs", "-static", "-no-pie"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
