//! What the user sees and does, apart from drawing: the views, selection,
//! filter, sort, freeze, detail pane and help, driven by [`Action`]s. The
//! lists shown come from a [`Snapshot`] taken from the [`State`]; a frozen
//! display keeps its snapshot while the state goes on absorbing.

use std::sync::Arc;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::feed::Row;
use super::filter::Filter;
use super::keys::{action_for, Action};
use super::state::{CallEntry, ConnRow, Problem, ServerTally, State, Totals, RATE_SECONDS};
use crate::time::{Precision, Timestamp};

pub const VIEWS: [&str; 5] = ["Messages", "Calls", "Topics", "Connections", "Problems"];
pub const MESSAGES: usize = 0;
pub const CALLS: usize = 1;
pub const TOPICS: usize = 2;
pub const CONNECTIONS: usize = 3;
pub const PROBLEMS: usize = 4;

/// Sortable columns per view; the first is the default order.
pub const SORT_COLUMNS: [&[&str]; 5] = [
    &[
        "time", "src", "dst", "kind", "topic", "method", "latency", "size",
    ],
    &["state", "time", "topic", "method", "latency"],
    &[
        "messages", "topic", "rate", "p50", "p99", "timeouts", "failures",
    ],
    &["time", "bytes", "messages", "gaps", "resyncs"],
    &["time", "kind"],
];

/// A topic's row, computed when the snapshot is taken.
#[derive(Clone, Debug)]
pub struct TopicLine {
    pub topic: Arc<str>,
    pub method: Arc<str>,
    pub messages: u64,
    pub bytes: u64,
    pub calls: u64,
    pub timeouts: u64,
    pub failures: u64,
    pub rate: f64,
    pub spark: Vec<u64>,
    pub p50: Option<u64>,
    pub p99: Option<u64>,
    pub max: Option<u64>,
}

/// What the views list, as of one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub rows: Vec<Arc<Row>>,
    pub calls: Vec<CallEntry>,
    pub topics: Vec<TopicLine>,
    pub conns: Vec<ConnRow>,
    pub problems: Vec<Problem>,
    pub silent: Vec<(std::net::SocketAddr, ServerTally)>,
    pub totals: Totals,
    /// Which views' lists this snapshot holds.
    pub holds: [bool; 5],
    pub generation: u64,
}

impl Snapshot {
    fn take(state: &State, views: [bool; 5]) -> Snapshot {
        let now = state.totals.last_ts;
        let mut s = Snapshot {
            totals: state.totals.clone(),
            holds: views,
            generation: state.generation,
            ..Snapshot::default()
        };
        if views[MESSAGES] {
            s.rows = state.rows().iter().cloned().collect();
        }
        if views[CALLS] {
            s.calls = state.calls().iter().cloned().collect();
        }
        if views[TOPICS] {
            s.topics = state
                .topics()
                .map(|t| TopicLine {
                    topic: Arc::clone(&t.topic),
                    method: Arc::clone(&t.method),
                    messages: t.messages,
                    bytes: t.bytes,
                    calls: t.calls,
                    timeouts: t.timeouts,
                    failures: t.failures,
                    rate: t.rate.per_second(now, 10),
                    spark: t.rate.series(now, RATE_SECONDS),
                    p50: t.latency_ns(0.5),
                    p99: t.latency_ns(0.99),
                    max: t.latency_ns(1.0),
                })
                .collect();
        }
        if views[CONNECTIONS] {
            s.conns = state.conns().cloned().collect();
        }
        if views[PROBLEMS] {
            s.problems = state.problems().iter().cloned().collect();
            s.silent = state.silent_servers();
        }
        s
    }
}

/// The state of the UI.
pub struct App {
    pub state: State,
    pub view: usize,
    /// Selected index into the visible list, per view.
    pub selected: [usize; 5],
    /// First visible row, per view (kept by the renderer).
    pub offset: [usize; 5],
    /// Messages and Calls follow the newest row until the user moves.
    pub follow: bool,
    pub sort: [(usize, bool); 5],
    pub filter_text: String,
    pub filter: Filter,
    pub filter_error: Option<String>,
    pub editing_filter: bool,
    pub frozen: bool,
    pub detail: bool,
    pub detail_scroll: u16,
    pub help: bool,
    pub quit: bool,
    /// A one-line notice (e.g. why a jump did not happen).
    pub notice: Option<String>,
    /// "file 'x.pcap'" or "live eth0".
    pub source: String,
    pub live: bool,
    pub precision: Precision,
    pub show_secrets: bool,
    pub snapshot: Snapshot,
    /// Indices into the snapshot's list for the current view, in order.
    pub visible: Vec<usize>,
    /// Rows on a page, as last drawn.
    pub page: usize,
    dirty_view: bool,
    /// Messages the filter matched, by seq, and the last seq it looked at:
    /// a live tail is filtered only in its new rows.
    matched: MatchCache,
}

