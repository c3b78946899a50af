//! Staff passwords: Argon2id PHC strings, verification, rehash detection, the policy for new
//! passwords, and the dummy verification for unknown usernames.

use std::time::{Duration, Instant};

use hotspot_controller::auth::password::{
    MAX_PASSWORD_BYTES, PasswordError, PasswordHasher, PasswordParams, PasswordPolicyError,
    check_new_password,
};

fn fast() -> PasswordHasher {
    PasswordHasher::new(PasswordParams::FAST_INSECURE).unwrap()
}

#[test]
fn hash_is_an_argon2id_phc_string_with_our_parameters() {
    let h = fast();
    let phc = h.hash("correct horse battery").unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
    // Fresh salt each time.
    assert_ne!(phc, h.hash("correct horse battery").unwrap());
}

#[test]
fn right_password_verifies_and_wrong_does_not() {
    let h = fast();
    let phc = h.hash("correct horse battery").unwrap();
    assert_eq!(h.verify("correct horse battery", &phc), Ok(true));
    assert_eq!(h.verify("correct horse batterY", &phc), Ok(false));
    assert_eq!(h.verify("", &phc), Ok(false));
    assert!(h.verify_login("correct horse battery", Some(&phc)));
    assert!(!h.verify_login("wrong password!", Some(&phc)));
}

#[test]
fn hashes_verify_with_their_own_parameters() {
    // A hash made under old parameters still verifies after the parameters change.
    let old = fast();
    let phc = old.hash("correct horse battery").unwrap();
    let new = PasswordHasher::new(PasswordParams {
        memory_kib: 64,
        iterations: 2,
        parallelism: 1,
    })
    .unwrap();
    assert_eq!(new.verify("correct horse battery", &phc), Ok(true));
}

#[test]
fn needs_rehash_when_parameters_differ() {
    let old = fast();
    let phc = old.hash("correct horse battery").unwrap();
    assert!(!old.needs_rehash(&phc));
    let stronger = PasswordHasher::new(PasswordParams {
        memory_kib: 16,
        ..PasswordParams::FAST_INSECURE
    })
    .unwrap();
    assert!(stronger.needs_rehash(&phc));
    let more_passes = PasswordHasher::new(PasswordParams {
        iterations: 2,
        ..PasswordParams::FAST_INSECURE
    })
    .unwrap();
    assert!(more_passes.needs_rehash(&phc));
    // Another Argon2 variant, and garbage, need a new hash too.
    assert!(old.needs_rehash(&phc.replacen("argon2id", "argon2i", 1)));
    assert!(old.needs_rehash("plain-text-password"));
}

#[test]
fn malformed_or_too_costly_stored_hashes_are_errors() {
    let h = fast();
    assert!(matches!(
        h.verify("x", "not a phc string"),
        Err(PasswordError::MalformedHash(_))
    ));
    let phc = h.hash("correct horse battery").unwrap();
    let costly = phc.replacen("m=8,", "m=4000000,", 1);
    assert!(matches!(
        h.verify("correct horse battery", &costly),
        Err(PasswordError::MalformedHash(m)) if m.contains("memory cost")
    ));
    // The login path treats it as a failure, not a crash.
    assert!(!h.verify_login("correct horse battery", Some(&costly)));
}

#[test]
fn oversized_passwords_are_never_hashed() {
    let h = fast();
    let huge = "a".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(matches!(h.hash(&huge), Err(PasswordError::Hashing(_))));
    let phc = h.hash("correct horse battery").unwrap();
    assert_eq!(h.verify(&huge, &phc), Ok(false));
}

#[test]
fn unknown_user_costs_about_as_much_as_a_real_one() {
    // Parameters heavy enough that Argon2 dominates, light enough for a test.
    let h = PasswordHasher::new(PasswordParams {
        memory_kib: 4096,
        iterations: 2,
        parallelism: 1,
    })
    .unwrap();
    let phc = h.hash("correct horse battery").unwrap();
    let time = |stored: Option<&str>| {
        (0..3)
            .map(|_| {
                let t = Instant::now();
                assert!(!h.verify_login("wrong password!", stored));
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let real = time(Some(&phc));
    let unknown = time(None);
    assert!(
        real > Duration::from_micros(500),
        "Argon2 should dominate: {real:?}"
    );
    assert!(
        unknown * 3 > real && real * 3 > unknown,
        "unknown user {unknown:?} vs real user {real:?}"
    );
}

#[test]
fn policy_refuses_weak_new_passwords_with_clear_reasons() {
    assert_eq!(check_new_password("correct horse", "alice"), Ok(()));
    assert_eq!(
        check_new_password("short", "alice"),
        Err(PasswordPolicyError::TooShort { found: 5 })
    );
    assert_eq!(
        check_new_password(&"ab".repeat(129), "alice"),
        Err(PasswordPolicyError::TooLong { found: 258 })
    );
    assert_eq!(
        check_new_password("aaaaaaaaaaaa", "alice"),
        Err(PasswordPolicyError::OneRepeatedCharacter)
    );
    assert_eq!(
        check_new_password("Administrator", "administrator"),
        Err(PasswordPolicyError::SameAsUsername)
    );
    // Length counts characters, not bytes.
    assert_eq!(
        check_new_password("ééééééééé", "alice").unwrap_err(),
        PasswordPolicyError::TooShort { found: 9 }
    );
    assert_eq!(
        check_new_password(&"é".repeat(256), "alice"),
        Err(PasswordPolicyError::OneRepeatedCharacter)
    );
    let msg = PasswordPolicyError::TooShort { found: 5 }.to_string();
    assert!(msg.contains('5') && msg.contains("10"), "{msg}");
}
