package io.statebackend.incremental.lifecycle;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.KeyedBackends;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupedInternalPriorityQueue;
import org.apache.flink.runtime.state.KeyGroupsStateHandle;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.filesystem.FileStateHandle;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.util.ExceptionUtils;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.RunnableFuture;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Opening and disposing many keyed backends in one JVM leaks no RocksDB instance, no thread, no
 * file descriptor and no directory (DESIGN.md §8).
 *
 * <p>RocksDB's background thread pools belong to its default {@code Env} and are process-wide: they
 * are created with the first database and never shrink. The baselines are therefore taken after a
 * warm-up backend was opened, used, snapshotted, restored and disposed.
 */
class ResourceLeakTest {

    private static final int BACKENDS = 50;
    private static final int KEYS = 1_000;
    private static final int MAX_PARALLELISM = 32;

    /** Slack for threads and descriptors of the JVM and the test framework, not of the backend. */
    private static final int THREAD_SLACK = 5;

    private static final int FD_SLACK = 5;

    private static final Path PROC_FD = Paths.get("/proc/self/fd");
    private static final Path PROC_TASKS = Paths.get("/proc/self/task");

    @TempDir Path tempDir;

    @Test
    void openAndDisposeManyBackends() throws Exception {
        // the descriptor count only exists on Linux (and similar): skip elsewhere rather than
        // pretend to have measured something
        assumeTrue(Files.isDirectory(PROC_FD), "/proc/self/fd is not available");

        File localDir = tempDir.resolve("local").toFile();
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();

        try (MockEnvironment env =
                MockEnvironment.builder().setManagedMemorySize(64L << 20).build()) {
            CheckpointStorageAccess storage =
                    new FileSystemCheckpointStorage(tempDir.resolve("checkpoints").toUri())
                            .createCheckpointStorage(new JobID());
            storage.initializeBaseLocationsForCheckpoint();

            final int instancesAtStart = RocksDBInstance.openInstances();

            // warm-up: starts RocksDB's process-wide background threads and loads classes
            for (PriorityQueueStateType timers : PriorityQueueStateType.values()) {
                runCycle(env, storage, localDir, timers, true, 0);
            }

            final int instancesBaseline = RocksDBInstance.openInstances();
            final int javaThreadsBaseline = threads.getThreadCount();
            final int osThreadsBaseline = countEntries(PROC_TASKS);
            final int fdsBaseline = countEntries(PROC_FD);
            assertThat(instancesBaseline).isEqualTo(instancesAtStart);

            int peakJavaThreads = javaThreadsBaseline;
            int peakOsThreads = osThreadsBaseline;
            int peakFds = fdsBaseline;
            int opened = 0;
            for (int i = 0; i < BACKENDS; i++) {
                PriorityQueueStateType timers =
                        i % 2 == 0 ? PriorityQueueStateType.ROCKSDB : PriorityQueueStateType.HEAP;
                boolean snapshotAndRestore = i % 5 == 0;
                CycleCounts cycle =
                        runCycle(env, storage, localDir, timers, snapshotAndRestore, i + 1L);
                opened += cycle.backends;
                peakJavaThreads = Math.max(peakJavaThreads, cycle.javaThreadsWhileOpen);
                peakOsThreads = Math.max(peakOsThreads, cycle.osThreadsWhileOpen);
                peakFds = Math.max(peakFds, cycle.fdsWhileOpen);
                assertThat(RocksDBInstance.openInstances())
                        .as("open RocksDB instances after cycle %d", i)
                        .isEqualTo(instancesBaseline);
            }

            final int instancesAfter = RocksDBInstance.openInstances();
            final int javaThreadsAfter = threads.getThreadCount();
            final int osThreadsAfter = countEntries(PROC_TASKS);
            final int fdsAfter = countEntries(PROC_FD);
            String[] leftInLocalDir = localDir.list();

            System.out.printf(
                    "ResourceLeakTest: %d keyed backends opened and disposed (%d with a snapshot"
                            + " and restore)%n",
                    opened, BACKENDS / 5);
            System.out.printf(
                    "ResourceLeakTest: RocksDB instances baseline=%d after=%d%n",
                    instancesBaseline, instancesAfter);
            System.out.printf(
                    "ResourceLeakTest: Java threads baseline=%d peak=%d after=%d%n",
                    javaThreadsBaseline, peakJavaThreads, javaThreadsAfter);
            System.out.printf(
                    "ResourceLeakTest: OS threads (/proc/self/task) baseline=%d peak=%d after=%d%n",
                    osThreadsBaseline, peakOsThreads, osThreadsAfter);
            System.out.printf(
                    "ResourceLeakTest: file descriptors (/proc/self/fd) baseline=%d peak=%d"
                            + " after=%d%n",
                    fdsBaseline, peakFds, fdsAfter);
            System.out.printf(
                    "ResourceLeakTest: entries left in the local directory: %s%n",
                    leftInLocalDir == null || leftInLocalDir.length == 0
                            ? "(none)"
                            : String.join(", ", leftInLocalDir));

            assertThat(instancesAfter).isEqualTo(instancesBaseline);
            assertThat(javaThreadsAfter).isLessThanOrEqualTo(javaThreadsBaseline + THREAD_SLACK);
            assertThat(osThreadsAfter).isLessThanOrEqualTo(osThreadsBaseline + THREAD_SLACK);
            assertThat(fdsAfter).isLessThanOrEqualTo(fdsBaseline + FD_SLACK);
            assertThat(localDir).isEmptyDirectory();
            // every backend had its own directory while it was open
            assertThat(opened).isEqualTo(BACKENDS + BACKENDS / 5);
            // the memory manager got back all memory the backends' caches reserved
            assertThat(env.getMemoryManager().availableMemory()).isEqualTo(64L << 20);
        }
    }

