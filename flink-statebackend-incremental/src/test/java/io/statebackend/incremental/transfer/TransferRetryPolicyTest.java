package io.statebackend.incremental.transfer;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.util.IOUtils;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tests for {@link TransferRetryPolicy}, with a sleeper that records instead of waiting. */
class TransferRetryPolicyTest {

    private final List<Long> sleeps = new ArrayList<>();
    private final AtomicInteger attempts = new AtomicInteger();

    private TransferRetryPolicy policy(int retries, double random) {
        return new TransferRetryPolicy(
                retries,
                Duration.ofMillis(100),
                Duration.ofMillis(1000),
                (millis, cancellation) -> {
                    sleeps.add(millis);
                    return cancellation.isCancelled();
                },
                () -> random);
    }

    @Test
    void backoffDoublesUpToTheMaximumAndJitterTakesOffAtMostHalf() {
        TransferRetryPolicy noJitter = policy(10, 0.0);
        assertThat(List.of(1, 2, 3, 4, 5, 6, 40))
                .extracting(noJitter::backoffMillis)
                .containsExactly(100L, 200L, 400L, 800L, 1000L, 1000L, 1000L);
        TransferRetryPolicy fullJitter = policy(10, 1.0);
        assertThat(List.of(1, 2, 3, 4, 5))
                .extracting(fullJitter::backoffMillis)
                .containsExactly(50L, 100L, 200L, 400L, 500L);
    }

    @Test
    void transientFailuresAreRetriedUntilSuccess() throws Exception {
        TransferRetryPolicy policy = policy(3, 0.0);
        String result =
                policy.call(
                        "upload 000042.sst",
                        () -> {
                            if (attempts.incrementAndGet() < 3) {
                                throw new IOException("flaky " + attempts.get());
                            }
                            return "done";
                        },
                        TransferCancellation.registeredWith(new CloseableRegistry()));
        assertThat(result).isEqualTo("done");
        assertThat(attempts).hasValue(3);
        assertThat(sleeps).containsExactly(100L, 200L);
    }

    @Test
    void exhaustedAttemptsNameTheTransferAndCarryEveryCause() {
        TransferRetryPolicy policy = policy(2, 0.0);
        assertThatThrownBy(
                        () ->
                                alwaysThrottled(
                                        policy,
                                        TransferCancellation.registeredWith(
                                                new CloseableRegistry())))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("Could not upload 000042.sst after 3 attempts")
                .hasMessageContaining("attempt 1: java.io.IOException: throttled 1")
                .hasMessageContaining("attempt 2: java.io.IOException: throttled 2")
                .hasMessageContaining("attempt 3: java.io.IOException: throttled 3")
                .satisfies(
                        e -> {
                            assertThat(e.getCause()).hasMessage("throttled 3");
                            assertThat(e.getSuppressed())
                                    .extracting(Throwable::getMessage)
                                    .containsExactly("throttled 1", "throttled 2");
                        });
        assertThat(attempts).hasValue(3);
        assertThat(sleeps).hasSize(2);
    }

    @Test
    void failureToWriteTheLocalDiskIsNotRetried() {
        TransferRetryPolicy policy = policy(3, 0.0);
        assertThatThrownBy(
                        () ->
                                policy.call(
                                        "download 000042.sst",
                                        () -> {
                                            attempts.incrementAndGet();
                                            // wrapped, as the downloader names the file it read
                                            throw new IOException(
                                                    "Could not download",
                                                    LocalFileFailure.writing(
                                                            Paths.get("db", "000042.sst"),
                                                            new IOException(
                                                                    "No space left on device")));
                                        },
                                        TransferCancellation.registeredWith(
                                                new CloseableRegistry())))
                .hasMessageContaining("Could not download 000042.sst after 1 attempt: ")
                .hasRootCauseMessage("No space left on device");
        assertThat(attempts).hasValue(1);
        assertThat(sleeps).isEmpty();
    }

