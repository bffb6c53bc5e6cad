package io.statebackend.incremental.transfer;

import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.BlockingStreamFactory;
import io.statebackend.incremental.testutils.TestStreamFactories.FailingStreamFactory;
import io.statebackend.incremental.transfer.RocksDBStateUploader.FileUpload;

import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.StreamStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tests for {@link RocksDBStateUploader}. */
class RocksDBStateUploaderTest {

    @TempDir Path tempDir;

    private final TransferThreadPool pool = new TransferThreadPool(3);

    @AfterEach
    void closePool() {
        pool.close();
    }

    /** Waits until an upload waits for the given earlier upload (it depends on its result). */
    private static void awaitWaitingFor(CompletableFuture<StateFile> earlier)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (earlier.getNumberOfDependents() == 0) {
            assertThat(System.nanoTime()).as("an upload waits").isLessThan(deadline);
            Thread.onSpinWait();
        }
    }

    /** Runs the upload on another thread, so that the test can block or cancel it meanwhile. */
    private static CompletableFuture<List<StateFile>> uploadInBackground(
            RocksDBStateUploader uploader,
            List<FileUpload> files,
            CheckpointStreamFactory factory,
            CloseableRegistry registry) {
        return CompletableFuture.supplyAsync(
                () -> {
                    try {
                        return uploader.upload(files, factory, registry);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
    }

    @Test
    void uploadsEveryFileWithItsChecksumInOrder() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 7, 10_000);
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory factory = TestStreamFactories.files(storage);

        List<FileUpload> uploads = new ArrayList<>();
        for (int i = 0; i < local.size(); i++) {
            uploads.add(
                    new FileUpload(
                            local.get(i),
                            i % 2 == 0
                                    ? CheckpointedStateScope.SHARED
                                    : CheckpointedStateScope.EXCLUSIVE));
        }
        List<StateFile> uploaded =
                new RocksDBStateUploader(pool.executor())
                        .upload(uploads, factory, new CloseableRegistry());

        assertThat(uploaded).hasSize(local.size());
        for (int i = 0; i < local.size(); i++) {
            byte[] expected = Files.readAllBytes(local.get(i));
            StateFile file = uploaded.get(i);
            assertThat(file.getName()).isEqualTo(local.get(i).getFileName().toString());
            assertThat(file.getSize()).isEqualTo(expected.length);
            assertThat(file.getChecksum()).isEqualTo(crc32c(expected));
            assertThat(read(file.getHandle())).isEqualTo(expected);
        }
        assertThat(TestStreamFactories.filesBelow(storage.resolve("shared"))).hasSize(4);
        assertThat(TestStreamFactories.filesBelow(storage.resolve("exclusive"))).hasSize(3);
    }

    @Test
    void uploadsEmptyFiles() throws Exception {
        Path empty = Files.createDirectories(tempDir.resolve("local")).resolve("000003.log");
        Files.createFile(empty);
        List<StateFile> uploaded =
                new RocksDBStateUploader(pool.executor())
                        .upload(
                                List.of(new FileUpload(empty, CheckpointedStateScope.EXCLUSIVE)),
                                TestStreamFactories.files(tempDir.resolve("storage")),
                                new CloseableRegistry());
        assertThat(uploaded).hasSize(1);
        assertThat(uploaded.get(0).getSize()).isZero();
        assertThat(read(uploaded.get(0).getHandle())).isEmpty();
    }

    @ParameterizedTest(name = "fail stream {0}, at write: {1}")
    @CsvSource({"1, false", "4, false", "9, false", "1, true", "5, true", "9, true"})
    void failedUploadLeavesNothingBehind(int failOn, boolean atWrite) throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 9, 50_000);
        Path storage = tempDir.resolve("storage");
        FailingStreamFactory factory =
                new FailingStreamFactory(TestStreamFactories.files(storage), failOn, atWrite);

        List<FileUpload> uploads = new ArrayList<>();
        for (Path file : local) {
            uploads.add(new FileUpload(file, CheckpointedStateScope.SHARED));
        }
        CloseableRegistry registry = new CloseableRegistry();
        assertThatThrownBy(
                        () ->
                                new RocksDBStateUploader(pool.executor())
                                        .upload(uploads, factory, registry))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("Injected failure");

        // every handle produced before the failure was discarded, partial files deleted
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
        assertThat(registry.getNumberOfRegisteredCloseables()).isZero();
        // local files are untouched
        for (Path file : local) {
            assertThat(file).exists();
        }
    }

    @Test
    void closingTheRegistryCancelsAndCleansUp() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 6, 50_000);
        Path storage = tempDir.resolve("storage");
        BlockingStreamFactory factory =
                new BlockingStreamFactory(TestStreamFactories.files(storage), 2);
        List<FileUpload> uploads = new ArrayList<>();
        for (Path file : local) {
            uploads.add(new FileUpload(file, CheckpointedStateScope.SHARED));
        }
        CloseableRegistry registry = new CloseableRegistry();
        CompletableFuture<List<StateFile>> upload =
                uploadInBackground(
                        new RocksDBStateUploader(pool.executor()), uploads, factory, registry);
        factory.awaitBlocked();
        registry.close();

        assertThatThrownBy(() -> upload.get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class);
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    @Test
    void usesAnUploadStartedAheadInsteadOfUploadingAgain() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 2, 10_000);
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory factory = TestStreamFactories.files(storage);
        RocksDBStateUploader uploader = new RocksDBStateUploader(pool.executor());
        StateFile ahead =
                uploader.uploadFile(
                        new FileUpload(local.get(0), CheckpointedStateScope.SHARED),
                        factory,
                        new CloseableRegistry());
        CompletableFuture<StateFile> running = new CompletableFuture<>();

        CompletableFuture<List<StateFile>> upload =
                uploadInBackground(
                        uploader,
                        List.of(
                                new FileUpload(
                                        local.get(0), CheckpointedStateScope.SHARED, running),
                                new FileUpload(local.get(1), CheckpointedStateScope.SHARED)),
                        factory,
                        new CloseableRegistry());
        awaitWaitingFor(running);
        assertThat(upload).isNotDone();
        running.complete(ahead);

        List<StateFile> uploaded = upload.get(30, TimeUnit.SECONDS);
        assertThat(uploaded.get(0)).isSameAs(ahead);
        assertThat(uploaded.get(1).getName()).isEqualTo(local.get(1).getFileName().toString());
        // one file each: the first was not uploaded a second time
        assertThat(TestStreamFactories.filesBelow(storage.resolve("shared"))).hasSize(2);
    }

    @Test
    void uploadsTheFileWhenTheUploadStartedAheadFailedOrWroteAnotherSize() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 2, 10_000);
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory factory = TestStreamFactories.files(storage);
        RocksDBStateUploader uploader = new RocksDBStateUploader(pool.executor());
        Path shorter = createFiles(tempDir.resolve("other"), 1, 5_000).get(0);
        StateFile wrongSize =
                uploader.uploadFile(
                        new FileUpload(shorter, CheckpointedStateScope.SHARED),
                        factory,
                        new CloseableRegistry());
        CompletableFuture<StateFile> failed = new CompletableFuture<>();
        failed.completeExceptionally(new IOException("storage failed"));

        List<StateFile> uploaded =
                uploader.upload(
                        List.of(
                                new FileUpload(
                                        local.get(0),
                                        CheckpointedStateScope.SHARED,
                                        CompletableFuture.completedFuture(wrongSize)),
                                new FileUpload(
                                        local.get(1), CheckpointedStateScope.SHARED, failed)),
                        factory,
                        new CloseableRegistry());

        for (int i = 0; i < 2; i++) {
            assertThat(read(uploaded.get(i).getHandle()))
                    .isEqualTo(Files.readAllBytes(local.get(i)));
        }
        // the upload of the wrong size was discarded
        assertThat(TestStreamFactories.filesBelow(storage.resolve("shared"))).hasSize(2);
    }

    @Test
    void aCancelledUploadDiscardsTheUploadStartedAheadOnceItIsDone() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 1, 10_000);
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory factory = TestStreamFactories.files(storage);
        RocksDBStateUploader uploader = new RocksDBStateUploader(pool.executor());
        CompletableFuture<StateFile> running = new CompletableFuture<>();
        CloseableRegistry registry = new CloseableRegistry();

        CompletableFuture<List<StateFile>> upload =
                uploadInBackground(
                        uploader,
                        List.of(
                                new FileUpload(
                                        local.get(0), CheckpointedStateScope.SHARED, running)),
                        factory,
                        registry);
        awaitWaitingFor(running);
        registry.close();
        assertThatThrownBy(() -> upload.get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class);

        // the upload started ahead finishes after the checkpoint gave up: nobody else owns it
        running.complete(
                uploader.uploadFile(
                        new FileUpload(local.get(0), CheckpointedStateScope.SHARED),
                        factory,
                        new CloseableRegistry()));
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    /**
     * A stream can also hang while completing (an empty file is written only then); cancelling must
     * stop it there too, not wait forever.
     */
    @Test
    void closingTheRegistryStopsAnUploadStuckInCompleting() throws Exception {
        Path empty = Files.createDirectories(tempDir.resolve("local")).resolve("000009.sst");
        Files.createFile(empty);
        Path storage = tempDir.resolve("storage");
        BlockingStreamFactory factory =
                new BlockingStreamFactory(TestStreamFactories.files(storage), 1);
        CloseableRegistry registry = new CloseableRegistry();
        CompletableFuture<List<StateFile>> upload =
                uploadInBackground(
                        new RocksDBStateUploader(pool.executor()),
                        List.of(new FileUpload(empty, CheckpointedStateScope.SHARED)),
                        factory,
                        registry);
        factory.awaitBlocked();
        registry.close();

        assertThatThrownBy(() -> upload.get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class);
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    @Test
    void refusesWorkOnClosedPool() throws Exception {
        List<Path> local = createFiles(tempDir.resolve("local"), 2, 100);
        pool.close();
        assertThatThrownBy(
                        () ->
                                new RocksDBStateUploader(pool.executor())
                                        .upload(
                                                List.of(
                                                        new FileUpload(
                                                                local.get(0),
                                                                CheckpointedStateScope.SHARED)),
                                                TestStreamFactories.files(tempDir.resolve("s")),
                                                new CloseableRegistry()))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("closed");
    }

    static List<Path> createFiles(Path directory, int count, int maxSize) throws IOException {
        Files.createDirectories(directory);
        Random random = new Random(count * 31L + maxSize);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            byte[] bytes = new byte[1 + random.nextInt(maxSize)];
            random.nextBytes(bytes);
            Path file = directory.resolve(String.format("%06d.sst", i + 10));
            Files.write(file, bytes);
            files.add(file);
        }
        return files;
    }

    static int crc32c(byte[] bytes) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length);
        return (int) crc.getValue();
    }

    static byte[] read(StreamStateHandle handle) throws IOException {
        try (FSDataInputStream in = handle.openInputStream()) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buffer = new byte[4096];
            int read;
            while ((read = in.read(buffer)) != -1) {
                out.write(buffer, 0, read);
            }
            return out.toByteArray();
        }
    }
}
