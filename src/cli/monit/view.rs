//! Drawing `pm monit`: the process list, the selected app's metadata and metrics, its logs, and
//! a line of keys.

use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;
use serde_json::Value;

use super::state::{Mode, State};
use crate::cli::table::{bytes_to_size, time_since};
use crate::protocol::ProcView;

/// Below this the layout cannot hold its panels; a notice is shown instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 16;

fn status_color(status: &str) -> Color {
    match status {
        "online" => Color::Green,
        "stopped" => Color::DarkGray,
        "errored" => Color::Red,
        _ => Color::Yellow,
    }
}

fn uptime(p: &ProcView, now: i64) -> String {
    if p.pm2_env.is_online() {
        time_since(p.pm2_env.pm_uptime, now)
    } else {
        "0".into()
    }
}

pub fn draw(f: &mut Frame, s: &State, now: i64) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "pm monit needs a {MIN_WIDTH}x{MIN_HEIGHT} window (this one is {}x{}). Enlarge it, or press q.",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let list_height = (s.visible().len() as u16 + 3).clamp(4, area.height / 2);
    // Room for every metric of the selected app (two fixed, then its code metrics), keeping
    // at least a few log lines.
    let metrics =
        (s.current().map_or(0, |p| p.pm2_env.axm_monitor.len()) + s.queue_rows().len()) as u16 + 2;
    let middle_height = (metrics.max(7) + 2).min(area.height.saturating_sub(list_height + 4));
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(list_height),
            Constraint::Length(middle_height),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .split(area);
    draw_list(f, s, rows[0], now);
    let middle = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
        .split(rows[1]);
    draw_meta(f, s, middle[0], now);
    draw_metrics(f, s, middle[1]);
    draw_logs(f, s, rows[2]);
    draw_footer(f, s, rows[3]);
}

fn draw_list(f: &mut Frame, s: &State, area: Rect, now: i64) {
    let vis = s.visible();
    let header = Row::new(
        [
            "id", "name", "mode", "status", "↺", "cpu", "memory", "uptime",
        ]
        .into_iter()
        .map(|h| Cell::from(h).style(Style::default().add_modifier(Modifier::BOLD))),
    );
    let body: Vec<Row> = vis
        .iter()
        .map(|p| {
            let e = &p.pm2_env;
            Row::new(vec![
                Cell::from(p.pm_id.to_string()),
                Cell::from(p.name.clone()),
                Cell::from(e.exec_mode.as_str().trim_end_matches("_mode").to_string()),
                Cell::from(e.status.clone()).style(Style::default().fg(status_color(&e.status))),
                Cell::from(e.restart_time.to_string()),
                Cell::from(format!("{}%", p.monit.cpu)),
                Cell::from(bytes_to_size(p.monit.memory as f64)),
                Cell::from(uptime(p, now)),
            ])
        })
        .collect();
    let title = if s.filter.is_empty() {
        " Processes ".to_string()
    } else {
        format!(" Processes (filter: {}) ", s.filter)
    };
    let table = Table::new(
        body,
        [
            Constraint::Length(4),
            Constraint::Min(12),
            Constraint::Length(8),
            Constraint::Length(16),
            Constraint::Length(4),
            Constraint::Length(7),
            Constraint::Length(10),
            Constraint::Length(8),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(title))
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .highlight_symbol("▶ ");
    let mut state = TableState::default();
    state.select(
        s.current()
            .and_then(|c| vis.iter().position(|p| p.pm_id == c.pm_id)),
    );
    f.render_stateful_widget(table, area, &mut state);
}

fn kv(k: &str, v: String) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<12}"), Style::default().fg(Color::Cyan)),
        Span::raw(v),
    ])
}

fn draw_meta(f: &mut Frame, s: &State, area: Rect, now: i64) {
    let lines = match s.current() {
        None => vec![Line::from("no process")],
        Some(p) => {
            let e = &p.pm2_env;
            vec![
                kv("name", format!("{} (id {})", p.name, p.pm_id)),
                kv("namespace", e.namespace.clone()),
                kv(
                    "pid",
                    if p.pid > 0 {
                        p.pid.to_string()
                    } else {
                        "N/A".into()
                    },
                ),
                kv("interpreter", e.exec_interpreter.clone()),
                kv("script", e.pm_exec_path.clone()),
                kv("uptime", uptime(p, now)),
                kv(
                    "restarts",
                    format!("{} (unstable {})", e.restart_time, e.unstable_restarts),
                ),
            ]
        }
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Metadata ")),
        area,
    );
}

fn draw_metrics(f: &mut Frame, s: &State, area: Rect) {
    let mut lines = Vec::new();
    if let Some(p) = s.current() {
        lines.push(kv("CPU", format!("{}%", p.monit.cpu)));
        lines.push(kv("Memory", bytes_to_size(p.monit.memory as f64)));
        for (k, m) in &p.pm2_env.axm_monitor {
            let value = match m.get("value").unwrap_or(m) {
                Value::String(v) => v.clone(),
                other => other.to_string(),
            };
            let unit = m.get("unit").and_then(Value::as_str).unwrap_or("");
            lines.push(Line::from(vec![
                Span::styled(format!("{k:<24}"), Style::default().fg(Color::Cyan)),
                Span::raw(format!("{value} {unit}")),
            ]));
        }
        for (k, v) in s.queue_rows() {
            lines.push(Line::from(vec![
                Span::styled(format!("{k:<16}"), Style::default().fg(Color::Cyan)),
                Span::raw(v),
            ]));
        }
    }
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Metrics ")),
        area,
    );
}

fn draw_logs(f: &mut Frame, s: &State, area: Rect) {
    let (title, lines) = match s.current() {
        None => (" Logs ".to_string(), Vec::new()),
        Some(p) => {
            let room = area.height.saturating_sub(2) as usize;
            let lines: Vec<Line> = s
                .logs
                .get(&p.pm_id)
                .map(|buf| {
                    buf.iter()
                        .skip(buf.len().saturating_sub(room))
                        .map(|l| {
                            let style = if l.err {
                                Style::default().fg(Color::Red)
                            } else {
                                Style::default()
                            };
                            Line::styled(l.text.clone(), style)
                        })
                        .collect()
                })
                .unwrap_or_default();
            (format!(" {} logs ", p.name), lines)
        }
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn draw_footer(f: &mut Frame, s: &State, area: Rect) {
    let text = match &s.mode {
        Mode::Filter => format!("filter: {}█  (Enter keep, Esc clear)", s.filter),
        Mode::ConfirmDelete(_) => s.status.clone(),
        Mode::Normal if !s.daemon_ok => format!("daemon not reachable: {}", s.status),
        Mode::Normal => {
            let keys = "↑↓ select  r restart  l reload  s stop  d delete  / filter  q quit";
            if s.status.is_empty() {
                keys.to_string()
            } else {
                format!("{keys}  │ {}", s.status)
            }
        }
    };
    f.render_widget(
        Paragraph::new(text).style(Style::default().add_modifier(Modifier::REVERSED)),
        area,
    );
}