    @Test
    void noRetriesFailsAtTheFirstFailure() {
        assertThatThrownBy(
                        () ->
                                TransferRetryPolicy.NONE.call(
                                        "download x",
                                        () -> {
                                            attempts.incrementAndGet();
                                            throw new IOException("gone");
                                        },
                                        TransferCancellation.registeredWith(
                                                new CloseableRegistry())))
                .hasMessageContaining("Could not download x after 1 attempt: ");
        assertThat(attempts).hasValue(1);
    }

    @Test
    void cancellationDuringBackoffStopsWithoutAnotherAttempt() throws Exception {
        CloseableRegistry registry = new CloseableRegistry();
        TransferCancellation cancellation = TransferCancellation.registeredWith(registry);
        TransferRetryPolicy policy =
                new TransferRetryPolicy(
                        5,
                        Duration.ofHours(1),
                        Duration.ofHours(1),
                        (millis, c) -> {
                            sleeps.add(millis);
                            // the snapshot is cancelled while this transfer waits
                            IOUtils.closeQuietly(registry);
                            return c.awaitCancellation(millis);
                        },
                        () -> 0.0);
        assertThatThrownBy(() -> alwaysThrottled(policy, cancellation))
                .isInstanceOf(CancellationException.class)
                .hasMessageContaining("upload 000042.sst")
                .satisfies(
                        e ->
                                assertThat(e.getSuppressed())
                                        .extracting(Throwable::getMessage)
                                        .containsExactly("throttled 1"));
        assertThat(attempts).as("attempts after the cancellation").hasValue(1);
        assertThat(sleeps).hasSize(1);
    }

    @Test
    void failureOfACancelledTransferIsNotRetried() {
        CloseableRegistry registry = new CloseableRegistry();
        TransferCancellation cancellation = TransferCancellation.registeredWith(registry);
        TransferRetryPolicy policy = policy(5, 0.0);
        assertThatThrownBy(
                        () ->
                                policy.call(
                                        "upload 000042.sst",
                                        () -> {
                                            attempts.incrementAndGet();
                                            // closing the registry closes the stream in use
                                            registry.close();
                                            throw new IOException("stream closed");
                                        },
                                        cancellation))
                .hasMessage("stream closed");
        assertThat(attempts).hasValue(1);
        assertThat(sleeps).isEmpty();
    }

    @Test
    void interruptionDuringBackoffStopsAndKeepsTheInterruptFlag() {
        TransferRetryPolicy policy =
                new TransferRetryPolicy(
                        5,
                        Duration.ofHours(1),
                        Duration.ofHours(1),
                        (millis, c) -> {
                            Thread.currentThread().interrupt();
                            return c.awaitCancellation(millis);
                        },
                        () -> 0.0);
        try {
            assertThatThrownBy(
                            () ->
                                    policy.call(
                                            "download y",
                                            () -> {
                                                attempts.incrementAndGet();
                                                throw new IOException("reset");
                                            },
                                            TransferCancellation.registeredWith(
                                                    new CloseableRegistry())))
                    .isInstanceOf(CancellationException.class);
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
            assertThat(attempts).hasValue(1);
        } finally {
            Thread.interrupted();
        }
    }

    /** An upload of 000042.sst whose every attempt is throttled, counted in {@link #attempts}. */
    private Object alwaysThrottled(TransferRetryPolicy policy, TransferCancellation cancellation)
            throws Exception {
        return policy.call(
                "upload 000042.sst",
                () -> {
                    throw new IOException("throttled " + attempts.incrementAndGet());
                },
                cancellation);
    }

    @Test
    void registeringWithAClosedRegistryCancelsAtOnce() throws Exception {
        CloseableRegistry registry = new CloseableRegistry();
        registry.close();
        assertThat(TransferCancellation.registeredWith(registry).isCancelled()).isTrue();
    }
}
