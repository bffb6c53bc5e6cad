package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.CountingStreamFactory;
import io.statebackend.incremental.testutils.TestStreamFactories.FailingStreamFactory;
import io.statebackend.incremental.transfer.TransferThreadPool;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.core.fs.FSDataInputStream;
import org.apache.flink.core.memory.DataInputViewStreamWrapper;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StreamStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Path;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Collectors;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Tests which files incremental checkpoints upload and which they refer to. */
class RocksDBIncrementalSnapshotOperationTest {

    @TempDir Path tempDir;

    private IncrementalTestHarness harness;
    private Path storage;
    private CountingStreamFactory factory;

    @BeforeEach
    void setUp() throws Exception {
        harness = new IncrementalTestHarness(tempDir.resolve("local"));
        storage = tempDir.resolve("storage");
        factory = new CountingStreamFactory(TestStreamFactories.files(storage));
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void secondCheckpointUploadsOnlyNewSstFiles() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 2000, "a");
        writeAndFlush(backend, 2000, 2000, "b");

        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(backend, 1, factory);
        assertThat(placeholders(first)).isEmpty();
        Map<String, StreamStateHandle> firstSsts = sstHandles(first);
        assertThat(firstSsts).hasSizeGreaterThanOrEqualTo(2);
        assertThat(first.getPrivateState())
                .extracting(HandleAndLocalPath::getLocalPath)
                .anyMatch(name -> name.startsWith("MANIFEST"))
                .anyMatch(name -> name.equals("CURRENT"))
                .anyMatch(name -> name.startsWith("OPTIONS"));
        harness.register(first);
        backend.notifyCheckpointComplete(1);

        // a small change
        writeAndFlush(backend, 10, 5, "c");
        factory.reset();
        IncrementalRemoteKeyedStateHandle second = harness.checkpoint(backend, 2, factory);

        Map<String, StreamStateHandle> secondSsts = sstHandles(second);
        Set<String> newFiles = new HashSet<>(secondSsts.keySet());
        newFiles.removeAll(firstSsts.keySet());
        assertThat(newFiles).hasSize(1);
        // only the new SST was uploaded as shared state
        assertThat(factory.sharedStreams()).isEqualTo(1);
        for (Map.Entry<String, StreamStateHandle> entry : secondSsts.entrySet()) {
            if (newFiles.contains(entry.getKey())) {
                assertThat(entry.getValue()).isNotInstanceOf(PlaceholderStreamStateHandle.class);
            } else {
                // a placeholder naming the physical handle of the first upload
                assertThat(entry.getValue()).isInstanceOf(PlaceholderStreamStateHandle.class);
                assertThat(entry.getValue().getStreamStateHandleID())
                        .isEqualTo(firstSsts.get(entry.getKey()).getStreamStateHandleID());
                assertThat(entry.getValue().getStateSize())
                        .isEqualTo(firstSsts.get(entry.getKey()).getStateSize());
            }
        }
        // the checkpointed size is what this checkpoint uploaded, far less than the first one
        assertThat(second.getCheckpointedSize()).isLessThan(first.getCheckpointedSize());
        long uploaded =
                second.getMetaDataStateHandle().getStateSize()
                        + second.getPrivateState().stream()
                                .mapToLong(HandleAndLocalPath::getStateSize)
                                .sum()
                        + second.getSharedState().stream()
                                .filter(
                                        h ->
                                                !(h.getHandle()
                                                        instanceof PlaceholderStreamStateHandle))
                                .mapToLong(HandleAndLocalPath::getStateSize)
                                .sum();
        assertThat(second.getCheckpointedSize()).isEqualTo(uploaded);

