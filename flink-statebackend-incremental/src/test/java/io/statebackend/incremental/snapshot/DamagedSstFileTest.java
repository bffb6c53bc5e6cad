package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.RottenBlocks;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * An SST file whose block rotted on the local disk after RocksDB wrote it is never uploaded: the
 * upload's own checksum would cover the rotten bytes, and the checkpoint would complete, subsume
 * the good ones before it and then fail every restore. The checkpoint that needs the file fails
 * instead, leaving nothing in storage, and the last completed checkpoint restores.
 */
class DamagedSstFileTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tmp;

    private IncrementalTestHarness harness;
    private Path storageRoot;
    private CheckpointStreamFactory storage;

    @BeforeEach
    void setUp() throws Exception {
        harness = new IncrementalTestHarness(tmp.resolve("local"));
        storageRoot = tmp.resolve("checkpoints");
        storage = TestStreamFactories.files(storageRoot);
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void aDamagedFileFailsTheCheckpointAndTheLastCompletedOneRestores() throws Exception {
        failsTheCheckpointAndTheLastCompletedOneRestores(
                new IncrementalRocksDBStateBackend(true),
                backend -> {
                    File damaged = newestSstFile(backend);
                    RottenBlocks.rotFirstDataBlock(damaged);
                    return damaged.getName();
                },
                "block checksum mismatch");
    }

    @Test
    void aDamagedBlobFileFailsTheCheckpoint() throws Exception {
        failsTheCheckpointAndTheLastCompletedOneRestores(
                new IncrementalRocksDBStateBackend(true)
                        .withSetting(IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key(), "true")
                        .withSetting(
                                IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key(), "0b"),
                backend -> {
                    Path damaged = newestBlobFile(backend);
                    try (RandomAccessFile file = new RandomAccessFile(damaged.toFile(), "rw")) {
                        long middle = file.length() / 2;
                        file.seek(middle);
                        int b = file.read();
                        file.seek(middle);
                        file.write(b ^ 0x01);
                    }
                    return damaged.getFileName().toString();
                },
                "record at offset");
    }

    @Test
    void aDamagedFileFailsANativeSavepoint() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(new IncrementalRocksDBStateBackend(true));
        writeAndFlush(backend, 0, 1000, "a");
        File damaged = newestSstFile(backend);
        RottenBlocks.rotFirstDataBlock(damaged);

        assertThatThrownBy(
                        () ->
                                IncrementalTestHarness.snapshot(
                                        backend,
                                        1,
                                        storage,
                                        new CheckpointOptions(
                                                SavepointType.savepoint(SavepointFormatType.NATIVE),
                                                CheckpointStorageLocationReference.getDefault())))
                .hasStackTraceContaining(damaged.getName() + " on the local disk is damaged");
        assertThat(TestStreamFactories.filesBelow(storageRoot)).isEmpty();
        harness.dispose(backend);
    }

    @Test
    void aDamagedFileIsNotUploadedAhead() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        new IncrementalRocksDBStateBackend(true)
                                .withSetting(
                                        IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD.key(),
                                        "true"));
        writeAndFlush(backend, 0, 1000, "a");
        checkpoint(backend, 1);
        // a copy under a name RocksDB never used, so that no flush races with the test
        Path damaged = tmp.resolve("999999.sst");
        Files.copy(newestSstFile(backend).toPath(), damaged);
        RottenBlocks.rotFirstDataBlock(damaged.toFile());
        SstUploadAhead ahead = backend.getUploadAhead();

        ahead.fileCreated(damaged.toString(), Files.size(damaged));
        CompletableFuture<StateFile> upload = ahead.uploadOf("999999.sst");

        assertThat(upload).isNotNull();
        assertThatThrownBy(() -> upload.get(30, TimeUnit.SECONDS))
                .hasStackTraceContaining("999999.sst on the local disk is damaged");
        assertThat(ahead.getUploadedBytes()).isZero();
        harness.dispose(backend);
    }

    @Test
    void withTheVerificationOffADamagedFileIsUploaded() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(
                        new IncrementalRocksDBStateBackend(true)
                                .withSetting(
                                        IncrementalRocksDBOptions.CHECKPOINT_VERIFY_SST_FILES.key(),
                                        "false"));
        writeAndFlush(backend, 0, 1000, "a");
        RottenBlocks.rotFirstDataBlock(newestSstFile(backend));

        assertThat(checkpoint(backend, 1).getSharedState()).hasSize(1);
        harness.dispose(backend);
    }

    // ------------------------------------------------------------------------

    /** Damages a file of the backend and returns its name. */
    private interface Damage {
        String apply(IncrementalRocksDBKeyedStateBackend<Integer> backend) throws Exception;
    }

    /**
     * Checkpoint 1 completes; a file written after it is damaged, checkpoint 2 fails naming it and
     * {@code cause} and leaves storage as it was, and checkpoint 1 restores exactly.
     */
    private void failsTheCheckpointAndTheLastCompletedOneRestores(
            IncrementalRocksDBStateBackend stateBackend, Damage damage, String cause)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(stateBackend);
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = checkpoint(backend, 1);
        List<Path> storedAfterFirst = TestStreamFactories.filesBelow(storageRoot);

        writeAndFlush(backend, 500, 1000, "b");
        String damaged = damage.apply(backend);

        assertThatThrownBy(() -> harness.checkpoint(backend, 2, storage))
                .hasStackTraceContaining(damaged + " on the local disk is damaged")
                .hasStackTraceContaining(cause);
        assertThat(TestStreamFactories.filesBelow(storageRoot))
                .containsExactlyInAnyOrderElementsOf(storedAfterFirst);
        harness.dispose(backend);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(stateBackend, ALL, Collections.singletonList(first));
        for (int key = 0; key < 1000; key++) {
            assertThat(get(restored, key)).isEqualTo("a-" + key);
        }
        harness.dispose(restored);
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            IncrementalRocksDBStateBackend stateBackend) throws Exception {
        return harness.createBackend(stateBackend, ALL, Collections.emptyList());
    }

    private IncrementalRemoteKeyedStateHandle checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, long checkpointId)
            throws Exception {
        return harness.completeCheckpoint(backend, checkpointId, storage);
    }

    /** The blob file with the highest number in the backend's database directory. */
    private static Path newestBlobFile(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        try (Stream<Path> files =
                Files.list(backend.getInstanceDirectory().toPath().resolve("db"))) {
            return files.filter(file -> file.getFileName().toString().endsWith(".blob"))
                    .max(Comparator.comparing(Path::getFileName))
                    .orElseThrow();
        }
    }

    /** The last SST file the state's flushes wrote. */
    private static File newestSstFile(IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        List<File> files =
                RottenBlocks.sstFilesOf(backend.getDb(), IncrementalTestHarness.STATE.getName());
        assertThat(files).isNotEmpty();
        return files.get(files.size() - 1);
    }
}
