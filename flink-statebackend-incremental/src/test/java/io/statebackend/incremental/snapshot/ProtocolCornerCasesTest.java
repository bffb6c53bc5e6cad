package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.JobID;
import org.apache.flink.core.execution.RestoreMode;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.CheckpointProperties;
import org.apache.flink.runtime.checkpoint.CheckpointType;
import org.apache.flink.runtime.checkpoint.CompletedCheckpoint;
import org.apache.flink.runtime.checkpoint.OperatorState;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.jobgraph.OperatorID;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalKeyedStateHandle.HandleAndLocalPath;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.PhysicalStateHandleID;
import org.apache.flink.runtime.state.PlaceholderStreamStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.testutils.TestCompletedCheckpointStorageLocation;
import org.apache.flink.util.FileUtils;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.get;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.put;
import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Orders of notifications after which a checkpoint used to refer to files that the JobManager or
 * the user may already have deleted. Each test plays what the JobManager does with a real shared
 * state registry that deletes files, then deletes what it may delete and restores.
 */
class ProtocolCornerCasesTest {

    private static final KeyGroupRange ALL =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    private static final CheckpointOptions INCREMENTAL =
            CheckpointOptions.forCheckpointWithDefaultLocation();

    private static final CheckpointOptions FULL =
            CheckpointOptions.forConfig(
                    CheckpointType.FULL_CHECKPOINT,
                    CheckpointOptions.forCheckpointWithDefaultLocation().getTargetLocation(),
                    true,
                    false,
                    0L);

    @TempDir Path tempDir;

    private IncrementalTestHarness harness;

    @BeforeEach
    void setUp() {
        harness = new IncrementalTestHarness(tempDir.resolve("local"));
    }

    @AfterEach
    void tearDown() throws Exception {
        harness.close();
    }

    /**
     * NO_CLAIM: the first checkpoint after the restore is FULL, and the next one is taken before
     * the FULL one is confirmed. Once the FULL one completed the user deletes the restored
     * snapshot; the newest checkpoints must not need it.
     */
    @Test
    void checkpointBeforeFullOneIsConfirmedDoesNotReferToRestoredSnapshot() throws Exception {
        Path oldJobStorage = tempDir.resolve("old-job");
        CheckpointStreamFactory oldJob = TestStreamFactories.files(oldJobStorage);
        IncrementalRocksDBKeyedStateBackend<Integer> original = harness.createBackend();
        writeAndFlush(original, 0, 1000, "a");
        IncrementalRemoteKeyedStateHandle restoredFrom =
                IncrementalTestHarness.snapshot(original, 7, oldJob, INCREMENTAL);
        harness.dispose(original);

        // the new job's JobManager registers the restored checkpoint without claiming it
        SharedStateRegistry registry = new SharedStateRegistryImpl();
        registry.registerAllAfterRestored(completed(restoredFrom), RestoreMode.NO_CLAIM);
        CheckpointStreamFactory newJob = TestStreamFactories.files(tempDir.resolve("new-job"));
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                harness.createBackend(ALL, Collections.singletonList(restoredFrom));
        put(backend, 1, "b-1");
        IncrementalRemoteKeyedStateHandle full =
                IncrementalTestHarness.snapshot(backend, 8, newJob, FULL);
        put(backend, 2, "c-2");
        IncrementalRemoteKeyedStateHandle next =
                IncrementalTestHarness.snapshot(backend, 9, newJob, INCREMENTAL);

        // 8 completes, its notification is late; 9 completes and subsumes 8
        full.registerSharedStates(registry, 8);
        registry.unregisterUnusedState(8);
        next.registerSharedStates(registry, 9);
        registry.unregisterUnusedState(9);
        backend.notifyCheckpointComplete(8);
        backend.notifyCheckpointComplete(9);

        Set<PhysicalStateHandleID> restoredFiles = physicalIds(restoredFrom);
        assertThat(referredIds(full)).doesNotContainAnyElementsOf(restoredFiles);
        assertThat(referredIds(next)).doesNotContainAnyElementsOf(restoredFiles);

        // allowed once the FULL checkpoint completed
        FileUtils.deleteDirectory(oldJobStorage.toFile());

        put(backend, 3, "d-3");
        IncrementalRemoteKeyedStateHandle last =
                IncrementalTestHarness.snapshot(backend, 10, newJob, INCREMENTAL);
        last.registerSharedStates(registry, 10);
        registry.unregisterUnusedState(10);
        assertThat(referredIds(last)).doesNotContainAnyElementsOf(restoredFiles);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(ALL, Collections.singletonList(last));
        assertThat(get(restored, 1)).isEqualTo("b-1");
        assertThat(get(restored, 2)).isEqualTo("c-2");
        assertThat(get(restored, 3)).isEqualTo("d-3");
        assertThat(get(restored, 500)).isEqualTo("a-500");
    }

