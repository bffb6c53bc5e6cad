package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.testutils.TestBlobFiles;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.FlakyStreamFactory;
import io.statebackend.incremental.testutils.TestStreamFactories.StuckStreamFactory;
import io.statebackend.incremental.transfer.RocksDBStateUploader;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStreamFactory;
import org.apache.flink.util.concurrent.Executors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Who owns an upload started ahead of a checkpoint, in every order of the events that decide it:
 * the file is taken over by a checkpoint, deleted by RocksDB first, or the backend closes.
 */
class SstUploadAheadTest {

    @TempDir Path tmp;

    private Path dbDirectory;
    private Path storageRoot;
    private FsCheckpointStreamFactory storage;
    private SstUploadAhead ahead;

    @BeforeEach
    void setUp() throws Exception {
        Path instance = Files.createDirectories(tmp.resolve("instance"));
        dbDirectory = Files.createDirectories(instance.resolve("db"));
        storageRoot = tmp.resolve("checkpoints");
        storage = TestStreamFactories.files(storageRoot);
        ahead =
                new SstUploadAhead(
                        instance.toFile(),
                        dbDirectory.toFile(),
                        new RocksDBStateUploader(Executors.newDirectExecutorService()),
                        factory -> true);
    }

    @AfterEach
    void tearDown() {
        ahead.close();
    }

    @Test
    void nothingIsUploadedBeforeTheFirstCheckpoint() throws Exception {
        Path file = sst("000010.sst", 1000);
        ahead.fileCreated(file.toString(), 1000);

        assertThat(ahead.pendingUploads()).isZero();
        assertThat(ahead.takeOver("000010.sst", 1000)).isNull();
        assertThat(sharedFiles()).isEmpty();
    }

    @Test
    void unusableStorageIsNotUploadedTo() throws Exception {
        assertThat(SstUploadAhead.isUsable(storage)).isTrue();
        assertThat(SstUploadAhead.isUsable(new TestStreamFactories.CountingStreamFactory(storage)))
                .isFalse();
    }

    @Test
    void aCheckpointTakesOverAFinishedUpload() throws Exception {
        ahead.useStorage(storage);
        Path file = sst("000011.sst", 5000);
        ahead.fileCreated(file.toString(), 5000);

        StateFile uploaded = awaitUpload("000011.sst");
        CompletableFuture<StateFile> takenOver = ahead.takeOver("000011.sst", 5000);

        assertThat(takenOver).isNotNull();
        assertThat(takenOver.get()).isSameAs(uploaded);
        assertThat(ahead.pendingUploads()).isZero();
        // taken over once: a second checkpoint that needs the file uploads it itself
        assertThat(ahead.takeOver("000011.sst", 5000)).isNull();
        // the checkpoint owns it now: deletion by RocksDB or close must not discard it
        ahead.fileDeleted(file.toString());
        ahead.close();
        assertThat(sharedFiles()).hasSize(1);
        assertThat(Files.readAllBytes(sharedFiles().get(0))).isEqualTo(Files.readAllBytes(file));
        assertThat(ahead.getTakenOverBytes()).isEqualTo(5000);
        assertThat(ahead.getDiscardedBytes()).isZero();
        assertThat(tmp.resolve("instance").resolve(SstUploadAhead.STAGING_DIRECTORY))
                .doesNotExist();
    }

    @Test
    void aRunningUploadIsHandedOverAndAQueuedOneIsDropped() throws Exception {
        StuckStreamFactory stuck = new StuckStreamFactory(storage);
        ahead.useStorage(stuck);
        Path first = sst("000012.sst", 3000);
        Path second = sst("000013.sst", 4000);
        ahead.fileCreated(first.toString(), 3000);
        stuck.awaitStuck();
        ahead.fileCreated(second.toString(), 4000);

        CompletableFuture<StateFile> running = ahead.takeOver("000012.sst", 3000);
        // still queued behind the first: the checkpoint uploads it with its own threads
        CompletableFuture<StateFile> queued = ahead.takeOver("000013.sst", 4000);
        assertThat(running).isNotNull().isNotDone();
        assertThat(queued).isNull();

        stuck.release();
        assertThat(running.get(10, TimeUnit.SECONDS).getSize()).isEqualTo(3000);
        ahead.close();
        // the dropped one was never uploaded
        assertThat(sharedFiles()).hasSize(1);
        assertThat(ahead.getUploadedBytes()).isEqualTo(3000);
    }

    @Test
    void anUploadWhoseFileWasCompactedAwayIsDeleted() throws Exception {
        ahead.useStorage(storage);
        Path file = sst("000014.sst", 2000);
        ahead.fileCreated(file.toString(), 2000);
        awaitUpload("000014.sst");
        assertThat(sharedFiles()).hasSize(1);

        ahead.fileDeleted(file.toString());

        assertThat(sharedFiles()).isEmpty();
        assertThat(ahead.getDiscardedBytes()).isEqualTo(2000);
        assertThat(ahead.takeOver("000014.sst", 2000)).isNull();
    }

    @Test
    void anUploadWhoseFileIsDeletedWhileItRunsIsDeletedWhenItIsDone() throws Exception {
        StuckStreamFactory stuck = new StuckStreamFactory(storage);
        ahead.useStorage(stuck);
        Path file = sst("000015.sst", 2000);
        ahead.fileCreated(file.toString(), 2000);
        stuck.awaitStuck();

        ahead.fileDeleted(file.toString());
        stuck.release();

        awaitDiscarded(2000);
        assertThat(sharedFiles()).isEmpty();
    }

