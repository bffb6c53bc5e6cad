package io.statebackend.incremental.transfer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.Closeable;
import java.util.concurrent.ExecutorService;
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

    private static final long TERMINATION_TIMEOUT_SECONDS = 60;

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
     * Stops the pool and waits for its threads to end. Transfers still running are interrupted;
     * callers close their streams first, so they end promptly.
     */
    @Override
    public void close() {
        executor.shutdownNow();
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    if (!executor.awaitTermination(TERMINATION_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                        LOG.warn(
                                "Transfer threads did not end within {} s after being interrupted.",
                                TERMINATION_TIMEOUT_SECONDS);
                    }
                    return;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
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
