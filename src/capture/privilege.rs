//! Privileges of a live capture. Opening an interface needs `CAP_NET_RAW`;
//! reading from it once open needs nothing. So zmqtrace opens the
//! interfaces (and the `-w` file), then gives up root and every capability,
//! as tcpdump `-Z` does, before it reads a single packet: the hostile
//! network input is parsed by an unprivileged process.

use caps::{CapSet, Capability};
use nix::unistd::{self, Gid, Uid, User};

/// The user to become, resolved before anything is opened.
#[derive(Debug, Clone)]
pub struct Target {
    name: String,
    uid: Uid,
    gid: Gid,
}

/// Look up `--user` when running as root; `None` when not root (there is
/// no user to switch from, only capabilities to drop).
pub fn resolve(user: &str) -> Result<Option<Target>, String> {
    if !unistd::geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name(user) {
        Ok(Some(u)) => Ok(Some(Target {
            name: u.name,
            uid: u.uid,
            gid: u.gid,
        })),
        Ok(None) => Err(format!(
            "there is no user '{user}' to run as after the capture starts; name an existing unprivileged user with --user"
        )),
        Err(e) => Err(format!("cannot look up the user '{user}' (--user): {e}")),
    }
}

/// Whether this process may open a capture handle.
pub fn can_capture() -> bool {
    caps::has_cap(None, CapSet::Effective, Capability::CAP_NET_RAW).unwrap_or(false)
}

/// The sentence for a missing `CAP_NET_RAW`, with both remedies.
pub fn missing_capability(interface: &str) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "zmqtrace".into());
    format!(
        "capturing on {interface} needs the CAP_NET_RAW capability: run zmqtrace with sudo, \
         or give the binary the capabilities once with `sudo setcap cap_net_raw,cap_net_admin=eip {exe}`"
    )
}

/// Become `target` (when started as root) and drop every capability, for
/// good: no new privileges can be gained afterwards, not even through
/// exec. Returns who the process now is, for the start-up line.
///
/// Capabilities and the no-new-privileges bit belong to a thread and are
/// inherited by the threads it creates, so this runs before the capture
/// threads exist; `setresuid` and friends go through glibc, which applies
/// them to every thread anyway.
pub fn drop_all(target: Option<&Target>) -> Result<String, String> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        format!("cannot give up privileges after opening the capture ({what}: {e})")
    };
    if let Some(t) = target {
        // The bounding set needs CAP_SETPCAP, which goes with root.
        caps::clear(None, CapSet::Bounding).map_err(|e| fail("bounding set", &e))?;
        unistd::setgroups(&[t.gid]).map_err(|e| fail("setgroups", &e))?;
        unistd::setresgid(t.gid, t.gid, t.gid).map_err(|e| fail("setresgid", &e))?;
        unistd::setresuid(t.uid, t.uid, t.uid).map_err(|e| fail("setresuid", &e))?;
    }
    for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
        caps::clear(None, set).map_err(|e| fail("capabilities", &e))?;
    }
    // Ambient capabilities need Permitted ones, now gone; kernels before
    // 4.3 have no ambient set, so an error here changes nothing.
    let _ = caps::clear(None, CapSet::Ambient);
    nix::sys::prctl::set_no_new_privs().map_err(|e| fail("no_new_privs", &e))?;

    let effective = caps::read(None, CapSet::Effective).map_err(|e| fail("capabilities", &e))?;
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| fail("capabilities", &e))?;
    if !effective.is_empty() || !permitted.is_empty() {
        return Err(fail("capabilities", &"some are still held"));
    }
    let uid = unistd::geteuid();
    if let Some(t) = target {
        if uid != t.uid || unistd::getuid() != t.uid {
            return Err(fail("setresuid", &"the user did not change"));
        }
        return Ok(t.name.clone());
    }
    Ok(match User::from_uid(uid) {
        Ok(Some(u)) => u.name,
        _ => format!("uid {uid}"),
    })
}