    /**
     * Checkpoint 2 completes, its notification is late; checkpoint 3 is taken, completes and
     * subsumes 2, whose own uploads the JobManager deletes; 3's notification is lost; then 2's
     * arrives. The following checkpoints must neither be rejected nor lose state.
     */
    @Test
    void lateConfirmationOfSubsumedCheckpointIsNotTheReuseBase() throws Exception {
        Path storage = tempDir.resolve("storage");
        CheckpointStreamFactory factory = TestStreamFactories.files(storage);
        SharedStateRegistry registry = new SharedStateRegistryImpl();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();

        List<IncrementalRemoteKeyedStateHandle> completed =
                threeCheckpointsCompletedAtJobManager(backend, factory, registry, true);
        IncrementalRemoteKeyedStateHandle first = completed.get(0);
        IncrementalRemoteKeyedStateHandle second = completed.get(1);
        Set<PhysicalStateHandleID> onlyInSecond = physicalIds(second);
        onlyInSecond.removeAll(physicalIds(first));
        assertThat(onlyInSecond).isNotEmpty();
        for (PhysicalStateHandleID deleted : onlyInSecond) {
            assertThat(Files.exists(pathOf(second, deleted))).isFalse();
        }

        // 3's notification is lost, 2's arrives late
        backend.notifyCheckpointComplete(2);

        put(backend, 4, "d-4");
        IncrementalRemoteKeyedStateHandle fourth = harness.checkpoint(backend, 4, factory);
        assertThat(referredIds(fourth)).doesNotContainAnyElementsOf(onlyInSecond);
        complete(registry, fourth);
        put(backend, 5, "e-5");
        IncrementalRemoteKeyedStateHandle fifth = harness.checkpoint(backend, 5, factory);
        complete(registry, fifth);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(ALL, Collections.singletonList(fifth));
        assertThat(get(restored, 4)).isEqualTo("d-4");
        assertThat(get(restored, 5)).isEqualTo("e-5");
        assertThat(get(restored, 1500)).isEqualTo("b-1500");
        assertThat(get(restored, 2500)).isEqualTo("c-2500");
    }

    /** The same, when the subsume notification of 2 arrives before 2's late confirmation. */
    @Test
    void subsumedThenLateConfirmationStillRefersOnlyToLiveFiles() throws Exception {
        CheckpointStreamFactory factory = TestStreamFactories.files(tempDir.resolve("storage"));
        SharedStateRegistry registry = new SharedStateRegistryImpl();
        IncrementalRocksDBKeyedStateBackend<Integer> backend = harness.createBackend();

        IncrementalRemoteKeyedStateHandle third =
                threeCheckpointsCompletedAtJobManager(backend, factory, registry, false).get(2);
        backend.notifyCheckpointSubsumed(2);
        backend.notifyCheckpointComplete(2);
        backend.notifyCheckpointComplete(1);

        put(backend, 4, "d-4");
        IncrementalRemoteKeyedStateHandle fourth = harness.checkpoint(backend, 4, factory);
        // only checkpoint 3 can be the latest completed one: what it refers to may be reused
        assertThat(placeholderIds(fourth)).isNotEmpty().isSubsetOf(physicalIds(third));
        complete(registry, fourth);

        IncrementalRocksDBKeyedStateBackend<Integer> restored =
                harness.createBackend(ALL, Collections.singletonList(fourth));
        assertThat(get(restored, 4)).isEqualTo("d-4");
        assertThat(get(restored, 2500)).isEqualTo("c-2500");
    }