#[derive(Default)]
struct MatchCache {
    filter: Filter,
    /// Seqs of matching rows, ascending.
    seqs: std::collections::VecDeque<u64>,
    /// Rows up to this seq have been looked at.
    next_seq: u64,
}

impl MatchCache {
    /// Indices into `rows` (a contiguous run of seqs) that `filter`
    /// matches, in order, looking only at rows not seen before.
    fn indices(&mut self, filter: &Filter, rows: &[Arc<Row>]) -> Vec<usize> {
        let Some(first) = rows.first().map(|r| r.seq) else {
            return Vec::new();
        };
        if *filter != self.filter || first > self.next_seq {
            // A new filter, or the history moved past what was looked at.
            self.filter = filter.clone();
            self.seqs.clear();
            self.next_seq = first;
        }
        while self.seqs.front().is_some_and(|&s| s < first) {
            self.seqs.pop_front();
        }
        let start = usize::try_from(self.next_seq - first).unwrap_or(usize::MAX);
        for row in rows.get(start..).unwrap_or_default() {
            if filter.matches_row(row) {
                self.seqs.push_back(row.seq);
            }
        }
        self.next_seq = rows.last().map_or(self.next_seq, |r| r.seq + 1);
        self.seqs
            .iter()
            .filter_map(|&s| usize::try_from(s - first).ok())
            .collect()
    }
}

impl App {
    pub fn new(state: State, source: String, live: bool, precision: Precision) -> Self {
        App {
            state,
            view: MESSAGES,
            selected: [0; 5],
            offset: [0; 5],
            follow: true,
            sort: [(0, false), (0, false), (0, true), (0, false), (0, true)],
            filter_text: String::new(),
            filter: Filter::default(),
            filter_error: None,
            editing_filter: false,
            frozen: false,
            detail: false,
            detail_scroll: 0,
            help: false,
            quit: false,
            notice: None,
            source,
            live,
            precision,
            show_secrets: false,
            snapshot: Snapshot::default(),
            visible: Vec::new(),
            page: 10,
            dirty_view: true,
            matched: MatchCache::default(),
        }
    }

    /// Start with a filter (the command line's display filters).
    pub fn set_filter(&mut self, text: &str) {
        self.filter_text = text.to_string();
        self.apply_filter_text();
    }

    /// Take a new snapshot when the data or the view changed; a frozen
    /// display keeps its own.
    pub fn refresh(&mut self) {
        let stale =
            self.snapshot.generation != self.state.generation || !self.snapshot.holds[self.view];
        if self.frozen {
            if self.dirty_view {
                self.rebuild_visible();
            }
            return;
        }
        if stale {
            let mut views = [false; 5];
            views[self.view] = true;
            self.snapshot = Snapshot::take(&self.state, views);
            self.rebuild_visible();
        } else if self.dirty_view {
            self.rebuild_visible();
        }
    }

