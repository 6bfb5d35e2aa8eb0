//! What `pm monit` shows and what a key does to it, kept apart from the terminal so it can be
//! read (and tested) on its own.

use std::collections::{HashMap, VecDeque};

use crate::protocol::queue::QueueStats;
use crate::protocol::ProcView;

/// Lines kept per process.
pub const LOG_LINES: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Restart,
    Reload,
    Stop,
    Delete,
}

impl Act {
    pub fn verb(self) -> &'static str {
        match self {
            Act::Restart => "restart",
            Act::Reload => "reload",
            Act::Stop => "stop",
            Act::Delete => "delete",
        }
    }
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Nothing,
    Quit,
    Run(Act, u32, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a filter.
    Filter,
    /// `d` asked; `y` deletes this pm_id.
    ConfirmDelete(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Up,
    Down,
    Enter,
    Esc,
    Backspace,
    Char(char),
    CtrlC,
}

#[derive(Default)]
pub struct LogLine {
    pub err: bool,
    pub text: String,
}

pub struct State {
    pub procs: Vec<ProcView>,
    /// The selected process, by pm_id (stays on it when the list reorders).
    pub selected: Option<u32>,
    pub filter: String,
    pub mode: Mode,
    pub logs: HashMap<u32, VecDeque<LogLine>>,
    /// One line at the bottom: the last action's outcome, or an error.
    pub status: String,
    pub daemon_ok: bool,
    /// The daemon's queues, asked for only while some app consumes one.
    pub queues: Vec<QueueStats>,
}

impl Default for State {
    fn default() -> Self {
        State {
            procs: Vec::new(),
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            logs: HashMap::new(),
            status: String::new(),
            daemon_ok: true,
            queues: Vec::new(),
        }
    }
}

impl State {
    /// The processes the filter lets through, in pm_id order.
    pub fn visible(&self) -> Vec<&ProcView> {
        let f = self.filter.to_lowercase();
        self.procs
            .iter()
            .filter(|p| {
                f.is_empty()
                    || p.name.to_lowercase().contains(&f)
                    || p.pm2_env.namespace.to_lowercase().contains(&f)
                    || p.pm_id.to_string() == f
            })
            .collect()
    }

    pub fn current(&self) -> Option<&ProcView> {
        let vis = self.visible();
        self.selected
            .and_then(|id| vis.iter().find(|p| p.pm_id == id).copied())
            .or_else(|| vis.first().copied())
    }

    pub fn set_procs(&mut self, procs: Vec<ProcView>) {
        // Masked once here, so nothing drawn from the list shows a secret.
        let mut procs: Vec<ProcView> = procs.iter().map(crate::protocol::secret::shown).collect();
        procs.sort_by_key(|p| p.pm_id);
        let ids: Vec<u32> = procs.iter().map(|p| p.pm_id).collect();
        self.logs.retain(|id, _| ids.contains(id));
        self.procs = procs;
        if self.current().map(|p| p.pm_id) != self.selected {
            self.selected = self.current().map(|p| p.pm_id);
        }
    }

    /// Whether any app listed consumes a queue (so its depth is worth asking for).
    pub fn consumes(&self) -> bool {
        self.procs
            .iter()
            .any(|p| p.pm2_env.options.contains_key(crate::queue::app::KEY))
    }

    /// The selected app's queue rows, as `pm describe` shows them.
    pub fn queue_rows(&self) -> Vec<(&'static str, String)> {
        self.current()
            .map(|p| crate::cli::queue::app_rows(&p.pm2_env, &self.queues))
            .unwrap_or_default()
    }

    pub fn push_log(&mut self, pm_id: u32, err: bool, text: &str) {
        let buf = self.logs.entry(pm_id).or_default();
        for line in text.lines() {
            if buf.len() == LOG_LINES {
                buf.pop_front();
            }
            buf.push_back(LogLine {
                err,
                text: line.to_string(),
            });
        }
    }

    fn move_by(&mut self, delta: isize) {
        let vis = self.visible();
        if vis.is_empty() {
            return;
        }
        let at = self
            .selected
            .and_then(|id| vis.iter().position(|p| p.pm_id == id))
            .unwrap_or(0) as isize;
        let next = (at + delta).clamp(0, vis.len() as isize - 1) as usize;
        self.selected = Some(vis[next].pm_id);
    }

    fn act(&mut self, act: Act) -> Outcome {
        match self.current() {
            Some(p) => Outcome::Run(act, p.pm_id, p.name.clone()),
            None => Outcome::Nothing,
        }
    }

    pub fn key(&mut self, k: Key) -> Outcome {
        if k == Key::CtrlC {
            return Outcome::Quit;
        }
        match self.mode.clone() {
            Mode::Filter => {
                match k {
                    Key::Enter => self.mode = Mode::Normal,
                    Key::Esc => {
                        self.filter.clear();
                        self.mode = Mode::Normal;
                    }
                    Key::Backspace => {
                        self.filter.pop();
                    }
                    Key::Char(c) => self.filter.push(c),
                    Key::Up => self.move_by(-1),
                    Key::Down => self.move_by(1),
                    Key::CtrlC => {}
                }
                self.selected = self.current().map(|p| p.pm_id);
                Outcome::Nothing
            }
            Mode::ConfirmDelete(id) => {
                self.mode = Mode::Normal;
                match k {
                    Key::Char('y') | Key::Char('Y') => {
                        let name = self
                            .procs
                            .iter()
                            .find(|p| p.pm_id == id)
                            .map(|p| p.name.clone())
                            .unwrap_or_default();
                        Outcome::Run(Act::Delete, id, name)
                    }
                    _ => {
                        self.status = "delete cancelled".into();
                        Outcome::Nothing
                    }
                }
            }
            Mode::Normal => match k {
                Key::Char('q') | Key::Esc => Outcome::Quit,
                Key::Up | Key::Char('k') => {
                    self.move_by(-1);
                    Outcome::Nothing
                }
                Key::Down | Key::Char('j') => {
                    self.move_by(1);
                    Outcome::Nothing
                }
                Key::Char('r') => self.act(Act::Restart),
                Key::Char('l') => self.act(Act::Reload),
                Key::Char('s') => self.act(Act::Stop),
                Key::Char('d') => {
                    if let Some((id, name)) = self.current().map(|p| (p.pm_id, p.name.clone())) {
                        self.status = format!("delete {name} (id {id})? y/n");
                        self.mode = Mode::ConfirmDelete(id);
                    }
                    Outcome::Nothing
                }
                Key::Char('/') | Key::Char('f') => {
                    self.mode = Mode::Filter;
                    Outcome::Nothing
                }
                _ => Outcome::Nothing,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: u32, name: &str) -> ProcView {
        let mut v = ProcView {
            pm_id: id,
            name: name.into(),
            ..Default::default()
        };
        v.pm2_env.namespace = "default".into();
        v
    }

    #[test]
    fn keys_select_filter_and_act_on_the_selected_app() {
        let mut s = State::default();
        s.set_procs(vec![view(1, "worker"), view(0, "web"), view(2, "api")]);
        assert_eq!(s.current().map(|p| p.pm_id), Some(0));
        s.key(Key::Down);
        assert_eq!(
            s.key(Key::Char('r')),
            Outcome::Run(Act::Restart, 1, "worker".into())
        );
        s.key(Key::Char('/'));
        for c in "ap".chars() {
            s.key(Key::Char(c));
        }
        s.key(Key::Enter);
        assert_eq!(s.visible().len(), 1);
        assert_eq!(
            s.key(Key::Char('s')),
            Outcome::Run(Act::Stop, 2, "api".into())
        );
        assert_eq!(s.key(Key::Char('d')), Outcome::Nothing);
        assert_eq!(s.key(Key::Char('n')), Outcome::Nothing, "only y deletes");
        s.key(Key::Char('d'));
        assert_eq!(
            s.key(Key::Char('y')),
            Outcome::Run(Act::Delete, 2, "api".into())
        );
        assert_eq!(s.key(Key::Char('q')), Outcome::Quit);
    }

    #[test]
    fn what_monit_draws_has_its_secrets_masked() {
        let mut s = State::default();
        let mut v = view(0, "svc-tok-abc123");
        v.pm2_env
            .env
            .insert("API_TOKEN".into(), "tok-abc123".into());
        v.pm2_env.pm_exec_path = "/srv/https://u:pw1@h/app.js".into();
        s.set_procs(vec![v]);
        let shown = s.current().expect("one process");
        assert_eq!(shown.name, "svc-***");
        assert_eq!(shown.pm2_env.pm_exec_path, "/srv/https://u:***@h/app.js");
        assert_eq!(shown.pm2_env.env["API_TOKEN"], "***");
    }

    #[test]
    fn logs_are_bounded_and_follow_the_list() {
        let mut s = State::default();
        s.set_procs(vec![view(0, "web")]);
        for i in 0..LOG_LINES + 10 {
            s.push_log(0, false, &format!("line {i}\n"));
        }
        assert_eq!(s.logs[&0].len(), LOG_LINES);
        assert_eq!(s.logs[&0].back().map(|l| l.text.as_str()), Some("line 509"));
        s.set_procs(vec![]);
        assert!(s.logs.is_empty());
    }
}
