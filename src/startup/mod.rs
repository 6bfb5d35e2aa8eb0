//! Start at boot (`pm startup` / `pm unstartup`): which init system, what file to write where,
//! and which commands enable or remove it. Everything here is a pure function of [`Params`],
//! so the scripts can be checked without root; the CLI does the writing and running.
//!
//! Service names follow pm2 (`pm2-<user>`, `pm2.<user>` for launchd, `pm2` for OpenRC), so
//! `systemctl status pm2-<user>`, existing docs and habits keep working, and `pm startup`
//! replaces a pm2 unit of the same user instead of running a second manager beside it.

pub mod scripts;
pub mod systemd;

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Systemd,
    Upstart,
    Systemv,
    Openrc,
    Launchd,
}

/// pm2's detection order: the first of these programs found on `PATH` names the init system.
const DETECT: [(&str, Platform); 5] = [
    ("systemctl", Platform::Systemd),
    ("update-rc.d", Platform::Upstart),
    ("chkconfig", Platform::Systemv),
    ("rc-update", Platform::Openrc),
    ("launchctl", Platform::Launchd),
];

impl Platform {
    /// A platform as `pm2 startup` accepts it, aliases included (`ubuntu`, `centos`, `macos`..).
    pub fn parse(name: &str) -> Result<Platform, String> {
        Ok(match name {
            "systemd" | "ubuntu" | "centos" | "arch" | "oracle" => Platform::Systemd,
            "upstart" | "ubuntu14" | "ubuntu12" => Platform::Upstart,
            "systemv" | "amazon" | "centos6" => Platform::Systemv,
            "openrc" | "gentoo" => Platform::Openrc,
            "launchd" | "macos" | "darwin" => Platform::Launchd,
            "rcd" | "freebsd" | "rcd-openbsd" | "openbsd" | "smf" | "sunos" | "solaris" => {
                return Err(format!(
                    "{name} is not supported by pm startup (systemd, upstart, systemv, openrc, launchd are)"
                ))
            }
            _ => return Err(format!("Unknown platform / init system name: {name}")),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Systemd => "systemd",
            Platform::Upstart => "upstart",
            Platform::Systemv => "systemv",
            Platform::Openrc => "openrc",
            Platform::Launchd => "launchd",
        }
    }

    /// The init system, by the first of pm2's marker programs that `found` reports.
    pub fn detect(found: impl Fn(&str) -> bool) -> Option<Platform> {
        DETECT.iter().find(|(p, _)| found(p)).map(|&(_, pl)| pl)
    }
}

/// What `pm startup` is asked to install, everything resolved by the caller.
#[derive(Debug, Clone)]
pub struct Params {
    /// Absolute path of the `pm` binary the service runs.
    pub pm: PathBuf,
    /// The user the daemon runs as (`-u`).
    pub user: String,
    /// That user's home (`--hp`); the daemon's home is `<home>/.pm`.
    pub home: PathBuf,
    /// `PATH` for the daemon and its apps, `node`'s directory included.
    pub path: String,
    /// `--service-name`, else pm2's default for the platform.
    pub service: Option<String>,
    /// `--wait-ip`: start once the network is online, not merely configured.
    pub wait_ip: bool,
}

impl Params {
    /// `PM_HOME` for the service, as `Home::from_env` defaults it for that user.
    pub fn pm_home(&self) -> PathBuf {
        self.home.join(".pm")
    }

    pub fn service_name(&self, platform: Platform) -> String {
        if let Some(s) = self.service.as_deref().filter(|s| !s.is_empty()) {
            return s.to_string();
        }
        match platform {
            Platform::Openrc => "pm2".into(),
            Platform::Launchd => format!("pm2.{}", self.user),
            _ => format!("pm2-{}", self.user),
        }
    }
}

/// One thing to do after (or instead of) writing the script. File operations are done in
/// Rust; only the init system's own tools are run, as argv, never through a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Run(Vec<String>),
    MakeDir(PathBuf),
    Touch(PathBuf),
    Remove(PathBuf),
}

impl Step {
    fn run(args: &[&str]) -> Step {
        Step::Run(args.iter().map(|a| a.to_string()).collect())
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Run(argv) => write!(f, "{}", argv.join(" ")),
            Step::MakeDir(p) => write!(f, "mkdir -p {}", p.display()),
            Step::Touch(p) => write!(f, "touch {}", p.display()),
            Step::Remove(p) => write!(f, "rm {}", p.display()),
        }
    }
}

