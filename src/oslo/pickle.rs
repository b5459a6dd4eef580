//! A reader for the Python pickles the zmq driver's first generations put on
//! the wire (oslo.messaging 2.6 .. 5.5, `send_pyobj`: request objects,
//! reply dicts, proxy envelopes; shared/docs/oslo-wire-format.md §3.5).
//!
//! Pickle is a small stack machine. This one runs protocols 2 to 5 (what
//! pyzmq writes: 2 under Python 2.7, 4 or 5 under Python 3) without
//! executing anything: a class reference stays a name, an instance becomes
//! its state (the `__dict__` Python would restore) under that name, and the
//! few constructors that stand for plain data (`set`, `frozenset`,
//! `OrderedDict`, `bytes` written as `_codecs.encode`) are read as such.
//! Not `serde-pickle`: it rejects the class instances these messages are made
//! of, and its tree of values copies what the memo shares.
//!
//! Hostile input: every opcode consumes at least one byte, objects live in
//! one arena that the memo and the stack only point into (the memo shares,
//! never copies), and the arena is capped. Turning the result into JSON
//! walks a graph that may share or contain itself, so that walk is bounded
//! in depth and in the values it writes.

use serde_json::{Map, Number, Value};

/// Objects one pickle may create (each opcode creates at most one).
const MAX_OBJECTS: usize = 1 << 16;
/// Values written when turning a pickle into JSON: shared objects are
/// written at each place they appear, so this, not the arena, bounds it.
const MAX_JSON_VALUES: usize = 1 << 16;
/// Nesting written into JSON (as the JSON and msgpack lanes).
const MAX_DEPTH: usize = 64;

/// Why a pickle was not read.
#[derive(Debug, PartialEq, Eq)]
pub enum PickleError {
    /// The bytes end before the `STOP` opcode.
    Truncated,
    /// Not a pickle this reader runs: a protocol other than 2..=5, an
    /// opcode it does not know or that needs outside objects (persistent
    /// ids, extension registry, out-of-band buffers), a stack that does not
    /// hold what an opcode needs.
    Invalid(&'static str),
    /// More objects than [`MAX_OBJECTS`].
    TooLarge,
}

/// What the arena holds. Containers hold indices into the arena.
#[derive(Debug)]
enum Obj {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too wide for i64, in decimal when it fits u64/i128, else
    /// a note of its width.
    BigInt(String),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    /// `module.name`: a class or function, never looked up.
    Global(String),
    /// An instance of `class` (a Global index) with its restored state.
    Instance {
        class: usize,
        args: Option<usize>,
        state: Option<usize>,
    },
}

struct Machine<'a> {
    input: &'a [u8],
    pos: usize,
    arena: Vec<Obj>,
    stack: Vec<usize>,
    /// Stack heights at each MARK.
    marks: Vec<usize>,
    memo: std::collections::HashMap<u64, usize>,
}

/// The class name of a pickled instance, or of the global it is.
pub const CLASS_KEY: &str = "__class__";

/// Read one pickle (protocol 2..=5) into JSON: dicts as objects (keys that
/// are not strings written as their JSON text), lists, tuples and sets as
/// arrays, bytes as text when UTF-8 (else `0x` and hex up to 64 bytes, then
/// `<N bytes>`), instances as their
/// state object with [`CLASS_KEY`] naming the class.
pub fn to_json(input: &[u8]) -> Result<Value, PickleError> {
    let mut m = Machine::over(input);
    let root = m.run()?;
    let mut budget = MAX_JSON_VALUES;
    Ok(m.json(root, 0, &mut budget))
}

/// Read what a pickle cut short holds: the containers and instances still
/// open where it ends are closed with the items complete so far, so a cut
/// request still has the attributes that came before the cut. `Err` when
/// it is not cut but invalid, or holds nothing.
pub fn to_json_prefix(input: &[u8]) -> Result<Value, PickleError> {
    let mut m = Machine::over(input);
    let root = match m.run() {
        Ok(root) => root,
        Err(PickleError::Truncated) => m.close()?,
        Err(e) => return Err(e),
    };
    let mut budget = MAX_JSON_VALUES;
    Ok(m.json(root, 0, &mut budget))
}

