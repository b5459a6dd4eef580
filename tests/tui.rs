//! The terminal UI drawn on ratatui's TestBackend from real captures, with
//! scripted keys, at 80×24 and 160×45; snapshots under tests/snapshots.
//! Capture time only (no wall clock), so every frame is reproducible.

use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;

use zmqtrace::capture::{FileSource, PacketSource};
use zmqtrace::decode::DecodeConfig;
use zmqtrace::oslo::OsloConfig;
use zmqtrace::pipeline::Engine;
use zmqtrace::ports::PortSet;
use zmqtrace::tcp::TcpConfig;
use zmqtrace::tui::app::App;
use zmqtrace::tui::feed::{run_engine, EngineConfig, Feed, Item};
use zmqtrace::tui::render;
use zmqtrace::tui::state::{Limits, State};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 45)];

/// The items a capture produces, as the engine thread would send them.
fn items(path: &str) -> (Vec<Item>, zmqtrace::time::Precision, Feed) {
    let mut source = FileSource::open(path).expect("capture opens");
    let precision = source.precision();
    let ports: PortSet = "9501".parse().unwrap();
    let engine = Engine::new(
        TcpConfig {
            server_ports: ports.clone(),
            ..TcpConfig::default()
        },
        None,
    );
    // Not waiting: the test takes the items only at the end.
    let feed = Feed::new(false);
    run_engine(
        &feed,
        &mut source,
        engine,
        EngineConfig {
            decode: DecodeConfig {
                ports,
                auto: true,
                redis_ports: "6379".parse().unwrap(),
                oslo: OsloConfig {
                    keep_args: false,
                    ..OsloConfig::default()
                },
            },
            count: None,
        },
    )
    .expect("decodes");
    let batch = feed.take(Vec::new());
    (batch.items, precision, feed)
}

fn app_for(path: &str) -> App {
    let (items, precision, feed) = items(path);
    let mut state = State::new(Limits::default());
    for item in items {
        state.apply(item);
    }
    // The final status and end marker.
    state.absorb(feed.take(Vec::new()));
    let mut app = App::new(state, path.to_string(), false, precision);
    app.refresh();
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn keys(app: &mut App, text: &str) {
    for ch in text.chars() {
        key(app, KeyCode::Char(ch));
    }
}

fn screen(app: &mut App, (w, h): (u16, u16)) -> String {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| render::draw(f, app)).unwrap();
    terminal.backend().to_string()
}

const LEGACY: &str = "captures/oslo/legacy_liberty_ring.pcap";
const PROXY: &str = "captures/oslo/new_rocky_proxy_acks.pcap";

#[test]
fn every_view_at_both_sizes() {
    for size in SIZES {
        let mut app = app_for(LEGACY);
        let name = |view: &str| format!("legacy_{view}_{}x{}", size.0, size.1);
        insta::assert_snapshot!(name("messages"), screen(&mut app, size));
        for (k, view) in [
            ('2', "calls"),
            ('3', "topics"),
            ('4', "connections"),
            ('5', "problems"),
        ] {
            keys(&mut app, &k.to_string());
            insta::assert_snapshot!(name(view), screen(&mut app, size));
        }
        keys(&mut app, "?");
        insta::assert_snapshot!(name("help"), screen(&mut app, size));
        key(&mut app, KeyCode::Esc);
        assert!(!app.help, "Esc closes the help");
    }
}

#[test]
fn detail_pane_and_partner_jump() {
    for size in SIZES {
        let mut app = app_for(LEGACY);
        // The first message is a call; its reply is the second.
        keys(&mut app, "g");
        key(&mut app, KeyCode::Enter);
        let detail = screen(&mut app, size);
        assert!(detail.contains("get_host_uptime"), "{detail}");
        assert!(detail.contains("partner     reply #1"), "{detail}");
        insta::assert_snapshot!(format!("legacy_detail_{}x{}", size.0, size.1), detail);
        keys(&mut app, "p");
        let partner = app.selected_row().expect("selection").clone();
        assert_eq!(partner.seq, 1, "p jumps to the reply");
        assert_eq!(partner.kind_label(), "reply");
        keys(&mut app, "p");
        assert_eq!(app.selected_row().unwrap().seq, 0, "and back to the call");
        // Scrolling the detail reaches the hex view.
        for _ in 0..4 {
            keys(&mut app, "J");
        }
        let scrolled = screen(&mut app, size);
        assert!(scrolled.contains("0000  "), "hex view: {scrolled}");
    }
}

#[test]
fn detail_pane_of_a_proxied_call_lists_its_hops() {
    let mut app = app_for(PROXY);
    let call = app
        .snapshot
        .rows
        .iter()
        .position(|r| r.kind_label() == "call" && !r.forwarded())
        .expect("a call");
    keys(&mut app, "g");
    for _ in 0..call {
        key(&mut app, KeyCode::Down);
    }
    key(&mut app, KeyCode::Enter);
    let text = screen(&mut app, (160, 45));
    assert!(
        text.contains("seen also"),
        "the proxy hop is listed: {text}"
    );
    insta::assert_snapshot!("proxy_detail_160x45", text);
}

