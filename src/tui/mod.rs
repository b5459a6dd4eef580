//! The terminal UI (`-o tui`, the default when stdout is a terminal).
//!
//! Two threads: the engine thread reads packets and pushes items onto the
//! [`feed::Feed`]; this thread owns the terminal, takes the items into its
//! [`state::State`] every tick, draws a snapshot of it and answers keys. The
//! engine never waits for the terminal.

pub mod app;
pub mod detail;
pub mod feed;
pub mod filter;
pub mod keys;
pub mod render;
pub mod state;

use std::io::{self, Stdout};
use std::sync::Once;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::crossterm::{cursor, execute};
use ratatui::Terminal;

use app::App;
use feed::Feed;
use state::{Limits, State};

use crate::time::Precision;

/// How the UI starts.
pub struct TuiOptions {
    /// "file 'x.pcap'", "live eth0".
    pub source: String,
    pub live: bool,
    pub precision: Precision,
    pub show_secrets: bool,
    pub limits: Limits,
    pub view: usize,
    pub filter: Option<String>,
}

/// Between two looks at the feed and the keyboard.
const TICK: Duration = Duration::from_millis(50);
/// A frame is drawn at most this often when only data changed.
const FRAME: Duration = Duration::from_millis(100);
/// After the user quits, how long the engine may take to stop.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Put the terminal back as it was: the panic hook, the normal exit and
/// every error path go through here.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// Restores the terminal when dropped, so an early return cannot leave it
/// in raw mode.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// What became of the engine.
pub enum EngineEnd {
    /// It finished (or stopped when asked) with this result.
    Finished(Result<(), String>),
    /// It did not stop within the grace period (blocked reading a pipe);
    /// the process should exit without waiting for it.
    StillRunning,
}

/// Run the UI on this thread until the user quits, while `engine` runs on
/// its own thread feeding `feed`.
pub fn run(
    options: TuiOptions,
    feed: Feed,
    engine: JoinHandle<Result<(), String>>,
) -> io::Result<EngineEnd> {
    install_panic_hook();
    enable_raw_mode()?;
    let guard = TerminalGuard;
    execute!(io::stdout(), EnterAlternateScreen, cursor::Hide)?;
    let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    terminal.clear()?;
    let mut app = App::new(
        State::new(options.limits),
        options.source,
        options.live,
        options.precision,
    );
    app.show_secrets = options.show_secrets;
    app.view = options.view.min(app::VIEWS.len() - 1);
    if let Some(f) = &options.filter {
        app.set_filter(f);
    }
    let result = event_loop(&mut terminal, &mut app, &feed);
    feed.request_quit();
    drop(terminal);
    drop(guard);
    result?;
    let deadline = Instant::now() + STOP_GRACE;
    while !engine.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    if !engine.is_finished() {
        return Ok(EngineEnd::StillRunning);
    }
    Ok(EngineEnd::Finished(engine.join().unwrap_or_else(|_| {
        Err("the decoder stopped unexpectedly".to_string())
    })))
}

/// The terminal the keys come from, watched for input and for hang-up.
/// crossterm reads a hung-up terminal's end-of-file in a loop that never
/// returns (0.28 and 0.29), so it is asked for keys only when this says
/// some are waiting, and the UI ends when the terminal is gone.
struct KeySource {
    /// `/dev/tty` when standard input is not the terminal (`-r -`).
    tty: Option<std::fs::File>,
}

enum Waiting {
    Keys,
    Nothing,
    HungUp,
}

impl KeySource {
    fn new() -> Self {
        use std::io::IsTerminal;
        let tty = if io::stdin().is_terminal() {
            None
        } else {
            std::fs::File::open("/dev/tty").ok()
        };
        KeySource { tty }
    }

    fn wait(&self, timeout: Duration) -> Waiting {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let stdin = io::stdin();
        let fd = match &self.tty {
            Some(tty) => tty.as_fd(),
            None => stdin.as_fd(),
        };
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
        let millis = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => Waiting::Nothing,
            Err(_) => Waiting::HungUp,
            Ok(_) => {
                let revents = fds[0].revents().unwrap_or(PollFlags::POLLHUP);
                if revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
                {
                    Waiting::HungUp
                } else {
                    Waiting::Keys
                }
            }
        }
    }
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    app: &mut App,
    feed: &Feed,
) -> io::Result<()> {
    let keys = KeySource::new();
    let mut drawn_at: Option<Instant> = None;
    let mut drawn_generation = u64::MAX;
    let mut keys_since_draw = true;
    loop {
        let spare = app.state.spare();
        app.state.absorb(feed.take(spare));
        let due = drawn_at.is_none_or(|t| t.elapsed() >= FRAME);
        if keys_since_draw || (due && drawn_generation != app.state.generation) {
            // Snapshots are taken only for frames that are drawn.
            app.refresh();
            terminal.draw(|f| render::draw(f, app))?;
            drawn_at = Some(Instant::now());
            drawn_generation = app.state.generation;
            keys_since_draw = false;
        }
        if feed.quit_requested() {
            // SIGTERM, or a signal on a live capture.
            return Ok(());
        }
        let waiting = keys.wait(TICK);
        if matches!(waiting, Waiting::HungUp) {
            return Ok(());
        }
        // A resize arrives as a signal, not input: crossterm sees it too.
        if matches!(waiting, Waiting::Keys) || event::poll(Duration::ZERO)? {
            // Take every key waiting, then draw once.
            loop {
                match event::read()? {
                    Event::Key(key) if key.kind != KeyEventKind::Release => app.handle_key(key),
                    Event::Resize(..) => {}
                    _ => {}
                }
                keys_since_draw = true;
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
            if app.quit {
                return Ok(());
            }
        }
    }
}