    // ------------------------------------------------------------------------

    /**
     * Checkpoints 1 to 3, each with new files, completed at the JobManager one after the other;
     * only checkpoint 1's confirmation reaches the backend, if asked for.
     */
    private List<IncrementalRemoteKeyedStateHandle> threeCheckpointsCompletedAtJobManager(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            CheckpointStreamFactory factory,
            SharedStateRegistry registry,
            boolean confirmFirst)
            throws Exception {
        List<IncrementalRemoteKeyedStateHandle> handles = new ArrayList<>();
        for (int id = 1; id <= 3; id++) {
            writeAndFlush(backend, (id - 1) * 1000, 1000, String.valueOf((char) ('a' + id - 1)));
            IncrementalRemoteKeyedStateHandle handle = harness.checkpoint(backend, id, factory);
            complete(registry, handle);
            if (id == 1 && confirmFirst) {
                backend.notifyCheckpointComplete(1);
            }
            handles.add(handle);
        }
        return handles;
    }

    /** Registers the checkpoint as completed and subsumes every older one (one retained). */
    private static void complete(
            SharedStateRegistry registry, IncrementalRemoteKeyedStateHandle handle) {
        long id = handle.getCheckpointId();
        handle.registerSharedStates(registry, id);
        registry.checkpointCompleted(id);
        registry.unregisterUnusedState(id);
    }

    private static CompletedCheckpoint completed(IncrementalRemoteKeyedStateHandle handle) {
        OperatorID operator = new OperatorID();
        OperatorState state = new OperatorState(operator, 1, 128);
        state.putState(0, OperatorSubtaskState.builder().setManagedKeyedState(handle).build());
        return new CompletedCheckpoint(
                new JobID(),
                handle.getCheckpointId(),
                0L,
                0L,
                Collections.singletonMap(operator, state),
                Collections.emptyList(),
                CheckpointProperties.forCheckpoint(
                        org.apache.flink.runtime.checkpoint.CheckpointRetentionPolicy
                                .NEVER_RETAIN_AFTER_TERMINATION),
                new TestCompletedCheckpointStorageLocation(),
                null);
    }

    /** Physical ids of the SST files the checkpoint uploaded itself. */
    private static Set<PhysicalStateHandleID> physicalIds(
            IncrementalRemoteKeyedStateHandle handle) {
        Set<PhysicalStateHandleID> ids = new HashSet<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            if (!(file.getHandle() instanceof PlaceholderStreamStateHandle)) {
                ids.add(file.getHandle().getStreamStateHandleID());
            }
        }
        return ids;
    }

    /** Physical ids of every SST file the checkpoint needs, uploaded or referred to. */
    private static Set<PhysicalStateHandleID> referredIds(
            IncrementalRemoteKeyedStateHandle handle) {
        Set<PhysicalStateHandleID> ids = new HashSet<>();
        for (HandleAndLocalPath file : handle.getSharedState()) {
            ids.add(file.getHandle().getStreamStateHandleID());
        }
        return ids;
    }

    /** Physical ids of the SST files the checkpoint refers to by placeholder. */
    private static Set<PhysicalStateHandleID> placeholderIds(
            IncrementalRemoteKeyedStateHandle handle) {
        Set<PhysicalStateHandleID> ids = referredIds(handle);
        ids.removeAll(physicalIds(handle));
        return ids;
    }

    private static Path pathOf(IncrementalRemoteKeyedStateHandle handle, PhysicalStateHandleID id) {
        for (HandleAndLocalPath file : handle.getSharedState()) {
            StreamStateHandle stream = file.getHandle();
            if (stream.getStreamStateHandleID().equals(id)) {
                return Path.of(((FileStateHandle) stream).getFilePath().toUri());
            }
        }
        throw new IllegalArgumentException("No file " + id + " in " + handle);
    }
}
