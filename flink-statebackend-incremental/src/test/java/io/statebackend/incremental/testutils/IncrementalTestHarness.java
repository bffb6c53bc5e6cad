package io.statebackend.incremental.testutils;

import io.statebackend.incremental.IncrementalRocksDBKeyedStateBackend;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeutils.base.IntSerializer;
import org.apache.flink.api.common.typeutils.base.StringSerializer;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.operators.testutils.MockEnvironment;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateHandle;
import org.apache.flink.runtime.state.SharedStateRegistry;
import org.apache.flink.runtime.state.SharedStateRegistryImpl;
import org.apache.flink.runtime.state.SnapshotResult;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.RunnableFuture;

/**
 * Creates backends with incremental checkpoints on, writes a value state, takes checkpoints and
 * registers them with a shared state registry as the JobManager would. Disposes everything it
 * created on close.
 */
public final class IncrementalTestHarness implements AutoCloseable {

    public static final int MAX_PARALLELISM = 128;

    public static final ValueStateDescriptor<String> STATE =
            new ValueStateDescriptor<>("values", StringSerializer.INSTANCE);

    private final Path localDirectory;
    private final MockEnvironment env = MockEnvironment.builder().build();
    private final SharedStateRegistry registry = new SharedStateRegistryImpl();
    private final List<IncrementalRocksDBKeyedStateBackend<?>> backends = new ArrayList<>();
    private final int transferThreads;

    public IncrementalTestHarness(Path localDirectory) {
        this(localDirectory, 2);
    }

    public IncrementalTestHarness(Path localDirectory, int transferThreads) {
        this.localDirectory = localDirectory;
        this.transferThreads = transferThreads;
    }

    public IncrementalRocksDBKeyedStateBackend<Integer> createBackend() throws Exception {
        return createBackend(new KeyGroupRange(0, MAX_PARALLELISM - 1), Collections.emptyList());
    }

    public IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            KeyGroupRange range, Collection<KeyedStateHandle> restoreFrom) throws Exception {
        return createBackend(new IncrementalRocksDBStateBackend(true), range, restoreFrom);
    }

    /** A backend of {@code stateBackend}, with this harness's transfer threads and directory. */
    public IncrementalRocksDBKeyedStateBackend<Integer> createBackend(
            IncrementalRocksDBStateBackend stateBackend,
            KeyGroupRange range,
            Collection<KeyedStateHandle> restoreFrom)
            throws Exception {
        IncrementalRocksDBKeyedStateBackend<Integer> backend =
                KeyedBackends.create(
                        stateBackend
                                .withTransferThreads(transferThreads)
                                .withLocalDirectories(localDirectory.toString()),
                        env,
                        IntSerializer.INSTANCE,
                        MAX_PARALLELISM,
                        range,
                        restoreFrom);
        backends.add(backend);
        return backend;
    }

    public static void put(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, int key, String value)
            throws Exception {
        backend.setCurrentKey(key);
        state(backend).update(value);
    }

    public static String get(IncrementalRocksDBKeyedStateBackend<Integer> backend, int key)
            throws Exception {
        backend.setCurrentKey(key);
        return state(backend).value();
    }

    private static ValueState<String> state(IncrementalRocksDBKeyedStateBackend<Integer> backend)
            throws Exception {
        return backend.getPartitionedState(
                VoidNamespace.INSTANCE, VoidNamespaceSerializer.INSTANCE, STATE);
    }

    /** Writes {@code count} keys from {@code from} on and flushes them into an SST file. */
    public static void writeAndFlush(
            IncrementalRocksDBKeyedStateBackend<Integer> backend, int from, int count, String tag)
            throws Exception {
        for (int key = from; key < from + count; key++) {
            put(backend, key, tag + "-" + key);
        }
        backend.flush();
    }

    /** Takes a checkpoint and runs its asynchronous part on this thread. */
    public static IncrementalRemoteKeyedStateHandle snapshot(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            long checkpointId,
            CheckpointStreamFactory factory,
            CheckpointOptions options)
            throws Exception {
        return (IncrementalRemoteKeyedStateHandle)
                snapshotResult(backend, checkpointId, factory, options)
                        .getJobManagerOwnedSnapshot();
    }

    /** Takes a checkpoint, runs its asynchronous part on this thread and returns both handles. */
    public static SnapshotResult<KeyedStateHandle> snapshotResult(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            long checkpointId,
            CheckpointStreamFactory factory,
            CheckpointOptions options)
            throws Exception {
        RunnableFuture<SnapshotResult<KeyedStateHandle>> future =
                backend.snapshot(checkpointId, checkpointId * 10, factory, options);
        future.run();
        return future.get();
    }

    public IncrementalRemoteKeyedStateHandle checkpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            long checkpointId,
            CheckpointStreamFactory factory)
            throws Exception {
        return snapshot(
                backend,
                checkpointId,
                factory,
                CheckpointOptions.forCheckpointWithDefaultLocation());
    }

    /**
     * Takes a checkpoint, registers it as the JobManager does when it completes, and notifies the
     * backend of its completion.
     */
    public IncrementalRemoteKeyedStateHandle completeCheckpoint(
            IncrementalRocksDBKeyedStateBackend<Integer> backend,
            long checkpointId,
            CheckpointStreamFactory factory)
            throws Exception {
        IncrementalRemoteKeyedStateHandle handle = checkpoint(backend, checkpointId, factory);
        register(handle);
        backend.notifyCheckpointComplete(checkpointId);
        return handle;
    }

    /** Registers the handle's shared state, which resolves its placeholders. */
    public void register(IncrementalRemoteKeyedStateHandle handle) {
        handle.registerSharedStates(registry, handle.getCheckpointId());
    }

    public SharedStateRegistry getRegistry() {
        return registry;
    }

    public void dispose(IncrementalRocksDBKeyedStateBackend<?> backend) {
        backend.dispose();
        backends.remove(backend);
    }

    @Override
    public void close() throws Exception {
        for (IncrementalRocksDBKeyedStateBackend<?> backend : backends) {
            backend.dispose();
        }
        backends.clear();
        env.close();
    }
}