        // the registry resolves the placeholders to the first checkpoint's handles
        harness.register(second);
        for (HandleAndLocalPath file : second.getSharedState()) {
            assertThat(file.getHandle()).isNotInstanceOf(PlaceholderStreamStateHandle.class);
        }
    }

    @Test
    void filesOfUnconfirmedCheckpointAreUploadedAgain() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(backend, 1, factory);
        // never confirmed
        writeAndFlush(backend, 0, 5, "b");
        IncrementalRemoteKeyedStateHandle second = harness.checkpoint(backend, 2, factory);

        assertThat(placeholders(second)).isEmpty();
        assertThat(sstHandles(second).keySet()).containsAll(sstHandles(first).keySet());
        assertThat(physicalIds(second)).doesNotContainAnyElementsOf(physicalIds(first));
    }

    @Test
    void filesOfAbortedCheckpointAreUploadedAgain() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(backend, 1, factory);
        backend.notifyCheckpointComplete(1);

        writeAndFlush(backend, 0, 5, "b");
        IncrementalRemoteKeyedStateHandle aborted = harness.checkpoint(backend, 2, factory);
        backend.notifyCheckpointAborted(2);
        // a late confirmation of the aborted checkpoint changes nothing
        backend.notifyCheckpointComplete(2);

        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, factory);
        Set<String> abortedOnly = new HashSet<>(sstHandles(aborted).keySet());
        abortedOnly.removeAll(sstHandles(first).keySet());
        assertThat(abortedOnly).isNotEmpty();
        Map<String, StreamStateHandle> thirdSsts = sstHandles(third);
        for (String name : abortedOnly) {
            // uploaded again, not referred to
            assertThat(thirdSsts.get(name)).isNotInstanceOf(PlaceholderStreamStateHandle.class);
            assertThat(thirdSsts.get(name).getStreamStateHandleID())
                    .isNotEqualTo(sstHandles(aborted).get(name).getStreamStateHandleID());
        }
        // what the confirmed first checkpoint uploaded is still referred to
        for (String name : sstHandles(first).keySet()) {
            assertThat(thirdSsts.get(name)).isInstanceOf(PlaceholderStreamStateHandle.class);
        }
    }

    @Test
    void confirmationDropsOlderCandidatesAndSubsumedAreDropped() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        RocksDBIncrementalSnapshotOperation<Integer> operation =
                backend.getIncrementalSnapshotOperation();
        writeAndFlush(backend, 0, 100, "a");
        harness.checkpoint(backend, 1, factory);
        writeAndFlush(backend, 0, 100, "b");
        IncrementalRemoteKeyedStateHandle second = harness.checkpoint(backend, 2, factory);
        writeAndFlush(backend, 0, 100, "c");
        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, factory);
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(-1L, 1L, 2L, 3L);

        backend.notifyCheckpointComplete(2);
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(2L, 3L);
        // 3 was taken before 2 was confirmed and may have subsumed it: 2's uploads are not offered
        assertThat(operation.getReusableSharedFiles().keySet())
                .doesNotContainAnyElementsOf(sstHandles(second).keySet());
        // an out-of-order confirmation of an older checkpoint changes nothing
        backend.notifyCheckpointComplete(1);
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(2L, 3L);

        backend.notifyCheckpointSubsumed(2);
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(3L);
        assertThat(operation.getReusableSharedFiles().keySet())
                .isEqualTo(sstHandles(third).keySet());
    }

    @Test
    void fullCheckpointReusesNothingButMayBeReusedLater() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle first = harness.checkpoint(backend, 1, factory);
        backend.notifyCheckpointComplete(1);

        CheckpointOptions full =
                new CheckpointOptions(
                        org.apache.flink.runtime.checkpoint.CheckpointType.FULL_CHECKPOINT,
                        CheckpointStorageLocationReference.getDefault());
        IncrementalRemoteKeyedStateHandle second =
                IncrementalTestHarness.snapshot(backend, 2, factory, full);
        assertThat(placeholders(second)).isEmpty();
        assertThat(physicalIds(second)).doesNotContainAnyElementsOf(physicalIds(first));
        backend.notifyCheckpointComplete(2);

        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, factory);
        Map<String, StreamStateHandle> secondSsts = sstHandles(second);
        for (Map.Entry<String, StreamStateHandle> entry : sstHandles(third).entrySet()) {
            assertThat(entry.getValue()).isInstanceOf(PlaceholderStreamStateHandle.class);
            assertThat(entry.getValue().getStreamStateHandleID())
                    .isEqualTo(secondSsts.get(entry.getKey()).getStreamStateHandleID());
        }
    }

    @Test
    void failedUploadLeavesNothingRegisteredAndDiscardsWhatItWrote() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 1000, "a");
        writeAndFlush(backend, 1000, 1000, "b");
        writeAndFlush(backend, 2000, 1000, "c");
        Path failingStorage = tempDir.resolve("failing");
        for (int failOn = 1; failOn <= 7; failOn++) {
            FailingStreamFactory failing =
                    new FailingStreamFactory(
                            TestStreamFactories.files(failingStorage), failOn, failOn % 2 == 0);
            long checkpointId = 10 + failOn;
            assertThatThrownBy(() -> harness.checkpoint(backend, checkpointId, failing))
                    .hasStackTraceContaining("Injected failure");
            backend.notifyCheckpointComplete(checkpointId);

            assertThat(failing.createdStreams()).isGreaterThanOrEqualTo(failOn);
            assertThat(TestStreamFactories.filesBelow(failingStorage)).isEmpty();
            assertThat(backend.getIncrementalSnapshotOperation().getCandidateCheckpointIds())
                    .doesNotContain(checkpointId);
            assertThat(backend.getIncrementalSnapshotOperation().getReusableSharedFiles())
                    .isEmpty();
            assertThat(localCheckpointDirectories(backend)).isEmpty();
        }

        // the next checkpoint uploads everything
        IncrementalRemoteKeyedStateHandle next = harness.checkpoint(backend, 20, factory);
        assertThat(placeholders(next)).isEmpty();
    }

    @Test
    void metaDataRecordsEveryFileWithItsChecksum() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 500, "a");
        IncrementalRemoteKeyedStateHandle handle = harness.checkpoint(backend, 1, factory);

        IncrementalSnapshotMetaData metaData;
        try (FSDataInputStream in = handle.getMetaDataStateHandle().openInputStream()) {
            metaData =
                    IncrementalSnapshotMetaData.read(
                            new DataInputViewStreamWrapper(in), getClass().getClassLoader(), 1L);
        }
        assertThat(metaData.getStateMetaInfoSnapshots())
                .extracting(s -> s.getName())
                .containsExactly(IncrementalTestHarness.STATE.getName());
        Set<String> names = new HashSet<>();
        handle.getSharedState().forEach(h -> names.add(h.getLocalPath()));
        handle.getPrivateState().forEach(h -> names.add(h.getLocalPath()));
        assertThat(metaData.getFiles().keySet()).isEqualTo(names);
        for (HandleAndLocalPath file : handle.getSharedState()) {
            assertThat(metaData.getFiles().get(file.getLocalPath()).getSize())
                    .isEqualTo(file.getStateSize());
        }
    }

    @Test
    void localCheckpointDirectoryIsDeletedAndBackendIdIsFresh() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        IncrementalRocksDBKeyedStateBackend<Integer> other = harness.createBackend();
        writeAndFlush(backend, 0, 100, "a");
        IncrementalRemoteKeyedStateHandle handle = harness.checkpoint(backend, 1, factory);
        assertThat(localCheckpointDirectories(backend)).isEmpty();
        assertThat(handle.getBackendIdentifier()).isEqualTo(backend.getBackendUID());
        assertThat(backend.getBackendUID()).isNotEqualTo(other.getBackendUID());
        assertThat(handle.getKeyGroupRange()).isEqualTo(backend.getKeyGroupRange());
        assertThat(handle.getCheckpointId()).isEqualTo(1L);
    }

    @Test
    void noTransferThreadSurvivesDispose() throws Exception {
        Set<String> before = transferThreads();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 100, "a");
        writeAndFlush(backend, 100, 100, "b");
        harness.checkpoint(backend, 1, factory);
        assertThat(transferThreads()).isNotEqualTo(before);

        harness.dispose(backend);
        Set<String> after = transferThreads();
        after.removeAll(before);
        assertThat(after).isEmpty();
        assertThat(backend.getInstanceDirectory()).doesNotExist();
    }

    @Test
    void snapshotsAfterTheTaskClosedTheRegistryUsedForRestore() throws Exception {
        // a task closes the registry it passes for restore as soon as the backend is built
        CloseableRegistry restoreRegistry = new CloseableRegistry();
        try (MockEnvironment env = MockEnvironment.builder().build()) {
            for (boolean incremental : new boolean[] {true, false}) {
                IncrementalRocksDBKeyedStateBackend<Integer> backend =
                        KeyedBackends.create(
                                new IncrementalRocksDBStateBackend(incremental)
                                        .withLocalDirectories(tempDir.resolve("other").toString()),
                                env,
                                IntSerializer.INSTANCE,
                                IncrementalTestHarness.MAX_PARALLELISM,
                                new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1),
                                Collections.emptyList(),
                                1.0,
                                restoreRegistry);
                try {
                    restoreRegistry.close();
                    writeAndFlush(backend, 0, 100, "a");
                    RunnableFuture<SnapshotResult<KeyedStateHandle>> snapshot =
                            backend.snapshot(
                                    1L,
                                    1L,
                                    factory,
                                    CheckpointOptions.forCheckpointWithDefaultLocation());
                    snapshot.run();
                    assertThat(snapshot.get().getJobManagerOwnedSnapshot()).isNotNull();
                } finally {
                    backend.dispose();
                }
            }
        }
    }

    @Test
    void emptyBackendWritesNoSnapshot() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        assertThat(harness.checkpoint(backend, 1, factory)).isNull();
        assertThat(TestStreamFactories.filesBelow(storage)).isEmpty();
    }

    // ------------------------------------------------------------------------

    private static Set<String> transferThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(Thread::isAlive)
                .map(Thread::getName)
                .filter(name -> name.startsWith(TransferThreadPool.THREAD_NAME_PREFIX))
                .collect(Collectors.toSet());
    }

    private static List<File> localCheckpointDirectories(
            IncrementalRocksDBKeyedStateBackend<?> backend) {
        File[] files = backend.getInstanceDirectory().listFiles();
        assertThat(files).isNotNull();
        return java.util.Arrays.stream(files)
                .filter(f -> !f.getName().equals("db"))
                .collect(Collectors.toList());
    }

    private static Map<String, StreamStateHandle> sstHandles(
            IncrementalRemoteKeyedStateHandle handle) {
        Map<String, StreamStateHandle> result = new HashMap<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            assertThat(file.getLocalPath()).endsWith(".sst");
            result.put(file.getLocalPath(), file.getHandle());
        }
        return result;
    }

    private static List<StreamStateHandle> placeholders(IncrementalRemoteKeyedStateHandle handle) {
        return handle.getSharedState().stream()
                .map(HandleAndLocalPath::getHandle)
                .filter(h -> h instanceof PlaceholderStreamStateHandle)
                .collect(Collectors.toList());
    }

    private static Set<Object> physicalIds(IncrementalRemoteKeyedStateHandle handle) {
        return handle.getSharedState().stream()
                .map(h -> (Object) h.getHandle().getStreamStateHandleID())
                .collect(Collectors.toSet());
    }
}