#[test]
fn filter_as_you_type_shows_valid_and_invalid() {
    for size in SIZES {
        let mut app = app_for(LEGACY);
        keys(&mut app, "/topic:compute.compute1");
        let valid = screen(&mut app, size);
        assert!(valid.contains("✓ 7 shown"), "{valid}");
        insta::assert_snapshot!(format!("legacy_filter_valid_{}x{}", size.0, size.1), valid);
        assert!(app
            .visible
            .iter()
            .all(|&i| app.snapshot.rows[i].topic().contains("compute.compute1")));
        for _ in 0.."topic:compute.compute1".len() {
            key(&mut app, KeyCode::Backspace);
        }
        keys(&mut app, "tpoic:x");
        let invalid = screen(&mut app, size);
        assert!(invalid.contains("✗ unknown field 'tpoic:'"), "{invalid}");
        insta::assert_snapshot!(
            format!("legacy_filter_invalid_{}x{}", size.0, size.1),
            invalid
        );
        // Esc leaves the prompt and drops the invalid filter.
        key(&mut app, KeyCode::Esc);
        assert!(!app.editing_filter);
        assert_eq!(app.visible.len(), app.snapshot.rows.len());
    }
}

#[test]
fn freeze_keeps_the_picture_while_ingestion_goes_on() {
    let (items, precision, _) = items(LEGACY);
    let half = items.len() / 2;
    let mut state = State::new(Limits::default());
    let mut rest = items;
    let later = rest.split_off(half);
    for item in rest {
        state.apply(item);
    }
    let mut app = App::new(state, LEGACY.into(), false, precision);
    app.refresh();
    let before: Vec<u64> = app
        .visible
        .iter()
        .map(|&i| app.snapshot.rows[i].seq)
        .collect();
    keys(&mut app, " ");
    assert!(app.frozen);
    for item in later {
        app.state.apply(item);
    }
    app.state.generation += 1;
    app.refresh();
    let frozen: Vec<u64> = app
        .visible
        .iter()
        .map(|&i| app.snapshot.rows[i].seq)
        .collect();
    assert_eq!(before, frozen, "a frozen display does not move");
    assert_eq!(app.state.totals.messages, 29, "but everything was taken in");
    let text = screen(&mut app, (80, 24));
    assert!(text.contains("FROZEN"), "{text}");
    // Views switched while frozen show the same moment.
    keys(&mut app, "2");
    let frozen_calls = app.visible.len();
    keys(&mut app, "1");
    key(&mut app, KeyCode::End);
    assert!(!app.frozen, "End goes back to live");
    assert_eq!(app.visible.len(), 29);
    assert_eq!(app.selected[0], 28, "and follows the newest row");
    keys(&mut app, "2");
    assert!(
        app.visible.len() > frozen_calls,
        "live calls include the later ones"
    );
}

#[test]
fn sorting_cycles_columns_and_reverses() {
    let mut app = app_for(LEGACY);
    // time → src → dst → kind → topic → method → latency
    for _ in 0..6 {
        keys(&mut app, "s");
    }
    let latencies: Vec<Option<u64>> = app
        .visible
        .iter()
        .map(|&i| app.snapshot.rows[i].latency_ns())
        .collect();
    let mut sorted = latencies.clone();
    sorted.sort();
    assert_eq!(latencies, sorted);
    keys(&mut app, "r");
    let first = app.snapshot.rows[app.visible[0]].latency_ns();
    assert_eq!(first, latencies.iter().copied().max().flatten());
    let text = screen(&mut app, (160, 45));
    assert!(text.contains("LATENCY▼"), "{text}");
}

#[test]
fn topics_enter_filters_the_messages_of_that_topic() {
    let mut app = app_for(LEGACY);
    keys(&mut app, "3");
    keys(&mut app, "g");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, 0);
    assert_eq!(
        app.filter_text,
        "topic:metering.ceilometer method:record_metering_data"
    );
    assert_eq!(app.visible.len(), 6);
}

#[test]
fn calls_view_lists_unanswered_first() {
    let (items, precision, _) = items(LEGACY);
    // Drop the replies and call events of the first call: it stays waiting.
    let first_id = items
        .iter()
        .find_map(|i| match i {
            Item::Message { row, .. } if row.kind_label() == "call" => {
                row.msg_id().map(str::to_string)
            }
            _ => None,
        })
        .unwrap();
    let mut state = State::new(Limits::default());
    for item in items {
        let skip = match &item {
            Item::Message { row, .. } => {
                row.kind_label() == "reply" && row.msg_id() == Some(&first_id)
            }
            Item::Call(c) => c.msg_id == first_id,
            _ => false,
        };
        if !skip {
            state.apply(item);
        }
    }
    let mut app = App::new(state, LEGACY.into(), false, precision);
    keys(&mut app, "2");
    let first = &app.snapshot.calls[app.visible[0]];
    assert_eq!(&*first.msg_id, first_id.as_str());
    let text = screen(&mut app, (80, 24));
    assert!(text.contains("waiting"), "{text}");
}

