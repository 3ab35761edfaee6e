//! The request id of the client call being served, for the retry cache:
//! the native API's handlers of calls that change the namespace run the
//! call inside [`scope`] with the id from the call's
//! [`REQUEST_ID_HEADER`], and the namesystem puts [`current`] into the
//! commands the call proposes (HDFS passes its client and call ids the
//! same way, beside the call's arguments).
//!
//! A leaf; nothing here touches the namespace.
use dfs_common::ids::RequestId;
use dfs_common::proto::client::REQUEST_ID_HEADER;
use std::future::Future;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the call being served, if it named one.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(|r| *r).ok()
}

/// Runs `f` as the call `id` (as no call when `None`).
pub async fn scope<F: Future>(id: Option<RequestId>, f: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, f).await,
        None => f.await,
    }
}

/// The id in a header value; `Err` says why it is not one.
pub fn parse(value: Option<&[u8]>) -> Result<Option<RequestId>, String> {
    let Some(v) = value else {
        return Ok(None);
    };
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| format!("header {REQUEST_ID_HEADER} must be a UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scoped_ids() {
        assert_eq!(current(), None);
        let id = RequestId::new();
        assert_eq!(scope(Some(id), async { current() }).await, Some(id));
        assert_eq!(scope(None, async { current() }).await, None);
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some(id.to_string().as_bytes())), Ok(Some(id)));
        assert!(parse(Some(b"nope")).is_err());
    }
}
