package io.statebackend.incremental.transfer;

import org.apache.flink.util.ExceptionUtils;
import org.apache.flink.util.Preconditions;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.DoubleSupplier;

/**
 * How often the transfer of one file is tried and how long to wait in between: after the first
 * attempt up to {@code retries} more, each after an exponentially growing backoff with jitter (so
 * that the parallel transfers of many tasks, throttled together, do not retry together).
 *
 * <p>A failure is retried unless the transfers were cancelled meanwhile or it was a failure to read
 * or write the local disk ({@link LocalFileFailure}), which a retry would only repeat; cancellation
 * also ends a backoff at once. When a file exhausts its attempts, the exception names it and
 * carries the cause of every attempt.
 */
public final class TransferRetryPolicy {

    private static final Logger LOG = LoggerFactory.getLogger(TransferRetryPolicy.class);

    /** One attempt at transferring a file; cleans up after itself when it fails. */
    @FunctionalInterface
    interface Attempt<T> {
        T run() throws Exception;
    }

    /** Waits out a backoff; returns early, with true, when the transfers are cancelled. */
    @FunctionalInterface
    interface BackoffSleeper {
        boolean sleep(long millis, TransferCancellation cancellation) throws InterruptedException;
    }

    /** No retries: a failed attempt fails the transfer. */
    public static final TransferRetryPolicy NONE =
            new TransferRetryPolicy(0, Duration.ZERO, Duration.ZERO);

    private final int retries;
    private final long initialBackoffMillis;
    private final long maxBackoffMillis;
    private final BackoffSleeper sleeper;
    private final DoubleSupplier random;

    public TransferRetryPolicy(int retries, Duration initialBackoff, Duration maxBackoff) {
        this(
                retries,
                initialBackoff,
                maxBackoff,
                (millis, cancellation) -> cancellation.awaitCancellation(millis),
                () -> ThreadLocalRandom.current().nextDouble());
    }

    TransferRetryPolicy(
            int retries,
            Duration initialBackoff,
            Duration maxBackoff,
            BackoffSleeper sleeper,
            DoubleSupplier random) {
        Preconditions.checkArgument(retries >= 0, "retries must not be negative");
        Preconditions.checkArgument(
                !initialBackoff.isNegative() && initialBackoff.compareTo(maxBackoff) <= 0,
                "the initial backoff must be between 0 and the maximum backoff");
        this.retries = retries;
        this.initialBackoffMillis = initialBackoff.toMillis();
        this.maxBackoffMillis = maxBackoff.toMillis();
        this.sleeper = Preconditions.checkNotNull(sleeper);
        this.random = Preconditions.checkNotNull(random);
    }

    public int getRetries() {
        return retries;
    }

    /**
     * The wait after the {@code failedAttempts}-th failure before jitter: the initial backoff
     * doubled per earlier failure, capped at the maximum.
     */
    public long backoffMillisWithoutJitter(int failedAttempts) {
        long backoff = initialBackoffMillis;
        for (int i = 1; i < failedAttempts && backoff < maxBackoffMillis; i++) {
            backoff *= 2;
        }
        return Math.min(backoff, maxBackoffMillis);
    }

    /**
     * The wait after the {@code failedAttempts}-th failure: up to half of it taken off at random.
     */
    long backoffMillis(int failedAttempts) {
        final long backoff = backoffMillisWithoutJitter(failedAttempts);
        return backoff - (long) (backoff / 2.0 * random.getAsDouble());
    }

    /**
     * Runs {@code attempt} until it succeeds, the attempts are exhausted or the transfers are
     * cancelled.
     *
     * @param what the transfer, as in "upload 000042.sst", for messages
     * @throws IOException naming {@code what} and the number of attempts once all failed; the last
     *     attempt's failure is its cause, the earlier ones are suppressed
     * @throws CancellationException when cancelled during a backoff (the failures so far are
     *     suppressed)
     * @throws Exception the failure of an attempt made or ended by a cancellation, as it is
     */
    <T> T call(String what, Attempt<T> attempt, TransferCancellation cancellation)
            throws Exception {
        final List<Exception> failures = new ArrayList<>();
        while (true) {
            try {
                return attempt.run();
            } catch (CancellationException e) {
                throw withSuppressed(e, failures);
            } catch (Exception e) {
                if (cancellation.isCancelled() || Thread.currentThread().isInterrupted()) {
                    // the failure is most likely the cancellation closing the stream
                    throw withSuppressed(e, failures);
                }
                failures.add(e);
                if (failures.size() > retries
                        || ExceptionUtils.findThrowable(e, LocalFileFailure.class).isPresent()) {
                    throw exhausted(what, failures);
                }
                final long backoff = backoffMillis(failures.size());
                LOG.warn(
                        "Attempt {} of {} to {} failed; trying again in {} ms.",
                        failures.size(),
                        retries + 1,
                        what,
                        backoff,
                        e);
                final boolean cancelled;
                try {
                    cancelled = sleeper.sleep(backoff, cancellation);
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw withSuppressed(stopped(what), failures);
                }
                if (cancelled) {
                    throw withSuppressed(stopped(what), failures);
                }
            }
        }
    }

    private static CancellationException stopped(String what) {
        return new CancellationException(
                "Stopped retrying to " + what + ": the transfer was cancelled.");
    }

    private static <E extends Exception> E withSuppressed(E exception, List<Exception> failures) {
        for (Exception failure : failures) {
            if (failure != exception) {
                exception.addSuppressed(failure);
            }
        }
        return exception;
    }

    private static IOException exhausted(String what, List<Exception> failures) {
        final StringBuilder message =
                new StringBuilder("Could not ")
                        .append(what)
                        .append(" after ")
                        .append(failures.size())
                        .append(failures.size() == 1 ? " attempt" : " attempts");
        for (int i = 0; i < failures.size(); i++) {
            message.append(i == 0 ? ": " : "; ")
                    .append("attempt ")
                    .append(i + 1)
                    .append(": ")
                    .append(failures.get(i));
        }
        final Exception last = failures.get(failures.size() - 1);
        final IOException exhausted = new IOException(message.toString(), last);
        return withSuppressed(exhausted, failures.subList(0, failures.size() - 1));
    }

    @Override
    public String toString() {
        return "TransferRetryPolicy{retries="
                + retries
                + ", initialBackoff="
                + initialBackoffMillis
                + " ms, maxBackoff="
                + maxBackoffMillis
                + " ms}";
    }
}
