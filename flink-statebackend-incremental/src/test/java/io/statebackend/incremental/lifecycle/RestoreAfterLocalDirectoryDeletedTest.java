package io.statebackend.incremental.lifecycle;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.util.FileUtils;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.RunnableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A TaskManager's local directory may be wiped between a failure and the restore (a new container,
 * a cleaned {@code /tmp}). Restoring from a checkpoint must not depend on anything left in it: the
 * backend recreates the directory and restores everything from the handle.
 */
class RestoreAfterLocalDirectoryDeletedTest {

    private static final int KEYS = 5_000;
    private static final int TIMERS = 500;
    private static final int MAX_PARALLELISM = 64;

    @TempDir Path tempDir;

    private MockEnvironment env;

    @BeforeEach
    void setUp() {
        env = MockEnvironment.builder().setManagedMemorySize(32L << 20).build();
    }

    @AfterEach
    void tearDown() throws Exception {
        env.close();
    }

    private IncrementalRocksDBKeyedStateBackend<Long> createBackend(
            IncrementalRocksDBStateBackend backend, Collection<KeyedStateHandle> restoreFrom)
            throws Exception {
        return KeyedBackends.create(
                backend,
                env,
                LongSerializer.INSTANCE,
                MAX_PARALLELISM,
                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                restoreFrom,
                1.0,
                new CloseableRegistry());
    }

    private static ValueState<Long> valueState(IncrementalRocksDBKeyedStateBackend<Long> backend)
            throws Exception {
        return backend.getPartitionedState(
                VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE,
                new ValueStateDescriptor<>("value", LongSerializer.INSTANCE));
    }

    private static MapState<String, Long> mapState(
            IncrementalRocksDBKeyedStateBackend<Long> backend) throws Exception {
        return backend.getPartitionedState(
                VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE,
                new MapStateDescriptor<>(
                        "map", StringSerializer.INSTANCE, LongSerializer.INSTANCE));
    }

    @ParameterizedTest(name = "timers={0}")
    @EnumSource(PriorityQueueStateType.class)
    void restoresIntoRecreatedLocalDirectory(PriorityQueueStateType timers) throws Exception {
        File localDir = tempDir.resolve("tm-local").resolve("rocksdb").toFile();
        IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend()
                        .withIncrementalCheckpoints(false)
                        .withTimerService(timers)
                        .withLocalDirectories(localDir.getAbsolutePath());
        int instancesBefore = RocksDBInstance.openInstances();

        // 1. write state and take a full checkpoint
        KeyedStateHandle checkpoint;
        File firstInstancePath;
        IncrementalRocksDBKeyedStateBackend<Long> first =
                createBackend(stateBackend, Collections.emptyList());
        try {
            firstInstancePath = first.getRocksDBInstance().getPath();
            // the database lives in db/ of the backend's instance directory
            assertThat(firstInstancePath.getParentFile().getParentFile()).isEqualTo(localDir);
            ValueState<Long> value = valueState(first);
            MapState<String, Long> map = mapState(first);
            for (long key = 0; key < KEYS; key++) {
                first.setCurrentKey(key);
                value.update(key * 7);
                map.put("a" + key, key);
                map.put("b", -key);
            }
            KeyGroupedInternalPriorityQueue<TestTimer> queue =
                    first.create("timers", TestTimer.Serializer.INSTANCE);
            for (long i = 0; i < TIMERS; i++) {
                queue.add(new TestTimer(i, 1_000 + i));
            }
            checkpoint = takeCheckpoint(first, 1L);
        } finally {
            first.dispose();
        }
        assertThat(checkpoint).isNotNull();
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
        assertThat(firstInstancePath).doesNotExist();

        // 2. the local directory disappears entirely, including its parent
        FileUtils.deleteDirectory(localDir.getParentFile());
        assertThat(localDir).doesNotExist();

        // 3. restore into a new backend with the same local directory
        IncrementalRocksDBKeyedStateBackend<Long> restored =
                createBackend(stateBackend, Collections.singletonList(checkpoint));
        try {
            assertThat(localDir).isDirectory();
            File restoredInstancePath = restored.getRocksDBInstance().getPath();
            assertThat(restoredInstancePath.getParentFile().getParentFile()).isEqualTo(localDir);
            assertThat(restoredInstancePath).isDirectory();
            assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore + 1);

            ValueState<Long> value = valueState(restored);
            MapState<String, Long> map = mapState(restored);
            for (long key = 0; key < KEYS; key++) {
                restored.setCurrentKey(key);
                assertThat(value.value()).isEqualTo(key * 7);
                assertThat(map.get("a" + key)).isEqualTo(key);
                assertThat(map.get("b")).isEqualTo(-key);
            }
            restored.setCurrentKey((long) KEYS);
            assertThat(value.value()).isNull();

            KeyGroupedInternalPriorityQueue<TestTimer> queue =
                    restored.create("timers", TestTimer.Serializer.INSTANCE);
            List<Long> priorities = new ArrayList<>();
            for (TestTimer element = queue.poll(); element != null; element = queue.poll()) {
                priorities.add(element.getTimestamp());
            }
            assertThat(priorities).hasSize(TIMERS).isSorted();
            assertThat(priorities.get(0)).isEqualTo(1_000L);

            // the restored backend is fully usable
            restored.setCurrentKey(1L);
            value.update(-1L);
            assertThat(value.value()).isEqualTo(-1L);
        } finally {
            restored.dispose();
        }
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
        assertThat(localDir).isEmptyDirectory();
    }

    private KeyedStateHandle takeCheckpoint(
            IncrementalRocksDBKeyedStateBackend<Long> backend, long checkpointId) throws Exception {
        CheckpointStorageAccess storage =
                new FileSystemCheckpointStorage(tempDir.resolve("checkpoints").toUri())
                        .createCheckpointStorage(new JobID());
        storage.initializeBaseLocationsForCheckpoint();
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(
                        checkpointId,
                        checkpointId,
                        storage.resolveCheckpointStorageLocation(
                                checkpointId, CheckpointStorageLocationReference.getDefault()),
                        CheckpointOptions.forCheckpointWithDefaultLocation());
        future.run();
        return future.get().getJobManagerOwnedSnapshot();
    }
}
