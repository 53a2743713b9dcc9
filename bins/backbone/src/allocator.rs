//! Memory that large request bodies took goes back to the system afterwards.
//!
//! glibc's malloc serves blocks of 128 KiB and more with `mmap` and unmaps them when freed,
//! but it raises that threshold to the size of every such block freed (up to 32 MiB). After
//! the first large body, later ones come from its heaps, whose freed pages it keeps: 25
//! concurrent 19 MiB bodies left RSS at 866-1103 MiB (60 MiB before). With the threshold
//! fixed at 128 KiB it went back to 58-98 MiB. mimalloc (350-380 MiB left) and jemalloc with
//! its background purge (200-310 MiB) did worse here.
//!
//! The threshold can be fixed by `mallopt`, which this workspace cannot call (no unsafe
//! code), or by the `glibc.malloc.mmap_threshold` tunable, which glibc reads only when a
//! process starts. So the binary re-executes itself once with the tunable set, keeping its
//! PID, arguments and environment. A `GLIBC_TUNABLES` that already names the threshold is
//! left as it is (the operator's choice, and how the second start knows it is the second).

/// The tunable and the value: glibc's own default before it adapts.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: (&str, &str) = ("glibc.malloc.mmap_threshold", "131072");

/// Re-executes the process with the fixed threshold, unless it is set already. Returns only
/// if nothing is to be done or the re-execution failed (then the process runs on as it is).
/// Call it first thing in `main`, before any thread starts.
pub fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        let current = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let Some(tunables) = with_threshold(&current) else {
            return;
        };
        let Ok(executable) = std::env::current_exe() else {
            return;
        };
        let mut arguments = std::env::args_os();
        let mut command = std::process::Command::new(executable);
        if let Some(name) = arguments.next() {
            command.arg0(name);
        }
        let error = command.args(arguments).env("GLIBC_TUNABLES", tunables).exec();
        eprintln!("warning: cannot restart with {}: {error}", MMAP_THRESHOLD.0);
    }
}

/// `GLIBC_TUNABLES` with the threshold added; `None` if it names the threshold already.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn with_threshold(current: &str) -> Option<String> {
    let (name, value) = MMAP_THRESHOLD;
    if current
        .split(':')
        .any(|tunable| tunable.split('=').next() == Some(name))
    {
        return None;
    }
    Some(if current.is_empty() {
        format!("{name}={value}")
    } else {
        format!("{current}:{name}={value}")
    })
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_is_added_once_and_other_tunables_are_kept() {
        assert_eq!(with_threshold("").unwrap(), "glibc.malloc.mmap_threshold=131072");
        assert_eq!(
            with_threshold("glibc.malloc.arena_max=2").unwrap(),
            "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072"
        );
        assert_eq!(with_threshold("glibc.malloc.mmap_threshold=65536"), None);
        assert_eq!(with_threshold("x=1:glibc.malloc.mmap_threshold=1"), None);
    }
}
