package io.statebackend.incremental.lifecycle;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;
import io.statebackend.incremental.testutils.TestStreamFactories.StuckStreamFactory;
import io.statebackend.incremental.transfer.TransferThreadPool;

import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;

import static io.statebackend.incremental.testutils.IncrementalTestHarness.writeAndFlush;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Disposing a backend whose incremental snapshot is stuck in a storage write that ignores close and
 * interruption (a hung system call, a client without timeouts) neither waits for that write nor
 * leaks the database: the asynchronous part of an incremental snapshot reads only the hard-linked
 * files of its RocksDB checkpoint, so it holds no lease on the database, and the transfer threads
 * are waited for only for a bounded time (DESIGN.md §8).
 *
 * <p>Canonical snapshots iterate the database and still hold it; {@link CloseDuringSnapshotTest}
 * covers them. The bound below only detects a hang; nothing waits for time to pass.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class DisposeWithStuckStorageTest {

    private static final int MAX_PARALLELISM = 128;
    private static final Duration HANG = Duration.ofSeconds(30);

    @TempDir Path tempDir;

    private MockEnvironment env;

    @BeforeEach
    void setUp() {
        env = MockEnvironment.builder().setManagedMemorySize(64L << 20).build();
    }

    @AfterEach
    void tearDown() throws Exception {
        // fails if the backend did not give its managed memory back
        env.close();
    }

    @ParameterizedTest(name = "savepoint={0}")
    @ValueSource(booleans = {false, true})
    void disposeDoesNotWaitForUploadStuckInStorage(boolean nativeSavepoint) throws Exception {
        final int instancesBefore = RocksDBInstance.openInstances();
        final Set<Thread> transferThreadsBefore = transferThreads();
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        new IncrementalRocksDBStateBackend(true)
                                .withTransferThreads(2)
                                .withLocalDirectories(tempDir.resolve("local").toString()),
                        env,
                        IntSerializer.INSTANCE,
                        MAX_PARALLELISM,
                        new KeyGroupRange(0, MAX_PARALLELISM - 1),
                        Collections.emptyList(),
                        1.0,
                        new CloseableRegistry());
        File instanceDirectory = backend.getInstanceDirectory();
        StuckStreamFactory storage =
                new StuckStreamFactory(TestStreamFactories.files(tempDir.resolve("storage")));
        Thread snapshotThread = null;
        try {
            writeAndFlush(backend, 0, 2000, "a");
            writeAndFlush(backend, 2000, 2000, "b");
            CheckpointOptions options =
                    nativeSavepoint
                            ? new CheckpointOptions(
                                    SavepointType.savepoint(SavepointFormatType.NATIVE),
                                    CheckpointStorageLocationReference.getDefault())
                            : CheckpointOptions.forCheckpointWithDefaultLocation();
            RunnableFuture<SnapshotResult<KeyedStateHandle>> snapshot =
                    backend.snapshot(1L, 1L, storage, options);

            snapshotThread = new Thread(snapshot, "async-snapshot");
            snapshotThread.setDaemon(true);
            snapshotThread.start();
            storage.awaitStuck();

            CompletableFuture<Void> disposed =
                    CompletableFuture.runAsync(
                            backend::dispose,
                            runnable -> {
                                Thread thread = new Thread(runnable, "dispose");
                                thread.setDaemon(true);
                                thread.start();
                            });

            assertThat(disposed)
                    .as("dispose returns with a write still stuck")
                    .succeedsWithin(HANG);
            assertThat(backend.isDisposed()).isTrue();
            assertThat(RocksDBInstance.openInstances())
                    .as("the database is closed")
                    .isEqualTo(instancesBefore);
            assertThat(instanceDirectory).doesNotExist();
            assertThat(storage.closeCalls())
                    .as("dispose closed the stuck stream, which ignored it")
                    .isPositive();
            assertThat(snapshot.isCancelled()).isTrue();
        } finally {
            storage.release();
            if (snapshotThread != null) {
                // the snapshot ends once storage answers again, also if its queued uploads
                // never started because dispose closed the transfer pool
                snapshotThread.join(TimeUnit.MINUTES.toMillis(1));
                assertThat(snapshotThread.isAlive()).as("the snapshot thread ended").isFalse();
            }
            backend.dispose();
            joinTransferThreadsStartedSince(transferThreadsBefore);
        }
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
    }

    private static Set<Thread> transferThreads() {
        Set<Thread> threads = new HashSet<>();
        for (Thread thread : Thread.getAllStackTraces().keySet()) {
            if (thread.getName().startsWith(TransferThreadPool.THREAD_NAME_PREFIX)) {
                threads.add(thread);
            }
        }
        return threads;
    }

    /** Once released, this test's transfer threads end; none may leak into other tests. */
    private static void joinTransferThreadsStartedSince(Set<Thread> before)
            throws InterruptedException {
        Set<Thread> started = transferThreads();
        started.removeAll(before);
        for (Thread thread : started) {
            assertThat(thread.isDaemon()).isTrue();
            thread.join(TimeUnit.MINUTES.toMillis(1));
            assertThat(thread.isAlive()).as("transfer thread %s", thread.getName()).isFalse();
        }
    }
}
