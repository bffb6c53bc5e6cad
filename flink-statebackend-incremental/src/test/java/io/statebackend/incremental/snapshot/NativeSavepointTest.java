package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.CountingStreamFactory;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.fs.FileSystem;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.Checkpoints;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.checkpoint.metadata.CheckpointMetadata;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupsSavepointStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.AbstractFsCheckpointStorageAccess;
import org.apache.flink.runtime.state.filesystem.FsCheckpointStorageLocation;
import org.apache.flink.runtime.state.filesystem.RelativeFileStateHandle;
import org.apache.flink.runtime.state.memory.ByteStreamStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.DataInputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Collectors;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Native savepoints: RocksDB's files, uploaded exclusively into the savepoint's own directory, so
 * that the savepoint can be moved and still restores, and nothing in it is shared with checkpoints.
 */
class NativeSavepointTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private IncrementalTestHarness harness;
    private CheckpointStreamFactory checkpoints;

    @BeforeEach
    void setUp() throws Exception {
        harness = new IncrementalTestHarness(tempDir.resolve("local"));
        checkpoints = TestStreamFactories.files(tempDir.resolve("checkpoints"));
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void backendSupportsNativeSavepoints() {
        IncrementalRocksDBStateBackend backend = new IncrementalRocksDBStateBackend();
        assertThat(backend.supportsSavepointFormat(SavepointFormatType.NATIVE)).isTrue();
        assertThat(backend.supportsSavepointFormat(SavepointFormatType.CANONICAL)).isTrue();
    }

    @Test
    void nativeSavepointUploadsEveryFileExclusivelyAndReusesNothing() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        IncrementalRemoteKeyedStateHandle checkpoint = harness.checkpoint(backend, 1, checkpoints);
        harness.register(checkpoint);
        backend.notifyCheckpointComplete(1);
        Map<String, StreamStateHandle> confirmedBefore = confirmedHandles(backend);

        FsCheckpointStorageLocation location = savepointLocation(tempDir.resolve("savepoint-1"));
        CountingStreamFactory counting = new CountingStreamFactory(location);
        IncrementalRemoteKeyedStateHandle savepoint =
                IncrementalTestHarness.snapshot(backend, 2, counting, nativeSavepoint(location));

        // nothing shared, nothing referred to: every file was written for the savepoint
        assertThat(savepoint.getSharedState()).isEmpty();
        assertThat(counting.sharedStreams()).isZero();
        assertThat(counting.exclusiveStreams()).isEqualTo(savepoint.getPrivateState().size() + 1);
        Set<String> names =
                savepoint.getPrivateState().stream()
                        .map(HandleAndLocalPath::getLocalPath)
                        .collect(Collectors.toSet());
        assertThat(names).containsAll(sstNames(checkpoint));
        assertThat(names).anyMatch(name -> name.startsWith("MANIFEST"));
        for (HandleAndLocalPath file : savepoint.getPrivateState()) {
            assertThat(file.getHandle()).isNotInstanceOf(PlaceholderStreamStateHandle.class);
            // relative to the savepoint directory, or inline in the metadata
            assertThat(file.getHandle())
                    .isInstanceOfAny(RelativeFileStateHandle.class, ByteStreamStateHandle.class);
        }
        assertThat(physicalIds(savepoint)).doesNotContainAnyElementsOf(physicalIds(checkpoint));

        // the savepoint's files never become reusable, even when Flink confirms it
        RocksDBIncrementalSnapshotOperation<Integer> operation =
                backend.getIncrementalSnapshotOperation();
        assertThat(operation.getCandidateCheckpointIds()).doesNotContain(2L);
        backend.notifyCheckpointComplete(2);
        assertThat(confirmedHandles(backend)).isEqualTo(confirmedBefore);
    }

    /** FLINK-23949: a savepoint in between must not turn the next checkpoint into a full one. */
    @ParameterizedTest
    @EnumSource(SavepointFormatType.class)
    void firstCheckpointAfterSavepointIsStillIncremental(SavepointFormatType format)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(backend, 1, checkpoints);
        harness.register(first);
        backend.notifyCheckpointComplete(1);

        FsCheckpointStorageLocation location = savepointLocation(tempDir.resolve("savepoint-2"));
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        2,
                        20,
                        location,
                        new CheckpointOptions(
                                SavepointType.savepoint(format), location.getLocationReference()));
        future.run();
        KeyedStateHandle savepoint = future.get().getJobManagerOwnedSnapshot();
        assertThat(savepoint)
                .isInstanceOf(
                        format == SavepointFormatType.NATIVE
                                ? IncrementalRemoteKeyedStateHandle.class
                                : KeyGroupsSavepointStateHandle.class);
        backend.notifyCheckpointComplete(2);

        writeAndFlush(backend, 5, 10, "c");
        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, checkpoints);
        Map<String, StreamStateHandle> firstSsts = sstHandles(first);
        Map<String, StreamStateHandle> thirdSsts = sstHandles(third);
        // RocksDB may compact in the background: every file the first checkpoint uploaded that
        // is still live is referred to, and only files it did not upload are uploaded
        Set<String> stillLive = new HashSet<>(firstSsts.keySet());
        stillLive.retainAll(thirdSsts.keySet());
        assertThat(stillLive).isNotEmpty();
        for (Map.Entry<String, StreamStateHandle> entry : thirdSsts.entrySet()) {
            StreamStateHandle handle = entry.getValue();
            if (stillLive.contains(entry.getKey())) {
                assertThat(handle).isInstanceOf(PlaceholderStreamStateHandle.class);
                assertThat(handle.getStreamStateHandleID())
                        .isEqualTo(firstSsts.get(entry.getKey()).getStreamStateHandleID());
            } else {
                assertThat(handle).isNotInstanceOf(PlaceholderStreamStateHandle.class);
            }
        }
    }

    @Test
    void movedNativeSavepointRestores() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 500, 1000, "b");
        IncrementalRemoteKeyedStateHandle checkpoint = harness.checkpoint(backend, 1, checkpoints);
        harness.register(checkpoint);
        backend.notifyCheckpointComplete(1);
        // values only in the memtable are part of the savepoint as well
        IncrementalTestHarness.put(backend, 5000, "memtable");

        Path original = tempDir.resolve("savepoints").resolve("savepoint-abc");
        FsCheckpointStorageLocation location = savepointLocation(original);
        IncrementalRemoteKeyedStateHandle savepoint =
                IncrementalTestHarness.snapshot(backend, 2, location, nativeSavepoint(location));
        assertThat(savepoint.getPrivateState())
                .anyMatch(file -> file.getHandle() instanceof RelativeFileStateHandle);
        writeMetadata(original, savepoint);
        harness.dispose(backend);

        // the user moves the savepoint somewhere else
        Path moved = tempDir.resolve("elsewhere").resolve("my-savepoint");
        Files.createDirectories(moved.getParent());
        Files.move(original, moved);
        assertThat(original).doesNotExist();

        IncrementalRemoteKeyedStateHandle relocated = readMetadata(moved);
        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(ALL, Collections.singletonList(relocated));
        for (int key = 0; key < 1500; key++) {
            assertThat(get(restored, key)).isEqualTo((key < 500 ? "a-" : "b-") + key);
        }
        assertThat(get(restored, 5000)).isEqualTo("memtable");
        assertThat(restored.getInstanceDirectory().list()).containsExactly("db");

        // the savepoint's files are not the restored backend's to refer to: it uploads them anew
        IncrementalRemoteKeyedStateHandle next = harness.checkpoint(restored, 3, checkpoints);
        assertThat(next.getSharedState())
                .isNotEmpty()
                .noneMatch(file -> file.getHandle() instanceof PlaceholderStreamStateHandle);
        harness.register(next);
        IncrementalRocksDBKeyedStateBackend<Integer> again =
                harness.createBackend(ALL, Collections.singletonList(next));
        assertThat(get(again, 700)).isEqualTo("b-700");
    }

    @Test
    void nativeSavepointWithIncrementalCheckpointsOff() throws Exception {
        try (MockEnvironment env = MockEnvironment.builder().build()) {
            IncrementalRocksDBKeyedStateBackend<Integer> backend = fullBackend(env, List.of());
            IncrementalRocksDBKeyedStateBackend<Integer> restored = null;
            try {
                writeAndFlush(backend, 0, 500, "a");
                FsCheckpointStorageLocation location =
                        savepointLocation(tempDir.resolve("savepoint-full"));
                IncrementalRemoteKeyedStateHandle savepoint =
                        IncrementalTestHarness.snapshot(
                                backend, 4, location, nativeSavepoint(location));
                assertThat(savepoint.getSharedState()).isEmpty();

                restored = fullBackend(env, List.of(savepoint));
                assertThat(get(restored, 123)).isEqualTo("a-123");
            } finally {
                backend.dispose();
                if (restored != null) {
                    restored.dispose();
                }
            }
        }
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBKeyedStateBackend<Integer> fullBackend(
            MockEnvironment env, List<KeyedStateHandle> restoreFrom) throws Exception {
        return KeyedBackends.create(
                new IncrementalRocksDBStateBackend(false)
                        .withLocalDirectories(tempDir.resolve("local-full").toString()),
                env,
                IntSerializer.INSTANCE,
                IncrementalTestHarness.MAX_PARALLELISM,
                ALL,
                restoreFrom);
    }

    /** The location Flink's file system checkpoint storage creates for a savepoint. */
    static FsCheckpointStorageLocation savepointLocation(Path directory) throws Exception {
        Files.createDirectories(directory);
        org.apache.flink.core.fs.Path path = new org.apache.flink.core.fs.Path(directory.toUri());
        return new FsCheckpointStorageLocation(
                FileSystem.getLocalFileSystem(),
                path,
                path,
                path,
                AbstractFsCheckpointStorageAccess.encodePathAsReference(path),
                1024,
                4096);
    }

    static CheckpointOptions nativeSavepoint(FsCheckpointStorageLocation location) {
        return new CheckpointOptions(
                SavepointType.savepoint(SavepointFormatType.NATIVE),
                location.getLocationReference());
    }

    private static final OperatorID OPERATOR = new OperatorID();

    /** Writes the savepoint's {@code _metadata} as the JobManager does. */
    private static void writeMetadata(Path directory, KeyedStateHandle handle) throws Exception {
        OperatorState operatorState =
                new OperatorState(OPERATOR, 1, IncrementalTestHarness.MAX_PARALLELISM);
        operatorState.putState(
                0, OperatorSubtaskState.builder().setManagedKeyedState(handle).build());
        CheckpointMetadata metadata =
                new CheckpointMetadata(
                        handle instanceof IncrementalRemoteKeyedStateHandle
                                ? ((IncrementalRemoteKeyedStateHandle) handle).getCheckpointId()
                                : 0L,
                        Collections.singletonList(operatorState),
                        Collections.emptyList());
        try (OutputStream out =
                Files.newOutputStream(
                        directory.resolve(AbstractFsCheckpointStorageAccess.METADATA_FILE_NAME))) {
            Checkpoints.storeCheckpointMetadata(metadata, out);
        }
    }

    /** Reads the savepoint's {@code _metadata} as the JobManager does when restoring from it. */
    private static IncrementalRemoteKeyedStateHandle readMetadata(Path directory) throws Exception {
        CheckpointMetadata metadata;
        try (DataInputStream in =
                new DataInputStream(
                        Files.newInputStream(
                                directory.resolve(
                                        AbstractFsCheckpointStorageAccess.METADATA_FILE_NAME)))) {
            metadata =
                    Checkpoints.loadCheckpointMetadata(
                            in, NativeSavepointTest.class.getClassLoader(), directory.toString());
        }
        OperatorState operatorState = metadata.getOperatorStates().iterator().next();
        KeyedStateHandle handle =
                operatorState.getState(0).getManagedKeyedState().iterator().next();
        return (IncrementalRemoteKeyedStateHandle) handle;
    }

    private static Map<String, StreamStateHandle> confirmedHandles(
            IncrementalRocksDBKeyedStateBackend<Integer> backend) {
        Map<String, StreamStateHandle> handles = new HashMap<>();
        backend.getIncrementalSnapshotOperation()
                .getReusableSharedFiles()
                .forEach((name, file) -> handles.put(name, file.getHandle()));
        return handles;
    }

    private static Set<String> sstNames(IncrementalRemoteKeyedStateHandle handle) {
        return sstHandles(handle).keySet();
    }

    private static Map<String, StreamStateHandle> sstHandles(
            IncrementalRemoteKeyedStateHandle handle) {
        Map<String, StreamStateHandle> result = new HashMap<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            result.put(file.getLocalPath(), file.getHandle());
        }
        return result;
    }

    private static Set<Object> physicalIds(IncrementalRemoteKeyedStateHandle handle) {
        return java.util.stream.Stream.concat(
                        handle.getSharedState().stream(), handle.getPrivateState().stream())
                .map(h -> (Object) h.getHandle().getStreamStateHandleID())
                .collect(Collectors.toSet());
    }
}
