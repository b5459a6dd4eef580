//! Drawing: the header, the view tabs, the current list (only the rows on
//! screen are built), the detail pane, the footer made from the key table,
//! the help overlay, and a plain message when the terminal is too small.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row as TableRow, Table, Wrap};
use ratatui::Frame;

use super::app::{App, CALLS, CONNECTIONS, MESSAGES, PROBLEMS, SORT_COLUMNS, TOPICS, VIEWS};
use super::detail::{self, DetailInput};
use super::keys::{Context, BINDINGS};
use super::state::{close_label, Outcome};
use crate::oslo::Kind;
use crate::output::utc_time;
use crate::time::Timestamp;

/// Below this the layout cannot be drawn legibly.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Calls slower than this are shown in yellow.
const SLOW_NS: u64 = 1_000_000_000;

/// `850µs`, `63.8ms`, `1.20s`, `2m03s`.
pub fn duration(ns: u64) -> String {
    if ns < 1_000_000 {
        format!("{}µs", ns / 1_000)
    } else if ns < 100_000_000 {
        format!("{:.1}ms", ns as f64 / 1e6)
    } else if ns < 1_000_000_000 {
        format!("{}ms", ns / 1_000_000)
    } else if ns < 60_000_000_000 {
        format!("{:.2}s", ns as f64 / 1e9)
    } else {
        let s = ns / 1_000_000_000;
        format!("{}m{:02}s", s / 60, s % 60)
    }
}

/// `812 B`, `1.3 KiB`, `4.0 MiB`.
pub fn bytes_label(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1 << 20 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else if n < 1 << 30 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30))
    }
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A text sparkline of `values`, one character each.
pub fn sparkline(values: &[u64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 || max == 0 {
                ' '
            } else {
                let i = ((v * 7).div_ceil(max)) as usize;
                BARS.get(i.min(7)).copied().unwrap_or('█')
            }
        })
        .collect()
}