    @Test
    void closeDeletesEveryUploadNotTakenOver() throws Exception {
        ahead.useStorage(storage);
        for (int i = 0; i < 3; i++) {
            Path file = sst("00002" + i + ".sst", 1000 + i);
            ahead.fileCreated(file.toString(), 1000 + i);
        }
        awaitUpload("000022.sst");
        assertThat(sharedFiles()).hasSize(3);

        ahead.close();

        assertThat(sharedFiles()).isEmpty();
        assertThat(ahead.getDiscardedBytes()).isEqualTo(1000 + 1001 + 1002);
        // a file RocksDB writes after close is not uploaded
        ahead.fileCreated(sst("000030.sst", 10).toString(), 10);
        assertThat(ahead.pendingUploads()).isZero();
    }

    @Test
    void closeStopsAStuckUploadAndLeavesNothing() throws Exception {
        StuckStreamFactory stuck = new StuckStreamFactory(storage);
        ahead.useStorage(stuck);
        ahead.fileCreated(sst("000031.sst", 2000).toString(), 2000);
        stuck.awaitStuck();

        ahead.close();
        stuck.release();

        assertThat(sharedFiles()).isEmpty();
    }

    @Test
    void aFailedUploadIsLeftToTheCheckpoint() throws Exception {
        ahead.useStorage(FlakyStreamFactory.failingAlways(storage, CheckpointedStateScope.SHARED));
        Path file = sst("000032.sst", 2000);
        ahead.fileCreated(file.toString(), 2000);

        assertThatThrownBy(() -> awaitUpload("000032.sst")).isInstanceOf(ExecutionException.class);
        // started, so handed over; the checkpoint sees the failure and uploads the file itself
        CompletableFuture<StateFile> takenOver = ahead.takeOver("000032.sst", 2000);
        assertThat(takenOver).isNotNull().isCompletedExceptionally();
        assertThat(sharedFiles()).isEmpty();
    }

    @Test
    void anUploadOfAnotherSizeIsNotHandedOver() throws Exception {
        ahead.useStorage(storage);
        Path file = sst("000033.sst", 2000);
        ahead.fileCreated(file.toString(), 2000);
        awaitUpload("000033.sst");

        assertThat(ahead.takeOver("000033.sst", 1999)).isNull();
        awaitDiscarded(2000);
        assertThat(sharedFiles()).isEmpty();
    }

    @Test
    void finishedBlobFilesAreUploadedAndDeletedOnesDiscarded() throws Exception {
        byte[] whole = Files.readAllBytes(TestBlobFiles.write(tmp, 200, 300));
        Files.write(dbDirectory.resolve("000009.blob"), whole);
        // a checkpoint starts: the blob files there now are its own to upload
        ahead.useStorage(storage);
        Path finished = Files.write(dbDirectory.resolve("000010.blob"), whole);
        // still being written: RocksDB writes the footer last
        Path writing =
                Files.write(
                        dbDirectory.resolve("000011.blob"),
                        Arrays.copyOf(whole, whole.length - BlobFileChecksums.FOOTER_SIZE));

        ahead.lookForBlobFiles();
        assertThat(awaitUpload("000010.blob").getSize()).isEqualTo(whole.length);
        assertThat(ahead.uploadOf("000011.blob")).isNull();
        assertThat(ahead.uploadOf("000009.blob")).isNull();

        Files.write(writing, whole);
        ahead.lookForBlobFiles();
        awaitUpload("000011.blob");
        ahead.lookForBlobFiles();
        assertThat(ahead.getUploadedBytes()).isEqualTo(2L * whole.length);

        // garbage collected before any checkpoint needed it
        Files.delete(finished);
        ahead.lookForBlobFiles();
        awaitDiscarded(whole.length);
        CompletableFuture<StateFile> takenOver = ahead.takeOver("000011.blob", whole.length);
        assertThat(takenOver).isNotNull();
        ahead.close();
        assertThat(sharedFiles()).hasSize(1);
        assertThat(Files.readAllBytes(sharedFiles().get(0))).isEqualTo(whole);
        assertThat(ahead.getDiscardedBytes()).isEqualTo(whole.length);
    }

    // ------------------------------------------------------------------------

    private Path sst(String name, int size) throws Exception {
        byte[] bytes = new byte[size];
        new Random(name.hashCode()).nextBytes(bytes);
        return Files.write(dbDirectory.resolve(name), bytes);
    }

    /** Waits until the upload of the file is done, leaving it with the class. */
    private StateFile awaitUpload(String name) throws Exception {
        CompletableFuture<StateFile> upload = ahead.uploadOf(name);
        assertThat(upload).as("upload of %s", name).isNotNull();
        return upload.get(30, TimeUnit.SECONDS);
    }

    private void awaitDiscarded(long bytes) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ahead.getDiscardedBytes() < bytes) {
            assertThat(System.nanoTime()).as("discard").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    private List<Path> sharedFiles() throws Exception {
        return TestStreamFactories.filesBelow(storageRoot.resolve("shared"));
    }
}
