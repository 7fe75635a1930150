//! Triport against a stub server answering canned bodies: the shared error guide's tags and
//! a proxy's bare answers, which the emulator does not send.

use affiliate_core::{ErrorKind, InviteeSource, Scope, SourceError};
use affiliate_tests::stub::canned;
use affiliate_tests::FastTransport;
use affiliate_triport::{SourceBuilder, TriportBuilder, TriportError};
use futures::StreamExt;

/// The first error of a listing against a server that always answers `status` + `body`.
async fn listing_error(status: u16, content_type: &'static str, body: &str) -> SourceError {
    let (url, _hits) = canned(status, content_type, body.to_owned()).await;
    let source = TriportBuilder::new()
        .with_base_url(url)
        .with_session("stub-session")
        .fast()
        .build()
        .expect("client");
    let mut stream = source.invitees(Scope::full());
    loop {
        match stream.next().await {
            Some(Err(err)) => return err,
            Some(Ok(_)) => continue,
            None => panic!("the listing was expected to fail"),
        }
    }
}

#[tokio::test]
async fn tier_insufficient_and_trial_expired_are_their_own_variants() {
    let err = listing_error(403, "application/json", r#"{"error":"tier_insufficient"}"#).await;
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::TierInsufficient(_))
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    let err = listing_error(401, "application/json", r#"{"error":"trial_expired"}"#).await;
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::TrialExpired(_))
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
}

#[tokio::test]
async fn a_proxys_bare_answers_map_to_their_kinds() {
    for (status, kind) in [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (429, ErrorKind::RateLimited),
    ] {
        let err = listing_error(status, "text/html", "<html>denied</html>").await;
        assert!(
            matches!(
                err.downcast_ref::<TriportError>(),
                Some(TriportError::UnexpectedStatus { .. })
            ),
            "{status}: {err}"
        );
        assert_eq!(err.kind(), kind, "{status}: {err}");
    }
}

#[tokio::test]
async fn admin_token_unset_is_the_servers_configuration() {
    let (url, _hits) = canned(
        401,
        "application/json",
        r#"{"error":"admin_token_unset"}"#.into(),
    )
    .await;
    let client = TriportBuilder::new()
        .with_base_url(url)
        .with_admin_token("operator")
        .fast()
        .build()
        .expect("client");
    let err = client
        .get_user("3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e")
        .await
        .expect_err("the admin surface is off");
    assert!(
        matches!(
            err.downcast_ref::<TriportError>(),
            Some(TriportError::AdminTokenUnset(_))
        ),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Disabled);
}