/// The script to write and what enables it.
#[derive(Debug, Clone)]
pub struct Install {
    pub destination: PathBuf,
    pub text: String,
    /// File mode: init.d scripts must be executable, unit files need not be.
    pub mode: u32,
    pub steps: Vec<Step>,
}

pub fn install(platform: Platform, p: &Params) -> Install {
    let service = p.service_name(platform);
    let initd = PathBuf::from("/etc/init.d").join(&service);
    let lock = PathBuf::from("/var/lock/subsys");
    match platform {
        Platform::Systemd => Install {
            destination: systemd::unit_path(&service),
            text: systemd::render(p),
            mode: 0o644,
            steps: vec![Step::run(&["systemctl", "enable", &service])],
        },
        Platform::Upstart => Install {
            destination: initd,
            text: scripts::initd(p, &service),
            mode: 0o755,
            steps: vec![
                Step::MakeDir(lock.clone()),
                Step::Touch(lock.join(&service)),
                Step::run(&["update-rc.d", &service, "defaults"]),
            ],
        },
        Platform::Systemv => Install {
            destination: initd,
            text: scripts::initd(p, &service),
            mode: 0o755,
            steps: vec![
                Step::MakeDir(lock.clone()),
                Step::Touch(lock.join(&service)),
                Step::run(&["chkconfig", "--add", &service]),
                Step::run(&["chkconfig", &service, "on"]),
            ],
        },
        Platform::Openrc => Install {
            destination: initd,
            text: scripts::openrc(p),
            mode: 0o755,
            steps: vec![Step::run(&["rc-update", "add", &service, "default"])],
        },
        Platform::Launchd => {
            let agents = launch_agents(&p.home);
            let destination = agents.join(format!("{service}.plist"));
            let plist = destination.display().to_string();
            Install {
                text: scripts::launchd(p, &service),
                mode: 0o644,
                steps: vec![
                    Step::MakeDir(agents),
                    Step::run(&["launchctl", "load", "-w", &plist]),
                ],
                destination,
            }
        }
    }
}

/// What `pm unstartup` does, in order, stopping at the first failure as pm2's `&&` chain does.
pub fn uninstall(platform: Platform, p: &Params) -> Vec<Step> {
    let service = p.service_name(platform);
    let initd = PathBuf::from("/etc/init.d").join(&service);
    match platform {
        Platform::Systemd => vec![
            Step::run(&["systemctl", "stop", &service]),
            Step::run(&["systemctl", "disable", &service]),
            Step::Remove(systemd::unit_path(&service)),
        ],
        Platform::Upstart => vec![
            Step::run(&["update-rc.d", &service, "disable"]),
            Step::run(&["update-rc.d", "-f", &service, "remove"]),
            Step::Remove(initd),
        ],
        Platform::Systemv => vec![
            Step::run(&["chkconfig", &service, "off"]),
            Step::Remove(initd),
        ],
        Platform::Openrc => vec![
            Step::Run(vec![initd.display().to_string(), "stop".into()]),
            Step::run(&["rc-update", "delete", &service, "default"]),
            Step::Remove(initd),
        ],
        Platform::Launchd => vec![
            Step::run(&["launchctl", "remove", &service]),
            Step::Remove(launch_agents(&p.home).join(format!("{service}.plist"))),
        ],
    }
}

fn launch_agents(home: &Path) -> PathBuf {
    home.join("Library/LaunchAgents")
}

/// `PATH` for the service, by pm2's rule: the caller's `PATH`, with `node`'s directory added
/// when it is not already there, so apps find the same `node` the user has.
pub fn service_path(shell_path: Option<&str>, node_dir: Option<&Path>) -> String {
    let shell = shell_path.unwrap_or("");
    let Some(dir) = node_dir.map(|d| d.display().to_string()) else {
        return shell.to_string();
    };
    if shell.split(':').any(|p| p == dir) {
        shell.to_string()
    } else if shell.is_empty() {
        dir
    } else {
        format!("{shell}:{dir}")
    }
}

