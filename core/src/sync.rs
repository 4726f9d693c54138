//! A small runtime-free async mutex: serializes store mutations (change, seal, save)
//! so two concurrent writers never persist images out of order.

use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    locked: bool,
    waiters: Vec<Waker>,
}

/// Fair enough for our use: on unlock every waiter is woken and re-contends, so a
/// cancelled waiter can never strand the others.
#[derive(Default)]
pub(crate) struct AsyncMutex(spin::Mutex<Inner>);

pub(crate) struct Guard<'a>(&'a AsyncMutex);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        let waiters = {
            let mut inner = self.0.0.lock();
            inner.locked = false;
            core::mem::take(&mut inner.waiters)
        };
        for w in waiters {
            w.wake();
        }
    }
}

pub(crate) struct Lock<'a>(&'a AsyncMutex);

impl<'a> Future for Lock<'a> {
    type Output = Guard<'a>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Guard<'a>> {
        let m = self.0;
        let mut inner = m.0.lock();
        if inner.locked {
            if !inner.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                inner.waiters.push(cx.waker().clone());
            }
            Poll::Pending
        } else {
            inner.locked = true;
            Poll::Ready(Guard(m))
        }
    }
}

impl AsyncMutex {
    pub(crate) fn lock(&self) -> Lock<'_> {
        Lock(self)
    }
}

/// Polls `fut` once; its value when it is already done, else `None` (the future is
/// dropped). For faces that must stay synchronous over actions that never wait.
pub(crate) fn poll_ready<F: Future>(fut: F) -> Option<F::Output> {
    let mut fut = core::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// Runs `futs` together and gives their outputs in order: each is polled whenever the
/// whole is, so requests they start are in flight at once (a connected Kms's wraps of
/// one data key under several recipients: one round trip, not one per recipient, where
/// the HTTP client is asynchronous, as `fetch` is).
#[cfg(feature = "wire")]
pub(crate) async fn join_all<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<alloc::boxed::Box<F>>> =
        futs.into_iter().map(alloc::boxed::Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    core::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => *o = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
