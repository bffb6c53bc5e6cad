package io.statebackend.incremental.transfer;

import javax.annotation.Nullable;

import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waiting for the parallel transfers of one checkpoint, shared by upload and download. */
final class TransferFutures {

    private TransferFutures() {}

    /**
     * Waits for every transfer, also when interrupted: what they wrote may only be cleaned up once
     * none of them writes any more. An interruption stops the remaining transfers through {@code
     * cancellation}, and the thread's interrupt flag is restored before returning.
     *
     * @param results receives the result of every successful transfer, in order
     * @return the failure to report, or null if all transfers succeeded
     */
    @Nullable
    static <T> Throwable awaitAll(
            List<Future<T>> futures,
            List<T> results,
            TransferCancellation cancellation,
            @Nullable Throwable failure,
            String interruptedMessage) {
        boolean interrupted = false;
        for (Future<T> future : futures) {
            while (true) {
                try {
                    results.add(future.get());
                    break;
                } catch (ExecutionException e) {
                    failure = firstOrSuppressed(e.getCause(), failure);
                    break;
                } catch (CancellationException e) {
                    // never ran: the pool was closed while it waited in the queue
                    failure = firstOrSuppressed(e, failure);
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    cancellation.cancel();
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            if (failure == null) {
                failure = new InterruptedException(interruptedMessage);
            }
        }
        return failure;
    }

    /**
     * The real failure is the first that is not a cancellation; the cancellations it caused in the
     * other transfers are noise.
     */
    static Throwable firstOrSuppressed(Throwable next, @Nullable Throwable first) {
        if (first == null
                || (first instanceof CancellationException
                        && !(next instanceof CancellationException))) {
            return next;
        }
        if (!(next instanceof CancellationException) && first != next) {
            first.addSuppressed(next);
        }
        return first;
    }
}