/// The command a user without root is told to run, as pm2 prints it: `$PATH` stays literal so
/// the shell it is pasted into expands it, and `node`'s directory is added for `sudo`'s
/// stripped `PATH`.
pub fn sudo_hint(verb: &str, platform: Platform, p: &Params, node_dir: Option<&Path>) -> String {
    let path = match node_dir {
        Some(d) => format!("$PATH:{}", scripts::sh_quote(&d.display().to_string())),
        None => "$PATH".into(),
    };
    let mut line = format!(
        "sudo env PATH={path} {} {verb} {} -u {} --hp {}",
        scripts::sh_quote(&p.pm.display().to_string()),
        platform.name(),
        scripts::sh_quote(&p.user),
        scripts::sh_quote(&p.home.display().to_string()),
    );
    if let Some(s) = &p.service {
        line.push_str(&format!(" --service-name {}", scripts::sh_quote(s)));
    }
    if p.wait_ip && verb == "startup" {
        line.push_str(" --wait-ip");
    }
    line
}

#[cfg(test)]
pub(crate) fn sample() -> Params {
    Params {
        pm: PathBuf::from("/opt/app/node_modules/pm-native/bin/pm"),
        user: "deploy".into(),
        home: PathBuf::from("/home/deploy"),
        path: "/usr/local/bin:/usr/bin:/opt/node/bin".into(),
        service: None,
        wait_ip: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_takes_the_first_marker_in_pm2_order() {
        assert_eq!(Platform::detect(|_| true), Some(Platform::Systemd));
        assert_eq!(
            Platform::detect(|p| p == "rc-update" || p == "launchctl"),
            Some(Platform::Openrc)
        );
        assert_eq!(
            Platform::detect(|p| p == "chkconfig"),
            Some(Platform::Systemv)
        );
        assert_eq!(Platform::detect(|_| false), None);
    }

    #[test]
    fn platforms_and_their_pm2_aliases_parse() {
        assert_eq!(Platform::parse("ubuntu"), Ok(Platform::Systemd));
        assert_eq!(Platform::parse("centos6"), Ok(Platform::Systemv));
        assert_eq!(Platform::parse("macos"), Ok(Platform::Launchd));
        assert!(Platform::parse("rcd")
            .unwrap_err()
            .contains("not supported"));
        assert!(Platform::parse("windows").unwrap_err().contains("Unknown"));
    }

    #[test]
    fn service_names_follow_pm2_unless_given() {
        let mut p = sample();
        assert_eq!(p.service_name(Platform::Systemd), "pm2-deploy");
        assert_eq!(p.service_name(Platform::Launchd), "pm2.deploy");
        assert_eq!(p.service_name(Platform::Openrc), "pm2");
        p.service = Some("web".into());
        assert_eq!(p.service_name(Platform::Systemd), "web");
        let i = install(Platform::Systemd, &p);
        assert_eq!(
            i.destination,
            PathBuf::from("/etc/systemd/system/web.service")
        );
        assert_eq!(i.steps, vec![Step::run(&["systemctl", "enable", "web"])]);
        let u = uninstall(Platform::Systemd, &p);
        assert_eq!(
            u.last(),
            Some(&Step::Remove(i.destination)),
            "unstartup removes what startup wrote"
        );
        assert_eq!(u[0].to_string(), "systemctl stop web");
    }

    #[test]
    fn service_path_adds_node_only_when_missing() {
        let node = Path::new("/opt/node/bin");
        assert_eq!(
            service_path(Some("/usr/bin:/opt/node/bin"), Some(node)),
            "/usr/bin:/opt/node/bin"
        );
        assert_eq!(
            service_path(Some("/usr/bin"), Some(node)),
            "/usr/bin:/opt/node/bin"
        );
        assert_eq!(service_path(None, Some(node)), "/opt/node/bin");
        assert_eq!(service_path(Some("/usr/bin"), None), "/usr/bin");
    }

    #[test]
    fn the_root_hint_is_pm2s_line_with_our_paths() {
        let mut p = sample();
        let hint = sudo_hint(
            "startup",
            Platform::Systemd,
            &p,
            Some(Path::new("/opt/node/bin")),
        );
        assert_eq!(
            hint,
            "sudo env PATH=$PATH:/opt/node/bin /opt/app/node_modules/pm-native/bin/pm startup systemd -u deploy --hp /home/deploy"
        );
        p.home = PathBuf::from("/home/de ploy");
        p.wait_ip = true;
        p.service = Some("web".into());
        let hint = sudo_hint("unstartup", Platform::Systemd, &p, None);
        assert!(hint.starts_with("sudo env PATH=$PATH /opt"), "{hint}");
        assert!(
            hint.ends_with("--hp '/home/de ploy' --service-name web"),
            "{hint}"
        );
    }
}
