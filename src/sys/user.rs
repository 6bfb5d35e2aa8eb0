//! Who an app runs as (pm2's `uid` / `gid` / `user`): a user and a group by name or number,
//! looked up in the system's databases before the spawn, so that between fork and exec only
//! `setgroups`, `setgid` and `setuid` run.

use nix::unistd::{Gid, Group, Uid, User};

/// The ids a child takes, and what its environment says about the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, as `initgroups` would set them (the user's groups and `gid`).
    pub groups: Vec<u32>,
    /// `USER` / `LOGNAME` and `HOME`, from the user's passwd entry.
    pub name: Option<String>,
    pub home: Option<String>,
}

fn user(spec: &str) -> Result<User, String> {
    let found = match spec.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(spec),
    };
    match found {
        Ok(Some(u)) => Ok(u),
        Ok(None) => Err(format!("uid {spec}: no such user")),
        Err(e) => Err(format!("uid {spec}: cannot look the user up: {e}")),
    }
}

fn group(spec: &str) -> Result<u32, String> {
    if let Ok(n) = spec.parse::<u32>() {
        return Ok(n);
    }
    match Group::from_name(spec) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(format!("gid {spec}: no such group")),
        Err(e) => Err(format!("gid {spec}: cannot look the group up: {e}")),
    }
}

/// The identity `uid` / `gid` ask for; `None` when neither is given. Changing identity needs
/// root: otherwise only this process's own ids are accepted (nothing changes then).
pub fn resolve(uid: Option<&str>, gid: Option<&str>) -> Result<Option<Identity>, String> {
    let (uid, gid) = (
        uid.map(str::trim).filter(|s| !s.is_empty()),
        gid.map(str::trim).filter(|s| !s.is_empty()),
    );
    if uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    let id = match uid {
        Some(u) => {
            let u = user(u)?;
            let gid = match gid {
                Some(g) => group(g)?,
                None => u.gid.as_raw(),
            };
            let groups = nix::unistd::getgrouplist(
                &std::ffi::CString::new(u.name.as_bytes())
                    .map_err(|_| format!("uid {}: a name with a NUL byte", u.name))?,
                Gid::from_raw(gid),
            )
            .map_err(|e| format!("uid {}: cannot read its groups: {e}", u.name))?
            .into_iter()
            .map(Gid::as_raw)
            .collect();
            Identity {
                uid: u.uid.as_raw(),
                gid,
                groups,
                name: Some(u.name),
                home: Some(u.dir.display().to_string()),
            }
        }
        // A group alone: this user, in that group only.
        None => {
            let gid = group(gid.unwrap_or_default())?;
            Identity {
                uid: nix::unistd::geteuid().as_raw(),
                gid,
                groups: vec![gid],
                name: None,
                home: None,
            }
        }
    };
    let (me, my_gid) = (nix::unistd::geteuid(), nix::unistd::getegid().as_raw());
    if !me.is_root() && (id.uid != me.as_raw() || id.gid != my_gid) {
        return Err(format!(
            "running an app as another user or group (uid/gid) needs the daemon to run as root; it runs as uid {me}"
        ));
    }
    Ok(Some(id))
}

/// Takes on `id`: supplementary groups first, then the group, then the user (after which the
/// others can no longer be changed). Runs between fork and exec: only async-signal-safe calls.
pub fn become_(id: &Identity) -> std::io::Result<()> {
    // SAFETY: raw system calls on this (forked, single-threaded) process; the group list was
    // built before the fork, so nothing here allocates.
    unsafe {
        if libc::setgroups(id.groups.len(), id.groups.as_ptr()) != 0
            || libc::setgid(id.gid) != 0
            || libc::setuid(id.uid) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Who may connect to the daemon's unix sockets (`rpc.sock`, `keeper.sock`): its own user and
/// root, by the kernel's word (`SO_PEERCRED`).
pub fn may_connect(peer: u32, me: u32) -> bool {
    peer == me || peer == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_daemons_user_and_root_may_connect() {
        assert!(super::may_connect(1000, 1000));
        assert!(super::may_connect(0, 1000), "root");
        assert!(super::may_connect(0, 0));
        assert!(!super::may_connect(1001, 1000));
        assert!(
            !super::may_connect(1000, 0),
            "a root daemon serves root only"
        );
    }

    use super::*;

    #[test]
    fn nothing_asked_is_no_identity_and_unknown_names_are_one_line() {
        assert_eq!(resolve(None, None), Ok(None));
        assert_eq!(resolve(Some(" "), Some("")), Ok(None));
        let e = resolve(Some("no-such-user-pmtest"), None).expect_err("unknown user");
        assert_eq!(e, "uid no-such-user-pmtest: no such user");
        let e = resolve(None, Some("no-such-group-pmtest")).expect_err("unknown group");
        assert_eq!(e, "gid no-such-group-pmtest: no such group");
    }

    #[test]
    fn this_processs_own_user_by_name_or_number() {
        let me = nix::unistd::geteuid();
        let name = User::from_uid(me)
            .expect("passwd readable")
            .expect("this process's user has a passwd entry")
            .name;
        let by_name = resolve(Some(&name), None)
            .expect("own user")
            .expect("an identity");
        let by_number = resolve(Some(&me.to_string()), None)
            .expect("own uid")
            .expect("an identity");
        assert_eq!(by_name, by_number);
        assert_eq!(by_name.uid, me.as_raw());
        assert!(by_name.groups.contains(&by_name.gid));
        assert_eq!(by_name.name.as_deref(), Some(name.as_str()));
    }
}
