//! Reports: consumers of the pipeline that print what the user asked for.

pub mod flows;

use std::io::{self, Write};

/// Where a report writes. Broken pipes end the run quietly (`| head`).
pub struct Sink<W: Write> {
    out: W,
    flush_each_line: bool,
    broken: bool,
    error: Option<io::Error>,
}

impl<W: Write> Sink<W> {
    pub fn new(out: W, flush_each_line: bool) -> Self {
        Sink {
            out,
            flush_each_line,
            broken: false,
            error: None,
        }
    }

    pub fn line(&mut self, text: &str) {
        if self.broken {
            return;
        }
        let result = self
            .out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .and_then(|()| {
                if self.flush_each_line {
                    self.out.flush()
                } else {
                    Ok(())
                }
            });
        self.note(result);
    }

    fn note(&mut self, result: io::Result<()>) {
        if let Err(e) = result {
            self.broken = true;
            if e.kind() != io::ErrorKind::BrokenPipe {
                self.error = Some(e);
            }
        }
    }

    /// The reader went away (or writing failed): stop producing output.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Flush and report a write error other than a closed pipe.
    pub fn finish(&mut self) -> io::Result<()> {
        if !self.broken {
            let result = self.out.flush();
            self.note(result);
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}