    fn rebuild_visible(&mut self) {
        self.dirty_view = false;
        let s = &self.snapshot;
        let f = &self.filter;
        let (col, rev) = self.sort[self.view];
        let mut visible: Vec<usize> = match self.view {
            MESSAGES if f.is_empty() => (0..s.rows.len()).collect(),
            MESSAGES => self.matched.indices(f, &s.rows),
            CALLS => (0..s.calls.len())
                .filter(|&i| s.calls.get(i).is_some_and(|c| f.matches_call(c)))
                .collect(),
            TOPICS => (0..s.topics.len())
                .filter(|&i| {
                    s.topics
                        .get(i)
                        .is_some_and(|t| f.matches_topic(&t.topic, &t.method))
                })
                .collect(),
            CONNECTIONS => (0..s.conns.len()).collect(),
            _ => (0..s.problems.len()).collect(),
        };
        match self.view {
            MESSAGES if col != 0 => visible.sort_by(|&a, &b| {
                let (Some(a), Some(b)) = (s.rows.get(a), s.rows.get(b)) else {
                    return std::cmp::Ordering::Equal;
                };
                match col {
                    1 => a.src.cmp(&b.src),
                    2 => a.dst.cmp(&b.dst),
                    3 => a.kind_label().cmp(b.kind_label()),
                    4 => a.topic().cmp(b.topic()),
                    5 => a.method().cmp(b.method()),
                    6 => a.latency_ns().cmp(&b.latency_ns()),
                    _ => a.bytes.cmp(&b.bytes),
                }
                .then(a.seq.cmp(&b.seq))
            }),
            CALLS => visible.sort_by(|&a, &b| {
                let (Some(a), Some(b)) = (s.calls.get(a), s.calls.get(b)) else {
                    return std::cmp::Ordering::Equal;
                };
                let latency = |c: &CallEntry| match &c.outcome {
                    super::state::Outcome::Replied { latency_ns, .. } => Some(*latency_ns),
                    _ => None,
                };
                match col {
                    // Unanswered first, then by time (oldest first, so the
                    // newest follows at the bottom).
                    0 => a
                        .outcome
                        .rank()
                        .cmp(&b.outcome.rank())
                        .then(a.request_ts.cmp(&b.request_ts)),
                    1 => a.request_ts.cmp(&b.request_ts),
                    2 => a.topic.cmp(&b.topic),
                    3 => a.method.cmp(&b.method),
                    _ => latency(a).cmp(&latency(b)),
                }
            }),
            TOPICS => visible.sort_by(|&a, &b| {
                let (Some(a), Some(b)) = (s.topics.get(a), s.topics.get(b)) else {
                    return std::cmp::Ordering::Equal;
                };
                let by = match col {
                    0 => a.messages.cmp(&b.messages),
                    1 => b.topic.cmp(&a.topic).then(b.method.cmp(&a.method)),
                    2 => a.rate.total_cmp(&b.rate),
                    3 => a.p50.cmp(&b.p50),
                    4 => a.p99.cmp(&b.p99),
                    5 => a.timeouts.cmp(&b.timeouts),
                    _ => a.failures.cmp(&b.failures),
                };
                by.then(b.topic.cmp(&a.topic)).then(b.method.cmp(&a.method))
            }),
            CONNECTIONS => visible.sort_by(|&a, &b| {
                let (Some(a), Some(b)) = (s.conns.get(a), s.conns.get(b)) else {
                    return std::cmp::Ordering::Equal;
                };
                match col {
                    0 => a.info.first_ts.cmp(&b.info.first_ts),
                    1 => (a.info.bytes[0] + a.info.bytes[1])
                        .cmp(&(b.info.bytes[0] + b.info.bytes[1])),
                    2 => (a.messages[0] + a.messages[1]).cmp(&(b.messages[0] + b.messages[1])),
                    3 => a.gaps.cmp(&b.gaps),
                    _ => a.resyncs.cmp(&b.resyncs),
                }
                .then(a.info.id.cmp(&b.info.id))
            }),
            _ => visible.sort_by(|&a, &b| {
                let (Some(a), Some(b)) = (s.problems.get(a), s.problems.get(b)) else {
                    return std::cmp::Ordering::Equal;
                };
                match col {
                    0 => a.ts.cmp(&b.ts),
                    _ => a.kind.cmp(&b.kind).then(a.ts.cmp(&b.ts)),
                }
            }),
        }
        if rev {
            visible.reverse();
        }
        self.visible = visible;
        let last = self.visible.len().saturating_sub(1);
        let sel = &mut self.selected[self.view];
        if self.follow && matches!(self.view, MESSAGES | CALLS | PROBLEMS) && !rev {
            *sel = last;
        } else {
            *sel = (*sel).min(last);
        }
    }

    fn apply_filter_text(&mut self) {
        match Filter::parse(&self.filter_text) {
            Ok(f) => {
                self.filter = f;
                self.filter_error = None;
            }
            Err(e) => self.filter_error = Some(e),
        }
        self.dirty_view = true;
    }

    /// The message the selection points at (Messages view).
    pub fn selected_row(&self) -> Option<&Arc<Row>> {
        if self.view != MESSAGES {
            return None;
        }
        let i = *self.visible.get(self.selected[MESSAGES])?;
        self.snapshot.rows.get(i)
    }