#[test]
fn a_small_terminal_gets_a_sentence_not_a_broken_screen() {
    let mut app = app_for(LEGACY);
    let text = screen(&mut app, (50, 10));
    assert!(
        text.contains("needs a terminal of at least 60×15"),
        "{text}"
    );
    insta::assert_snapshot!("too_small_50x10", text);
}

#[test]
fn quit_keys() {
    let mut app = app_for(LEGACY);
    keys(&mut app, "q");
    assert!(app.quit);
    let mut app = app_for(LEGACY);
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
    // Ctrl-C quits from the filter prompt too; `q` there is text.
    let mut app = app_for(LEGACY);
    keys(&mut app, "/q");
    assert!(!app.quit);
    assert_eq!(app.filter_text, "q");
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn messages_follow_the_newest_row() {
    let (items, precision, _) = items(LEGACY);
    let mut app = App::new(
        State::new(Limits::default()),
        LEGACY.into(),
        false,
        precision,
    );
    // Items arrive over several ticks, as in a live capture.
    for chunk in items.chunks(7) {
        for item in chunk.iter().cloned() {
            app.state.apply(item);
        }
        app.state.generation += 1;
        app.refresh();
        let _ = screen(&mut app, (80, 15));
    }
    let text = screen(&mut app, (80, 15));
    assert!(
        text.contains("05:43:04.962"),
        "the newest row is on screen:\n{text}"
    );
}

#[test]
fn a_connection_picked_up_mid_stream_counts_its_messages() {
    // Cut into the middle of the traffic: no greeting is ever seen.
    let mut app = app_for("captures/variants/v06_midstream_cut.pcap");
    keys(&mut app, "4");
    let messages: u64 = app
        .snapshot
        .conns
        .iter()
        .map(|c| c.messages[0] + c.messages[1])
        .sum();
    assert_eq!(messages, app.state.totals.messages);
    assert!(messages > 0);
}

#[test]
fn escape_sequences_on_the_wire_are_not_passed_to_the_terminal() {
    let (items, precision, _) = items(LEGACY);
    let mut state = State::new(Limits::default());
    for item in items {
        let item = match item {
            Item::Message { row, raw } => {
                let mut row = (*row).clone();
                if let Some(rpc) = row.rpc.as_mut() {
                    rpc.topic = Some("compute\x1b]2;owned\x07\x1b[2J".into());
                }
                Item::Message {
                    row: std::sync::Arc::new(row),
                    raw,
                }
            }
            other => other,
        };
        state.apply(item);
    }
    let mut app = App::new(state, LEGACY.into(), false, precision);
    app.refresh();
    keys(&mut app, "g");
    key(&mut app, KeyCode::Enter);
    for size in SIZES {
        let mut terminal = Terminal::new(TestBackend::new(size.0, size.1)).unwrap();
        terminal.draw(|f| render::draw(f, &mut app)).unwrap();
        let buf = terminal.backend().buffer();
        assert!(buf
            .content
            .iter()
            .all(|c| !c.symbol().chars().any(char::is_control)));
        assert!(buf.content.iter().any(|c| c.symbol() == "�"));
    }
}

#[test]
fn a_filtered_live_tail_matches_a_full_rescan() {
    // The filter looks only at new rows on each frame; rows leave the
    // history meanwhile. The result must equal filtering everything.
    let (items, precision, _) = items(LEGACY);
    let limits = Limits {
        history: 10,
        ..Limits::default()
    };
    let mut app = App::new(State::new(limits), LEGACY.into(), false, precision);
    app.set_filter("compute !ping");
    for chunk in items.chunks(3) {
        for item in chunk.iter().cloned() {
            app.state.apply(item);
        }
        app.state.generation += 1;
        app.refresh();
        let filter = zmqtrace::tui::filter::Filter::parse("compute !ping").unwrap();
        let expected: Vec<u64> = app
            .state
            .rows()
            .iter()
            .filter(|r| filter.matches_row(r))
            .map(|r| r.seq)
            .collect();
        let shown: Vec<u64> = app
            .visible
            .iter()
            .map(|&i| app.snapshot.rows[i].seq)
            .collect();
        assert_eq!(shown, expected);
    }
    // A new filter starts over: `compute !pin` also hides `ping`.
    keys(&mut app, "/");
    key(&mut app, KeyCode::Backspace);
    let filter = zmqtrace::tui::filter::Filter::parse("compute !pin").unwrap();
    let expected = app
        .state
        .rows()
        .iter()
        .filter(|r| filter.matches_row(r))
        .count();
    assert_eq!(app.visible.len(), expected);
}
