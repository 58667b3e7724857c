//! A panic inside the SDK becomes an error. hiero-sdk 0.45 panics ("timeout while network had no
//! healthy nodes") when every node stayed unreachable until its back-off gave up; a coordinator
//! must report that, not die with it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Runs an SDK call; a panic while polling it is an error that is not retried (the SDK panics
/// only once its own retries are spent).
pub(crate) async fn guarded<T>(call: impl Future<Output = hiero_sdk::Result<T>>) -> hiero_sdk::Result<T> {
    match (CatchPanic { inner: Box::pin(call) }).await {
        Ok(answer) => answer,
        Err(reason) => Err(hiero_sdk::Error::GrpcStatus(tonic::Status::failed_precondition(
            format!("no node answered: {reason}"),
        ))),
    }
}

struct CatchPanic<F> {
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match catch_unwind(AssertUnwindSafe(|| self.inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(answer)) => Poll::Ready(Ok(answer)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                let reason = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".to_string());
                Poll::Ready(Err(reason))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error() {
        let answer: hiero_sdk::Result<u8> = guarded(async { panic!("no healthy nodes") }).await;
        let error = answer.expect_err("the panic is an error");
        assert!(error.to_string().contains("no healthy nodes"), "{error}");
        assert_eq!(guarded(async { Ok(7) }).await.ok(), Some(7));
    }
}
