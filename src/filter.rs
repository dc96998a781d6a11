//! `read --filter`: the part of the pcap-filter(7) language that a TLS investigation uses
//! (`host`, `net`, `port`, `portrange`, `src`/`dst`, `tcp`/`ip`/`ip6`, `and`/`or`/`not`,
//! parentheses, and a bare value continuing the qualifiers before it, as in
//! `port 443 or 8443`), applied to offline reads after decoding. Only TCP packets are
//! analysed, so every primitive speaks of TCP packets; other frames never match.
//!
//! Not libpcap's compiler: the same expression must mean the same thing in every build
//! (libpcap is only linked with the `live` feature), and what the analysis needs is the
//! 5-tuple, which decoding gives anyway. Port names (`https`), `proto`, `len`, byte offsets
//! (`tcp[13]`) and `ether`/`vlan` primitives are refused with a clear error.

use std::net::IpAddr;

use crate::decode::TcpPacket;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Prim(Primitive),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Src,
    Dst,
    /// Either (the default, and `src or dst`).
    Any,
    /// `src and dst`.
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Any,
    V4,
    V6,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Primitive {
    /// `tcp`, `ip`, `ip6` alone.
    Proto(Family),
    Net {
        dir: Dir,
        family: Family,
        addr: IpAddr,
        prefix: u8,
    },
    Ports {
        dir: Dir,
        low: u16,
        high: u16,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("filter {expr:?}: {msg}")]
pub struct FilterError {
    expr: String,
    msg: String,
}

impl Filter {
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        let tokens = tokenize(expr);
        let mut p = Parser {
            tokens: &tokens,
            pos: 0,
            last: None,
            depth: 0,
        };
        let err = |msg: String| FilterError {
            expr: expr.to_string(),
            msg,
        };
        if tokens.is_empty() {
            return Err(err("empty expression".into()));
        }
        let f = p.or().map_err(err)?;
        match p.tokens.get(p.pos) {
            None => Ok(f),
            Some(t) => Err(err(format!("unexpected {t:?}"))),
        }
    }

    pub fn matches(&self, pkt: &TcpPacket<'_>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(pkt) && b.matches(pkt),
            Filter::Or(a, b) => a.matches(pkt) || b.matches(pkt),
            Filter::Not(a) => !a.matches(pkt),
            Filter::Prim(p) => p.matches(pkt),
        }
    }
}

impl Primitive {
    fn matches(&self, pkt: &TcpPacket<'_>) -> bool {
        match *self {
            Primitive::Proto(family) => family_ok(family, pkt.src),
            Primitive::Net {
                dir,
                family,
                addr,
                prefix,
            } => {
                family_ok(family, pkt.src)
                    && by_dir(dir, |src| {
                        in_net(if src { pkt.src } else { pkt.dst }, addr, prefix)
                    })
            }
            Primitive::Ports { dir, low, high } => by_dir(dir, |src| {
                let port = if src { pkt.sport } else { pkt.dport };
                (low..=high).contains(&port)
            }),
        }
    }
}

fn by_dir(dir: Dir, test: impl Fn(bool) -> bool) -> bool {
    match dir {
        Dir::Src => test(true),
        Dir::Dst => test(false),
        Dir::Any => test(true) || test(false),
        Dir::Both => test(true) && test(false),
    }
}

