//! An overall deadline on a listing.

use std::time::Duration;

use futures::{SinkExt, StreamExt};

use super::{generate, PageStream, PaginationError};
use crate::Provider;

/// Passes `pages` through until `length` has passed since the listing began, then ends it
/// with [`PaginationError::Deadline`] (dropping the walk and its requests in flight). A
/// server that trickles its answers or never ends a body cannot hold the listing longer.
pub(super) fn bounded(pages: PageStream, length: Duration, provider: Provider) -> PageStream {
    generate(move |mut out| async move {
        let mut pages = pages;
        let expired = tokio::time::sleep(length);
        tokio::pin!(expired);
        loop {
            let page = tokio::select! {
                page = pages.next() => page,
                () = &mut expired => {
                    let err = PaginationError::Deadline(length).into_source_error(&provider);
                    out.send(Err(err)).await.ok();
                    return;
                }
            };
            let Some(page) = page else {
                return;
            };
            if out.send(page).await.is_err() {
                return;
            }
        }
    })
}
