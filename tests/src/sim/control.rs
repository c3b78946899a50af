//! The control interface: a TCP line protocol for steering a simulator from scripts.
//!
//! One command per line, one answer per line: `ok`, `ok <value>` or `error: <reason>`.
//!
//! | command                    | effect                                             |
//! |----------------------------|----------------------------------------------------|
//! | `latency <ms>`             | added to every reply                               |
//! | `service-time <ms>`        | CPU time per command, shared by all sessions       |
//! | `drop-after <n\|off>`      | close each new connection after n commands         |
//! | `refuse-logins on\|off`    | answer every login as a bad password               |
//! | `reboot [downtime_ms]`     | sessions lost, users kept                          |
//! | `reset`                    | users and profiles lost                            |
//! | `users`                    | `ok <count>`                                       |
//! | `commands`                 | `ok <commands served>`                             |
//! | `sessions`                 | `ok <open API sessions>`                           |
//! | `clear`                    | every fault off                                    |
//!
//! Lines are capped at [`MAX_LINE`] bytes; a longer one closes the connection. The parser is a
//! plain function ([`execute`]) so it is tested without sockets.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::SimHandle;

/// Longest accepted command line, in bytes.
pub const MAX_LINE: u64 = 256;

/// Accepts control connections until shutdown.
pub async fn serve(listener: TcpListener, handle: SimHandle) {
    let mut stop = handle.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, handle.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "control accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream, handle: SimHandle) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let mut stop = handle.shutdown_signal();
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut rd).take(MAX_LINE + 1);
        let read = tokio::select! {
            r = limited.read_until(b'\n', &mut line) => r,
            _ = stop.wait_for(|s| *s) => return,
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) if !line.ends_with(b"\n") && line.len() as u64 > MAX_LINE => {
                wr.write_all(b"error: line too long\n").await.ok();
                return;
            }
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        let mut answer = execute(&handle, text.trim());
        answer.push('\n');
        if wr.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn millis(arg: Option<&str>) -> Result<Duration, String> {
    let arg = arg.ok_or("missing milliseconds")?;
    arg.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("not a number of milliseconds: {arg}"))
}

fn on_off(arg: Option<&str>) -> Result<bool, String> {
    match arg {
        Some("on" | "yes" | "true") => Ok(true),
        Some("off" | "no" | "false") => Ok(false),
        other => Err(format!(
            "expected on or off, got {}",
            other.unwrap_or("nothing")
        )),
    }
}

/// Runs one control command; the answer line without its newline.
pub fn execute(handle: &SimHandle, line: &str) -> String {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or("");
    let arg = words.next();
    if words.next().is_some() {
        return "error: too many arguments".into();
    }
    let result: Result<Option<String>, String> = match command {
        "latency" => millis(arg).map(|d| {
            handle.set_latency(d);
            None
        }),
        "service-time" => millis(arg).map(|d| {
            handle.set_service_time(d);
            None
        }),
        "drop-after" => match arg {
            Some("off") => {
                handle.set_drop_after(None);
                Ok(None)
            }
            Some(n) => n
                .parse::<u64>()
                .map_err(|_| format!("expected a count or off, got {n}"))
                .map(|n| {
                    handle.set_drop_after(Some(n));
                    None
                }),
            None => Err("expected a count or off".into()),
        },
        "refuse-logins" => on_off(arg).map(|b| {
            handle.set_refuse_logins(b);
            None
        }),
        "reboot" => {
            let downtime = match arg {
                None => Ok(Duration::ZERO),
                some => millis(some),
            };
            downtime.map(|d| {
                handle.reboot(d);
                None
            })
        }
        "reset" if arg.is_none() => {
            handle.reset();
            Ok(None)
        }
        "users" if arg.is_none() => Ok(Some(handle.user_count().to_string())),
        "commands" if arg.is_none() => Ok(Some(handle.commands_served().to_string())),
        "sessions" if arg.is_none() => Ok(Some(handle.open_sessions().to_string())),
        "clear" if arg.is_none() => {
            handle.clear_faults();
            Ok(None)
        }
        "reset" | "users" | "commands" | "sessions" | "clear" => {
            Err(format!("{command} takes no argument"))
        }
        "" => Err("empty command".into()),
        other => Err(format!("unknown command {other}")),
    };
    match result {
        Ok(None) => "ok".into(),
        Ok(Some(v)) => format!("ok {v}"),
        Err(e) => format!("error: {e}"),
    }
}