fn family_ok(family: Family, addr: IpAddr) -> bool {
    match family {
        Family::Any => true,
        Family::V4 => addr.is_ipv4(),
        Family::V6 => addr.is_ipv6(),
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn tokenize(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = expr.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let op = match (c, next) {
            ('(' | ')' | '!', _) => Some(c.to_string()),
            ('&', Some('&')) => Some("&&".to_string()),
            ('|', Some('|')) => Some("||".to_string()),
            _ => None,
        };
        if op.is_some() || c.is_whitespace() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if let Some(op) = op {
                if op.len() == 2 {
                    chars.next();
                }
                out.push(op);
            }
        } else {
            word.push(c);
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The qualifiers of the last primitive, which a bare value after `and`/`or` reuses.
#[derive(Clone, Copy)]
struct Qualifiers {
    dir: Dir,
    family: Family,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    PortRange,
}

struct Parser<'t> {
    tokens: &'t [String],
    pos: usize,
    last: Option<Qualifiers>,
    depth: usize,
}

/// Parentheses and `not`s nested deeper than this are refused (the parser recurses).
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Option<&str> {
        let t = self.tokens.get(self.pos).map(String::as_str);
        self.pos += usize::from(t.is_some());
        t
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let parsed = self.unary_inner();
        self.depth -= 1;
        parsed
    }

    fn unary_inner(&mut self) -> Result<Filter, String> {
        match self.peek() {
            Some("not" | "!") => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let inner = self.or()?;
                match self.next() {
                    Some(")") => Ok(inner),
                    other => Err(format!("expected ')', found {other:?}")),
                }
            }
            Some(_) => self.primitive(),
            None => Err("expression ends where a primitive was expected".into()),
        }
    }

    fn primitive(&mut self) -> Result<Filter, String> {
        let start = self.pos;
        // pcap-filter's order: [proto] [dir] [type] value.
        let mut family = None;
        if let Some(f @ ("tcp" | "ip" | "ip6")) = self.peek() {
            family = Some(match f {
                "ip" => Family::V4,
                "ip6" => Family::V6,
                _ => Family::Any,
            });
            self.pos += 1;
        }
        let mut dir = None;
        if let Some(d @ ("src" | "dst")) = self.peek() {
            let first = if d == "src" { Dir::Src } else { Dir::Dst };
            self.pos += 1;
            // `src or dst host X` / `src and dst host X`
            let joined = match (
                self.peek(),
                self.tokens.get(self.pos + 1).map(String::as_str),
            ) {
                (Some("or"), Some("src" | "dst")) => Some(Dir::Any),
                (Some("and"), Some("src" | "dst")) => Some(Dir::Both),
                _ => None,
            };
            if joined.is_some() {
                self.pos += 2;
            }
            dir = Some(joined.unwrap_or(first));
        }
        let kind = match self.peek() {
            Some("host") => Some(Kind::Host),
            Some("net") => Some(Kind::Net),
            Some("port") => Some(Kind::Port),
            Some("portrange") => Some(Kind::PortRange),
            _ => None,
        };
        if kind.is_some() {
            self.pos += 1;
        }
        let q = match (dir, family, kind) {
            // `tcp`, `ip`, `ip6` alone.
            (None, Some(f), None) if !self.at_value() => {
                return Ok(Filter::Prim(Primitive::Proto(f)))
            }
            (None, None, None) => match self.last {
                // A bare value continues the qualifiers before it.
                Some(q) if self.pos == start => q,
                _ => return Err(self.unknown(start)),
            },
            (d, f, k) => {
                let inferred = k.or_else(|| self.peek().map(infer_kind));
                Qualifiers {
                    dir: d.unwrap_or(Dir::Any),
                    family: f.unwrap_or(Family::Any),
                    kind: inferred.ok_or("a value is missing")?,
                }
            }
        };
        self.last = Some(q);
        let value = self.next().ok_or("a value is missing")?.to_string();
        let prim = match q.kind {
            Kind::Host | Kind::Net => {
                let (addr, prefix) = parse_net(&value, q.kind == Kind::Host)?;
                Primitive::Net {
                    dir: q.dir,
                    family: q.family,
                    addr,
                    prefix,
                }
            }
            Kind::Port => {
                let port = parse_port(&value)?;
                Primitive::Ports {
                    dir: q.dir,
                    low: port,
                    high: port,
                }
            }
            Kind::PortRange => {
                let (a, b) = value
                    .split_once('-')
                    .ok_or_else(|| format!("portrange {value:?}: expected LOW-HIGH"))?;
                let (low, high) = (parse_port(a)?, parse_port(b)?);
                Primitive::Ports {
                    dir: q.dir,
                    low: low.min(high),
                    high: low.max(high),
                }
            }
        };
        Ok(Filter::Prim(prim))
    }

    /// Whether the next token is a value rather than an operator or the end.
    fn at_value(&self) -> bool {
        !matches!(
            self.peek(),
            None | Some("and" | "&&" | "or" | "||" | ")" | "not" | "!")
        )
    }

    fn unknown(&self, at: usize) -> String {
        let t = self.tokens.get(at).map_or("", String::as_str);
        format!(
            "{t:?} is not supported here (this filter knows host, net, port, portrange, \
             src/dst, tcp/ip/ip6, and/or/not and parentheses)"
        )
    }
}

/// `host 10.0.0.1`-style shorthand without `host`: an address is a host, a number a port.
fn infer_kind(value: &str) -> Kind {
    if value.parse::<u16>().is_ok() {
        Kind::Port
    } else if value.contains('/') {
        Kind::Net
    } else {
        Kind::Host
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse::<u16>().map_err(|_| {
        format!("{s:?} is not a port number (port names such as https are not supported)")
    })
}

fn parse_net(s: &str, host: bool) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) if !host => (a, Some(p)),
        Some(_) => return Err(format!("host {s:?}: use net for a prefix")),
        None => (s, None),
    };
    let addr: IpAddr = match addr.parse() {
        Ok(a) => a,
        // libpcap's `net 10.1` = 10.1.0.0/16.
        Err(_) if !host && prefix.is_none() && is_short_v4(addr) => {
            let parts: Vec<u8> = addr.split('.').filter_map(|p| p.parse().ok()).collect();
            let mut octets = [0u8; 4];
            octets[..parts.len()].copy_from_slice(&parts);
            return Ok((IpAddr::from(octets), (parts.len() * 8) as u8));
        }
        Err(_) => {
            return Err(format!(
                "{addr:?} is not an IP address (host names are not resolved)"
            ))
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|&p| p <= max)
            .ok_or_else(|| format!("{s:?}: prefix length must be 0-{max}"))?,
        None => max,
    };
    Ok((addr, prefix))
}

fn is_short_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (1..=3).contains(&parts.len()) && parts.iter().all(|p| p.parse::<u8>().is_ok())
}

#[cfg(test)]
mod tests;
