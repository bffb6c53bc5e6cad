package io.statebackend.incremental.lifecycle;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;
import io.statebackend.incremental.rocksdb.RocksDBInstance;
import io.statebackend.incremental.testutils.KeyedBackends;
import io.statebackend.incremental.testutils.TestStreamFactories;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.LongSerializer;
import org.apache.flink.core.fs.CloseableRegistry;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStateOutputStream;
import org.apache.flink.runtime.state.CheckpointStorageAccess;
import org.apache.flink.runtime.state.CheckpointStorageLocationReference;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.CheckpointedStateScope;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.StreamStateHandle;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.File;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RunnableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Disposing a keyed backend while the asynchronous part of a snapshot still runs (or was never run)
 * cancels the snapshot, waits until the snapshot no longer reads the database, then closes the
 * database and deletes its directory (DESIGN.md §8).
 *
 * <p>What dispose does, as found by these tests: {@code AbstractKeyedStateBackend#dispose()} closes
 * the cancel-stream registry, which cancels the snapshot's {@code FutureTask} with interruption and
 * closes the snapshot's output stream; the backend then blocks on its resource guard until the
 * snapshot released its RocksDB snapshot and lease. A stream that fails once closed (like every
 * real checkpoint stream) therefore lets dispose complete by itself; a stream that ignores both
 * close and interruption keeps dispose waiting until the write returns.
 *
 * <p>Timeouts in this class only guard against hangs; nothing waits for time to pass.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class CloseDuringSnapshotTest {

    private static final int KEYS = 10_000;
    private static final int MAX_PARALLELISM = 128;

    @TempDir Path tempDir;

    private MockEnvironment env;
    private CheckpointStorageAccess checkpointStorage;
    private int instancesBefore;

    @BeforeEach
    void setUp() throws IOException {
        env = MockEnvironment.builder().setManagedMemorySize(64L << 20).build();
        checkpointStorage =
                new FileSystemCheckpointStorage(tempDir.resolve("checkpoints").toUri())
                        .createCheckpointStorage(new JobID());
        checkpointStorage.initializeBaseLocationsForCheckpoint();
        instancesBefore = RocksDBInstance.openInstances();
    }

    @AfterEach
    void tearDown() throws Exception {
        env.close();
    }

    private IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            PriorityQueueStateType timers) throws Exception {
        IncrementalRocksDBStateBackend backend =
                new IncrementalRocksDBStateBackend()
                        .withIncrementalCheckpoints(false)
                        .withTimerService(timers)
                        .withLocalDirectories(tempDir.resolve("local").toString());
        return KeyedBackends.create(
                backend,
                env,
                IntSerializer.INSTANCE,
                MAX_PARALLELISM,
                new KeyGroupRange(0, MAX_PARALLELISM - 1),
                Collections.emptyList(),
                1.0,
                new CloseableRegistry());
    }

    private static void writeState(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        ValueState<Long> state =
                backend.getPartitionedState(
                        VoidNamespace.INSTANCE,
                        VoidNamespaceSerializer.INSTANCE,
                        new ValueStateDescriptor<>("values", LongSerializer.INSTANCE));
        for (int key = 0; key < KEYS; key++) {
            backend.setCurrentKey(key);
            state.update((long) key * 31);
        }
    }

    private CheckpointStreamFactory realStreamFactory(long checkpointId) throws IOException {
        return checkpointStorage.resolveCheckpointStorageLocation(
                checkpointId, CheckpointStorageLocationReference.getDefault());
    }

    /** How the blocked write reacts to close() and to interruption of the writing thread. */
    enum BlockingMode {
        /** Like a real network stream: a blocked write fails as soon as the stream is closed. */
        FAIL_ON_CLOSE,
        /** A blocked write returns on interruption of the writing thread. */
        FAIL_ON_INTERRUPT,
        /** A blocked write ignores close and interruption and returns only when released. */
        IGNORE_CANCELLATION
    }

    @ParameterizedTest(name = "timers={0}")
    @EnumSource(PriorityQueueStateType.class)
    void disposeCancelsSnapshotBlockedInStreamThatFailsOnClose(PriorityQueueStateType timers)
            throws Exception {
        disposeWhileSnapshotBlocked(timers, BlockingMode.FAIL_ON_CLOSE);
    }

    @Test
    void disposeCancelsSnapshotBlockedInStreamThatFailsOnInterrupt() throws Exception {
        disposeWhileSnapshotBlocked(PriorityQueueStateType.ROCKSDB, BlockingMode.FAIL_ON_INTERRUPT);
    }

    @Test
    void disposeWaitsForSnapshotThatIgnoresCancellation() throws Exception {
        disposeWhileSnapshotBlocked(
                PriorityQueueStateType.ROCKSDB, BlockingMode.IGNORE_CANCELLATION);
    }

    private void disposeWhileSnapshotBlocked(PriorityQueueStateType timers, BlockingMode mode)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(timers);
        File instancePath = backend.getInstanceDirectory();
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore + 1);
        assertThat(instancePath).isDirectory();

        BlockingStreamFactory streams = new BlockingStreamFactory(realStreamFactory(1L), mode);
        try {
            writeState(backend);
            RunnableFuture<SnapshotResult<KeyedStateHandle>> snapshot =
                    backend.snapshot(
                            1L, 1L, streams, CheckpointOptions.forCheckpointWithDefaultLocation());
            assertThat(snapshot).isNotDone();

            // the asynchronous part, on its own thread, until it blocks in the first write
            Thread snapshotThread = new Thread(snapshot, "async-snapshot");
            snapshotThread.start();
            streams.firstWriteBlocked.await();

            // dispose from another thread
            CompletableFuture<Void> disposed =
                    CompletableFuture.runAsync(
                            backend::dispose,
                            runnable -> {
                                Thread thread = new Thread(runnable, "dispose");
                                thread.start();
                            });

            // dispose cancels the snapshot: its stream is closed ...
            streams.streamClosed.await();
            if (mode == BlockingMode.IGNORE_CANCELLATION) {
                // ... but the write ignores it and still holds the database: dispose must wait.
                // (This cannot race: dispose can only finish after the write below returns.)
                assertThat(disposed).isNotDone();
                assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore + 1);
                assertThat(instancePath).isDirectory();
                streams.release();
            }

            disposed.get(2, TimeUnit.MINUTES);
            snapshotThread.join();

            assertThat(snapshot).isDone();
            assertThat(snapshot.isCancelled()).isTrue();
            assertThatThrownBy(snapshot::get).isInstanceOf(CancellationException.class);
            assertThat(streams.streamsCreated).hasValue(1);
            assertThat(streams.writeInterrupted.get())
                    .as("dispose interrupts the snapshot thread")
                    .isTrue();
            if (mode != BlockingMode.IGNORE_CANCELLATION) {
                assertThat(streams.releasedByTest)
                        .as("dispose completed without the test releasing the write")
                        .isFalse();
            }

            assertThat(backend.isDisposed()).isTrue();
            assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
            assertThat(instancePath).doesNotExist();
        } finally {
            streams.release();
            backend.dispose();
        }
    }

    @ParameterizedTest(name = "timers={0}")
    @EnumSource(PriorityQueueStateType.class)
    void disposeBeforeTheAsyncPartRanDoesNotHang(PriorityQueueStateType timers) throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend = createBackend(timers);
        File instancePath = backend.getInstanceDirectory();
        BlockingStreamFactory streams =
                new BlockingStreamFactory(realStreamFactory(2L), BlockingMode.IGNORE_CANCELLATION);
        try {
            writeState(backend);
            RunnableFuture<SnapshotResult<KeyedStateHandle>> snapshot =
                    backend.snapshot(
                            2L, 2L, streams, CheckpointOptions.forCheckpointWithDefaultLocation());

            // the snapshot holds a lease on the database; dispose must release it by cancelling
            CompletableFuture<Void> disposed =
                    CompletableFuture.runAsync(
                            backend::dispose,
                            runnable -> {
                                Thread thread = new Thread(runnable, "dispose");
                                thread.start();
                            });
            disposed.get(2, TimeUnit.MINUTES);

            assertThat(snapshot.isCancelled()).isTrue();
            // running it afterwards does nothing: the stream is never even created
            snapshot.run();
            assertThatThrownBy(snapshot::get).isInstanceOf(CancellationException.class);
            assertThat(streams.streamsCreated).hasValue(0);

            assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
            assertThat(instancePath).doesNotExist();
        } finally {
            streams.release();
            backend.dispose();
        }
    }

    @Test
    void snapshotAfterDisposeFailsAndDisposeIsIdempotent() throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                createBackend(PriorityQueueStateType.ROCKSDB);
        writeState(backend);
        backend.dispose();
        backend.dispose();
        assertThat(RocksDBInstance.openInstances()).isEqualTo(instancesBefore);
        assertThatThrownBy(
                        () ->
                                backend.snapshot(
                                                3L,
                                                3L,
                                                realStreamFactory(3L),
                                                CheckpointOptions
                                                        .forCheckpointWithDefaultLocation())
                                        .run())
                .isInstanceOf(Exception.class);
    }

    /** Hands out streams whose first write blocks. */
    static final class BlockingStreamFactory
            extends TestStreamFactories.NonDuplicatingStreamFactory {

        private final CheckpointStreamFactory delegate;
        private final BlockingMode mode;

        final CountDownLatch firstWriteBlocked = new CountDownLatch(1);
        final CountDownLatch streamClosed = new CountDownLatch(1);
        final AtomicInteger streamsCreated = new AtomicInteger();
        final AtomicBoolean writeInterrupted = new AtomicBoolean();
        final AtomicBoolean releasedByTest = new AtomicBoolean();

        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private boolean released;
        private boolean closed;

        /** Lets the blocked write continue. */
        void release() {
            lock.lock();
            try {
                if (!released) {
                    released = true;
                    releasedByTest.set(true);
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        private void markClosed() {
            lock.lock();
            try {
                closed = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            streamClosed.countDown();
        }

        /** Blocks until released, or closed / interrupted if the mode reacts to that. */
        private void block() throws IOException {
            firstWriteBlocked.countDown();
            boolean interrupted = false;
            lock.lock();
            try {
                while (!released) {
                    if (closed && mode == BlockingMode.FAIL_ON_CLOSE) {
                        throw new IOException("stream closed during write");
                    }
                    try {
                        changed.await();
                    } catch (InterruptedException e) {
                        interrupted = true;
                        writeInterrupted.set(true);
                        if (mode == BlockingMode.FAIL_ON_INTERRUPT) {
                            throw new InterruptedIOException("write interrupted");
                        }
                    }
                }
            } finally {
                lock.unlock();
                // an interrupt racing with a signal may also surface as the thread's flag only
                interrupted |= Thread.currentThread().isInterrupted();
                if (interrupted) {
                    writeInterrupted.set(true);
                }
                if (interrupted && mode != BlockingMode.FAIL_ON_INTERRUPT) {
                    // keep the interruption visible to whatever runs next on this thread
                    Thread.currentThread().interrupt();
                }
            }
        }

        BlockingStreamFactory(CheckpointStreamFactory delegate, BlockingMode mode) {
            this.delegate = delegate;
            this.mode = mode;
        }

        @Override
        public CheckpointStateOutputStream createCheckpointStateOutputStream(
                CheckpointedStateScope scope) throws IOException {
            streamsCreated.incrementAndGet();
            return new BlockingStream(delegate.createCheckpointStateOutputStream(scope));
        }

        private final class BlockingStream extends CheckpointStateOutputStream {

            private final CheckpointStateOutputStream out;
            private final AtomicBoolean first = new AtomicBoolean(true);

            BlockingStream(CheckpointStateOutputStream out) {
                this.out = out;
            }

            private void blockOnFirstWrite() throws IOException {
                if (first.compareAndSet(true, false)) {
                    block();
                }
            }

            @Override
            public void write(int b) throws IOException {
                blockOnFirstWrite();
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                blockOnFirstWrite();
                out.write(b, off, len);
            }

            @Override
            public long getPos() throws IOException {
                return out.getPos();
            }

            @Override
            public void flush() throws IOException {
                out.flush();
            }

            @Override
            public void sync() throws IOException {
                out.sync();
            }

            @Override
            public StreamStateHandle closeAndGetHandle() throws IOException {
                return out.closeAndGetHandle();
            }

            @Override
            public void close() throws IOException {
                markClosed();
                out.close();
            }
        }
    }
}
