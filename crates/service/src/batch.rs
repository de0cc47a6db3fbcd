//! Helpers for group-commit writers: a task that takes every job waiting in its queue and
//! writes them with one statement and one commit.

/// How many runtime turns [`gather`] gives.
pub const GATHER_YIELDS: usize = 4;

/// Lets requests that are already runnable reach a writer's queue before it takes a batch:
/// each yield gives the runtime one turn (ready sockets are polled, their handlers run up
/// to the point where they queue their write). With nothing else ready the turns cost next
/// to nothing, so a lone request is not delayed by a timer; under load batches grow, and
/// each job that joins a batch is a commit saved.
pub async fn gather() {
    for _ in 0..GATHER_YIELDS {
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::mpsc;

    /// Jobs queued by tasks that become runnable while the writer gathers end up in the
    /// same batch.
    #[tokio::test(flavor = "current_thread")]
    async fn runnable_senders_join_the_batch() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..3 {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(i).unwrap() });
        }
        tx.send(99).unwrap();
        let first = rx.recv().await.unwrap();
        super::gather().await;
        let mut batch = vec![first];
        while let Ok(j) = rx.try_recv() {
            batch.push(j);
        }
        batch.sort_unstable();
        assert_eq!(batch, vec![0, 1, 2, 99]);
    }
}
