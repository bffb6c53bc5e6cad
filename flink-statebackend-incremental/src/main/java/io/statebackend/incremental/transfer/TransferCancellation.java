package io.statebackend.incremental.transfer;

import org.apache.flink.core.fs.CloseableRegistry;

import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The stop signal shared by the parallel transfers of one upload or download: set when a file
 * failed for good, when the caller was interrupted, or when the snapshot's or restore's {@link
 * CloseableRegistry} is closed. A transfer waiting between two attempts wakes up as soon as it is
 * set, so that a cancelled checkpoint never sleeps through a backoff.
 */
final class TransferCancellation implements Closeable {

    private final CountDownLatch stopped = new CountDownLatch(1);
    private final CloseableRegistry registry;

    private TransferCancellation(CloseableRegistry registry) {
        this.registry = registry;
    }

    /**
     * A signal that is also set when {@code registry} is closed. Must be {@link #unregister
     * unregistered} when the transfers are over.
     */
    static TransferCancellation registeredWith(CloseableRegistry registry) {
        TransferCancellation cancellation = new TransferCancellation(registry);
        try {
            registry.registerCloseable(cancellation);
        } catch (IOException alreadyClosed) {
            // the registry closed the signal while refusing it: the transfers stop at once
            cancellation.cancel();
        }
        return cancellation;
    }

    void unregister() {
        registry.unregisterCloseable(this);
    }

    void cancel() {
        stopped.countDown();
    }

    boolean isCancelled() {
        return stopped.getCount() == 0 || registry.isClosed();
    }

    /**
     * Waits up to {@code millis} or until cancelled, whichever comes first.
     *
     * @return true if cancelled
     * @throws InterruptedException if the waiting thread is interrupted
     */
    boolean awaitCancellation(long millis) throws InterruptedException {
        return stopped.await(millis, TimeUnit.MILLISECONDS) || isCancelled();
    }

    /** Called by the registry when the snapshot or restore is cancelled. */
    @Override
    public void close() {
        cancel();
    }
}