fn time(ts: Timestamp, app: &App, wide: bool) -> String {
    let t = utc_time(ts, app.precision);
    if wide {
        t
    } else {
        // HH:MM:SS.mmm
        t.get(..12).unwrap_or(&t).to_string()
    }
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let text = format!(
            "zmqtrace needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}.\nEnlarge it, or use -o table.  (q quits)",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    let [header, tabs, main, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(f, app, header);
    draw_tabs(f, app, tabs);
    if app.detail && app.view == MESSAGES {
        let [list, pane] =
            Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(main);
        draw_view(f, app, list);
        draw_detail(f, app, pane);
    } else {
        draw_view(f, app, main);
    }
    draw_footer(f, app, footer);
    if app.help {
        draw_help(f, area);
    }
    defuse(f.buffer_mut());
}

/// Topics, methods, ids and failures come off the wire: a control character
/// in them (ESC above all) would reach the terminal as a command. ratatui
/// writes zero-width graphemes as they are, so every cell is checked once
/// the frame is drawn, whatever widget put the text there.
pub fn defuse(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.symbol().chars().any(char::is_control) {
            cell.set_symbol("�");
        }
    }
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let s = &app.state;
    let t = &s.totals;
    let st = &s.status;
    let rate = s.rate.per_second(t.last_ts, 5);
    let mut progress = String::new();
    if let Some(p) = st.input {
        if let Some(pct) = p.percent() {
            progress = format!(" {pct}%");
        } else {
            progress = format!(" {}", bytes_label(p.read));
        }
    }
    let badge = if app.frozen {
        Span::styled(
            " FROZEN ",
            Style::default()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )
    } else if let Some(Err(_)) = &s.ended {
        Span::styled(
            " STOPPED ",
            Style::default().fg(Color::White).bg(Color::Red),
        )
    } else if s.ended.is_some() || st.finished {
        Span::styled(" DONE ", Style::default().fg(Color::Black).bg(Color::Green))
    } else if app.live {
        Span::styled(" LIVE ", Style::default().fg(Color::Black).bg(Color::Cyan))
    } else {
        Span::styled(
            " READING ",
            Style::default().fg(Color::Black).bg(Color::Cyan),
        )
    };
    let warn = |n: u64| {
        if n > 0 {
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        }
    };
    let (kernel, queue) = st
        .live
        .as_ref()
        .map_or((0, 0), |l| (l.kernel_dropped, l.queue_dropped));
    let dropped = kernel + queue + s.evicted.feed;
    // Most important first: a narrow terminal cuts the end of each line.
    let mut line1 = vec![
        Span::styled("zmqtrace ", bold()),
        badge,
        Span::raw(format!("  msgs {} ({rate:.0}/s)", thousands(t.messages))),
        Span::raw(format!("  calls {}", thousands(t.calls))),
        Span::raw("  timeouts "),
        Span::styled(thousands(t.timeouts), warn(t.timeouts)),
        Span::raw("  failures "),
        Span::styled(thousands(t.failures), warn(t.failures)),
        Span::raw("  gaps "),
        Span::styled(thousands(t.gaps), warn(t.gaps)),
        Span::raw("  resyncs "),
        Span::styled(thousands(t.resyncs), warn(t.resyncs)),
    ];
    if app.live || dropped > 0 {
        line1.push(Span::raw("  drops "));
        line1.push(Span::styled(
            format!(
                "{}/{}/{}",
                thousands(kernel),
                thousands(queue),
                thousands(s.evicted.feed)
            ),
            warn(dropped),
        ));
    }
    let mut line2 = vec![
        Span::raw(format!("{}{progress}", app.source)),
        Span::raw(format!("  pkts {}", thousands(st.packets.packets))),
        Span::raw(format!(
            "  waiting {}  history {}/{}",
            thousands(s.waiting_calls() as u64),
            thousands(s.rows().len() as u64),
            thousands(s.limits().history as u64)
        )),
    ];
    if t.last_ts > Timestamp::ZERO {
        line2.push(Span::raw(format!("  at {}", time(t.last_ts, app, false))));
    }
    // What the UI's caps left out (messages beyond the history show as
    // history N/N against the message count).
    let e = &s.evicted;
    let left_out: Vec<String> = [
        (e.details, "details"),
        (e.calls, "calls"),
        (e.topics_folded, "topic msgs in (other)"),
        (e.conns, "conns"),
        (e.problems, "problems"),
        (e.servers, "servers"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{} {what}", thousands(*n)))
    .collect();
    if !left_out.is_empty() {
        line2.push(Span::styled(
            format!("  left out: {}", left_out.join(", ")),
            Style::default().fg(Color::DarkGray),
        ));
    }
    if let Some(Err(e)) = &s.ended {
        line2 = vec![Span::styled(
            e.clone(),
            Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        )];
    }
    let line1 = Line::from(line1);
    f.render_widget(Paragraph::new(vec![line1, Line::from(line2)]), area);
}

fn draw_tabs(f: &mut Frame, app: &App, area: Rect) {
    let mut spans = Vec::new();
    for (i, name) in VIEWS.iter().enumerate() {
        let mut label = format!(" {} {name}", i + 1);
        if i == PROBLEMS {
            let n = app.state.problems().len() + app.snapshot.silent.len();
            if n > 0 {
                label.push_str(&format!(" ({})", thousands(n as u64)));
            }
        }
        label.push(' ');
        let style = if i == app.view {
            Style::default()
                .fg(Color::Black)
                .bg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else if i == PROBLEMS && !app.state.problems().is_empty() {
            Style::default().fg(Color::Red)
        } else {
            Style::default()
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    if !app.filter_text.is_empty() && !app.editing_filter {
        spans.push(Span::styled(
            format!(
                " filter: {} ({} shown)",
                app.filter_text,
                thousands(app.visible.len() as u64)
            ),
            Style::default().fg(Color::Yellow),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The rows `[start, end)` of `len` that fit in `height`, keeping
/// `selected` on screen, starting from the last offset.
fn window(offset: usize, selected: usize, len: usize, height: usize) -> (usize, usize) {
    let height = height.max(1);
    let mut start = offset.min(len.saturating_sub(1));
    if selected < start {
        start = selected;
    } else if selected >= start + height {
        start = selected + 1 - height;
    }
    start = start.min(len.saturating_sub(height));
    (start, (start + height).min(len))
}

fn header_row(app: &App, titles: &[&str]) -> TableRow<'static> {
    let (col, rev) = app.sort[app.view];
    let sorted = SORT_COLUMNS[app.view].get(col).copied().unwrap_or("");
    let cells: Vec<Cell> = titles
        .iter()
        .map(|t| {
            let name = t.trim().to_lowercase();
            let mark = if name == sorted
                || (sorted == "state" && name == "state")
                || (sorted == "messages" && name == "msgs")
                || (sorted == "rate" && name == "rate/s")
                || (sorted == "time" && name.starts_with("time"))
                || (sorted == "dst" && name == "to")
            {
                if rev {
                    "▼"
                } else {
                    "▲"
                }
            } else {
                ""
            };
            Cell::from(format!("{t}{mark}"))
        })
        .collect();
    TableRow::new(cells).style(Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED))
}

fn draw_view(f: &mut Frame, app: &mut App, area: Rect) {
    let view = app.view;
    let height = usize::from(area.height.saturating_sub(1));
    app.page = height.max(1);
    let mut area = area;
    if view == PROBLEMS && !app.snapshot.silent.is_empty() {
        let [top, rest] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(area);
        let silent: Vec<String> = app
            .snapshot
            .silent
            .iter()
            .take(6)
            .map(|(addr, t)| format!("{addr} ({} calls timed out)", thousands(t.timeouts)))
            .collect();
        let text = Line::from(vec![
            Span::styled(
                format!("{} never answered a call: ", app.snapshot.silent.len()),
                Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            Span::raw(silent.join(", ")),
        ]);
        f.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), top);
        area = rest;
    }
    let height = usize::from(area.height.saturating_sub(1));
    let len = app.visible.len();
    let selected = app.selected[view].min(len.saturating_sub(1));
    let (start, end) = window(app.offset[view], selected, len, height);
    app.offset[view] = start;
    let wide = area.width >= 120;
    let indices: Vec<usize> = app.visible.get(start..end).unwrap_or_default().to_vec();
    let (titles, widths, rows): (Vec<&str>, Vec<Constraint>, Vec<TableRow>) = match view {
        MESSAGES => messages_table(app, &indices, wide),
        CALLS => calls_table(app, &indices, wide),
        TOPICS => topics_table(app, &indices, wide),
        CONNECTIONS => conns_table(app, &indices, wide),
        _ => problems_table(app, &indices, wide),
    };
    if len == 0 {
        let what = if !app.filter.is_empty() {
            "nothing matches the filter (Esc clears it)"
        } else {
            match view {
                MESSAGES => "no messages yet",
                CALLS => "no calls yet",
                TOPICS => "no oslo messages yet",
                CONNECTIONS => "no connections yet",
                _ => "no problems seen",
            }
        };
        let table = Table::new(Vec::<TableRow>::new(), widths).header(header_row(app, &titles));
        f.render_widget(table, area);
        if area.height > 2 {
            let msg = Rect {
                y: area.y + 2,
                height: 1,
                ..area
            };
            f.render_widget(
                Paragraph::new(what).style(Style::default().fg(Color::DarkGray)),
                msg,
            );
        }
        return;
    }
    let rows: Vec<TableRow> = rows
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            if start + n == selected {
                r.style(Style::default().add_modifier(Modifier::REVERSED))
            } else {
                r
            }
        })
        .collect();
    let table = Table::new(rows, widths).header(header_row(app, &titles));
    f.render_widget(table, area);
}

type TableParts = (Vec<&'static str>, Vec<Constraint>, Vec<TableRow<'static>>);

fn kind_style(kind: Option<Kind>) -> Style {
    match kind {
        Some(Kind::Call) => Style::default().fg(Color::Cyan),
        Some(Kind::Reply) => Style::default().fg(Color::Green),
        Some(Kind::Cast) | Some(Kind::Fanout) => Style::default().fg(Color::Blue),
        Some(Kind::Notify) => Style::default().fg(Color::Magenta),
        Some(Kind::Ack) => Style::default().fg(Color::DarkGray),
        None => Style::default(),
    }
}

fn latency_cell(ns: Option<u64>) -> Cell<'static> {
    latency_cell_or(ns, "")
}

fn latency_cell_or(ns: Option<u64>, none: &'static str) -> Cell<'static> {
    match ns {
        Some(ns) if ns >= SLOW_NS => Cell::from(duration(ns)).style(
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ),
        Some(ns) => Cell::from(duration(ns)),
        None => Cell::from(none),
    }
}

fn messages_table(app: &App, indices: &[usize], wide: bool) -> TableParts {
    let rows = indices
        .iter()
        .filter_map(|&i| app.snapshot.rows.get(i))
        .map(|r| {
            let kind = r.rpc.as_ref().map(|p| p.kind);
            let mut cells = vec![Cell::from(time(r.ts, app, wide))];
            if wide {
                cells.push(Cell::from(r.src.to_string()));
            }
            cells.push(Cell::from(r.dst.to_string()));
            cells.push(Cell::from(r.kind_label()).style(kind_style(kind)));
            cells.push(Cell::from(r.topic().to_string()));
            cells.push(Cell::from(r.method().to_string()));
            cells.push(latency_cell(r.latency_ns()));
            cells.push(Cell::from(bytes_label(r.bytes)));
            let row = TableRow::new(cells);
            if r.failed() {
                row.style(Style::default().fg(Color::Red))
            } else if r.forwarded() {
                row.style(Style::default().fg(Color::DarkGray))
            } else {
                row
            }
        })
        .collect();
    if wide {
        (
            vec![
                "TIME", "SRC", "DST", "KIND", "TOPIC", "METHOD", "LATENCY", "SIZE",
            ],
            vec![
                Constraint::Length(15),
                Constraint::Length(21),
                Constraint::Length(21),
                Constraint::Length(7),
                Constraint::Fill(1),
                Constraint::Fill(1),
                Constraint::Length(9),
                Constraint::Length(9),
            ],
            rows,
        )
    } else {
        (
            vec!["TIME", "TO", "KIND", "TOPIC", "METHOD", "LATENCY", "SIZE"],
            vec![
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Length(7),
                Constraint::Fill(1),
                Constraint::Fill(1),
                Constraint::Length(8),
                Constraint::Length(8),
            ],
            rows,
        )
    }
}

fn calls_table(app: &App, indices: &[usize], wide: bool) -> TableParts {
    let now = app.now();
    let rows = indices
        .iter()
        .filter_map(|&i| app.snapshot.calls.get(i))
        .map(|c| {
            let (state, style, latency) = match &c.outcome {
                Outcome::TimedOut { waited_ns, .. } => (
                    "TIMEOUT",
                    Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
                    Cell::from(format!(">{}", duration(*waited_ns))),
                ),
                Outcome::Waiting => (
                    "waiting",
                    Style::default().fg(Color::Yellow),
                    Cell::from(format!("{}…", duration(now.nanos_since(c.request_ts)))),
                ),
                Outcome::Replied {
                    failure: Some(_),
                    latency_ns,
                    ..
                } => (
                    "FAILED",
                    Style::default().fg(Color::Red),
                    latency_cell(Some(*latency_ns)),
                ),
                Outcome::Replied { latency_ns, .. } => (
                    "ok",
                    Style::default().fg(Color::Green),
                    latency_cell(Some(*latency_ns)),
                ),
            };
            let mut cells = vec![
                Cell::from(state).style(style),
                Cell::from(time(c.request_ts, app, wide)),
            ];
            if wide {
                cells.push(Cell::from(c.caller.to_string()));
            }
            cells.push(Cell::from(c.server.to_string()));
            cells.push(Cell::from(c.topic.as_deref().unwrap_or("?").to_string()));
            cells.push(Cell::from(c.method.as_deref().unwrap_or("?").to_string()));
            cells.push(latency);
            if wide {
                let failure = match &c.outcome {
                    Outcome::Replied {
                        failure: Some(f), ..
                    } => f.to_string(),
                    _ => c.msg_id.get(..8).unwrap_or(&c.msg_id).to_string(),
                };
                cells.push(Cell::from(failure));
            }
            TableRow::new(cells)
        })
        .collect();
    if wide {
        (
            vec![
                "STATE",
                "TIME",
                "CALLER",
                "SERVER",
                "TOPIC",
                "METHOD",
                "LATENCY",
                "MSG_ID / FAILURE",
            ],
            vec![
                Constraint::Length(7),
                Constraint::Length(15),
                Constraint::Length(21),
                Constraint::Length(21),
                Constraint::Fill(2),
                Constraint::Fill(2),
                Constraint::Length(10),
                Constraint::Fill(2),
            ],
            rows,
        )
    } else {
        (
            vec!["STATE", "TIME", "SERVER", "TOPIC", "METHOD", "LATENCY"],
            vec![
                Constraint::Length(7),
                Constraint::Length(12),
                Constraint::Length(16),
                Constraint::Fill(3),
                Constraint::Fill(2),
                Constraint::Length(9),
            ],
            rows,
        )
    }
}

fn opt_duration(ns: Option<u64>) -> String {
    ns.map(duration).unwrap_or_else(|| "-".into())
}

fn topics_table(app: &App, indices: &[usize], wide: bool) -> TableParts {
    let spark_len = if wide { 30 } else { 10 };
    let rows = indices
        .iter()
        .filter_map(|&i| app.snapshot.topics.get(i))
        .map(|t| {
            let tail = t.spark.len().saturating_sub(spark_len);
            let spark = sparkline(t.spark.get(tail..).unwrap_or_default());
            let warn = |n: u64| {
                let cell = Cell::from(thousands(n));
                if n > 0 {
                    cell.style(Style::default().fg(Color::Red))
                } else {
                    cell
                }
            };
            let mut cells = vec![
                Cell::from(t.topic.to_string()),
                Cell::from(t.method.to_string()),
                Cell::from(thousands(t.messages)),
                Cell::from(format!("{:.1}", t.rate)),
                Cell::from(spark).style(Style::default().fg(Color::Cyan)),
            ];
            if wide {
                cells.push(Cell::from(thousands(t.calls)));
            }
            cells.push(Cell::from(opt_duration(t.p50)));
            cells.push(latency_cell_or(t.p99, "-"));
            if wide {
                cells.push(Cell::from(opt_duration(t.max)));
            }
            cells.push(warn(t.timeouts));
            cells.push(warn(t.failures));
            TableRow::new(cells)
        })
        .collect();
    if wide {
        (
            vec![
                "TOPIC",
                "METHOD",
                "MSGS",
                "RATE/S",
                "LAST 30 s",
                "CALLS",
                "P50",
                "P99",
                "MAX",
                "TIMEOUTS",
                "FAILURES",
            ],
            vec![
                Constraint::Fill(3),
                Constraint::Fill(2),
                Constraint::Length(8),
                Constraint::Length(7),
                Constraint::Length(30),
                Constraint::Length(7),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
                Constraint::Length(8),
            ],
            rows,
        )
    } else {
        (
            vec![
                "TOPIC",
                "METHOD",
                "MSGS",
                "RATE/S",
                "LAST 10 s",
                "P50",
                "P99",
                "TMO",
                "FAIL",
            ],
            vec![
                Constraint::Fill(3),
                Constraint::Fill(2),
                Constraint::Length(6),
                Constraint::Length(6),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(7),
                Constraint::Length(4),
                Constraint::Length(4),
            ],
            rows,
        )
    }
}

fn conns_table(app: &App, indices: &[usize], wide: bool) -> TableParts {
    let rows = indices
        .iter()
        .filter_map(|&i| app.snapshot.conns.get(i))
        .map(|c| {
            let i = &c.info;
            let sockets = match &i.socket_types {
                [None, None] => "-".to_string(),
                [a, b] => format!(
                    "{}>{}",
                    a.as_deref().unwrap_or("?"),
                    b.as_deref().unwrap_or("?")
                ),
            };
            let zmtp = match (i.not_zmtp, i.version) {
                (Some(what), _) => what.to_string(),
                (None, Some(v)) if v != crate::zmtp::Version::Unknown => v.label().to_string(),
                _ => "-".into(),
            };
            let mechanism = if zmtp == "-" {
                "-"
            } else {
                i.mechanism.unwrap_or("-")
            };
            let state = if c.refused() {
                "REFUSED"
            } else if c.unanswered_syn() && i.retired {
                "NO ANSWER"
            } else {
                close_label(i.closed)
            };
            let bad =
                c.refused() || (c.unanswered_syn() && i.retired) || c.resyncs > 0 || c.gaps > 0;
            let mut cells = vec![];
            if wide {
                cells.push(Cell::from(i.client.to_string()));
                cells.push(Cell::from(i.server.to_string()));
            } else {
                cells.push(Cell::from(format!("{}>{}", i.client, i.server)));
            }
            cells.push(Cell::from(zmtp));
            if wide {
                cells.push(Cell::from(mechanism));
            }
            cells.push(Cell::from(sockets));
            cells.push(Cell::from(bytes_label(i.bytes[0] + i.bytes[1])));
            cells.push(Cell::from(thousands(c.messages[0] + c.messages[1])));
            cells.push(Cell::from(thousands(c.gaps.max(i.tcp_gaps))));
            cells.push(Cell::from(thousands(c.resyncs)));
            cells.push(Cell::from(state));
            if wide {
                cells.push(Cell::from(i.history.to_string()));
            }
            let row = TableRow::new(cells);
            if bad {
                row.style(Style::default().fg(Color::Red))
            } else {
                row
            }
        })
        .collect();
    if wide {
        (
            vec![
                "CLIENT", "SERVER", "ZMTP", "MECH", "SOCKETS", "BYTES", "MSGS", "GAPS", "RESYNCS",
                "STATE", "HISTORY",
            ],
            vec![
                Constraint::Length(21),
                Constraint::Length(21),
                Constraint::Length(5),
                Constraint::Length(6),
                Constraint::Length(15),
                Constraint::Length(10),
                Constraint::Length(8),
                Constraint::Length(5),
                Constraint::Length(7),
                Constraint::Length(11),
                Constraint::Fill(1),
            ],
            rows,
        )
    } else {
        (
            vec![
                "CONNECTION",
                "ZMTP",
                "SOCKETS",
                "BYTES",
                "MSGS",
                "GAPS",
                "RSYN",
                "STATE",
            ],
            vec![
                Constraint::Fill(1),
                Constraint::Length(4),
                Constraint::Length(11),
                Constraint::Length(9),
                Constraint::Length(6),
                Constraint::Length(4),
                Constraint::Length(4),
                Constraint::Length(9),
            ],
            rows,
        )
    }
}

fn problems_table(app: &App, indices: &[usize], wide: bool) -> TableParts {
    let rows = indices
        .iter()
        .filter_map(|&i| app.snapshot.problems.get(i))
        .map(|p| {
            let mut cells = vec![
                Cell::from(time(p.ts, app, wide)),
                Cell::from(p.kind.label()).style(Style::default().fg(Color::Red)),
            ];
            if wide {
                cells.push(Cell::from(format!("{} > {}", p.src, p.dst)));
            }
            cells.push(Cell::from(p.text.to_string()));
            TableRow::new(cells)
        })
        .collect();
    if wide {
        (
            vec!["TIME", "PROBLEM", "SRC > DST", "WHAT"],
            vec![
                Constraint::Length(15),
                Constraint::Length(9),
                Constraint::Length(36),
                Constraint::Fill(1),
            ],
            rows,
        )
    } else {
        (
            vec!["TIME", "PROBLEM", "WHAT"],
            vec![
                Constraint::Length(12),
                Constraint::Length(9),
                Constraint::Fill(1),
            ],
            rows,
        )
    }
}

fn draw_detail(f: &mut Frame, app: &mut App, area: Rect) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(" detail  (p partner · K/J scroll · Esc close) ");
    let Some(row) = app.selected_row() else {
        f.render_widget(Paragraph::new("nothing selected").block(block), area);
        return;
    };
    let input = DetailInput {
        row,
        raw: app.state.raw(row.seq),
        partner: app.partner().map(|r| &**r),
        hops: app.hops().into_iter().map(|r| &**r).collect(),
        precision: app.precision,
        show_secrets: app.show_secrets,
    };
    let lines = detail::lines(&input);
    let max_scroll = u16::try_from(lines.len().saturating_sub(1)).unwrap_or(u16::MAX);
    app.detail_scroll = app.detail_scroll.min(max_scroll);
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((app.detail_scroll, 0)),
        area,
    );
}

fn context_applies(app: &App, context: Context) -> bool {
    match context {
        Context::Global | Context::List => true,
        Context::Detail => app.detail && app.view == MESSAGES,
    }
}

fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    if app.editing_filter {
        let (state, style) = match &app.filter_error {
            Some(e) => (format!("✗ {e}"), Style::default().fg(Color::Red)),
            None => (
                format!("✓ {} shown", thousands(app.visible.len() as u64)),
                Style::default().fg(Color::Green),
            ),
        };
        let line = Line::from(vec![
            Span::styled("/", bold()),
            Span::raw(app.filter_text.clone()),
            Span::styled("█", Style::default().fg(Color::Gray)),
            Span::raw("  "),
            Span::styled(state, style),
            Span::styled(
                "   Enter keep · Esc leave",
                Style::default().fg(Color::DarkGray),
            ),
        ]);
        f.render_widget(Paragraph::new(line), area);
        return;
    }
    let mut spans = Vec::new();
    if let Some(notice) = &app.notice {
        spans.push(Span::styled(
            format!("{notice}  "),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        ));
    }
    for b in BINDINGS
        .iter()
        .filter(|b| b.footer && context_applies(app, b.context))
    {
        spans.push(Span::styled(b.label, bold()));
        spans.push(Span::raw(format!(" {}  ", b.short)));
    }
    let (col, rev) = app.sort[app.view];
    if let Some(name) = SORT_COLUMNS[app.view].get(col) {
        spans.push(Span::styled(
            format!("sorted by {name}{}", if rev { " ▼" } else { "" }),
            Style::default().fg(Color::DarkGray),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The help overlay, generated from the key table: full sentences when
/// the terminal is tall enough, two short columns when it is not.
fn draw_help(f: &mut Frame, area: Rect) {
    let contexts = [Context::Global, Context::List, Context::Detail];
    let full_height = BINDINGS.len() as u16 + contexts.len() as u16 * 2 + 3;
    let full = area.height >= full_height + 2 && area.width >= 100;
    let mut lines: Vec<Line> = Vec::new();
    for context in contexts {
        lines.push(Line::styled(context.title(), bold().fg(Color::Cyan)));
        for b in BINDINGS.iter().filter(|b| b.context == context) {
            let text = if full { b.help } else { b.short };
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<8}", b.label), bold()),
                Span::raw(text.to_string()),
            ]));
        }
        if full {
            lines.push(Line::raw(""));
        }
    }
    let width = if full {
        area.width.min(120) - 4
    } else {
        area.width.saturating_sub(4)
    };
    let height = if full {
        full_height.min(area.height)
    } else {
        area.height.saturating_sub(2)
    };
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, popup);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" keys  (? or Esc closes) ");
    if full {
        f.render_widget(
            Paragraph::new(lines)
                .block(block)
                .wrap(Wrap { trim: false }),
            popup,
        );
    } else {
        let inner = block.inner(popup);
        f.render_widget(block, popup);
        let half = lines.len().div_ceil(2);
        let right = lines.split_off(half);
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(inner);
        f.render_widget(Paragraph::new(lines), a);
        f.render_widget(Paragraph::new(right), b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(850_000), "850µs");
        assert_eq!(duration(63_800_000), "63.8ms");
        assert_eq!(duration(250_000_000), "250ms");
        assert_eq!(duration(1_200_000_000), "1.20s");
        assert_eq!(duration(123_000_000_000), "2m03s");
    }

    #[test]
    fn numbers_and_sizes() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(bytes_label(812), "812 B");
        assert_eq!(bytes_label(1331), "1.3 KiB");
    }

    #[test]
    fn sparkline_scales_to_the_max() {
        assert_eq!(sparkline(&[0, 1, 7]), " ▂█");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0, 0]), "  ");
    }

    #[test]
    fn control_characters_from_the_wire_never_reach_the_terminal() {
        use ratatui::backend::TestBackend;
        use ratatui::Terminal;
        let mut terminal = Terminal::new(TestBackend::new(40, 2)).unwrap();
        terminal
            .draw(|f| {
                let hostile = "compute\x1b]2;owned\x07.\x1b[31mred\u{9b}";
                f.render_widget(Paragraph::new(hostile), f.area());
                defuse(f.buffer_mut());
            })
            .unwrap();
        let buf = terminal.backend().buffer();
        for cell in buf.content.iter() {
            assert!(
                !cell.symbol().chars().any(char::is_control),
                "{:?}",
                cell.symbol()
            );
        }
        assert!(buf.content.iter().any(|c| c.symbol() == "�"));
    }

    #[test]
    fn window_keeps_the_selection_visible() {
        assert_eq!(window(0, 0, 100, 10), (0, 10));
        assert_eq!(window(0, 15, 100, 10), (6, 16));
        assert_eq!(window(50, 40, 100, 10), (40, 50));
        assert_eq!(window(95, 99, 100, 10), (90, 100));
        assert_eq!(window(0, 0, 3, 10), (0, 3));
        assert_eq!(window(7, 0, 0, 10), (0, 0));
    }
}
