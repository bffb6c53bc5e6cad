package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rocksdb.LiveFileMetaData;

import java.io.File;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Checkpoints of a backend that uploads SST files ahead: they take the uploads of compaction
 * outputs over, restore exactly, and leave nothing in storage that no checkpoint refers to.
 */
class UploadAheadCheckpointTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tmp;

    private IncrementalTestHarness harness;
    private IncrementalRocksDBStateBackend stateBackend;
    private Path storageRoot;
    private CheckpointStreamFactory storage;

    @BeforeEach
    void setUp() throws Exception {
        harness = new IncrementalTestHarness(tmp.resolve("local"));
        stateBackend =
                new IncrementalRocksDBStateBackend(true)
                        .withSetting(
                                IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD.key(), "true");
        storageRoot = tmp.resolve("checkpoints");
        storage = TestStreamFactories.files(storageRoot);
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void aCheckpointTakesTheCompactionOutputOverAndRestoresExactly() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend();
        SstUploadAhead ahead = backend.getUploadAhead();
        assertThat(ahead).isNotNull();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 0, 1000, "b");
        IncrementalRemoteKeyedStateHandle first = checkpoint(backend, 1);
        // the first checkpoint's files were written before any storage was known
        assertThat(ahead.getUploadedBytes()).isZero();

        writeAndFlush(backend, 500, 1000, "c");
        compact(backend);
        List<StreamStateHandle> uploadedAhead = awaitUploadsOfLiveFiles(backend);
        assertThat(uploadedAhead).isNotEmpty();

        takesOverAndRestores(backend, first, uploadedAhead, "b", "c");
    }

    @Test
    void blobFilesAreUploadedAheadAndTakenOver() throws Exception {
        stateBackend =
                stateBackend
                        .withSetting(IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key(), "true")
                        .withSetting(
                                IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key(), "0b");
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend();
        SstUploadAhead ahead = backend.getUploadAhead();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = checkpoint(backend, 1);
        // the first checkpoint uploaded its blob files itself
        assertThat(awaitUploadsOfBlobFiles(backend)).isEmpty();

        writeAndFlush(backend, 500, 1000, "b");
        List<StreamStateHandle> uploadedAhead = awaitUploadsOfBlobFiles(backend);
        assertThat(uploadedAhead).isNotEmpty();

        takesOverAndRestores(backend, first, uploadedAhead, "a", "b");
    }

    @Test
    void uploadsOfFilesCompactedAwayAndLeftAtCloseAreDeleted() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend();
        SstUploadAhead ahead = backend.getUploadAhead();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = checkpoint(backend, 1);

        // flushed between checkpoints, uploaded ahead, then compacted away before checkpoint 2
        for (int round = 0; round < 3; round++) {
            writeAndFlush(backend, round * 100, 1000, "f" + round);
            awaitUploadsOfLiveFiles(backend);
        }
        compact(backend);
        awaitUploadsOfLiveFiles(backend);
        assertThat(ahead.getDiscardedBytes()).isPositive();
        IncrementalRemoteKeyedStateHandle second = checkpoint(backend, 2);

        // written after checkpoint 2, uploaded ahead, never taken over
        writeAndFlush(backend, 5000, 100, "late");
        awaitUploadsOfLiveFiles(backend);
        assertThat(ahead.pendingUploads()).isPositive();
        harness.dispose(backend);

        assertOnlyReferencedFilesIn(first, second);
    }

    @Test
    void aNativeSavepointTakesNothingOver() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend();
        SstUploadAhead ahead = backend.getUploadAhead();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 0, 1000, "b");
        checkpoint(backend, 1);
        compact(backend);
        awaitUploadsOfLiveFiles(backend);
        int pending = ahead.pendingUploads();

        IncrementalRemoteKeyedStateHandle savepoint =
                IncrementalTestHarness.snapshot(
                        backend,
                        2,
                        storage,
                        new CheckpointOptions(
                                SavepointType.savepoint(SavepointFormatType.NATIVE),
                                CheckpointStorageLocationReference.getDefault()));

        assertThat(savepoint.getSharedState()).isEmpty();
        assertThat(ahead.getTakenOverBytes()).isZero();
        assertThat(ahead.pendingUploads()).isEqualTo(pending);
        checkpoint(backend, 3);
        assertThat(ahead.getTakenOverBytes()).isPositive();
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend() throws Exception {
        return harness.createBackend(stateBackend, ALL, Collections.emptyList());
    }

    private IncrementalRemoteKeyedStateHandle checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, long checkpointId)
            throws Exception {
        return harness.completeCheckpoint(backend, checkpointId, storage);
    }

    /**
     * Takes checkpoint 2, which must refer to the very handles uploaded ahead (not second uploads
     * of the same files) and leave no upload pending, restores it (keys 0 to 499 tagged {@code
     * older}, 500 to 1499 {@code newer}), and checks that storage holds only the two checkpoints'
     * files once the backend is disposed.
     */
    private void takesOverAndRestores(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            IncrementalRemoteKeyedStateHandle first,
            List<StreamStateHandle> uploadedAhead,
            String older,
            String newer)
            throws Exception {
        SstUploadAhead ahead = backend.getUploadAhead();
        IncrementalRemoteKeyedStateHandle second = checkpoint(backend, 2);
        Set<StreamStateHandle> secondShared = new HashSet<>();
        for (HandleAndLocalPath file : second.getSharedState()) {
            secondShared.add(file.getHandle());
        }
        assertThat(secondShared).containsAll(uploadedAhead);
        assertThat(ahead.getTakenOverBytes()).isPositive();
        assertThat(ahead.pendingUploads()).isZero();

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(stateBackend, ALL, Collections.singletonList(second));
        for (int key = 0; key < 1500; key++) {
            assertThat(get(restored, key)).isEqualTo((key < 500 ? older : newer) + "-" + key);
        }
        harness.dispose(restored);
        harness.dispose(backend);
        assertOnlyReferencedFilesIn(first, second);
    }

    private static void compact(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        backend.getDb()
                .compactRange(backend.getColumnFamily(IncrementalTestHarness.STATE.getName()));
    }

    /**
     * Waits until the uploads of the live SST files that have one (those written since the first
     * checkpoint and not taken over yet) are done, and returns their handles. RocksDB reports a
     * file before the flush or compaction that wrote it returns.
     */
    private static List<StreamStateHandle> awaitUploadsOfLiveFiles(
            IncrementalRocksDBKeyedStateBackend<Integer> backend) throws Exception {
        SstUploadAhead ahead = backend.getUploadAhead();
        List<StreamStateHandle> handles = new ArrayList<>();
        for (LiveFileMetaData file : backend.getDb().getLiveFilesMetaData()) {
            String name = Paths.get(file.fileName()).getFileName().toString();
            CompletableFuture<StateFile> upload = ahead.uploadOf(name);
            if (upload != null) {
                handles.add(upload.get(30, TimeUnit.SECONDS).getHandle());
            }
        }
        return handles;
    }

    /**
     * Waits until the uploads of the blob files in the database directory that have one are done,
     * and returns their handles. The backend looks for blob files before a flush returns.
     */
    private static List<StreamStateHandle> awaitUploadsOfBlobFiles(
            IncrementalRocksDBKeyedStateBackend<Integer> backend) throws Exception {
        SstUploadAhead ahead = backend.getUploadAhead();
        List<StreamStateHandle> handles = new ArrayList<>();
        File[] files = new File(backend.getInstanceDirectory(), "db").listFiles();
        assertThat(files).isNotNull();
        for (File file : files) {
            CompletableFuture<StateFile> upload = ahead.uploadOf(file.getName());
            if (file.getName().endsWith(".blob") && upload != null) {
                handles.add(upload.get(30, TimeUnit.SECONDS).getHandle());
            }
        }
        return handles;
    }

    /** Every file in the shared directory is referred to by one of the handles. */
    private void assertOnlyReferencedFilesIn(IncrementalRemoteKeyedStateHandle... handles)
            throws Exception {
        Set<Path> referenced = new HashSet<>();
        for (IncrementalRemoteKeyedStateHandle handle : handles) {
            for (HandleAndLocalPath file : handle.getSharedState()) {
                StreamStateHandle physical = file.getHandle();
                if (physical instanceof FileStateHandle) {
                    referenced.add(
                            new File(((FileStateHandle) physical).getFilePath().toUri())
                                    .toPath()
                                    .toAbsolutePath());
                }
            }
        }
        List<Path> stored = new ArrayList<>();
        for (Path file : TestStreamFactories.filesBelow(storageRoot.resolve("shared"))) {
            stored.add(file.toAbsolutePath());
        }
        assertThat(stored).containsExactlyInAnyOrderElementsOf(referenced);
    }
}
