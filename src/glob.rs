//! Shell-style globs for the display filters (`--topic 'compute.*'`) and the
//! terminal UI's `/` filter.

/// `*` any run, `?` any one byte; the whole text must match. Iterative with
/// one backtrack point, so linear-ish and never recursive.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    glob_match_by(pattern, text, |a, b| a == b)
}

/// [`glob_match`] with ASCII letters compared without case.
pub fn glob_match_ignore_ascii_case(pattern: &[u8], text: &[u8]) -> bool {
    glob_match_by(pattern, text, |a, b| a.eq_ignore_ascii_case(&b))
}

fn glob_match_by(pattern: &[u8], text: &[u8], eq: impl Fn(u8, u8) -> bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || text.get(t).is_some_and(|&x| eq(c, x)) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .unwrap_or_default()
        .iter()
        .all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match(b"a*c", b"abbbc"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(!glob_match(b"a?c", b"ac"));
        assert!(!glob_match(b"a*d", b"abc"));
        assert!(glob_match(b"*.compute1", b"compute.compute1"));
        assert!(!glob_match(b"*.Compute1", b"compute.compute1"));
        assert!(glob_match_ignore_ascii_case(
            b"*.Compute1",
            b"compute.COMPUTE1"
        ));
    }
}
