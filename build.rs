//! Fail early, with the fix, when libpcap is missing: without this the build
//! ends in a linker error (`cannot find -lpcap`) that names no remedy.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBPCAP_LIBDIR");
    if std::env::var_os("LIBPCAP_LIBDIR").is_some() || std::env::var_os("DOCS_RS").is_some() {
        return;
    }
    if pkg_config::Config::new()
        .cargo_metadata(false)
        .probe("libpcap")
        .is_ok()
    {
        return;
    }
    let dirs = [
        "/usr/lib",
        "/usr/lib64",
        "/usr/local/lib",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/opt/homebrew/lib",
    ];
    let found = dirs.iter().any(|d| {
        ["libpcap.so", "libpcap.a", "libpcap.dylib"]
            .iter()
            .any(|f| Path::new(d).join(f).exists())
    });
    if !found {
        panic!(
            "\n\nzmqtrace needs the libpcap development files to build.\n\
             Install them and build again:\n\
             \x20 Debian/Ubuntu: sudo apt-get install libpcap-dev\n\
             \x20 Fedora/RHEL:   sudo dnf install libpcap-devel\n\
             \x20 Alpine:        apk add libpcap-dev\n\
             \x20 macOS:         libpcap ships with the system (xcode-select --install)\n\
             Or point LIBPCAP_LIBDIR at the directory that holds libpcap.so.\n\n"
        );
    }
}
