//! ARCHITECTURE.md's invariant: no import circles inside a crate. Every crate root of the
//! workspace (`src/lib.rs`, `src/main.rs`, `src/bin/*`) is read through its `mod` declarations
//! and the paths its code names (`hotspot_tests::import_graph`); a circle fails the test and is
//! printed with the line behind each step.

use std::path::Path;

use hotspot_tests::import_graph::{Circle, crate_roots, workspace_circles};

/// Circles older than the check, each between a module's own file and its submodules: the
/// parent holds what its parts share and also calls them (`mod.rs` defines `StoreError` and
/// re-exports `records`' types it uses itself; `records.rs` imports `super::StoreError`). A
/// circle whose files all lie in one of these sets passes; any other fails. Cut one (the
/// shared part into a module of its own below both, as `agent::core` was): delete its line,
/// which this test asks for once the circle is gone.
const KNOWN: &[&[&str]] = &[
    &["agent/src/store/mod.rs", "agent/src/store/records.rs"],
    &[
        "controller/src/api/tokens.rs",
        "controller/src/api/tokens/generate.rs",
    ],
    &[
        "controller/src/config.rs",
        "controller/src/config/sections.rs",
        "controller/src/config/validate.rs",
    ],
    &[
        "controller/src/jobs/drift.rs",
        "controller/src/jobs/mod.rs",
        "controller/src/jobs/reconcile.rs",
        "controller/src/jobs/routine.rs",
    ],
    &["link/src/session/mod.rs", "link/src/session/writer.rs"],
    &[
        "tests/src/sim/auth.rs",
        "tests/src/sim/commands/active.rs",
        "tests/src/sim/commands/mod.rs",
        "tests/src/sim/commands/profiles.rs",
        "tests/src/sim/commands/system.rs",
        "tests/src/sim/commands/users.rs",
        "tests/src/sim/commands/values.rs",
        "tests/src/sim/control.rs",
        "tests/src/sim/customers.rs",
        "tests/src/sim/handle.rs",
        "tests/src/sim/mod.rs",
        "tests/src/sim/persist.rs",
        "tests/src/sim/session.rs",
        "tests/src/sim/tls.rs",
    ],
];

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("hotspot-tests sits in the workspace")
}

/// The known set a circle lies in, if any.
fn known_as(circle: &Circle) -> Option<usize> {
    KNOWN
        .iter()
        .position(|set| circle.files.iter().all(|f| set.contains(&f.as_str())))
}

#[test]
fn no_crate_has_an_import_circle() {
    let circles = workspace_circles(workspace()).expect("the workspace's sources read");
    let new: Vec<String> = circles
        .iter()
        .filter(|c| known_as(c).is_none())
        .map(ToString::to_string)
        .collect();
    assert!(
        new.is_empty(),
        "{} import circle(s) inside crates (cut each by moving what both sides need into a \
         module of its own below them):\n{}",
        new.len(),
        new.join("\n")
    );
    let gone: Vec<String> = (0..KNOWN.len())
        .filter(|&k| !circles.iter().any(|c| known_as(c) == Some(k)))
        .map(|k| KNOWN[k].join(", "))
        .collect();
    assert!(
        gone.is_empty(),
        "these known circles are gone: delete their lines from KNOWN in {}:\n{}",
        file!(),
        gone.join("\n")
    );
}

#[test]
fn every_member_crate_is_checked() {
    let roots = crate_roots(workspace()).expect("the workspace's Cargo.toml reads");
    for root in [
        "shared/src/lib.rs",
        "pki/src/lib.rs",
        "pki/src/main.rs",
        "link/src/lib.rs",
        "agent/src/lib.rs",
        "controller/src/lib.rs",
        "ui/src/lib.rs",
        "tests/src/lib.rs",
        "tests/src/bin/hotspot-demo.rs",
    ] {
        assert!(
            roots.iter().any(|r| r == root),
            "{root} missing from {roots:?}"
        );
    }
}
