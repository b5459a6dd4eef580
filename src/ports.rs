//! `-p` port specifications: `9501`, `9500-9505,9501`.

use std::fmt;
use std::str::FromStr;

/// A set of TCP ports, one bit each.
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet {
    bits: Box<[u64; 1024]>,
    spec: String,
}

impl PortSet {
    pub fn contains(&self, port: u16) -> bool {
        let port = usize::from(port);
        self.bits
            .get(port / 64)
            .is_some_and(|word| word & (1 << (port % 64)) != 0)
    }

    fn insert(&mut self, port: u16) {
        let port = usize::from(port);
        if let Some(word) = self.bits.get_mut(port / 64) {
            *word |= 1 << (port % 64);
        }
    }

    /// Both sets' ports.
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut bits = self.bits.clone();
        for (word, theirs) in bits.iter_mut().zip(other.bits.iter()) {
            *word |= theirs;
        }
        PortSet {
            bits,
            spec: format!("{},{}", self.spec, other.spec),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (1..=u16::MAX).filter(|&p| self.contains(p))
    }
}

impl Default for PortSet {
    fn default() -> Self {
        "9501".parse().unwrap_or_else(|_| PortSet {
            bits: Box::new([0; 1024]),
            spec: String::new(),
        })
    }
}

impl From<u16> for PortSet {
    fn from(port: u16) -> Self {
        let mut set = PortSet {
            bits: Box::new([0; 1024]),
            spec: port.to_string(),
        };
        set.insert(port);
        set
    }
}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortSet({})", self.spec)
    }
}

impl fmt::Display for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

impl FromStr for PortSet {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let mut set = PortSet {
            bits: Box::new([0; 1024]),
            spec: spec.trim().to_string(),
        };
        let port = |text: &str| -> Result<u16, String> {
            match text.trim().parse::<u16>() {
                Ok(0) | Err(_) => Err(format!(
                    "'{}' is not a TCP port (1-65535) in port list '{spec}'",
                    text.trim()
                )),
                Ok(p) => Ok(p),
            }
        };
        if spec.trim().is_empty() {
            return Err("the port list is empty; give ports like 9501 or 9500-9505".into());
        }
        for item in spec.split(',') {
            match item.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (port(lo)?, port(hi)?);
                    if lo > hi {
                        return Err(format!(
                            "port range '{}' runs backwards; write {hi}-{lo}",
                            item.trim()
                        ));
                    }
                    for p in lo..=hi {
                        set.insert(p);
                    }
                }
                None => set.insert(port(item)?),
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_ranges() {
        let set: PortSet = "9500-9505,9501, 15502".parse().unwrap();
        let ports: Vec<u16> = set.iter().collect();
        assert_eq!(ports, vec![9500, 9501, 9502, 9503, 9504, 9505, 15502]);
        assert!(!set.contains(9506));
        assert!(PortSet::default().contains(9501));
        assert!("65535".parse::<PortSet>().unwrap().contains(65535));
        let both = set.union(&PortSet::from(6379));
        assert!(both.contains(6379) && both.contains(15502) && !both.contains(6380));
        assert_eq!(both.to_string(), "9500-9505,9501, 15502,6379");
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        for bad in ["", "0", "70000", "95x1", "9505-9500", "1,,2", "-5"] {
            let err = bad.parse::<PortSet>().unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }
}
