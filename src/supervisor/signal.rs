//! Signal names are parsed once, at the edge: `SIGINT`, `sigint`, `INT` and `2` all work.

use nix::sys::signal::Signal;

pub fn parse(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    if let Ok(n) = t.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("unknown signal {text}"));
    }
    let upper = t.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>()
        .map_err(|_| format!("unknown signal {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_pm2_spellings() {
        assert_eq!(parse("SIGINT"), Ok(Signal::SIGINT));
        assert_eq!(parse("sigusr2"), Ok(Signal::SIGUSR2));
        assert_eq!(parse("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse("9"), Ok(Signal::SIGKILL));
        assert!(parse("SIGFOO").is_err());
        assert!(parse("999").is_err());
    }
}
