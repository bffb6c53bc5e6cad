package io.statebackend.incremental.lifecycle;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptionsFactory;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.IncrementalTestHarness;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.jobgraph.JobVertexID;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.LocalRecoveryConfig;
import org.apache.flink.runtime.state.LocalSnapshotDirectoryProviderImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.TestTaskStateManager;
import org.apache.flink.util.ExceptionUtils;
import org.apache.flink.util.FileUtils;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.RateLimiter;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The TaskManager's local disk fills up: while the task writes state, or while a restore downloads
 * it. The backend must fail with the cause in its message, never hang, free what it wrote, and
 * leave every completed checkpoint restorable.
 *
 * <p>The full disk is a small tmpfs mounted for this class, which takes root and {@code mount};
 * where they are missing the tests are skipped with that reason.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class LocalDiskFullTest {

    /** Large enough for a database's own files and a small checkpoint, small for the writes. */
    private static final int DISK_MB = 8;

    private static final int VALUE_BYTES = 1024;

    private static final KeyGroupRange ALL_KEY_GROUPS =
            new KeyGroupRange(0, IncrementalTestHarness.MAX_PARALLELISM - 1);

    private static Path disk;

    @TempDir Path tempDir;

    private IncrementalTestHarness onFullDisk;
    private IncrementalTestHarness onLargeDisk;
    private CheckpointStreamFactory storage;
    private int instancesBefore;

    /** A thread is stuck in RocksDB: closing the database under it could crash the JVM. */
    private boolean writerStuck;

    @BeforeAll
    static void mountSmallDisk() throws Exception {
        Path mountPoint = Files.createTempDirectory("full-disk-");
        Process mount;
        try {
            mount =
                    new ProcessBuilder(
                                    "mount",
                                    "-t",
                                    "tmpfs",
                                    "-o",
                                    "size=" + DISK_MB + "m",
                                    "tmpfs",
                                    mountPoint.toString())
                            .redirectErrorStream(true)
                            .start();
        } catch (IOException e) {
            Files.delete(mountPoint);
            Assumptions.abort("No mount command to make a small file system: " + e.getMessage());
            return;
        }
        String output = new String(mount.getInputStream().readAllBytes()).trim();
        if (mount.waitFor() != 0) {
            Files.delete(mountPoint);
            Assumptions.abort("Could not mount a small tmpfs (needs root): " + output);
        }
        disk = mountPoint;
    }

    @AfterAll
    static void unmountSmallDisk() throws Exception {
        if (disk != null) {
            new ProcessBuilder("umount", disk.toString()).inheritIO().start().waitFor();
            Files.deleteIfExists(disk);
        }
    }

    @BeforeEach
    void setUp() throws IOException {
        instancesBefore = RocksDBInstance.openInstances();
        onFullDisk = new IncrementalTestHarness(disk.resolve("local"));
        onLargeDisk = new IncrementalTestHarness(tempDir.resolve("local"));
        storage = TestStreamFactories.files(tempDir.resolve("storage"));
    }

    @AfterEach
    void tearDown() throws Exception {
        if (writerStuck) {
            return;
        }
        onFullDisk.close();
        onLargeDisk.close();
        try (Stream<Path> left = Files.list(disk)) {
            for (Path path : (Iterable<Path>) left::iterator) {
                FileUtils.deleteFileOrDirectory(path.toFile());
            }
        }
    }

    /**
     * Flushes are slowed down, so that the task's writes fill the memtables and stall while a flush
     * runs into the full disk: the stalled write must fail with the disk's error, not wait for free
     * space that nothing will make. With managed memory the write buffer manager starts the
     * flushes, without it the memtables' size.
     */
    @ParameterizedTest(name = "managed memory={0}")
    @ValueSource(booleans = {true, false})
    void writesThatFillTheDiskFailAndTheCompletedCheckpointRestores(boolean managedMemory)
            throws Exception {
        IncrementalRocksDBStateBackend stateBackend =
                new IncrementalRocksDBStateBackend(true).withOptionsFactory(SlowFlushes.class);
        if (!managedMemory) {
            stateBackend =
                    stateBackend
                            .withSetting("state.backend.rocksdb.memory.managed", "false")
                            .withSetting("state.backend.rocksdb.writebuffer.size", "2mb");
        }
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                onFullDisk.createBackend(stateBackend, ALL_KEY_GROUPS, Collections.emptyList());
        List<String> values = values(1_000, 1);
        write(backend, values, 0);
        IncrementalRemoteKeyedStateHandle completed = onFullDisk.checkpoint(backend, 1L, storage);
        onFullDisk.register(completed);

        // twice the disk in new values, on another thread: a stalled write never returns
        List<String> more = values(2 * DISK_MB * 1024, 2);
        CompletableFuture<Void> writes =
                CompletableFuture.runAsync(
                        () -> {
                            try {
                                write(backend, more, 1_000);
                                onFullDisk.checkpoint(backend, 2L, storage);
                            } catch (Exception e) {
                                throw new CompletionException(e);
                            }
                        });
        Throwable failure;
        try {
            writes.get(2, TimeUnit.MINUTES);
            failure = null;
        } catch (TimeoutException e) {
            writerStuck = true;
            throw new AssertionError("Writes to a full disk neither failed nor returned", e);
        } catch (ExecutionException e) {
            failure = e.getCause();
        }
        assertThat(failure).as("writing twice the disk's size must fail").isNotNull();
        assertNamesTheFullDisk(failure);

        onFullDisk.dispose(backend);
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
        assertThat(TestStreamFactories.filesBelow(disk))
                .as("files left on the full disk")
                .isEmpty();

        assertRestoresOnLargeDisk(Collections.singletonList(completed), values);
    }

    /**
     * The disk fills up from outside (another task, a log) while the memtables are already flushed:
     * the checkpoint cannot write its copy of the MANIFEST. That checkpoint fails, leaves nothing
     * of itself on the disk, and the backend keeps working once there is space again.
     */
    @Test
    void checkpointOnAFullDiskFailsAndTheNextOneSucceedsOnceThereIsSpace() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = onFullDisk.createBackend();
        List<String> values = values(1_000, 5);
        write(backend, values, 0);
        backend.flush();
        List<Path> before = TestStreamFactories.filesBelow(disk);

        Path filler = disk.resolve("filler");
        fillDisk(filler);
        assertThatThrownBy(() -> onFullDisk.checkpoint(backend, 1L, storage))
                .satisfies(LocalDiskFullTest::assertNamesTheFullDisk);
        assertThat(TestStreamFactories.filesBelow(disk))
                .as("files of the failed checkpoint left on the disk")
                .containsExactlyInAnyOrderElementsOf(with(before, filler));

        Files.delete(filler);
        IncrementalRemoteKeyedStateHandle checkpoint = onFullDisk.checkpoint(backend, 2L, storage);
        onFullDisk.register(checkpoint);
        assertHolds(backend, values, 0);
        assertRestoresOnLargeDisk(Collections.singletonList(checkpoint), values);
    }

    /**
     * Local recovery keeps its copies in a directory on another, full disk: a checkpoint is still
     * taken, without a local copy, and nothing of the failed copy stays on that disk.
     */
    @Test
    void checkpointWithLocalRecoveryOnAFullDiskIsTakenWithoutALocalCopy() throws Exception {
        LocalSnapshotDirectoryProviderImpl localState =
                new LocalSnapshotDirectoryProviderImpl(
                        disk.resolve("local-state").toFile(), new JobID(), new JobVertexID(), 0);
        List<String> values = values(DISK_MB * 1024, 6);
        try (MockEnvironment env =
                MockEnvironment.builder()
                        .setTaskStateManager(
                                new TestTaskStateManager(
                                        LocalRecoveryConfig.backupAndRecoveryEnabled(localState)))
                        .build()) {
            IncrementalRocksDBKeyedStateBackend<Integer> backend =
                    KeyedBackends.create(
                            new IncrementalRocksDBStateBackend(true)
                                    .withLocalDirectories(tempDir.resolve("db-disk").toString()),
                            env,
                            IntSerializer.INSTANCE,
                            IncrementalTestHarness.MAX_PARALLELISM,
                            ALL_KEY_GROUPS,
                            Collections.emptyList());
            try {
                write(backend, values, 0);
                SnapshotResult<KeyedStateHandle> result =
                        IncrementalTestHarness.snapshotResult(
                                backend,
                                1L,
                                storage,
                                CheckpointOptions.forCheckpointWithDefaultLocation());
                assertThat(result.getTaskLocalSnapshot()).isNull();
                assertThat(TestStreamFactories.filesBelow(disk))
                        .as("files of the failed local copy")
                        .isEmpty();
                IncrementalRemoteKeyedStateHandle checkpoint =
                        (IncrementalRemoteKeyedStateHandle) result.getJobManagerOwnedSnapshot();
                onLargeDisk.register(checkpoint);
                assertRestoresOnLargeDisk(Collections.singletonList(checkpoint), values);
            } finally {
                backend.dispose();
            }
        }
    }

    @Test
    void restoreIntoAFullDiskFailsAndLeavesNothing() throws Exception {
        List<String> values = values(2 * DISK_MB * 1024, 3);
        IncrementalRocksDBKeyedStateBackend<Integer> source = onLargeDisk.createBackend();
        write(source, values, 0);
        IncrementalRemoteKeyedStateHandle checkpoint = onLargeDisk.checkpoint(source, 1L, storage);
        onLargeDisk.register(checkpoint);
        onLargeDisk.dispose(source);

        assertRestoreFailsOnFullDisk(Collections.singletonList(checkpoint));
        assertRestoresOnLargeDisk(Collections.singletonList(checkpoint), values);
    }

    @Test
    void rescalingIntoAFullDiskFailsAndLeavesNothing() throws Exception {
        int half = IncrementalTestHarness.MAX_PARALLELISM / 2;
        List<String> values = values(2 * DISK_MB * 1024, 4);
        List<KeyedStateHandle> handles = new ArrayList<>();
        for (KeyGroupRange range :
                new KeyGroupRange[] {
                    new KeyGroupRange(0, half - 1),
                    new KeyGroupRange(half, IncrementalTestHarness.MAX_PARALLELISM - 1)
                }) {
            IncrementalRocksDBKeyedStateBackend<Integer> source =
                    onLargeDisk.createBackend(range, Collections.emptyList());
            writeOwnKeys(source, range, values);
            IncrementalRemoteKeyedStateHandle checkpoint =
                    onLargeDisk.checkpoint(source, 1L, storage);
            onLargeDisk.register(checkpoint);
            handles.add(checkpoint);
            onLargeDisk.dispose(source);
        }

        assertRestoreFailsOnFullDisk(handles);
        assertRestoresOnLargeDisk(handles, values);
    }

    private void assertRestoreFailsOnFullDisk(Collection<KeyedStateHandle> handles)
            throws IOException {
        assertThatThrownBy(() -> onFullDisk.createBackend(ALL_KEY_GROUPS, handles))
                .satisfies(LocalDiskFullTest::assertNamesTheFullDisk)
                // a full local disk is not worth another attempt
                .satisfies(
                        e ->
                                assertThat(ExceptionUtils.stringifyException(e))
                                        .contains("after 1 attempt:")
                                        .doesNotContain("attempt 2"));
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
        assertThat(TestStreamFactories.filesBelow(disk))
                .as("files left on the full disk")
                .isEmpty();
    }

    private void assertRestoresOnLargeDisk(
            Collection<KeyedStateHandle> handles, List<String> values) throws Exception {
        assertHolds(onLargeDisk.createBackend(ALL_KEY_GROUPS, handles), values, 0);
    }

    private static void assertNamesTheFullDisk(Throwable failure) {
        List<String> messages = new ArrayList<>();
        for (Throwable t = failure; t != null; t = t.getCause()) {
            messages.add(String.valueOf(t.getMessage()));
        }
        if (messages.stream().noneMatch(m -> m.contains("No space left on device"))) {
            fail(
                    "The failure does not name the full disk: %s",
                    ExceptionUtils.stringifyException(failure));
        }
    }

    /** Random printable values: compression cannot make them fit. */
    private static List<String> values(int count, long seed) {
        Random random = new Random(seed);
        List<String> values = new ArrayList<>(count);
        char[] chars = new char[VALUE_BYTES];
        for (int i = 0; i < count; i++) {
            for (int c = 0; c < chars.length; c++) {
                chars[c] = (char) (33 + random.nextInt(94));
            }
            values.add(new String(chars));
        }
        return values;
    }

    private static void write(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, List<String> values, int from)
            throws Exception {
        for (int i = 0; i < values.size(); i++) {
            IncrementalTestHarness.put(backend, from + i, values.get(i));
        }
    }

    /** Writes the values of the keys in {@code range}, so that each key has one writer. */
    private static void writeOwnKeys(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            KeyGroupRange range,
            List<String> values)
            throws Exception {
        for (int key = 0; key < values.size(); key++) {
            if (range.contains(
                    KeyGroupRangeAssignment.assignToKeyGroup(
                            key, IncrementalTestHarness.MAX_PARALLELISM))) {
                IncrementalTestHarness.put(backend, key, values.get(key));
            }
        }
    }

    private static void assertHolds(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, List<String> values, int from)
            throws Exception {
        for (int i = 0; i < values.size(); i++) {
            assertThat(IncrementalTestHarness.get(backend, from + i))
                    .as("key %s", from + i)
                    .isEqualTo(values.get(i));
        }
    }

    /** Writes {@code filler} until the disk has no room left. */
    private static void fillDisk(Path filler) throws IOException {
        byte[] block = new byte[4096];
        try (OutputStream out = Files.newOutputStream(filler)) {
            while (true) {
                out.write(block);
            }
        } catch (IOException e) {
            if (!String.valueOf(e.getMessage()).contains("No space left on device")) {
                throw e;
            }
        }
    }

    private static List<Path> with(List<Path> paths, Path more) {
        List<Path> all = new ArrayList<>(paths);
        all.add(more);
        return all;
    }

    /** Flushes and compactions write at 2 MB/s, slower than the task fills a memtable. */
    public static final class SlowFlushes implements IncrementalRocksDBOptionsFactory {
        private static final long serialVersionUID = 1L;

        @Override
        public DBOptions createDBOptions(
                DBOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
            RateLimiter limiter = new RateLimiter(2L << 20);
            handlesToClose.add(limiter);
            return currentOptions.setRateLimiter(limiter);
        }

        @Override
        public ColumnFamilyOptions createColumnOptions(
                ColumnFamilyOptions currentOptions, Collection<AutoCloseable> handlesToClose) {
            return currentOptions;
        }
    }
}