    pub fn handle_key(&mut self, key: KeyEvent) {
        self.notice = None;
        if self.editing_filter {
            self.filter_key(key);
            self.refresh();
            return;
        }
        let Some(action) = action_for(&key) else {
            return;
        };
        if self.help && !matches!(action, Action::Help | Action::Close | Action::Quit) {
            return;
        }
        self.act(action);
    }

    fn filter_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Esc => {
                // Esc leaves the prompt; an invalid filter is dropped.
                self.editing_filter = false;
                if self.filter_error.is_some() {
                    self.filter_text.clear();
                    self.apply_filter_text();
                }
            }
            KeyCode::Backspace => {
                self.filter_text.pop();
                self.apply_filter_text();
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.quit = true;
            }
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.filter_text.clear();
                self.apply_filter_text();
            }
            KeyCode::Char(ch)
                if !key.modifiers.contains(KeyModifiers::CONTROL)
                    && self.filter_text.len() < 256 =>
            {
                self.filter_text.push(ch);
                self.apply_filter_text();
            }
            _ => {}
        }
    }

    pub fn act(&mut self, action: Action) {
        let len = self.visible.len();
        let last = len.saturating_sub(1);
        let view = self.view;
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.help = !self.help,
            Action::NextView => self.switch((view + 1) % VIEWS.len()),
            Action::PrevView => self.switch((view + VIEWS.len() - 1) % VIEWS.len()),
            Action::View(v) => self.switch(v.min(VIEWS.len() - 1)),
            Action::Up => self.select(self.selected[view].saturating_sub(1)),
            Action::Down => self.select((self.selected[view] + 1).min(last)),
            Action::PageUp => self.select(self.selected[view].saturating_sub(self.page.max(1))),
            Action::PageDown => self.select((self.selected[view] + self.page.max(1)).min(last)),
            Action::Top => self.select(0),
            Action::Live => {
                self.frozen = false;
                self.follow = true;
                self.sort[view].1 = false;
                self.selected[view] = last;
                self.dirty_view = true;
            }
            Action::Freeze => {
                self.frozen = !self.frozen;
                if self.frozen {
                    // Everything, so switching views while frozen shows
                    // the same moment.
                    self.snapshot = Snapshot::take(&self.state, [true; 5]);
                    self.dirty_view = true;
                }
            }
            Action::Filter => self.editing_filter = true,
            Action::Close => {
                if self.help {
                    self.help = false;
                } else if self.detail {
                    self.detail = false;
                } else if !self.filter_text.is_empty() {
                    self.filter_text.clear();
                    self.apply_filter_text();
                }
            }
            Action::Sort => {
                let columns = SORT_COLUMNS[view].len();
                self.sort[view].0 = (self.sort[view].0 + 1) % columns;
                self.follow = false;
                self.dirty_view = true;
            }
            Action::Reverse => {
                self.sort[view].1 = !self.sort[view].1;
                self.follow = false;
                self.dirty_view = true;
            }
            Action::Detail => self.open(),
            Action::Partner => self.jump_to_partner(),
            Action::DetailUp => self.detail_scroll = self.detail_scroll.saturating_sub(3),
            Action::DetailDown => self.detail_scroll = self.detail_scroll.saturating_add(3),
        }
        self.refresh();
    }

    fn switch(&mut self, view: usize) {
        if view != self.view {
            self.view = view;
            self.detail = self.detail && view == MESSAGES;
            self.dirty_view = true;
        }
    }

    fn select(&mut self, i: usize) {
        let view = self.view;
        self.selected[view] = i;
        self.detail_scroll = 0;
        // Moving off the newest row stops following it.
        self.follow = i + 1 >= self.visible.len() && !self.sort[view].1;
    }

    /// Enter: what opening a row means in each view.
    fn open(&mut self) {
        let i = self
            .visible
            .get(self.selected[self.view])
            .copied()
            .unwrap_or(usize::MAX);
        match self.view {
            MESSAGES => {
                self.detail = !self.detail;
                self.detail_scroll = 0;
            }
            CALLS => {
                let seq = self.snapshot.calls.get(i).and_then(|c| c.request_seq);
                match seq {
                    Some(seq) => self.show_message(seq),
                    None => self.notice = Some("the request is not in the history".into()),
                }
            }
            TOPICS => {
                if let Some(t) = self.snapshot.topics.get(i) {
                    let mut text = String::new();
                    if !t.topic.starts_with('?') && &*t.topic != super::state::OTHER_TOPIC {
                        text.push_str(&format!("topic:{} ", glob_literal(&t.topic)));
                    }
                    if !t.method.starts_with('(') {
                        text.push_str(&format!("method:{}", glob_literal(&t.method)));
                    }
                    self.set_filter(text.trim_end());
                    self.switch(MESSAGES);
                    self.follow = true;
                }
            }
            CONNECTIONS => {
                if let Some(c) = self.snapshot.conns.get(i) {
                    let text = format!("host:{}", c.info.client);
                    self.set_filter(&text);
                    self.switch(MESSAGES);
                    self.follow = true;
                }
            }
            _ => {
                let seq = self.snapshot.problems.get(i).and_then(|p| p.seq);
                match seq {
                    Some(seq) => self.show_message(seq),
                    None => self.notice = Some("no message goes with this problem".into()),
                }
            }
        }
    }

    /// Switch to Messages with `seq` selected and its detail open.
    fn show_message(&mut self, seq: u64) {
        if self.frozen {
            self.frozen = false;
        }
        self.switch(MESSAGES);
        self.follow = false;
        self.refresh();
        self.select_seq(seq);
    }

    fn select_seq(&mut self, seq: u64) {
        let rows = &self.snapshot.rows;
        let found = self
            .visible
            .iter()
            .position(|&i| rows.get(i).is_some_and(|r| r.seq == seq));
        match found {
            Some(pos) => {
                self.selected[MESSAGES] = pos;
                self.follow = false;
                self.detail = true;
                self.detail_scroll = 0;
            }
            None if rows.iter().any(|r| r.seq == seq) => {
                self.notice = Some("that message is hidden by the filter (Esc clears it)".into());
            }
            None => self.notice = Some("that message has left the history".into()),
        }
    }

    /// The other half of the selected call or reply.
    pub fn partner(&self) -> Option<&Arc<Row>> {
        let row = self.selected_row()?;
        let rpc = row.rpc.as_ref()?;
        let id = rpc.msg_id.as_deref()?;
        use crate::oslo::Kind;
        let want = match rpc.kind {
            Kind::Call => Kind::Reply,
            Kind::Reply => Kind::Call,
            _ => return None,
        };
        let candidates = self.snapshot.rows.iter().filter(|r| {
            r.rpc
                .as_ref()
                .is_some_and(|p| p.kind == want && p.msg_id.as_deref() == Some(id))
        });
        match want {
            // The reply that completed the call, else the first one seen.
            Kind::Reply => {
                let all: Vec<&Arc<Row>> = candidates.collect();
                all.iter()
                    .find(|r| r.latency_ns().is_some())
                    .or(all.first())
                    .copied()
            }
            _ => candidates.filter(|r| !r.forwarded()).min_by_key(|r| r.seq),
        }
    }

    fn jump_to_partner(&mut self) {
        if !self.detail {
            return;
        }
        match self.partner().map(|r| r.seq) {
            Some(seq) => {
                self.follow = false;
                self.select_seq(seq);
            }
            None => self.notice = Some("no call partner in the history".into()),
        }
    }

    /// The same message seen one hop further (or the hop before).
    pub fn hops(&self) -> Vec<&Arc<Row>> {
        let Some(row) = self.selected_row() else {
            return Vec::new();
        };
        let Some(rpc) = row.rpc.as_ref() else {
            return Vec::new();
        };
        let Some(id) = rpc.msg_id.as_deref() else {
            return Vec::new();
        };
        self.snapshot
            .rows
            .iter()
            .filter(|r| {
                r.seq != row.seq
                    && r.rpc
                        .as_ref()
                        .is_some_and(|p| p.kind == rpc.kind && p.msg_id.as_deref() == Some(id))
            })
            .take(16)
            .collect()
    }

    /// The capture time of the newest message, for "now".
    pub fn now(&self) -> Timestamp {
        self.snapshot.totals.last_ts
    }
}

/// `*` and `?` in a name would be read as globs; they are rare in topics.
fn glob_literal(text: &str) -> String {
    text.replace(['*', '?', ' '], "?")
}
