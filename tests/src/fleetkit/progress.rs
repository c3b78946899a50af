//! `fleet-peer`'s stdout: one fact per line, `<word> <value...>`, printed when it changes, so
//! a parent process (a test, the bench) can follow a peer without opening its database (the
//! peer holds the database file's lock while it runs).
//!
//! | line | meaning |
//! | --- | --- |
//! | `listening ADDR` | the controller's UDP address |
//! | `resume K C` | sending resumes after note K (the sender's own counter said C) |
//! | `sent K` | notes `1..=K` are durably queued |
//! | `applied K` | notes applied from the peer (controller without `--site`: since start) |
//! | `outbox L` | notes waiting for the peer's ack |
//! | `link up` / `link down` | agent: connected; controller: `--site` connected |
//! | `sessions K` | agent: sessions established since start (a short outage may fall between two `link` lines) |
//! | `link-error TEXT` | agent: why the link last went down (printed before `link down`) |
//! | `sites K` | controller: connected sites |
//! | `latency count=.. p50_us=.. ...` | answer to the `stats` command |
//! | `ok WORDS` | a stdin command was carried out |
//! | `pong N rtt_us=R` | answer to the `ping N` command |
//! | `done` | all sent, outbox empty, everything expected applied |
//! | `error TEXT` | a fatal error; the process exits non-zero |
//! | `stopped` | graceful shutdown finished |

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::stats::LatencySummary;

/// Everything a parent knows about one running peer process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    pub listening: Option<SocketAddr>,
    pub resumed_from: Option<u64>,
    /// The sender's own counter at the resume (may lag `resumed_from`).
    pub resume_counter: Option<u64>,
    pub sent: u64,
    pub applied: u64,
    pub outbox: Option<u64>,
    pub link_up: bool,
    /// Times the link came up in this process.
    pub link_ups: u64,
    /// Agent: why the link last went down.
    pub link_error: Option<String>,
    /// Agent: sessions established since start.
    pub sessions: u64,
    pub sites: u64,
    pub latency: Option<LatencySummary>,
    /// How many `latency` lines came (to tell a fresh answer from an old one).
    pub latency_lines: u64,
    /// Every `ok ...` line, in order.
    pub oks: Vec<String>,
    pub pongs: u64,
    pub done: bool,
    pub error: Option<String>,
    pub stopped: bool,
    /// stdout closed: the process exited (or closed its stdout).
    pub eof: bool,
    pub lines: u64,
    /// Any other line, by its first word: how many came, and the rest of the last one.
    pub other: BTreeMap<String, (u64, String)>,
}

impl Progress {
    /// Applies one stdout line; unknown lines are ignored.
    pub fn apply_line(&mut self, line: &str) {
        self.lines += 1;
        let line = line.trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let number = || {
            rest.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        };
        match word {
            "listening" => self.listening = rest.trim().parse().ok(),
            "resume" => {
                let mut values = rest.split_whitespace().map(|v| v.parse::<u64>().ok());
                self.resumed_from = values.next().flatten();
                self.resume_counter = values.next().flatten();
            }
            "sent" => self.sent = number().unwrap_or(self.sent),
            "applied" => self.applied = number().unwrap_or(self.applied),
            "outbox" => self.outbox = number(),
            "link" => {
                let up = rest.trim() == "up";
                if up && !self.link_up {
                    self.link_ups += 1;
                }
                self.link_up = up;
            }
            "sessions" => self.sessions = number().unwrap_or(self.sessions),
            "link-error" => self.link_error = Some(rest.to_string()),
            "sites" => self.sites = number().unwrap_or(self.sites),
            "latency" => {
                self.latency = rest.parse().ok();
                self.latency_lines += 1;
            }
            "ok" => self.oks.push(rest.to_string()),
            "pong" => self.pongs += 1,
            "done" => self.done = true,
            "error" => self.error = Some(rest.to_string()),
            "stopped" => self.stopped = true,
            _ => {
                let entry = self.other.entry(word.to_string()).or_default();
                entry.0 += 1;
                entry.1 = rest.to_string();
            }
        }
    }

    /// How many lines starting with `word` came (for words without a field of their own).
    pub fn seen(&self, word: &str) -> u64 {
        self.other.get(word).map_or(0, |(n, _)| *n)
    }

    /// The rest of the last line starting with `word`.
    pub fn last(&self, word: &str) -> Option<&str> {
        self.other.get(word).map(|(_, rest)| rest.as_str())
    }

    /// Both sending and receiving finished: all `n` sent, outbox empty, `n` applied.
    pub fn settled(&self, n: u64) -> bool {
        self.sent >= n && self.applied >= n && self.outbox == Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_update_what_they_name() {
        let mut p = Progress::default();
        for line in [
            "listening 127.0.0.1:4433",
            "resume 40 38",
            "sent 50",
            "applied 7",
            "outbox 0",
            "link up",
            "link down",
            "link up",
            "ok reset-stats",
            "latency count=2 p50_us=10 p99_us=20 max_us=20 first_us=1 last_us=2",
            "gauges applied=3",
            "done",
        ] {
            p.apply_line(line);
        }
        assert_eq!(p.listening, Some("127.0.0.1:4433".parse().expect("addr")));
        assert_eq!((p.resumed_from, p.resume_counter), (Some(40), Some(38)));
        assert_eq!((p.sent, p.applied), (50, 7));
        assert_eq!((p.link_up, p.link_ups), (true, 2));
        assert_eq!(p.latency.map(|l| l.p99_us), Some(20));
        assert_eq!(p.oks, vec!["reset-stats".to_string()]);
        assert!(p.done && p.settled(7) && !p.settled(8));
        assert_eq!((p.seen("gauges"), p.last("gauges")), (1, Some("applied=3")));
    }
}
