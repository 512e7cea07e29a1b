//! Work after the answer: a runtime layer whose invocation ends only once
//! the response has been posted to the Lambda runtime API and then `hook` has
//! run. API Gateway has the answer while the hook publishes the decision's
//! events; the runtime asks for the next invocation after it (Lambda keeps
//! the environment running until then, so nothing is frozen mid-publish).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use lambda_http::lambda_runtime::LambdaInvocation;
use lambda_http::tower::{Layer, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

#[derive(Clone)]
pub struct AfterResponse<H> {
    hook: H,
}

impl<H> AfterResponse<H> {
    pub fn new(hook: H) -> Self {
        Self { hook }
    }
}

impl<S, H: Clone> Layer<S> for AfterResponse<H> {
    type Service = AfterResponseService<S, H>;
    fn layer(&self, inner: S) -> Self::Service {
        AfterResponseService {
            inner,
            hook: self.hook.clone(),
        }
    }
}

pub struct AfterResponseService<S, H> {
    inner: S,
    hook: H,
}

impl<S, H, F> Service<LambdaInvocation> for AfterResponseService<S, H>
where
    S: Service<LambdaInvocation, Response = (), Error = BoxError>,
    S::Future: Send + 'static,
    H: Fn() -> F,
    F: Future<Output = ()> + Send + 'static,
{
    type Response = ();
    type Error = BoxError;
    type Future = BoxFuture<Result<(), BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        // The inner service posts the response; only then does the hook start.
        let answered = self.inner.call(invocation);
        let hook = (self.hook)();
        Box::pin(async move {
            let result = answered.await;
            hook.await;
            result
        })
    }
}
