//! What `hotspot-agent probe` (and the demo) print about a router: identity, model, health and
//! hotspot users as a table, and one line a person can act on when something fails.
//!
//! A library module rather than part of `main.rs` so that every command that shows a router to a
//! person shows it the same way.

use crate::routeros::{HotspotUserEntry, Router, RouterConfig, RouterError, UserQuery};

pub async fn print_report(router: &Router) -> Result<(), RouterError> {
    let identity = router.identity().await?;
    let resource = router.system_resource().await?;
    let board = router.routerboard().await?;
    let users = router.print_hotspot_users(&UserQuery::default()).await?;
    let model = match &board {
        Some(b) => b.model.clone(),
        None => format!("{} (not a RouterBOARD)", resource.board_name),
    };
    println!("identity:  {identity}");
    println!("model:     {model}");
    if let Some(b) = &board {
        println!("serial:    {}", b.serial.as_deref().unwrap_or("-"));
        println!(
            "firmware:  {}",
            b.current_firmware.as_deref().unwrap_or("-")
        );
    }
    println!(
        "RouterOS:  {} ({})",
        resource.version, resource.architecture
    );
    println!("uptime:    {}", resource.uptime);
    println!(
        "CPU load:  {}% of {} CPU(s)",
        resource.cpu_load, resource.cpu_count
    );
    println!(
        "memory:    {} MiB free of {} MiB",
        resource.free_memory >> 20,
        resource.total_memory >> 20
    );
    println!();
    println!("{} hotspot user(s)", users.len());
    if !users.is_empty() {
        print_users(&users);
    }
    Ok(())
}

fn print_users(users: &[HotspotUserEntry]) {
    let rows: Vec<[String; 8]> = users
        .iter()
        .map(|u| {
            [
                u.id.to_string(),
                u.name.clone(),
                u.profile.clone().unwrap_or_default(),
                u.uptime.to_string(),
                format!("{}/{}", u.bytes_in, u.bytes_out),
                u.limit_uptime
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                if u.disabled {
                    "yes".into()
                } else {
                    "no".into()
                },
                u.comment.as_deref().map(display_text).unwrap_or_default(),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "PROFILE",
        "UPTIME",
        "BYTES IN/OUT",
        "LIMIT",
        "DISABLED",
        "COMMENT",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count()).min(40);
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Router text for display: UTF-8 if it is, else Latin-1 (routers often use Windows-1252, whose
/// letters mostly coincide). Never written back to a router.
fn display_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// One line a person can act on.
pub fn human_error(err: &RouterError, config: &RouterConfig) -> String {
    let address = config.address();
    match err {
        RouterError::Unreachable(e) => format!("cannot reach {address}: {e}"),
        RouterError::Refused(_) => {
            let service = if config.tls.is_some() {
                "api-ssl"
            } else {
                "API"
            };
            format!(
                "connection refused: is the {service} service enabled on port {}?",
                config.port
            )
        }
        RouterError::Timeout { what } => format!("timed out: {what}"),
        RouterError::BadCredentials => "wrong username or password".into(),
        RouterError::Tls(e) => format!("TLS handshake with {address} failed: {e}"),
        RouterError::PinMismatch { expected, got } => {
            format!("certificate fingerprint mismatch: expected {expected} got {got}")
        }
        RouterError::Protocol(e) => format!("unexpected answer from the router: {e}"),
        RouterError::Trap { message, .. } => format!("the router refused a command: {message}"),
        RouterError::AlreadyExists { message } | RouterError::NoSuchItem { message } => {
            format!("the router refused a command: {message}")
        }
        RouterError::Fatal(reason) => format!("the router closed the session: {reason}"),
        RouterError::ConnectionLost { reason } => format!("connection to {address} lost: {reason}"),
        RouterError::Closed(reason) => format!("connection to {address} closed: {reason}"),
        RouterError::Busy { what } => format!("router too busy to answer {what}"),
    }
}
