package io.statebackend.incremental.transfer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads that move the files of one keyed backend to and from checkpoint storage. Each backend
 * owns one pool and closes it when it is disposed, so no transfer thread outlives its backend.
 * Threads are started on first use only.
 */
public final class TransferThreadPool implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(TransferThreadPool.class);

    /** Prefix of the names of all transfer threads, so tests can find leaked ones. */
    public static final String THREAD_NAME_PREFIX = "incremental-rocksdb-transfer";

    /**
     * How long {@link #close} waits for transfers that ignore interruption and the closing of their
     * streams.
     */
    static final long TERMINATION_TIMEOUT_SECONDS = 10;

    private static final AtomicInteger POOL_IDS = new AtomicInteger();

    private final ThreadPoolExecutor executor;

    public TransferThreadPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("A transfer pool needs at least one thread.");
        }
        this.executor =
                new ThreadPoolExecutor(
                        threads,
                        threads,
                        0L,
                        TimeUnit.MILLISECONDS,
                        new LinkedBlockingQueue<>(),
                        new NamedDaemonThreads(
                                THREAD_NAME_PREFIX + "-" + POOL_IDS.incrementAndGet()));
    }

    public ExecutorService executor() {
        return executor;
    }

    public boolean isClosed() {
        return executor.isShutdown();
    }

    /**
     * Stops the pool and waits a bounded time for its threads to end. Transfers still running are
     * interrupted and their streams were closed by the caller, so they normally end at once. A
     * thread stuck in a storage call that ignores both is left behind rather than waited for: it is
     * a daemon thread and ends when the call returns, and a backend must not hang its task's
     * cancellation on storage that does not answer.
     */
    @Override
    public void close() {
        for (Runnable neverStarted : executor.shutdownNow()) {
            // completes the future of a transfer that never ran, so no snapshot waits for it
            if (neverStarted instanceof Future) {
                ((Future<?>) neverStarted).cancel(false);
            }
        }
        final long deadline =
                System.nanoTime() + TimeUnit.SECONDS.toNanos(TERMINATION_TIMEOUT_SECONDS);
        boolean interrupted = false;
        try {
            while (true) {
                final long remaining = deadline - System.nanoTime();
                try {
                    if (executor.awaitTermination(Math.max(0L, remaining), TimeUnit.NANOSECONDS)) {
                        return;
                    }
                    if (remaining <= 0) {
                        break;
                    }
                } catch (InterruptedException e) {
                    // a cancelling task may interrupt us: keep waiting, but only until the deadline
                    interrupted = true;
                }
            }
            LOG.warn(
                    "{} transfer thread(s) did not end within {} s of being interrupted, most likely"
                            + " blocked in checkpoint storage; they are left to end when the call"
                            + " returns.",
                    executor.getActiveCount(),
                    TERMINATION_TIMEOUT_SECONDS);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static final class NamedDaemonThreads implements ThreadFactory {
        private final String prefix;
        private final AtomicInteger count = new AtomicInteger();

        NamedDaemonThreads(String prefix) {
            this.prefix = prefix;
        }

        @Override
        public Thread newThread(Runnable runnable) {
            Thread thread = new Thread(runnable, prefix + "-thread-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        }
    }
}
