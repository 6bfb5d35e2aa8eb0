//! The PID-1 half of the runtime, in tini's shape (krallin/tini: src/tini.c): every signal is
//! blocked and taken synchronously with `sigtimedwait`, the stop signals are forwarded to the
//! one child (the supervisor), and after every wake-up `waitpid(-1, WNOHANG)` reaps whatever
//! has died, orphans included, until nothing is left. No handler does any work.
//!
//! Keeping this apart from the supervisor is what makes reaping safe: the supervisor waits for
//! its apps through pidfds, and a `waitpid(-1)` in the same process could steal an app's exit
//! status. Here the only status that matters is the supervisor's own.

use std::time::Duration;

use nix::sys::signal::{kill, sigprocmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

/// What the supervisor acts on; anything else reaching PID 1 is dropped, as the kernel would
/// drop it for an init without a handler.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

/// Signals that report a fault of this very process (or job control on a terminal): tini
/// leaves them unblocked, so they keep their default effect.
const UNBLOCKED: [Signal; 9] = [
    Signal::SIGFPE,
    Signal::SIGILL,
    Signal::SIGSEGV,
    Signal::SIGBUS,
    Signal::SIGABRT,
    Signal::SIGTRAP,
    Signal::SIGSYS,
    Signal::SIGTTIN,
    Signal::SIGTTOU,
];

/// Forks the supervisor. Returns in the child, with the signal mask as it was; the parent
/// never returns: it reaps and forwards until the child exits, then exits with the child's
/// status (`128 + signal` when a signal ended it, as sh reports it).
///
/// Must run before any thread exists (the fork copies only the calling thread).
pub fn split() -> anyhow::Result<()> {
    let is_init = std::process::id() == 1;
    if !is_init {
        // Orphans of the apps come back here rather than to the host's init.
        // SAFETY: PR_SET_CHILD_SUBREAPER takes a plain integer and touches no memory.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            elog!(
                "pm-runtime: cannot become a subreaper ({}); orphaned processes go to the system's init",
                std::io::Error::last_os_error()
            );
        }
    }
    let mut blocked = SigSet::all();
    for s in UNBLOCKED {
        blocked.remove(s);
    }
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&blocked), Some(&mut old))?;
    let parent = Pid::this();
    // SAFETY: no other thread exists yet (see above), so the child owns a consistent copy.
    match unsafe { fork() }? {
        ForkResult::Child => {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
            // A reaper killed with SIGKILL (it cannot catch it) still gets its apps stopped
            // properly rather than left behind.
            // SAFETY: as above, a plain integer argument.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0) };
            if nix::unistd::getppid() != parent {
                let _ = kill(Pid::this(), Signal::SIGTERM);
            }
            Ok(())
        }
        ForkResult::Parent { child } => std::process::exit(reap(child, &blocked)),
    }
}

/// The reaper's loop: one signal at a time, then every dead child.
fn reap(child: Pid, set: &SigSet) -> i32 {
    loop {
        if let Some(sig) = wait_signal(set, Duration::from_secs(1)) {
            if FORWARDED.contains(&sig) {
                // ESRCH: the supervisor is already gone; its status is collected below.
                let _ = kill(child, sig);
            }
        }
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == child => return code,
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => return 128 + sig as i32,
                Ok(WaitStatus::StillAlive) => break,
                // An orphan, reaped so it does not linger as a zombie.
                Ok(_) => continue,
                Err(nix::errno::Errno::EINTR) => continue,
                // ECHILD cannot happen while the supervisor lives; if it does, it is gone.
                Err(_) => return 1,
            }
        }
    }
}

/// `sigtimedwait`: a pending signal from `set`, or `None` after `timeout` (which bounds how
/// late a coalesced SIGCHLD can leave a zombie).
fn wait_signal(set: &SigSet, timeout: Duration) -> Option<Signal> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    let raw: &libc::sigset_t = set.as_ref();
    // SAFETY: `raw` and `ts` outlive the call; a null siginfo pointer is allowed.
    let n = unsafe { libc::sigtimedwait(raw, std::ptr::null_mut(), &ts) };
    if n < 0 {
        return None;
    }
    Signal::try_from(n).ok()
}
