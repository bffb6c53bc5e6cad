package io.statebackend.incremental.transfer;

import io.statebackend.incremental.testutils.FlakyStreamStateHandle;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.FlakyStreamFactory;
import io.statebackend.incremental.transfer.RocksDBStateUploader.FileUpload;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static io.statebackend.incremental.transfer.RocksDBStateUploaderTest.createFiles;
import static io.statebackend.incremental.transfer.RocksDBStateUploaderTest.read;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Uploads and downloads against storage that fails transiently or for good: retried files arrive
 * intact, failed attempts leave nothing behind, a file that exhausts its attempts fails the
 * transfer naming it, and cancellation during a backoff ends it without another attempt. The
 * backoffs are recorded or waited on a signal, never on the clock.
 */
// a safety net so that a transfer waiting out a backoff after cancellation fails the test
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class TransferRetriesTest {

    @TempDir Path tempDir;

    private final TransferThreadPool pool = new TransferThreadPool(3);
    private final List<Long> backoffs = new ArrayList<>();

    @AfterEach
    void closePool() {
        pool.close();
    }

    /** Retries with recorded backoffs that do not wait. */
    private TransferRetryPolicy recordingRetries(int retries) {
        return new TransferRetryPolicy(
                retries,
                Duration.ofMillis(100),
                Duration.ofSeconds(1),
                (millis, cancellation) -> {
                    synchronized (backoffs) {
                        backoffs.add(millis);
                    }
                    return cancellation.isCancelled();
                },
                () -> 0.5);
    }

    @ParameterizedTest(name = "failOnComplete={0}")
    @ValueSource(booleans = {false, true})
    void transientUploadFailuresAreRetriedAndLeaveNoPartialFile(boolean failOnComplete)
            throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 6, 50_000);
        Path storage = tempDir.resolve("storage");
        FlakyStreamFactory flaky =
                new FlakyStreamFactory(
                        TestStreamFactories.files(storage),
                        CheckpointedStateScope.SHARED,
                        3,
                        failOnComplete);

        List<StateFile> uploaded =
                new RocksDBStateUploader(pool.executor(), recordingRetries(3))
                        .upload(uploads(local), flaky, new CloseableRegistry());

        // no more failures than retries: whichever files they hit, every file gets through
        assertThat(flaky.failedStreams()).isEqualTo(3);
        assertThat(backoffs).hasSize(3);
        for (int i = 0; i < local.size(); i++) {
            assertThat(read(uploaded.get(i).getHandle()))
                    .isEqualTo(Files.readAllBytes(local.get(i)));
        }
        assertThat(TestStreamFactories.filesBelow(storage))
                .as("files in storage: exactly those of the handles")
                .containsExactlyInAnyOrderElementsOf(paths(uploaded));
    }

    @Test
    void fileThatExhaustsItsAttemptsFailsTheUploadNamingItAndLeavesNothing() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 1, 50_000);
        Path storage = tempDir.resolve("storage");
        FlakyStreamFactory broken =
                FlakyStreamFactory.failingAlways(
                        TestStreamFactories.files(storage), CheckpointedStateScope.SHARED);

        assertThatThrownBy(
                        () ->
                                new RocksDBStateUploader(pool.executor(), recordingRetries(2))
                                        .upload(uploads(local), broken, new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("Could not upload " + local.get(0))
                .hasMessageContaining("after 3 attempts")
                .hasMessageContaining("attempt 1: java.io.IOException: Injected transient failure")
                .hasMessageContaining("attempt 3: java.io.IOException: Injected transient failure")
                .satisfies(e -> assertThat(e.getSuppressed()).hasSize(2));
        assertThat(broken.createdStreams()).isEqualTo(3);
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    /**
     * A local file that is gone, or cannot be read (a directory in its place), fails at its first
     * attempt: another attempt would read the same disk.
     */
    @ParameterizedTest(name = "directory={0}")
    @ValueSource(booleans = {false, true})
    void localFileThatCannotBeReadFailsTheUploadAtOnce(boolean directory) throws Exception {
        List<Path> local = new ArrayList<>(createFiles(tempDir.resolve("local"), 2, 50_000));
        Path unreadable = tempDir.resolve("local").resolve("000099.sst");
        if (directory) {
            Files.createDirectory(unreadable);
        }
        local.add(unreadable);
        Path storage = tempDir.resolve("storage");

        assertThatThrownBy(
                        () ->
                                new RocksDBStateUploader(pool.executor(), recordingRetries(3))
                                        .upload(
                                                uploads(local),
                                                TestStreamFactories.files(storage),
                                                new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(
                        "Could not upload " + unreadable + " (SHARED) after 1 attempt: ")
                .hasMessageContaining(
                        "Could not read "
                                + unreadable
                                + ": "
                                + (directory ? "Is a directory" : "it does not exist"))
                .hasMessageNotContaining("attempt 2");
        assertThat(backoffs).isEmpty();
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    /**
     * A file its upload check refuses is not uploaded, nor tried again, and the other files of the
     * upload are not kept either.
     */
    @Test
    void fileThatFailsTheUploadCheckFailsTheUploadAtOnce() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 3, 50_000);
        Path refused = local.get(1);
        Path storage = tempDir.resolve("storage");
        AtomicInteger checks = new AtomicInteger();
        UploadCheck check =
                file -> {
                    checks.incrementAndGet();
                    if (file.equals(refused)) {
                        throw new IOException("Refused " + file.getFileName());
                    }
                };

        assertThatThrownBy(
                        () ->
                                new RocksDBStateUploader(
                                                pool.executor(), recordingRetries(3), check)
                                        .upload(
                                                uploads(local),
                                                TestStreamFactories.files(storage),
                                                new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessage("Refused " + refused.getFileName());
        assertThat(checks.get()).isBetween(1, 3);
        assertThat(backoffs).isEmpty();
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    @Test
    void cancellingDuringBackoffStopsTheUploadWithoutAnotherAttempt() throws Exception {
        checkCancelDuringBackoff(false);
    }

    @Test
    void interruptingTheUploadDuringBackoffStopsItWithoutAnotherAttempt() throws Exception {
        checkCancelDuringBackoff(true);
    }

    private void checkCancelDuringBackoff(boolean byInterrupt) throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 1, 50_000);
        Path storage = tempDir.resolve("storage");
        FlakyStreamFactory broken =
                FlakyStreamFactory.failingAlways(
                        TestStreamFactories.files(storage), CheckpointedStateScope.SHARED);
        CountDownLatch inBackoff = new CountDownLatch(1);
        AtomicInteger backoffsEnded = new AtomicInteger();
        // an hour's backoff: only the cancellation can end it before the test's timeout
        TransferRetryPolicy slowRetries =
                new TransferRetryPolicy(
                        5,
                        Duration.ofHours(1),
                        Duration.ofHours(1),
                        (millis, cancellation) -> {
                            inBackoff.countDown();
                            boolean cancelled = cancellation.awaitCancellation(millis);
                            backoffsEnded.incrementAndGet();
                            return cancelled;
                        },
                        () -> 0.0);
        CloseableRegistry registry = new CloseableRegistry();
        AtomicReference<Thread> uploading = new AtomicReference<>();
        CompletableFuture<List<StateFile>> upload =
                CompletableFuture.supplyAsync(
                        () -> {
                            uploading.set(Thread.currentThread());
                            try {
                                return new RocksDBStateUploader(pool.executor(), slowRetries)
                                        .upload(uploads(local), broken, registry);
                            } catch (Exception e) {
                                throw new RuntimeException(e);
                            }
                        },
                        runnable -> new Thread(runnable, "snapshot").start());

        inBackoff.await();
        if (byInterrupt) {
            uploading.get().interrupt();
        } else {
            registry.close();
        }

        assertThatThrownBy(upload::get)
                .isInstanceOf(ExecutionException.class)
                .hasStackTraceContaining(CancellationException.class.getName())
                .hasStackTraceContaining("Stopped retrying to upload " + local.get(0));
        assertThat(backoffsEnded).hasValue(1);
        assertThat(broken.createdStreams()).as("attempts made").isEqualTo(1);
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    @Test
    void transientReadFailuresAreRetriedAndTheFilesAreExact() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 5, 80_000);
        List<StateFile> flaky = new ArrayList<>();
        for (StateFile file : uploadReliably(local)) {
            flaky.add(file.withHandle(new FlakyStreamStateHandle(file.getHandle(), 2)));
        }
        Path target = tempDir.resolve("target");

        new RocksDBStateDownloader(pool.executor(), recordingRetries(3))
                .download(7L, flaky, target, new CloseableRegistry());

        for (Path file : local) {
            assertThat(target.resolve(file.getFileName())).hasSameBinaryContentAs(file);
        }
        assertThat(backoffs).as("two failed reads per file").hasSize(2 * local.size());
    }

    @Test
    void fileThatCannotBeReadFailsTheDownloadNamingItAndLeavesNothing() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 3, 80_000);
        List<StateFile> files = new ArrayList<>(uploadReliably(local));
        StateFile victim = files.get(1);
        FlakyStreamStateHandle broken =
                new FlakyStreamStateHandle(victim.getHandle(), Integer.MAX_VALUE);
        files.set(1, victim.withHandle(broken));
        Path target = tempDir.resolve("target");

        assertThatThrownBy(
                        () ->
                                new RocksDBStateDownloader(pool.executor(), recordingRetries(2))
                                        .download(7L, files, target, new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(
                        "Could not download file '"
                                + victim.getName()
                                + "' of checkpoint 7 after 3 attempts")
                .hasMessageContaining("attempt 3: ")
                .hasMessageContaining("Injected read failure");
        assertThat(broken.openedStreams()).isEqualTo(3);
        assertThat(target).doesNotExist();
    }

    // ------------------------------------------------------------------------

    private static List<FileUpload> uploads(List<Path> local) {
        List<FileUpload> uploads = new ArrayList<>();
        for (Path file : local) {
            uploads.add(new FileUpload(file, CheckpointedStateScope.SHARED));
        }
        return uploads;
    }

    private List<StateFile> uploadReliably(List<Path> local) throws Exception {
        return new RocksDBStateUploader(pool.executor())
                .upload(
                        uploads(local),
                        TestStreamFactories.files(tempDir.resolve("storage")),
                        new CloseableRegistry());
    }

    private static Set<Path> paths(List<StateFile> files) {
        Set<Path> paths = new TreeSet<>();
        for (StateFile file : files) {
            paths.add(Paths.get(((FileStateHandle) file.getHandle()).getFilePath().toUri()));
        }
        return paths;
    }
}
