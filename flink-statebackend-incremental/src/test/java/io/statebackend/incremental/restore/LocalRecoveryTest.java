package io.statebackend.incremental.restore;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.metrics.IncrementalRocksDBMetrics;
import io.statebackend.incremental.rocksdb.RegisteredRocksDBState;
import io.statebackend.incremental.snapshot.CheckpointType;
import io.statebackend.incremental.snapshot.RocksDBIncrementalSnapshotOperation;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.RottenBlocks;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.FailingStreamFactory;
import io.statebackend.incremental.transfer.RocksDBStateUploader;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.StateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.metrics.groups.UnregisteredMetricsGroup;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.jobgraph.JobVertexID;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalLocalKeyedStateHandle;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.LocalSnapshotDirectoryProviderImpl;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.RegisteredKeyValueStateBackendMetaInfo;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StateObject;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.TestTaskStateManager;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.BackendRestorerProcedure;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.ResourceGuard;
import org.apache.flink.util.concurrent.Executors;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.rocksdb.FlushOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.put;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Local recovery: checkpoints keep a local copy of RocksDB's files, a backend restores from it
 * without downloading, and a missing or damaged copy fails cleanly so that the task restores from
 * checkpoint storage instead.
 */
class LocalRecoveryTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private Path rocksDirectories;
    private Path storage;
    private CheckpointStreamFactory factory;
    private LocalSnapshotDirectoryProviderImpl localState;
    private MockEnvironment env;
    private final List<IncrementalRocksDBKeyedStateBackend<?>> backends = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        rocksDirectories = tempDir.resolve("rocksdb");
        storage = tempDir.resolve("storage");
        factory = TestStreamFactories.files(storage);
        localState =
                new LocalSnapshotDirectoryProviderImpl(
                        tempDir.resolve("local-state").toFile(), new JobID(), new JobVertexID(), 0);
        env =
                MockEnvironment.builder()
                        .setTaskStateManager(
                                new TestTaskStateManager(
                                        LocalRecoveryConfig.backupAndRecoveryEnabled(localState)))
                        .build();
    }

    @AfterEach
    void tearDown() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<?> backend : backends) {
            backend.dispose();
        }
        env.close();
    }

    @Test
    void checkpointKeepsLocalCopyAndRestoresFromItWithoutDownload() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op-A", List.of());
        writeAndFlush(backend, 0, 1000, "a");
        SnapshotResult<KeyedStateHandle> first = checkpoint(backend, 1);
        IncrementalLocalKeyedStateHandle firstLocal = local(first);
        assertThat(firstLocal.getCheckpointId()).isEqualTo(1L);
        assertThat(firstLocal.getBackendIdentifier()).isEqualTo(backend.getBackendUID());
        assertThat(firstLocal.getKeyGroupRange()).isEqualTo(ALL);
        Path firstCopy = firstLocal.getDirectoryStateHandle().getDirectory();
        assertThat(firstCopy.getParent().toFile())
                .isEqualTo(localState.subtaskSpecificCheckpointDirectory(1));
        assertThat(firstCopy.resolve(RocksDBIncrementalSnapshotOperation.LOCAL_DB_DIRECTORY))
                .isDirectory();
        assertThat(firstCopy.resolve(RocksDBIncrementalSnapshotOperation.LOCAL_METADATA_FILE))
                .isRegularFile();
        // the local copy lists every SST with its handle in checkpoint storage
        assertThat(names(firstLocal.getSharedStateHandles()))
                .isEqualTo(names(remote(first).getSharedState()));
        backend.notifyCheckpointComplete(1);

        writeAndFlush(backend, 500, 1000, "b");
        put(backend, 7, "in-memtable");
        SnapshotResult<KeyedStateHandle> second = checkpoint(backend, 2);
        IncrementalRemoteKeyedStateHandle secondRemote = remote(second);
        IncrementalLocalKeyedStateHandle secondLocal = local(second);
        assertThat(secondRemote.getSharedState())
                .anyMatch(file -> file.getHandle() instanceof PlaceholderStreamStateHandle);
        // the copy names physical handles, also of the files the checkpoint referred to
        assertThat(secondLocal.getSharedStateHandles())
                .noneMatch(file -> file.getHandle() instanceof PlaceholderStreamStateHandle);
        Map<String, StreamStateHandle> physical = new HashMap<>();
        for (HandleAndLocalPath file : remote(first).getSharedState()) {
            physical.put(file.getLocalPath(), file.getHandle());
        }
        for (HandleAndLocalPath file : secondRemote.getSharedState()) {
            if (!(file.getHandle() instanceof PlaceholderStreamStateHandle)) {
                physical.put(file.getLocalPath(), file.getHandle());
            }
        }
        for (HandleAndLocalPath file : secondLocal.getSharedStateHandles()) {
            assertThat(file.getHandle()).isEqualTo(physical.get(file.getLocalPath()));
        }
        backend.notifyCheckpointComplete(2);
        // copies belong to Flink's task-local state store, which discards them when subsumed
        assertThat(firstCopy).isDirectory();
        dispose(backend);

        // nothing can be downloaded any more: only the local copy can restore the backend
        FileUtils.deleteDirectory(storage.toFile());
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                createBackend("op-A", List.of(secondLocal));
        for (int key = 0; key < 1500; key++) {
            String expected = key == 7 ? "in-memtable" : (key < 500 ? "a-" : "b-") + key;
            assertThat(get(restored, key)).isEqualTo(expected);
        }
        assertThat(restored.getInstanceDirectory().list()).containsExactly("db");
        assertThat(restored.getMetrics().getRestoreDownloadedBytes()).isZero();
        // restoring left the copy as it was, it may serve another recovery
        assertThat(secondLocal.getDirectoryStateHandle().getDirectory()).isDirectory();
        assertThat(filesBelow(secondLocal.getDirectoryStateHandle().getDirectory())).isNotEmpty();

        // the checkpoint was complete: the restored backend refers to its files in storage
        CheckpointStreamFactory newStorage = TestStreamFactories.files(tempDir.resolve("new"));
        SnapshotResult<KeyedStateHandle> third = checkpoint(restored, 3, newStorage);
        Map<String, StreamStateHandle> secondFiles = new HashMap<>();
        for (HandleAndLocalPath file : secondLocal.getSharedStateHandles()) {
            secondFiles.put(file.getLocalPath(), file.getHandle());
        }
        for (HandleAndLocalPath file : remote(third).getSharedState()) {
            if (secondFiles.containsKey(file.getLocalPath())) {
                assertThat(file.getHandle()).isInstanceOf(PlaceholderStreamStateHandle.class);
                assertThat(file.getHandle().getStreamStateHandleID())
                        .isEqualTo(secondFiles.get(file.getLocalPath()).getStreamStateHandleID());
            }
        }
        assertThat(remote(third).getSharedState())
                .anyMatch(file -> file.getHandle() instanceof PlaceholderStreamStateHandle);

        // discarding the copy, as the task-local state store does, removes all of it
        secondLocal.discardState();
        assertThat(secondLocal.getDirectoryStateHandle().getDirectory()).doesNotExist();
    }

    /** How a local copy is damaged. */
    enum Damage {
        DIRECTORY_DELETED,
        /** Same size, other bytes: found only when the full checksums are verified. */
        SST_CORRUPTED,
        SST_TRUNCATED,
        MANIFEST_DELETED,
        METADATA_CORRUPTED
    }

    /** Whether restoring from local copies reads every byte of their SST files. */
    private boolean verifyLocalChecksums;

    private boolean blobFiles;

    @ParameterizedTest
    @EnumSource(Damage.class)
    void damagedLocalCopyFailsCleanlyAndTaskFallsBackToCheckpointStorage(Damage damage)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        SnapshotResult<KeyedStateHandle> result = checkpoint(backend, 5);
        dispose(backend);
        IncrementalLocalKeyedStateHandle localCopy = local(result);
        damage(localCopy, damage);
        verifyLocalChecksums = damage == Damage.SST_CORRUPTED;

        // the local copy alone fails, naming the checkpoint, and leaves nothing behind
        assertThatThrownBy(() -> createBackend("op", List.of(localCopy)))
                .hasStackTraceContaining("checkpoint 5");
        assertThat(instanceDirectories()).isEmpty();

        // as a task does: the local copy first, then the checkpoint in storage
        List<Exception> failedAttempts = new ArrayList<>();
        BackendRestorerProcedure<IncrementalRocksDBKeyedStateBackend<Integer>, KeyedStateHandle>
                procedure =
                        new BackendRestorerProcedure<>(
                                handles -> {
                                    try {
                                        return createBackend("op", handles);
                                    } catch (Exception e) {
                                        failedAttempts.add(e);
                                        throw e;
                                    }
                                },
                                new CloseableRegistry(),
                                "keyed state backend");
        List<Collection<KeyedStateHandle>> alternatives =
                List.of(List.of(localCopy), List.of(remote(result)));
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                procedure.createAndRestore(
                        alternatives, StateObject.StateObjectSizeStatsCollector.create());

        assertThat(failedAttempts).hasSize(1);
        assertThat(get(restored, 42)).isEqualTo("a-42");
        assertThat(get(restored, 1042)).isEqualTo("b-1042");
        // the failed attempt left no directory behind
        assertThat(instanceDirectories()).containsExactly(restored.getInstanceDirectory());
    }

    /**
     * A block that rots after the upload rots in the local copy too (they are one file on disk), so
     * every restore from the copy fails again at the first read of the block: the task would fail
     * over for ever, although checkpoint storage holds the good file. A copy that is restored from
     * a second time, because no checkpoint completed since the last restore, is verified in full.
     */
    @Test
    void aCopyRestoredFromAgainIsVerifiedInFullAndFallsBackToCheckpointStorage() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 1000, "a");
        SnapshotResult<KeyedStateHandle> result = checkpoint(backend, 5);
        dispose(backend);
        IncrementalLocalKeyedStateHandle localCopy = local(result);
        RottenBlocks.rotFirstDataBlock(
                firstSst(
                                localCopy
                                        .getDirectoryStateHandle()
                                        .getDirectory()
                                        .resolve(
                                                RocksDBIncrementalSnapshotOperation
                                                        .LOCAL_DB_DIRECTORY))
                        .toFile());

        // the first restore checks sizes only, and the task fails at the rotten block
        IncrementalRocksDBKeyedStateBackend<Integer> first =
                createBackend("op", List.of(localCopy));
        assertThatThrownBy(
                        () -> {
                            for (int key = 0; key < 1000; key++) {
                                get(first, key);
                            }
                        })
                .hasStackTraceContaining("block checksum mismatch");
        dispose(first);

        assertThatThrownBy(() -> createBackend("op", List.of(localCopy)))
                .hasStackTraceContaining("checkpoint 5")
                .hasStackTraceContaining("corrupted");
        assertThat(instanceDirectories()).isEmpty();
        IncrementalRocksDBKeyedStateBackend<Integer> fromStorage =
                createBackend("op", List.of(remote(result)));
        for (int key = 0; key < 1000; key++) {
            assertThat(get(fromStorage, key)).isEqualTo("a-" + key);
        }
    }

    /** The full verification of a copy restored from again is done once, not at every restore. */
    @Test
    void blobFilesAreReferredToAndRestoredFromTheCopyAndFromStorage() throws Exception {
        blobFiles = true;
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 1000, "a");
        SnapshotResult<KeyedStateHandle> first = checkpoint(backend, 1);
        List<String> firstBlobs =
                names(remote(first).getSharedState()).stream()
                        .filter(name -> name.endsWith(".blob"))
                        .collect(Collectors.toList());
        assertThat(firstBlobs).isNotEmpty();
        SharedStateRegistry registry = new SharedStateRegistryImpl();
        remote(first).registerSharedStates(registry, 1);
        backend.notifyCheckpointComplete(1);

        writeAndFlush(backend, 1000, 500, "b");
        SnapshotResult<KeyedStateHandle> second = checkpoint(backend, 2);
        IncrementalRemoteKeyedStateHandle secondRemote = remote(second);
        for (HandleAndLocalPath file : secondRemote.getSharedState()) {
            if (firstBlobs.contains(file.getLocalPath())) {
                assertThat(file.getHandle())
                        .as(file.getLocalPath())
                        .isInstanceOf(PlaceholderStreamStateHandle.class);
            }
        }
        assertThat(names(secondRemote.getSharedState()))
                .containsAll(firstBlobs)
                .anyMatch(name -> name.endsWith(".blob") && !firstBlobs.contains(name));
        secondRemote.registerSharedStates(registry, 2);
        backend.notifyCheckpointComplete(2);
        dispose(backend);

        IncrementalRocksDBKeyedStateBackend<Integer> downloaded =
                createBackend("op", List.of(secondRemote));
        assertThat(downloaded.getMetrics().getRestoreDownloadedBytes()).isPositive();
        assertValues(downloaded);
        dispose(downloaded);

        FileUtils.deleteDirectory(storage.toFile());
        IncrementalRocksDBKeyedStateBackend<Integer> fromCopy =
                createBackend("op", List.of(local(second)));
        assertThat(fromCopy.getMetrics().getRestoreDownloadedBytes()).isZero();
        assertValues(fromCopy);
    }

    private static void assertValues(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        for (int key = 0; key < 1500; key++) {
            assertThat(get(backend, key)).isEqualTo((key < 1000 ? "a-" : "b-") + key);
        }
    }

    @Test
    void aCopyIsVerifiedInFullOnlyAtItsSecondRestore() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalLocalKeyedStateHandle localCopy = local(checkpoint(backend, 5));
        dispose(backend);
        Path copy = localCopy.getDirectoryStateHandle().getDirectory();

        dispose(createBackend("op", List.of(localCopy)));
        assertThat(copy.resolve(LocalCopyRestore.RESTORED_MARKER)).isRegularFile();
        assertThat(copy.resolve(LocalCopyRestore.VERIFIED_MARKER)).doesNotExist();

        dispose(createBackend("op", List.of(localCopy)));
        assertThat(copy.resolve(LocalCopyRestore.VERIFIED_MARKER)).isRegularFile();

        IncrementalRocksDBKeyedStateBackend<Integer> third =
                createBackend("op", List.of(localCopy));
        assertThat(get(third, 42)).isEqualTo("a-42");
    }

    @Test
    void chainedOperatorsOfOneTaskKeepSeparateLocalCopies() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> first = createBackend("window-op", List.of());
        IncrementalRocksDBKeyedStateBackend<Integer> second = createBackend("map:op/2", List.of());
        writeAndFlush(first, 0, 200, "first");
        writeAndFlush(second, 0, 200, "second");

        IncrementalLocalKeyedStateHandle firstCopy = local(checkpoint(first, 3));
        IncrementalLocalKeyedStateHandle secondCopy = local(checkpoint(second, 3));
        Path firstDirectory = firstCopy.getDirectoryStateHandle().getDirectory();
        Path secondDirectory = secondCopy.getDirectoryStateHandle().getDirectory();
        assertThat(firstDirectory).isNotEqualTo(secondDirectory);
        assertThat(firstDirectory.getParent()).isEqualTo(secondDirectory.getParent());
        assertThat(firstDirectory.getFileName().toString())
                .contains("window-op")
                .contains(first.getBackendUID().toString());
        assertThat(secondDirectory.getFileName().toString())
                .contains("map_op_2")
                .contains(second.getBackendUID().toString());
        dispose(first);
        dispose(second);

        FileUtils.deleteDirectory(storage.toFile());
        IncrementalRocksDBKeyedStateBackend<Integer> firstRestored =
                createBackend("window-op", List.of(firstCopy));
        IncrementalRocksDBKeyedStateBackend<Integer> secondRestored =
                createBackend("map:op/2", List.of(secondCopy));
        assertThat(get(firstRestored, 17)).isEqualTo("first-17");
        assertThat(get(secondRestored, 17)).isEqualTo("second-17");
    }

    @Test
    void savepointsKeepNoLocalCopy() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 100, "a");
        for (SavepointFormatType format : SavepointFormatType.values()) {
            RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                    backend.snapshot(
                            9,
                            9,
                            factory,
                            new CheckpointOptions(
                                    SavepointType.savepoint(format),
                                    CheckpointOptions.forCheckpointWithDefaultLocation()
                                            .getTargetLocation()));
            future.run();
            assertThat(future.get().getJobManagerOwnedSnapshot()).isNotNull();
            assertThat(future.get().getTaskLocalSnapshot()).isNull();
        }
        assertThat(localState.subtaskSpecificCheckpointDirectory(9)).doesNotExist();
    }

    @Test
    void failedCheckpointDeletesItsLocalCopy() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        FailingStreamFactory failing =
                new FailingStreamFactory(
                        TestStreamFactories.files(tempDir.resolve("failing")), 2, true);
        assertThatThrownBy(() -> checkpoint(backend, 4, failing))
                .hasStackTraceContaining("Injected failure");
        File checkpointDirectory = localState.subtaskSpecificCheckpointDirectory(4);
        assertThat(checkpointDirectory.exists() ? checkpointDirectory.list() : new String[0])
                .isEmpty();

        // the next checkpoint keeps its copy again
        assertThat(local(checkpoint(backend, 5)).getDirectoryStateHandle().getDirectory())
                .isDirectory();
    }

    @Test
    void checkpointOfClosingBackendLeavesNoLocalCopy() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 100, "a");
        // what dispose does first: later snapshots can no longer lease the database
        ResourceGuard closing = new ResourceGuard();
        closing.close();
        RocksDBIncrementalSnapshotOperation<Integer> operation =
                operationOver(backend.getRocksDBInstance().getDb(), closing, backend);

        assertThatThrownBy(
                        () ->
                                operation
                                        .strategyFor(CheckpointType.INCREMENTAL, factory)
                                        .syncPrepareResources(6))
                .isInstanceOf(IOException.class);
        assertNoLocalCopy(6);
    }

    @Test
    void failedRocksDBCheckpointLeavesNoLocalCopy() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend("op", List.of());
        writeAndFlush(backend, 0, 100, "a");
        // a database whose live SST file is gone from disk cannot be checkpointed: the file
        // cannot be linked
        Path broken = tempDir.resolve("broken-db");
        try (Options options = new Options().setCreateIfMissing(true);
                RocksDB db = RocksDB.open(options, broken.toString());
                FlushOptions flush = new FlushOptions().setWaitForFlush(true)) {
            db.put(new byte[] {1}, new byte[] {2});
            db.flush(flush);
            try (Stream<Path> files = Files.list(broken)) {
                for (Path sst :
                        files.filter(f -> f.toString().endsWith(".sst"))
                                .collect(Collectors.toList())) {
                    Files.delete(sst);
                }
            }
            RocksDBIncrementalSnapshotOperation<Integer> operation =
                    operationOver(db, new ResourceGuard(), backend);

            assertThatThrownBy(
                            () ->
                                    operation
                                            .strategyFor(CheckpointType.INCREMENTAL, factory)
                                            .syncPrepareResources(7))
                    .hasMessageContaining("checkpoint 7");
        }
        assertNoLocalCopy(7);
    }

    /** A snapshot operation of the backend's states over the given database and guard. */
    private RocksDBIncrementalSnapshotOperation<Integer> operationOver(
            RocksDB db, ResourceGuard guard, IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        Map<String, RegisteredRocksDBState> states = new HashMap<>();
        states.put(
                IncrementalTestHarness.STATE.getName(),
                new RegisteredRocksDBState(
                        backend.getColumnFamily(IncrementalTestHarness.STATE.getName()),
                        new RegisteredKeyValueStateBackendMetaInfo<>(
                                StateDescriptor.Type.VALUE,
                                IncrementalTestHarness.STATE.getName(),
                                VoidNamespaceSerializer.INSTANCE,
                                StringSerializer.INSTANCE)));
        return new RocksDBIncrementalSnapshotOperation<>(
                db,
                guard,
                states,
                IntSerializer.INSTANCE,
                ALL,
                backend.getBackendUID(),
                backend.getInstanceDirectory(),
                new RocksDBStateUploader(Executors.newDirectExecutorService()),
                localState,
                "incremental-rocksdb_op_test",
                new IncrementalRocksDBMetrics(),
                -1L,
                Collections.emptyMap(),
                null);
    }

    private void assertNoLocalCopy(long checkpointId) {
        File checkpointDirectory = localState.subtaskSpecificCheckpointDirectory(checkpointId);
        assertThat(checkpointDirectory.exists() ? checkpointDirectory.list() : new String[0])
                .as("local copies of checkpoint %d", checkpointId)
                .isEmpty();
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            String operatorIdentifier, Collection<KeyedStateHandle> restoreFrom) throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        new IncrementalRocksDBStateBackend(true)
                                .withLocalDirectories(rocksDirectories.toString())
                                .withSetting(
                                        IncrementalRocksDBOptions.LOCAL_RECOVERY_VERIFY_CHECKSUMS
                                                .key(),
                                        String.valueOf(verifyLocalChecksums))
                                .withSetting(
                                        IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key(),
                                        String.valueOf(blobFiles))
                                // every value, however small, into a blob file
                                .withSetting(
                                        IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key(),
                                        "0b"),
                        env,
                        operatorIdentifier,
                        new UnregisteredMetricsGroup(),
                        IntSerializer.INSTANCE,
                        IncrementalTestHarness.MAX_PARALLELISM,
                        ALL,
                        restoreFrom,
                        1.0,
                        new CloseableRegistry());
        backends.add(backend);
        return backend;
    }

    private void dispose(IncrementalRocksDBKeyedStateBackend<?> backend) {
        backend.dispose();
        backends.remove(backend);
    }

    private SnapshotResult<KeyedStateHandle> checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, long checkpointId)
            throws Exception {
        return checkpoint(backend, checkpointId, factory);
    }

    private static SnapshotResult<KeyedStateHandle> checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            long checkpointId,
            CheckpointStreamFactory streams)
            throws Exception {
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        checkpointId,
                        checkpointId,
                        streams,
                        CheckpointOptions.forCheckpointWithDefaultLocation());
        future.run();
        return future.get();
    }

    private static IncrementalRemoteKeyedStateHandle remote(SnapshotResult<KeyedStateHandle> r) {
        return (IncrementalRemoteKeyedStateHandle) r.getJobManagerOwnedSnapshot();
    }

    private static IncrementalLocalKeyedStateHandle local(SnapshotResult<KeyedStateHandle> r) {
        assertThat(r.getTaskLocalSnapshot()).isInstanceOf(IncrementalLocalKeyedStateHandle.class);
        return (IncrementalLocalKeyedStateHandle) r.getTaskLocalSnapshot();
    }

    private static List<String> names(List<HandleAndLocalPath> files) {
        return files.stream()
                .map(HandleAndLocalPath::getLocalPath)
                .sorted()
                .collect(Collectors.toList());
    }

    private List<File> instanceDirectories() {
        File[] directories = rocksDirectories.toFile().listFiles();
        return directories == null ? Collections.emptyList() : List.of(directories);
    }

    private static List<Path> filesBelow(Path directory) throws Exception {
        try (Stream<Path> files = Files.walk(directory)) {
            return files.filter(Files::isRegularFile).collect(Collectors.toList());
        }
    }

    private static void damage(IncrementalLocalKeyedStateHandle copy, Damage damage)
            throws Exception {
        Path directory = copy.getDirectoryStateHandle().getDirectory();
        Path db = directory.resolve(RocksDBIncrementalSnapshotOperation.LOCAL_DB_DIRECTORY);
        switch (damage) {
            case DIRECTORY_DELETED:
                FileUtils.deleteDirectory(directory.toFile());
                break;
            case SST_CORRUPTED:
                {
                    Path sst = firstSst(db);
                    byte[] bytes = Files.readAllBytes(sst);
                    bytes[bytes.length / 2] ^= 0x10;
                    Files.write(sst, bytes);
                    break;
                }
            case SST_TRUNCATED:
                {
                    Path sst = firstSst(db);
                    byte[] bytes = Files.readAllBytes(sst);
                    Files.write(sst, java.util.Arrays.copyOf(bytes, bytes.length - 100));
                    break;
                }
            case MANIFEST_DELETED:
                try (Stream<Path> files = Files.list(db)) {
                    for (Path file : (Iterable<Path>) files::iterator) {
                        if (file.getFileName().toString().startsWith("MANIFEST")) {
                            Files.delete(file);
                        }
                    }
                }
                break;
            case METADATA_CORRUPTED:
                {
                    Path metadata =
                            directory.resolve(
                                    RocksDBIncrementalSnapshotOperation.LOCAL_METADATA_FILE);
                    byte[] bytes = Files.readAllBytes(metadata);
                    Files.write(metadata, java.util.Arrays.copyOf(bytes, bytes.length / 2));
                    break;
                }
            default:
                throw new IllegalArgumentException(damage.name());
        }
    }

    private static Path firstSst(Path db) throws Exception {
        try (Stream<Path> files = Files.list(db)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".sst"))
                    .sorted()
                    .findFirst()
                    .orElseThrow();
        }
    }
}