    /**
     * A restore that fails half-way (the checkpoint file was deleted) closes what it opened: no
     * instance, memory lease, descriptor or directory is left, and the error names the file.
     */
    @Test
    void failedRestoresLeakNothing() throws Exception {
        assumeTrue(Files.isDirectory(PROC_FD), "/proc/self/fd is not available");
        File localDir = tempDir.resolve("local").toFile();
        try (MockEnvironment env =
                MockEnvironment.builder().setManagedMemorySize(64L << 20).build()) {
            CheckpointStorageAccess storage =
                    new FileSystemCheckpointStorage(
                                    tempDir.resolve("checkpoints").toUri(), 0 /* always files */)
                            .createCheckpointStorage(new JobID());
            storage.initializeBaseLocationsForCheckpoint();
            // a canonical checkpoint: one file to corrupt
            IncrementalRocksDBStateBackend stateBackend =
                    new IncrementalRocksDBStateBackend()
                            .withIncrementalCheckpoints(false)
                            .withLocalDirectories(localDir.getAbsolutePath());

            IncrementalRocksDBKeyedStateBackend<Long> backend = create(stateBackend, env, null);
            KeyedStateHandle handle;
            try {
                ValueState<Long> value = valueState(backend);
                for (long key = 0; key < KEYS; key++) {
                    backend.setCurrentKey(key);
                    value.update(key);
                }
                RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                        backend.snapshot(
                                1L,
                                1L,
                                storage.resolveCheckpointStorageLocation(
                                        1L, CheckpointStorageLocationReference.getDefault()),
                                CheckpointOptions.forCheckpointWithDefaultLocation());
                future.run();
                handle = future.get().getJobManagerOwnedSnapshot();
            } finally {
                backend.dispose();
            }
            assertThat(handle).isInstanceOf(KeyGroupsStateHandle.class);
            StreamStateHandle delegate = ((KeyGroupsStateHandle) handle).getDelegateStateHandle();
            assertThat(delegate).isInstanceOf(FileStateHandle.class);
            String checkpointFile = ((FileStateHandle) delegate).getFilePath().getPath();

            // one successful restore first, so that the baselines include everything a restore
            // loads once per JVM
            create(stateBackend, env, handle).dispose();

            final int instancesBaseline = RocksDBInstance.openInstances();
            final int fdsBaseline = countEntries(PROC_FD);
            final int osThreadsBaseline = countEntries(PROC_TASKS);

            Files.delete(Paths.get(checkpointFile));
            for (int i = 0; i < 10; i++) {
                final KeyedStateHandle missing = handle;
                assertThatThrownBy(() -> create(stateBackend, env, missing))
                        .satisfies(
                                e ->
                                        assertThat(ExceptionUtils.stringifyException(e))
                                                .contains(checkpointFile));
                assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBaseline);
                assertThat(localDir).isEmptyDirectory();
                assertThat(env.getMemoryManager().availableMemory()).isEqualTo(64L << 20);
            }
            int fdsAfter = countEntries(PROC_FD);
            int osThreadsAfter = countEntries(PROC_TASKS);
            System.out.printf(
                    "ResourceLeakTest (failed restores): file descriptors baseline=%d after=%d,"
                            + " OS threads baseline=%d after=%d%n",
                    fdsBaseline, fdsAfter, osThreadsBaseline, osThreadsAfter);
            assertThat(fdsAfter).isLessThanOrEqualTo(fdsBaseline + FD_SLACK);
            assertThat(osThreadsAfter).isLessThanOrEqualTo(osThreadsBaseline + THREAD_SLACK);
        }
    }

    /** What one cycle observed while its backends were open. */
    private static final class CycleCounts {
        int backends;
        int javaThreadsWhileOpen;
        int osThreadsWhileOpen;
        int fdsWhileOpen;
    }

    /**
     * Opens a backend, writes value, list and timer state, optionally snapshots it and restores the
     * snapshot into a second backend (checked), and disposes everything.
     */
    private static CycleCounts runCycle(
            MockEnvironment env,
            CheckpointStorageAccess storage,
            File localDir,
            PriorityQueueStateType timers,
            boolean snapshotAndRestore,
            long checkpointId)
            throws Exception {
        // heap timers are part of canonical checkpoints only (in incremental ones the timer
        // service writes them into raw keyed state): RocksDB timers go through the incremental
        // path, heap timers through the canonical one
        // incremental checkpoints also upload new SST files ahead: their thread, staged links and
        // listener must go with the backend too
        IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend()
                        .withIncrementalCheckpoints(timers == PriorityQueueStateType.ROCKSDB)
                        .withTimerService(timers)
                        .withLocalDirectories(localDir.getAbsolutePath())
                        .withSetting(
                                IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD.key(),
                                String.valueOf(timers == PriorityQueueStateType.ROCKSDB));
        CycleCounts counts = new CycleCounts();
        List<File> instancePaths = new ArrayList<>();
        KeyedStateHandle handle = null;

        IncrementalRocksDBKeyedStateBackend<Long> backend = create(stateBackend, env, null);
        counts.backends++;
        try {
            instancePaths.add(backend.getRocksDBInstance().getPath());
            ValueState<Long> value = valueState(backend);
            ListState<Long> list = listState(backend);
            KeyGroupedInternalPriorityQueue<TestTimer> queue =
                    backend.create("timers", TestTimer.Serializer.INSTANCE);
            for (long key = 0; key < KEYS; key++) {
                backend.setCurrentKey(key);
                value.update(key);
                list.add(key);
                list.add(-key);
                queue.add(new TestTimer(key, 10_000 + key));
            }
            // flushes create SST files and more descriptors, which must be closed too
            backend.flush();
            if (snapshotAndRestore) {
                RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                        backend.snapshot(
                                checkpointId,
                                checkpointId,
                                storage.resolveCheckpointStorageLocation(
                                        checkpointId,
                                        CheckpointStorageLocationReference.getDefault()),
                                CheckpointOptions.forCheckpointWithDefaultLocation());
                future.run();
                handle = future.get().getJobManagerOwnedSnapshot();
                assertThat(handle).isNotNull();
                // written after the checkpoint: uploaded ahead, if on, and discarded on dispose
                for (long key = 0; key < KEYS; key += 10) {
                    backend.setCurrentKey(key);
                    list.add(key);
                }
                backend.flush();
                for (long key = 0; key < KEYS; key += 10) {
                    backend.setCurrentKey(key);
                    list.get();
                }
            }
            counts.javaThreadsWhileOpen = ManagementFactory.getThreadMXBean().getThreadCount();
            counts.osThreadsWhileOpen = countEntries(PROC_TASKS);
            counts.fdsWhileOpen = countEntries(PROC_FD);
        } finally {
            backend.dispose();
        }

        if (handle != null) {
            IncrementalRocksDBKeyedStateBackend<Long> restored = create(stateBackend, env, handle);
            counts.backends++;
            try {
                instancePaths.add(restored.getRocksDBInstance().getPath());
                ValueState<Long> value = valueState(restored);
                ListState<Long> list = listState(restored);
                for (long key = 0; key < KEYS; key += 97) {
                    restored.setCurrentKey(key);
                    assertThat(value.value()).isEqualTo(key);
                    assertThat(list.get()).containsExactly(key, -key);
                }
                KeyGroupedInternalPriorityQueue<TestTimer> queue =
                        restored.create("timers", TestTimer.Serializer.INSTANCE);
                assertThat(queue.size()).isEqualTo(KEYS);
                assertThat(queue.peek().getTimestamp()).isEqualTo(10_000L);
                counts.fdsWhileOpen = Math.max(counts.fdsWhileOpen, countEntries(PROC_FD));
            } finally {
                restored.dispose();
            }
            handle.discardState();
        }

        for (File path : instancePaths) {
            assertThat(path).doesNotExist();
        }
        return counts;
    }

    private static IncrementalRocksDBKeyedStateBackend<Long> create(
            IncrementalRocksDBStateBackend stateBackend,
            MockEnvironment env,
            KeyedStateHandle restoreFrom)
            throws Exception {
        return KeyedBackends.create(
                stateBackend,
                env,
                LongSerializer.INSTANCE,
                MAX_PARALLELISM,
                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                restoreFrom == null
                        ? Collections.emptyList()
                        : Collections.singletonList(restoreFrom),
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

    private static ListState<Long> listState(IncrementalRocksDBKeyedStateBackend<Long> backend)
            throws Exception {
        return backend.getPartitionedState(
                VoidNamespace.INSTANCE,
                VoidNamespaceSerializer.INSTANCE,
                new ListStateDescriptor<>("list", LongSerializer.INSTANCE));
    }

    private static int countEntries(Path directory) throws IOException {
        try (Stream<Path> entries = Files.list(directory)) {
            return (int) entries.count();
        }
    }
}
