//! Every key the UI answers to, in one table: the handler looks keys up in
//! it, and the footer and the `?` overlay are generated from it.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    NextView,
    PrevView,
    View(usize),
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Live,
    Detail,
    Close,
    Filter,
    Freeze,
    Sort,
    Reverse,
    Partner,
    DetailUp,
    DetailDown,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Everywhere (outside the filter prompt).
    Global,
    /// A list is shown.
    List,
    /// The detail pane is open.
    Detail,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Anywhere",
            Context::List => "Lists",
            Context::Detail => "Detail pane",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

const fn k(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn c(ch: char) -> Key {
    k(KeyCode::Char(ch))
}

const fn ctrl(ch: char) -> Key {
    Key {
        code: KeyCode::Char(ch),
        mods: KeyModifiers::CONTROL,
    }
}

pub struct Binding {
    pub keys: &'static [Key],
    /// How the keys are written in the footer and the help.
    pub label: &'static str,
    /// Footer wording (short); the help uses `help`.
    pub short: &'static str,
    pub help: &'static str,
    pub action: Action,
    pub context: Context,
    /// Shown in the footer (when its context applies).
    pub footer: bool,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        keys: &[c('q'), ctrl('c')],
        label: "q",
        short: "quit",
        help: "quit (Ctrl-C too); the terminal is restored",
        action: Action::Quit,
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[c('?'), k(KeyCode::F(1))],
        label: "?",
        short: "help",
        help: "show or hide this help",
        action: Action::Help,
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[k(KeyCode::Tab)],
        label: "Tab",
        short: "view",
        help: "next view (Shift-Tab: previous)",
        action: Action::NextView,
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[k(KeyCode::BackTab), Key {
            code: KeyCode::BackTab,
            mods: KeyModifiers::SHIFT,
        }],
        label: "S-Tab",
        short: "prev view",
        help: "previous view",
        action: Action::PrevView,
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[c('1')],
        label: "1",
        short: "messages",
        help: "Messages: every message, newest at the bottom",
        action: Action::View(0),
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[c('2')],
        label: "2",
        short: "calls",
        help: "Calls: each call with its reply, unanswered first",
        action: Action::View(1),
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[c('3')],
        label: "3",
        short: "topics",
        help: "Topics: per topic and method, rate and latency",
        action: Action::View(2),
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[c('4')],
        label: "4",
        short: "connections",
        help: "Connections: ZMTP version, sockets, bytes, gaps",
        action: Action::View(3),
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[c('5')],
        label: "5",
        short: "problems",
        help: "Problems: timeouts, failures, refusals, resyncs",
        action: Action::View(4),
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[c('/')],
        label: "/",
        short: "filter",
        help: "filter as you type: words match topic, method, host or kind; topic: method: host: kind: id: one field; * and ? glob; !word excludes",
        action: Action::Filter,
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[c(' ')],
        label: "space",
        short: "freeze",
        help: "freeze the display (capture goes on); again to thaw",
        action: Action::Freeze,
        context: Context::Global,
        footer: true,
    },
    Binding {
        keys: &[k(KeyCode::End), c('G')],
        label: "End/G",
        short: "live",
        help: "back to live: thaw and follow the newest row",
        action: Action::Live,
        context: Context::Global,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::Up), c('k')],
        label: "↑/k",
        short: "up",
        help: "select the row above",
        action: Action::Up,
        context: Context::List,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::Down), c('j')],
        label: "↓/j",
        short: "down",
        help: "select the row below",
        action: Action::Down,
        context: Context::List,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::PageUp), ctrl('b')],
        label: "PgUp",
        short: "page up",
        help: "a page up",
        action: Action::PageUp,
        context: Context::List,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::PageDown), ctrl('f')],
        label: "PgDn",
        short: "page down",
        help: "a page down",
        action: Action::PageDown,
        context: Context::List,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::Home), c('g')],
        label: "Home/g",
        short: "first",
        help: "the first row",
        action: Action::Top,
        context: Context::List,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::Enter)],
        label: "Enter",
        short: "detail",
        help: "open the row: a message's detail; a call's request; a topic's or connection's messages; a problem's message",
        action: Action::Detail,
        context: Context::List,
        footer: true,
    },
    Binding {
        keys: &[c('s')],
        label: "s",
        short: "sort",
        help: "sort by the next column",
        action: Action::Sort,
        context: Context::List,
        footer: true,
    },
    Binding {
        keys: &[c('r')],
        label: "r",
        short: "reverse",
        help: "reverse the sort",
        action: Action::Reverse,
        context: Context::List,
        footer: false,
    },
    Binding {
        keys: &[c('p')],
        label: "p",
        short: "partner",
        help: "jump to the call's reply, or the reply's call",
        action: Action::Partner,
        context: Context::Detail,
        footer: true,
    },
    Binding {
        keys: &[c('K'), Key {
            code: KeyCode::Up,
            mods: KeyModifiers::SHIFT,
        }],
        label: "K",
        short: "scroll up",
        help: "scroll the detail pane up",
        action: Action::DetailUp,
        context: Context::Detail,
        footer: false,
    },
    Binding {
        keys: &[c('J'), Key {
            code: KeyCode::Down,
            mods: KeyModifiers::SHIFT,
        }],
        label: "J",
        short: "scroll down",
        help: "scroll the detail pane down",
        action: Action::DetailDown,
        context: Context::Detail,
        footer: false,
    },
    Binding {
        keys: &[k(KeyCode::Esc)],
        label: "Esc",
        short: "close",
        help: "close the detail pane, the help or the filter prompt",
        action: Action::Close,
        context: Context::Global,
        footer: false,
    },
];

/// The action bound to a key, if any. Shift is ignored for characters
/// (terminals disagree on whether `G` carries it).
pub fn action_for(event: &KeyEvent) -> Option<Action> {
    let mods = match event.code {
        KeyCode::Char(_) => event.modifiers - KeyModifiers::SHIFT,
        _ => event.modifiers,
    };
    BINDINGS
        .iter()
        .find(|b| {
            b.keys.iter().any(|key| {
                key.code == event.code
                    && match key.code {
                        KeyCode::Char(_) => key.mods - KeyModifiers::SHIFT == mods,
                        _ => key.mods == mods,
                    }
            })
        })
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for key in b.keys {
                assert!(
                    !seen.contains(key),
                    "{key:?} is bound twice (again for {:?})",
                    b.action
                );
                seen.push(*key);
            }
        }
    }

    #[test]
    fn keys_find_their_actions() {
        let ev = |code, mods| KeyEvent::new(code, mods);
        assert_eq!(
            action_for(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Live)
        );
        assert_eq!(
            action_for(&ev(KeyCode::Char('G'), KeyModifiers::NONE)),
            Some(Action::Live)
        );
        assert_eq!(
            action_for(&ev(KeyCode::Char('c'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            action_for(&ev(KeyCode::Char('3'), KeyModifiers::NONE)),
            Some(Action::View(2))
        );
    }
}
