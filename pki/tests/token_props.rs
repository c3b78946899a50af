//! Property tests: token parsing never panics, and tokens survive their string.

use hotspot_pki::{EnrollmentToken, SiteId};
use proptest::prelude::*;
use time::OffsetDateTime;

proptest! {
    #[test]
    fn parsing_arbitrary_strings_never_panics(s in any::<String>()) {
        let _ = s.parse::<EnrollmentToken>();
    }

    #[test]
    fn parsing_token_shaped_strings_never_panics(
        parts in proptest::collection::vec("[a-zA-Z0-9\\-é.]{0,70}", 0..7)
    ) {
        let s = format!("hfe1.{}", parts.join("."));
        let _ = s.parse::<EnrollmentToken>();
    }

    #[test]
    fn tokens_round_trip_through_their_string(
        site in "[a-z0-9][a-z0-9-]{0,63}",
        ca in any::<[u8; 32]>(),
        seed in any::<u64>(),
    ) {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let site: SiteId = site.parse().unwrap();
        let (token, record) = EnrollmentToken::new(site, ca, OffsetDateTime::UNIX_EPOCH, &mut rng);
        let s = token.to_string();
        prop_assert!(s.len() <= hotspot_pki::token::MAX_TOKEN_LEN);
        let back: EnrollmentToken = s.parse().unwrap();
        prop_assert_eq!(&back, &token);
        prop_assert!(back.verify_secret(&record.secret_hash));
        prop_assert_eq!(back.ca_fingerprint(), ca);
    }
}
