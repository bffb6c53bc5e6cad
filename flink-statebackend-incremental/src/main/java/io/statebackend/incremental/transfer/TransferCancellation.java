package io.statebackend.incremental.transfer;

import org.apache.flink.core.fs.CloseableRegistry;

import javax.annotation.Nullable;

import java.io.Closeable;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The stop signal shared by the parallel transfers of one upload or download: set when a file
 * failed for good, when the caller was interrupted, or when the snapshot's or restore's {@link
 * CloseableRegistry} is closed. A transfer waiting between two attempts wakes up as soon as it is
 * set, so that a cancelled checkpoint never sleeps through a backoff, and one waiting for another
 * transfer's result stops waiting.
 */
final class TransferCancellation implements Closeable {

    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
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
        stopped.complete(null);
    }

    boolean isCancelled() {
        return stopped.isDone() || registry.isClosed();
    }

    /**
     * Waits up to {@code millis} or until cancelled, whichever comes first.
     *
     * @return true if cancelled
     * @throws InterruptedException if the waiting thread is interrupted
     */
    boolean awaitCancellation(long millis) throws InterruptedException {
        try {
            stopped.get(millis, TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException notYet) {
            return isCancelled();
        } catch (ExecutionException impossible) {
            // the signal is only ever completed normally
            return true;
        }
    }

    /**
     * Waits until {@code result} is done or this is cancelled, whichever comes first.
     *
     * @return the result, or null if cancelled first
     * @throws ExecutionException if the result failed
     * @throws InterruptedException if the waiting thread is interrupted
     */
    @Nullable
    <T> T awaitUnlessCancelled(CompletableFuture<T> result)
            throws ExecutionException, InterruptedException {
        try {
            CompletableFuture.anyOf(result, stopped).get();
        } catch (ExecutionException resultFailed) {
            // reported below, unless cancelled
        }
        return isCancelled() ? null : result.get();
    }

    /** Called by the registry when the snapshot or restore is cancelled. */
    @Override
    public void close() {
        cancel();
    }
}
