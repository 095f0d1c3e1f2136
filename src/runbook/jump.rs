//! Jump hosts as OpenSSH writes them (`ProxyJump`, `ssh -J`): one or more
//! hops, comma-separated, each `[user@]host[:port]` or
//! `ssh://[user@]host[:port]`, or `none` for a direct connection. The
//! runbook's `jump` and `~/.ssh/config`'s `ProxyJump` share this grammar.

use std::fmt;

/// One hop on the way to a host, as written: what is left out comes from
/// `~/.ssh/config` for that hop, then the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JumpHop {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// A `jump` setting: straight to the host, or through these hops in order
/// (the first is connected to directly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jump {
    Direct,
    Via(Vec<JumpHop>),
}

impl fmt::Display for JumpHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            write!(f, "{}", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Jump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jump::Direct => write!(f, "none"),
            Jump::Via(hops) => {
                for (i, hop) in hops.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{hop}")?;
                }
                Ok(())
            }
        }
    }
}

/// Parse a `jump` / `ProxyJump` value; the error says what is wrong with it.
pub fn parse(text: &str) -> Result<Jump, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(Jump::Direct);
    }
    if text.is_empty() {
        return Err(
            "is empty; write \"user@host:port\" (hops separated by commas) or \"none\"".into(),
        );
    }
    text.split(',')
        .map(|hop| parse_hop(hop.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map(Jump::Via)
}

fn parse_hop(text: &str) -> Result<JumpHop, String> {
    let bad = |why: &str| {
        Err(format!(
            "hop '{text}' {why}; write it as [user@]host[:port]"
        ))
    };
    let rest = text.strip_prefix("ssh://").unwrap_or(text);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return bad("is empty");
    }
    if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("holds a space");
    }
    let (user, host_port) = match rest.rsplit_once('@') {
        Some(("", _)) => return bad("has an empty user"),
        Some((u, hp)) => (Some(u.to_string()), hp),
        None => (None, rest),
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        // An IPv6 address: [::1] or [::1]:2222.
        let Some((host, after)) = bracketed.split_once(']') else {
            return bad("has an unclosed '['");
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return bad("has text after ']'"),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            // Several colons: a bare IPv6 address, no port.
            Some(_) => (host_port, None),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return bad("has no host");
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return bad(&format!("has the port '{p}', which is not a port number")),
        },
    };
    Ok(JumpHop {
        user,
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(user: Option<&str>, host: &str, port: Option<u16>) -> JumpHop {
        JumpHop {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
        }
    }

    #[test]
    fn hops_as_openssh_writes_them() {
        assert_eq!(parse("none"), Ok(Jump::Direct));
        assert_eq!(parse("NONE"), Ok(Jump::Direct));
        assert_eq!(
            parse("admin@bastion.example.org:2222"),
            Ok(Jump::Via(vec![hop(
                Some("admin"),
                "bastion.example.org",
                Some(2222)
            )]))
        );
        assert_eq!(
            parse("gw, ssh://ops@inner:22/ ,[::1]:2200,fe80::1"),
            Ok(Jump::Via(vec![
                hop(None, "gw", None),
                hop(Some("ops"), "inner", Some(22)),
                hop(None, "::1", Some(2200)),
                hop(None, "fe80::1", None),
            ]))
        );
        let written = "admin@gw:2222,[::1]:22,inner";
        assert_eq!(parse(written).map(|j| j.to_string()), Ok(written.into()));
    }

    #[test]
    fn bad_hops_say_what_is_wrong() {
        for (text, says) in [
            ("", "is empty"),
            ("gw,", "hop '' is empty"),
            ("@gw", "empty user"),
            ("gw:ssh", "'ssh', which is not a port number"),
            ("gw:0", "'0', which is not a port number"),
            ("gw:70000", "not a port number"),
            ("[::1", "unclosed"),
            ("admin@:22", "has no host"),
            ("my gw", "holds a space"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
