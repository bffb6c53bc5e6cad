package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.BlockingStreamFactory;
import io.statebackend.incremental.transfer.StateFile;

import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.PhysicalStateHandleID;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StreamStateHandle;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.put;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Completion notifications may come late, out of order or never, and checkpoints may overlap or be
 * cancelled: every checkpoint stays correct and restorable, and only what a confirmed checkpoint
 * uploaded is referred to.
 */
class CheckpointNotificationTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    @TempDir Path tempDir;

    private IncrementalTestHarness harness;
    private Path storage;
    private CheckpointStreamFactory factory;

    @BeforeEach
    void setUp() throws Exception {
        harness = new IncrementalTestHarness(tempDir.resolve("local"));
        storage = tempDir.resolve("storage");
        factory = TestStreamFactories.files(storage);
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    @Test
    void olderConfirmationArrivingLateDoesNotReplaceNewerOne() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        RocksDBIncrementalSnapshotOperation<Integer> operation =
                backend.getIncrementalSnapshotOperation();
        writeAndFlush(backend, 0, 500, "a");
        harness.checkpoint(backend, 1, factory);
        writeAndFlush(backend, 500, 500, "b");
        IncrementalRemoteKeyedStateHandle second = harness.checkpoint(backend, 2, factory);
        writeAndFlush(backend, 1000, 500, "c");
        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, factory);
        harness.register(second);
        harness.register(third);

        backend.notifyCheckpointComplete(3);
        backend.notifyCheckpointComplete(2);
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(3L);
        assertThat(physicalIds(operation.getReusableSharedFiles()))
                .isEqualTo(physicalIds(sstHandles(third)));

        // the next checkpoint refers to what checkpoint 3 uploaded, never to checkpoint 2's files
        put(backend, 3, "d-3");
        IncrementalRemoteKeyedStateHandle fourth = harness.checkpoint(backend, 4, factory);
        Set<PhysicalStateHandleID> thirdIds = physicalIds(sstHandles(third));
        Set<PhysicalStateHandleID> secondIds = physicalIds(sstHandles(second));
        List<StreamStateHandle> placeholders = placeholders(fourth);
        assertThat(placeholders).isNotEmpty();
        for (StreamStateHandle placeholder : placeholders) {
            assertThat(thirdIds).contains(placeholder.getStreamStateHandleID());
            assertThat(secondIds).doesNotContain(placeholder.getStreamStateHandleID());
        }
        harness.register(fourth);
        IncrementalRocksDBKeyedStateBackend<Integer> restored = restore(fourth);
        assertThat(get(restored, 3)).isEqualTo("d-3");
        assertThat(get(restored, 1200)).isEqualTo("c-1200");
    }

    @Test
    void lostNotificationsCostReuploadsButEveryCheckpointRestores() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        List<IncrementalRemoteKeyedStateHandle> checkpoints = new ArrayList<>();
        for (int i = 1; i <= 5; i++) {
            writeAndFlush(backend, i * 100, 100, "v" + i);
            put(backend, 0, "latest-" + i);
            IncrementalRemoteKeyedStateHandle handle = harness.checkpoint(backend, i, factory);
            // no notification at all: nothing is referred to, everything uploaded anew
            assertThat(placeholders(handle)).isEmpty();
            for (IncrementalRemoteKeyedStateHandle earlier : checkpoints) {
                assertThat(physicalIds(sstHandles(handle)))
                        .doesNotContainAnyElementsOf(physicalIds(sstHandles(earlier)));
            }
            harness.register(handle);
            checkpoints.add(handle);
        }
        assertThat(backend.getIncrementalSnapshotOperation().getReusableSharedFiles()).isEmpty();

        for (int i = 1; i <= 5; i++) {
            IncrementalRocksDBKeyedStateBackend<Integer> restored = restore(checkpoints.get(i - 1));
            assertThat(get(restored, 0)).isEqualTo("latest-" + i);
            for (int j = 1; j <= 5; j++) {
                int key = j * 100 + 42;
                assertThat(get(restored, key)).isEqualTo(j <= i ? "v" + j + "-" + key : null);
            }
            harness.dispose(restored);
        }
    }

    @Test
    void candidatesOfUnconfirmedCheckpointsAreCapped() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        RocksDBIncrementalSnapshotOperation<Integer> operation =
                backend.getIncrementalSnapshotOperation();
        writeAndFlush(backend, 10_000, 1000, "base");
        harness.checkpoint(backend, 1, factory);
        backend.notifyCheckpointComplete(1);
        int max = ReusableSharedFiles.MAX_CANDIDATES;
        Map<Long, IncrementalRemoteKeyedStateHandle> handles = new HashMap<>();
        for (long id = 2; id <= max + 6; id++) {
            put(backend, (int) id, "v" + id);
            handles.put(id, harness.checkpoint(backend, id, factory));
            assertThat(operation.getCandidateCheckpointIds()).hasSizeLessThanOrEqualTo(max);
        }

        // a confirmation of a checkpoint folded with others keeps only what all of them, and
        // every newer one, refer to
        backend.notifyCheckpointComplete(3);
        IncrementalRemoteKeyedStateHandle next = harness.checkpoint(backend, 100, factory);
        for (long id = 3; id <= max + 6; id++) {
            Set<PhysicalStateHandleID> referred = physicalIds(sstHandles(handles.get(id)));
            assertThat(placeholders(next))
                    .allMatch(h -> referred.contains(h.getStreamStateHandleID()));
        }

        // confirming the newest makes its uploads reusable
        backend.notifyCheckpointComplete(100);
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(100L);
        assertThat(physicalIds(operation.getReusableSharedFiles()))
                .isEqualTo(physicalIds(sstHandles(next)));
    }

    @ParameterizedTest(name = "first to finish: {0}")
    @ValueSource(longs = {1L, 2L})
    void twoCheckpointsInFlightComplete(long firstToFinish) throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        writeAndFlush(backend, 0, 500, "a");
        RunnableFuture<SnapshotResult<KeyedStateHandle>> one = start(backend, 1);
        put(backend, 3, "changed");
        writeAndFlush(backend, 500, 500, "b");
        RunnableFuture<SnapshotResult<KeyedStateHandle>> two = start(backend, 2);
        // the live database moves on while both upload
        writeAndFlush(backend, 1000, 500, "c");

        Map<Long, RunnableFuture<SnapshotResult<KeyedStateHandle>>> futures = new HashMap<>();
        futures.put(1L, one);
        futures.put(2L, two);
        long secondToFinish = 3 - firstToFinish;
        futures.get(firstToFinish).run();
        futures.get(secondToFinish).run();
        IncrementalRemoteKeyedStateHandle first = handleOf(one);
        IncrementalRemoteKeyedStateHandle second = handleOf(two);
        harness.register(first);
        harness.register(second);
        backend.notifyCheckpointComplete(firstToFinish);
        backend.notifyCheckpointComplete(secondToFinish);
        assertThat(localCheckpointDirectories(backend)).isEmpty();

        // the newer checkpoint is the confirmed one, whichever finished and was confirmed first
        assertThat(physicalIds(backend.getIncrementalSnapshotOperation().getReusableSharedFiles()))
                .isEqualTo(physicalIds(sstHandles(second)));

        IncrementalRocksDBKeyedStateBackend<Integer> fromFirst = restore(first);
        assertThat(get(fromFirst, 3)).isEqualTo("a-3");
        assertThat(get(fromFirst, 700)).isNull();
        IncrementalRocksDBKeyedStateBackend<Integer> fromSecond = restore(second);
        assertThat(get(fromSecond, 3)).isEqualTo("changed");
        assertThat(get(fromSecond, 700)).isEqualTo("b-700");
        assertThat(get(fromSecond, 1200)).isNull();

        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, factory);
        Set<PhysicalStateHandleID> secondIds = physicalIds(sstHandles(second));
        assertThat(placeholders(third))
                .isNotEmpty()
                .allMatch(h -> secondIds.contains(h.getStreamStateHandleID()));
    }

    @Test
    void cancelledUploadLeavesNothingRegisteredAndDeletesWhatItWrote() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();
        RocksDBIncrementalSnapshotOperation<Integer> operation =
                backend.getIncrementalSnapshotOperation();
        writeAndFlush(backend, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle confirmed = harness.checkpoint(backend, 1, factory);
        harness.register(confirmed);
        backend.notifyCheckpointComplete(1);
        Map<String, StateFile> confirmedBefore = operation.getReusableSharedFiles();

        writeAndFlush(backend, 1000, 1000, "b");
        writeAndFlush(backend, 2000, 1000, "c");
        Path cancelledStorage = tempDir.resolve("cancelled");
        BlockingStreamFactory blocking =
                new BlockingStreamFactory(TestStreamFactories.files(cancelledStorage), 2);
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        2, 2, blocking, CheckpointOptions.forCheckpointWithDefaultLocation());
        AtomicReference<Throwable> runFailure = new AtomicReference<>();
        Thread runner =
                new Thread(
                        () -> {
                            try {
                                future.run();
                            } catch (Throwable t) {
                                runFailure.set(t);
                            }
                        },
                        "snapshot-runner");
        runner.start();
        blocking.awaitBlocked();

        assertThat(future.cancel(true)).isTrue();
        runner.join();
        assertThat(runFailure.get()).isNull();
        assertThat(future.isCancelled()).isTrue();
        assertThatThrownBy(future::get).isInstanceOf(CancellationException.class);

        // nothing the cancelled checkpoint wrote is left, nothing of it is on record
        assertThat(TestStreamFactories.filesBelow(cancelledStorage)).isEmpty();
        assertThat(operation.getCandidateCheckpointIds()).containsExactly(1L);
        backend.notifyCheckpointComplete(2);
        assertThat(operation.getReusableSharedFiles()).isEqualTo(confirmedBefore);
        assertThat(localCheckpointDirectories(backend)).isEmpty();

        // the next checkpoint refers to checkpoint 1 and restores
        IncrementalRemoteKeyedStateHandle third = harness.checkpoint(backend, 3, factory);
        Set<PhysicalStateHandleID> confirmedIds = physicalIds(sstHandles(confirmed));
        assertThat(placeholders(third))
                .isNotEmpty()
                .allMatch(h -> confirmedIds.contains(h.getStreamStateHandleID()));
        harness.register(third);
        IncrementalRocksDBKeyedStateBackend<Integer> restored = restore(third);
        assertThat(get(restored, 2500)).isEqualTo("c-2500");
    }

    // ------------------------------------------------------------------------

    private IncrementalRocksDBKeyedStateBackend<Integer> restore(
            IncrementalRemoteKeyedStateHandle handle) throws Exception {
        return harness.createBackend(ALL, Collections.singletonList(handle));
    }

    private RunnableFuture<SnapshotResult<KeyedStateHandle>> start(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, long checkpointId)
            throws Exception {
        return backend.snapshot(
                checkpointId,
                checkpointId,
                factory,
                CheckpointOptions.forCheckpointWithDefaultLocation());
    }

    private static IncrementalRemoteKeyedStateHandle handleOf(
            RunnableFuture<SnapshotResult<KeyedStateHandle>> future) throws Exception {
        return (IncrementalRemoteKeyedStateHandle) future.get().getJobManagerOwnedSnapshot();
    }

    private static Map<String, StreamStateHandle> sstHandles(
            IncrementalRemoteKeyedStateHandle handle) {
        Map<String, StreamStateHandle> result = new HashMap<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            result.put(file.getLocalPath(), file.getHandle());
        }
        return result;
    }

    private static Set<PhysicalStateHandleID> physicalIds(Map<String, ?> files) {
        Set<PhysicalStateHandleID> ids = new HashSet<>();
        for (Object file : files.values()) {
            StreamStateHandle handle =
                    file instanceof StateFile
                            ? ((StateFile) file).getHandle()
                            : (StreamStateHandle) file;
            ids.add(handle.getStreamStateHandleID());
        }
        return ids;
    }

    private static List<StreamStateHandle> placeholders(IncrementalRemoteKeyedStateHandle handle) {
        return handle.getSharedState().stream()
                .map(HandleAndLocalPath::getHandle)
                .filter(h -> h instanceof PlaceholderStreamStateHandle)
                .collect(Collectors.toList());
    }

    private static List<File> localCheckpointDirectories(
            IncrementalRocksDBKeyedStateBackend<?> backend) {
        File[] files = backend.getInstanceDirectory().listFiles();
        assertThat(files).isNotNull();
        return Arrays.stream(files)
                .filter(f -> !f.getName().equals("db"))
                .collect(Collectors.toList());
    }
}