/// Whether `bytes` start like a pickle of protocol 2..=5.
pub fn looks_like(bytes: &[u8]) -> bool {
    matches!(bytes, [0x80, 2..=5, ..])
}

impl<'a> Machine<'a> {
    fn over(input: &'a [u8]) -> Self {
        Machine {
            input,
            pos: 0,
            arena: Vec::new(),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: std::collections::HashMap::new(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&[u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Truncated)?;
        let bytes = self
            .input
            .get(self.pos..end)
            .ok_or(PickleError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(*self.take(1)?.first().ok_or(PickleError::Truncated)?)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], PickleError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length read from the input, checked against what is left of it.
    fn len(&mut self, width: usize) -> Result<usize, PickleError> {
        let n = match width {
            1 => u64::from(self.byte()?),
            4 => u64::from(u32::from_le_bytes(self.fixed()?)),
            _ => u64::from_le_bytes(self.fixed()?),
        };
        let left = self.input.len().saturating_sub(self.pos) as u64;
        if n > left {
            return Err(PickleError::Truncated);
        }
        Ok(n as usize)
    }

    /// A newline-terminated argument (protocol 0 opcodes and GLOBAL).
    fn line(&mut self) -> Result<&str, PickleError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated)?;
        let line = self.take(end + 1)?;
        let line = line.get(..end).unwrap_or_default();
        std::str::from_utf8(line).map_err(|_| PickleError::Invalid("non-UTF-8 text argument"))
    }

    fn alloc(&mut self, obj: Obj) -> Result<usize, PickleError> {
        if self.arena.len() >= MAX_OBJECTS {
            return Err(PickleError::TooLarge);
        }
        self.arena.push(obj);
        Ok(self.arena.len() - 1)
    }

    fn push(&mut self, obj: Obj) -> Result<(), PickleError> {
        let i = self.alloc(obj)?;
        self.stack.push(i);
        Ok(())
    }

    fn pop(&mut self) -> Result<usize, PickleError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(PickleError::Invalid("pop past a mark"));
        }
        self.stack.pop().ok_or(PickleError::Invalid("empty stack"))
    }

    fn top(&self) -> Result<usize, PickleError> {
        self.stack
            .last()
            .copied()
            .ok_or(PickleError::Invalid("empty stack"))
    }

    /// Everything above the last MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<usize>, PickleError> {
        let mark = self.marks.pop().ok_or(PickleError::Invalid("no mark"))?;
        if mark > self.stack.len() {
            return Err(PickleError::Invalid("mark above the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn text(&self, i: usize) -> Option<&str> {
        match self.arena.get(i)? {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The memo key after PUT/GET (a decimal line), BINPUT/BINGET (one
    /// byte) or LONG_BINPUT/LONG_BINGET (four).
    fn memo_key(&mut self, op: u8) -> Result<u64, PickleError> {
        match op {
            b'p' | b'g' => self
                .line()?
                .parse::<u64>()
                .map_err(|_| PickleError::Invalid("bad memo key")),
            b'q' | b'h' => Ok(u64::from(self.byte()?)),
            _ => Ok(u64::from(u32::from_le_bytes(self.fixed()?))),
        }
    }

    fn memo_put(&mut self, key: u64) -> Result<(), PickleError> {
        let top = self.top()?;
        if self.memo.len() >= MAX_OBJECTS && !self.memo.contains_key(&key) {
            return Err(PickleError::TooLarge);
        }
        self.memo.insert(key, top);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), PickleError> {
        let i = *self
            .memo
            .get(&key)
            .ok_or(PickleError::Invalid("memo key never stored"))?;
        self.stack.push(i);
        Ok(())
    }

    fn global(&mut self, module: &str, name: &str) -> Result<(), PickleError> {
        // Python 2 names of what Python 3 calls builtins / copyreg.
        let module = match module {
            "__builtin__" => "builtins",
            "copy_reg" => "copyreg",
            m => m,
        };
        self.push(Obj::Global(format!("{module}.{name}")))
    }

    fn items(&self, i: usize) -> Vec<usize> {
        match self.arena.get(i) {
            Some(Obj::List(v) | Obj::Tuple(v) | Obj::Set(v)) => v.clone(),
            _ => Vec::new(),
        }
    }

    /// `callable(*args)` for the callables that stand for data; any other is
    /// an instance of it, built from `args`.
    fn reduce(&mut self, callable: usize, args: usize) -> Result<usize, PickleError> {
        let name = match self.arena.get(callable) {
            Some(Obj::Global(n)) => n.as_str(),
            _ => {
                return Err(PickleError::Invalid(
                    "REDUCE of a value that is not a class",
                ))
            }
        };
        let argv = self.items(args);
        let first = argv.first().copied();
        match name {
            "builtins.set" | "builtins.frozenset" => {
                let items = first.map(|f| self.items(f)).unwrap_or_default();
                self.alloc(Obj::Set(items))
            }
            "builtins.list" => {
                let items = first.map(|f| self.items(f)).unwrap_or_default();
                self.alloc(Obj::List(items))
            }
            "collections.OrderedDict" | "builtins.dict" => {
                let pairs = first
                    .map(|f| self.items(f))
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| match self.items(p).as_slice() {
                        [k, v] => Some((*k, *v)),
                        _ => None,
                    })
                    .collect();
                self.alloc(Obj::Dict(pairs))
            }
            // Python 3 `bytes` at protocol 2: `_codecs.encode(text, 'latin1')`.
            "_codecs.encode" => {
                let text = first.and_then(|f| self.text(f)).unwrap_or_default();
                let bytes = text.chars().map(|c| c as u32 as u8).collect();
                self.alloc(Obj::Bytes(bytes))
            }
            // Protocol 0/1 instances: `copyreg._reconstructor(cls, base, state)`.
            "copyreg._reconstructor" => match first {
                Some(class) => self.alloc(Obj::Instance {
                    class,
                    args: None,
                    state: None,
                }),
                None => Err(PickleError::Invalid("_reconstructor without a class")),
            },
            _ => self.alloc(Obj::Instance {
                class: callable,
                args: Some(args),
                state: None,
            }),
        }
    }

    /// `obj.__setstate__(state)` or `obj.__dict__.update(state)`.
    fn build(&mut self, target: usize, state: usize) -> Result<(), PickleError> {
        match self.arena.get_mut(target) {
            Some(Obj::Instance { state: slot, .. }) => {
                *slot = Some(state);
                Ok(())
            }
            // Dicts and lists restored in place by BUILD are rare; the
            // state of anything but an instance is not believed.
            Some(_) => Ok(()),
            None => Err(PickleError::Invalid("BUILD without an object")),
        }
    }

    fn append(&mut self, list: usize, items: Vec<usize>) -> Result<(), PickleError> {
        match self.arena.get_mut(list) {
            Some(Obj::List(v) | Obj::Set(v)) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(PickleError::Invalid("APPEND to a value that is not a list")),
        }
    }

    fn set_items(&mut self, dict: usize, flat: Vec<usize>) -> Result<(), PickleError> {
        if flat.len() % 2 != 0 {
            return Err(PickleError::Invalid(
                "SETITEMS with an odd number of values",
            ));
        }
        match self.arena.get_mut(dict) {
            Some(Obj::Dict(v)) => {
                v.extend(flat.chunks_exact(2).filter_map(|kv| match kv {
                    [k, v] => Some((*k, *v)),
                    _ => None,
                }));
                Ok(())
            }
            // `__setstate__`-less instances restored by SETITEM are not
            // believed either.
            Some(Obj::Instance { .. }) => Ok(()),
            _ => Err(PickleError::Invalid(
                "SETITEM on a value that is not a dict",
            )),
        }
    }

    fn long(&mut self, bytes_le: &[u8]) -> Obj {
        // Two's complement, little-endian, as LONG1/LONG4 write it.
        if bytes_le.is_empty() {
            return Obj::Int(0);
        }
        if bytes_le.len() <= 8 {
            let negative = bytes_le.last().is_some_and(|b| b & 0x80 != 0);
            let mut buf = [if negative { 0xff } else { 0 }; 8];
            buf[..bytes_le.len()].copy_from_slice(bytes_le);
            return Obj::Int(i64::from_le_bytes(buf));
        }
        if bytes_le.len() <= 16 {
            let negative = bytes_le.last().is_some_and(|b| b & 0x80 != 0);
            let mut buf = [if negative { 0xff } else { 0 }; 16];
            buf[..bytes_le.len()].copy_from_slice(bytes_le);
            return Obj::BigInt(i128::from_le_bytes(buf).to_string());
        }
        Obj::BigInt(format!("<{}-byte integer>", bytes_le.len()))
    }

    fn run(&mut self) -> Result<usize, PickleError> {
        if !looks_like(self.input) {
            return Err(PickleError::Invalid("not a pickle of protocol 2 to 5"));
        }
        loop {
            let op = self.byte()?;
            match op {
                0x80 => {
                    // PROTO
                    if !(2..=5).contains(&self.byte()?) {
                        return Err(PickleError::Invalid("protocol other than 2 to 5"));
                    }
                }
                0x95 => {
                    // FRAME: a length hint only.
                    self.take(8)?;
                }
                b'.' => {
                    return self
                        .stack
                        .pop()
                        .ok_or(PickleError::Invalid("STOP on an empty stack"))
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let top = self.top()?;
                    self.stack.push(top);
                }
                b'N' => self.push(Obj::None)?,
                0x88 => self.push(Obj::Bool(true))?,
                0x89 => self.push(Obj::Bool(false))?,
                b'I' => {
                    let line = self.line()?.to_string();
                    let obj = match line.as_str() {
                        "01" => Obj::Bool(true),
                        "00" => Obj::Bool(false),
                        n => Obj::Int(n.parse().map_err(|_| PickleError::Invalid("bad INT"))?),
                    };
                    self.push(obj)?;
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.fixed()?);
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.fixed()?);
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'L' => {
                    let line = self.line()?.trim_end_matches('L').to_string();
                    let obj = match line.parse::<i64>() {
                        Ok(v) => Obj::Int(v),
                        Err(_) if line.bytes().all(|b| b.is_ascii_digit() || b == b'-') => {
                            Obj::BigInt(line)
                        }
                        Err(_) => return Err(PickleError::Invalid("bad LONG")),
                    };
                    self.push(obj)?;
                }
                0x8a | 0x8b => {
                    // LONG1, LONG4
                    let n = self.len(if op == 0x8a { 1 } else { 4 })?;
                    let bytes = self.take(n)?.to_vec();
                    let obj = self.long(&bytes);
                    self.push(obj)?;
                }
                b'F' => {
                    let v = self
                        .line()?
                        .parse::<f64>()
                        .map_err(|_| PickleError::Invalid("bad FLOAT"))?;
                    self.push(Obj::Float(v))?;
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.fixed()?);
                    self.push(Obj::Float(v))?;
                }
                // Python 2 `str` (bytes): SHORT_BINSTRING, BINSTRING.
                b'U' | b'T' => {
                    let n = self.len(if op == b'U' { 1 } else { 4 })?;
                    let bytes = self.take(n)?;
                    let obj = match std::str::from_utf8(bytes) {
                        Ok(s) => Obj::Str(s.to_string()),
                        Err(_) => Obj::Bytes(bytes.to_vec()),
                    };
                    self.push(obj)?;
                }
                // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8.
                0x8c | b'X' | 0x8d => {
                    let width = match op {
                        0x8c => 1,
                        b'X' => 4,
                        _ => 8,
                    };
                    let n = self.len(width)?;
                    let s = String::from_utf8_lossy(self.take(n)?).into_owned();
                    self.push(Obj::Str(s))?;
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8.
                b'C' | b'B' | 0x8e | 0x96 => {
                    let width = match op {
                        b'C' => 1,
                        b'B' => 4,
                        _ => 8,
                    };
                    let n = self.len(width)?;
                    let bytes = self.take(n)?.to_vec();
                    self.push(Obj::Bytes(bytes))?;
                }
                b']' => self.push(Obj::List(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items))?;
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    self.append(list, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.append(list, items)?;
                }
                b')' => self.push(Obj::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))?;
                }
                0x85..=0x87 => {
                    // TUPLE1..3
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n + self.marks.last().copied().unwrap_or(0) {
                        return Err(PickleError::Invalid("TUPLE past a mark"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Obj::Tuple(items))?;
                }
                b'}' => self.push(Obj::Dict(Vec::new()))?,
                b'd' => {
                    let flat = self.pop_mark()?;
                    let dict = self.alloc(Obj::Dict(Vec::new()))?;
                    self.set_items(dict, flat)?;
                    self.stack.push(dict);
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top()?;
                    self.set_items(dict, vec![key, value])?;
                }
                b'u' => {
                    let flat = self.pop_mark()?;
                    let dict = self.top()?;
                    self.set_items(dict, flat)?;
                }
                0x8f => self.push(Obj::Set(Vec::new()))?,
                0x90 => {
                    // ADDITEMS
                    let items = self.pop_mark()?;
                    let set = self.top()?;
                    self.append(set, items)?;
                }
                0x91 => {
                    // FROZENSET
                    let items = self.pop_mark()?;
                    self.push(Obj::Set(items))?;
                }
                b'c' => {
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    self.global(&module, &name)?;
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Some(module), Some(name)) = (self.text(module), self.text(name)) else {
                        return Err(PickleError::Invalid(
                            "STACK_GLOBAL of values that are not text",
                        ));
                    };
                    let (module, name) = (module.to_string(), name.to_string());
                    self.global(&module, &name)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let obj = self.reduce(callable, args)?;
                    self.stack.push(obj);
                }
                0x81 => {
                    // NEWOBJ: cls.__new__(cls, *args)
                    let args = self.pop()?;
                    let class = self.pop()?;
                    self.push(Obj::Instance {
                        class,
                        args: Some(args),
                        state: None,
                    })?;
                }
                0x92 => {
                    // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let class = self.pop()?;
                    self.push(Obj::Instance {
                        class,
                        args: Some(args),
                        state: None,
                    })?;
                }
                b'o' => {
                    // OBJ: mark, class, args...
                    let mut items = self.pop_mark()?.into_iter();
                    let class = items
                        .next()
                        .ok_or(PickleError::Invalid("OBJ without a class"))?;
                    let args = self.alloc(Obj::Tuple(items.collect()))?;
                    self.push(Obj::Instance {
                        class,
                        args: Some(args),
                        state: None,
                    })?;
                }
                b'i' => {
                    // INST module\nname\n, args above the mark.
                    let module = self.line()?.to_string();
                    let name = self.line()?.to_string();
                    let args = self.pop_mark()?;
                    self.global(&module, &name)?;
                    let class = self.pop()?;
                    let args = self.alloc(Obj::Tuple(args))?;
                    self.push(Obj::Instance {
                        class,
                        args: Some(args),
                        state: None,
                    })?;
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    self.build(target, state)?;
                }
                // PUT, BINPUT, LONG_BINPUT
                b'p' | b'q' | b'r' => {
                    let key = self.memo_key(op)?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    // MEMOIZE
                    let key = self.memo.len() as u64;
                    self.memo_put(key)?;
                }
                // GET, BINGET, LONG_BINGET
                b'g' | b'h' | b'j' => {
                    let key = self.memo_key(op)?;
                    self.memo_get(key)?;
                }
                // Text opcodes of protocol 0 (STRING, UNICODE), persistent
                // ids, the extension registry and out-of-band buffers need
                // either Python's own parsers or objects from outside the
                // pickle: no sender this reader is for writes them at 2+.
                _ => return Err(PickleError::Invalid("opcode this reader does not run")),
            }
        }
    }

    /// End a cut pickle: each open MARK's items go into the container
    /// below it (a trailing key without its value is dropped), and a
    /// state dict left above its new instance becomes that instance's state;
    /// the bottom of the stack is the result.
    fn close(&mut self) -> Result<usize, PickleError> {
        while let Some(mark) = self.marks.pop() {
            let mut items = self.stack.split_off(mark.min(self.stack.len()));
            let Some(&target) = self.stack.last() else {
                break;
            };
            match self.arena.get(target) {
                Some(Obj::Dict(_)) => {
                    items.truncate(items.len() & !1);
                    self.set_items(target, items)?;
                }
                Some(Obj::List(_) | Obj::Set(_)) => self.append(target, items)?,
                _ => {}
            }
            self.close_builds();
        }
        self.close_builds();
        self.stack.first().copied().ok_or(PickleError::Truncated)
    }

    /// `instance, state` at the top of the stack: the BUILD the cut
    /// pickle did not reach.
    fn close_builds(&mut self) {
        while let [.., instance, state] = self.stack[..] {
            let open = matches!(
                self.arena.get(instance),
                Some(Obj::Instance { state: None, .. })
            );
            if !open || !matches!(self.arena.get(state), Some(Obj::Dict(_))) {
                break;
            }
            if self.build(instance, state).is_err() {
                break;
            }
            self.stack.pop();
        }
    }

    /// A dict key as JSON object key: text and numbers as they are; a
    /// container (a tuple key, or a dict that holds itself, found by
    /// fuzzing) is named, not written: written, each level would escape
    /// the one inside it and double in size.
    fn key(&self, k: usize, budget: &mut usize) -> String {
        match self.arena.get(k) {
            Some(Obj::Str(_) | Obj::Bytes(_) | Obj::Int(_) | Obj::BigInt(_)) => {
                match self.json(k, MAX_DEPTH, budget) {
                    Value::String(s) => s,
                    other => other.to_string(),
                }
            }
            Some(Obj::Float(v)) => v.to_string(),
            Some(Obj::Bool(b)) => if *b { "True" } else { "False" }.to_string(),
            Some(Obj::None) => "None".to_string(),
            Some(Obj::Tuple(items)) => format!("<tuple of {}>", items.len()),
            Some(Obj::Global(name)) => name.clone(),
            _ => "<object>".to_string(),
        }
    }

    fn json(&self, i: usize, depth: usize, budget: &mut usize) -> Value {
        // Every value written costs one, the marker for too deep as well.
        if *budget == 0 {
            return Value::String("…".into());
        }
        *budget -= 1;
        if depth > MAX_DEPTH {
            return Value::String("…".into());
        }
        let Some(obj) = self.arena.get(i) else {
            return Value::Null;
        };
        match obj {
            Obj::None => Value::Null,
            Obj::Bool(b) => Value::Bool(*b),
            Obj::Int(v) => Value::from(*v),
            Obj::BigInt(s) => Value::String(s.clone()),
            Obj::Float(v) => Number::from_f64(*v).map_or(Value::Null, Value::Number),
            Obj::Str(s) => Value::String(s.clone()),
            Obj::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => Value::String(s.to_string()),
                // Binary (a ROUTER identity, say): short ones in hex.
                Err(_) if b.len() <= 64 => {
                    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                    Value::String(format!("0x{hex}"))
                }
                Err(_) => Value::String(format!("<{} bytes>", b.len())),
            },
            Obj::List(v) | Obj::Tuple(v) | Obj::Set(v) => {
                let mut items = Vec::with_capacity(v.len().min(*budget));
                for &j in v {
                    if *budget == 0 {
                        // Stop walking, not just writing: a list of
                        // references to itself would otherwise be visited
                        // once per item per level.
                        items.push(Value::String("…".into()));
                        break;
                    }
                    items.push(self.json(j, depth + 1, budget));
                }
                Value::Array(items)
            }
            Obj::Dict(pairs) => {
                let mut map = Map::new();
                for &(k, v) in pairs {
                    if *budget == 0 {
                        map.insert("…".into(), Value::Null);
                        break;
                    }
                    let key = self.key(k, budget);
                    let value = self.json(v, depth + 1, budget);
                    map.insert(key, value);
                }
                Value::Object(map)
            }
            Obj::Global(name) => {
                let mut map = Map::new();
                map.insert(CLASS_KEY.into(), Value::String(name.clone()));
                Value::Object(map)
            }
            Obj::Instance { class, args, state } => {
                let mut map = match state.map(|s| self.json(s, depth + 1, budget)) {
                    Some(Value::Object(m)) => m,
                    // `(dict_state, slots_state)`: both are attributes.
                    Some(Value::Array(parts)) => {
                        let mut m = Map::new();
                        for part in parts {
                            if let Value::Object(o) = part {
                                m.extend(o);
                            }
                        }
                        m
                    }
                    _ => Map::new(),
                };
                if map.is_empty() {
                    if let Some(args) = args {
                        let args = self.json(*args, depth + 1, budget);
                        if args.as_array().is_some_and(|a| !a.is_empty()) {
                            map.insert("__args__".into(), args);
                        }
                    }
                }
                let class = match self.arena.get(*class) {
                    Some(Obj::Global(name)) => name.clone(),
                    _ => "?".into(),
                };
                map.insert(CLASS_KEY.into(), Value::String(class));
                Value::Object(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `pickle.dumps(obj, 2)` (Python 3.11) of
    /// `{'type': 'reply', 'reply': [1, 'x'], 'failure': None, 'message_id': 'm'}`.
    const REPLY_P2: &[u8] = b"\x80\x02}q\x00(X\x04\x00\x00\x00typeq\x01X\x05\x00\x00\x00replyq\x02h\x02]q\x03(K\x01X\x01\x00\x00\x00xq\x04eX\x07\x00\x00\x00failureq\x05NX\n\x00\x00\x00message_idq\x06X\x01\x00\x00\x00mq\x07u.";

    #[test]
    fn reads_a_protocol_2_dict_with_memo_references() {
        assert_eq!(
            to_json(REPLY_P2).unwrap(),
            json!({"type": "reply", "reply": [1, "x"], "failure": null, "message_id": "m"})
        );
    }

    #[test]
    fn an_instance_is_its_state_under_its_class_name() {
        // Python 2.7 `pickle.dumps(Target(topic='compute'), 2)`: GLOBAL,
        // NEWOBJ, BUILD, byte strings.
        let p = b"\x80\x02coslo_messaging.target\nTarget\nq\x00)\x81q\x01}q\x02(U\x05topicq\x03U\x07computeq\x04U\x06serverq\x05Nub.";
        assert_eq!(
            to_json(p).unwrap(),
            json!({"__class__": "oslo_messaging.target.Target", "topic": "compute", "server": null})
        );
    }

    #[test]
    fn the_memo_shares_and_a_cycle_is_cut_at_the_depth_limit() {
        // l = []; l.append(l)
        let p = b"\x80\x02]q\x00h\x00a.";
        let v = to_json(p).unwrap();
        let mut depth = 0;
        let mut cur = &v;
        while let Some(next) = cur.as_array().and_then(|a| a.first()) {
            depth += 1;
            cur = next;
        }
        assert_eq!(depth, MAX_DEPTH + 1);
    }

    #[test]
    fn shared_objects_written_many_times_stay_within_the_budget() {
        // Each level is a list holding the previous level twice: 2^40
        // leaves if copied, a few hundred bytes of pickle.
        let mut p = b"\x80\x02]q\x00".to_vec();
        for level in 1..=40u8 {
            p.extend_from_slice(&[
                b']',
                b'q',
                level,
                b'(',
                b'h',
                level - 1,
                b'h',
                level - 1,
                b'e',
            ]);
        }
        p.push(b'.');
        let v = to_json(&p).unwrap();
        let mut count = 0usize;
        fn walk(v: &Value, count: &mut usize) {
            *count += 1;
            if let Value::Array(a) = v {
                a.iter().for_each(|x| walk(x, count));
            }
        }
        walk(&v, &mut count);
        assert!(count <= MAX_JSON_VALUES * 3, "{count}");
    }

    #[test]
    fn a_list_of_references_to_itself_is_walked_within_the_budget() {
        // l = []; l.extend([l] * 30000): visited item by item per level this
        // would be 30000^depth calls.
        let mut p = b"\x80\x02]q\x00(".to_vec();
        for _ in 0..30_000 {
            p.extend_from_slice(b"h\x00");
        }
        p.extend_from_slice(b"e.");
        let v = to_json(&p).unwrap();
        // The walk went down the first item and stopped, marked, where the
        // budget ran out.
        let top = v.as_array().unwrap();
        assert_eq!(top.last(), Some(&Value::String("…".into())));
        assert!(top.len() < 30_000);
    }

    #[test]
    fn a_cut_pickle_keeps_what_came_before_the_cut() {
        let call = include_bytes!("../../tests/fixtures/pickle/call_p2.pickle");
        let cut = call.windows(10).position(|w| w == b"get_uptime").unwrap() + 10;
        let v = to_json_prefix(&call[..cut]).unwrap();
        assert_eq!(
            v[CLASS_KEY],
            "oslo_messaging._drivers.zmq_driver.client.zmq_request.CallRequest"
        );
        assert_eq!(v["target"]["server"], "node-1");
        assert_eq!(v["message"]["method"], "get_uptime");
        assert!(v.get("message_id").is_none(), "after the cut: {v}");
        // Whole, it is the same as to_json; invalid is still an error.
        assert_eq!(to_json_prefix(call), to_json(call));
        assert!(to_json_prefix(b"\x80\x02a").is_err());
        assert!(to_json_prefix(b"\x80\x02").is_err());
    }

    #[test]
    fn a_dict_that_is_its_own_key_stays_small() {
        // Found by fuzzing (protocol 3): d = {}; d[{}] = {}; d[d] = {}. Its
        // key written as JSON text doubled in size at each level.
        let p = b"\x80\x03}}22222222222222222222222222222220000000000}}s}s.";
        let v = to_json(p).unwrap();
        assert!(v.to_string().len() < 200, "{v}");
        assert!(v.get("<object>").is_some(), "{v}");
    }

    #[test]
    fn bad_pickles_are_errors_not_panics() {
        assert_eq!(
            to_json(b""),
            Err(PickleError::Invalid("not a pickle of protocol 2 to 5"))
        );
        assert_eq!(to_json(b"\x80\x02]"), Err(PickleError::Truncated));
        assert_eq!(
            to_json(b"\x80\x02X\xff\xff\xff\x7fab."),
            Err(PickleError::Truncated)
        );
        for invalid in [
            &b"\x80\x02a."[..],
            b"\x80\x02(]1a.",
            b"\x80\x02h\x05.",
            b"\x80\x02Q.",
            // A mark hides what is below it.
            b"\x80\x02K\x01(0.",
        ] {
            assert!(
                matches!(to_json(invalid), Err(PickleError::Invalid(_))),
                "{invalid:?}"
            );
        }
    }

    #[test]
    fn the_arena_is_capped() {
        let mut p = b"\x80\x02".to_vec();
        p.extend(std::iter::repeat_n(b'N', MAX_OBJECTS + 1));
        p.push(b'.');
        assert_eq!(to_json(&p), Err(PickleError::TooLarge));
    }

    proptest::proptest! {
        #[test]
        fn noise_after_the_header_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut p = b"\x80\x04".to_vec();
            p.extend(body);
            let _ = to_json(&p);
        }

        #[test]
        fn every_prefix_of_a_pickle_is_truncated(cut in 0usize..REPLY_P2.len()) {
            let r = to_json(&REPLY_P2[..cut]);
            proptest::prop_assert!(r.is_err());
            // What a prefix holds is never more than the whole.
            if let Ok(Value::Object(part)) = to_json_prefix(&REPLY_P2[..cut]) {
                let whole = to_json(REPLY_P2).unwrap();
                for (k, v) in part {
                    if !v.is_array() {
                        proptest::prop_assert_eq!(Some(&v), whole.get(&k));
                    }
                }
            }
        }
    }
}
