package io.statebackend.incremental.model;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.state.InternalCheckpointListener;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.runtime.checkpoint.CheckpointOptions;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.StateAssignmentOperation;
import org.apache.flink.runtime.state.CheckpointStreamFactory;
import org.apache.flink.runtime.state.KeyGroupRange;
import org.apache.flink.runtime.state.KeyedStateBackend;
import org.apache.flink.runtime.state.VoidNamespace;
import org.apache.flink.runtime.state.VoidNamespaceSerializer;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.api.operators.OperatorSnapshotFinalizer;
import org.apache.flink.streaming.api.operators.OperatorSnapshotFutures;
import org.apache.flink.streaming.runtime.streamrecord.StreamRecord;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;

import javax.annotation.Nullable;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * One parallel instance of the model's keyed operator on a real backend of this project, driven
 * like a task drives it: records, watermarks, the synchronous part of a snapshot now and its
 * asynchronous part later, and the notifications the JobManager sends.
 */
public final class Subtask implements AutoCloseable {

    private final String name;
    private final int index;
    private final KeyGroupRange keyGroupRange;
    private final KeyedOneInputStreamOperatorTestHarness<Integer, Command, String> harness;

    /** Snapshots whose synchronous part was taken and whose asynchronous part has not run. */
    private final Map<Long, OperatorSnapshotFutures> asyncParts = new TreeMap<>();

    private long latestSnapshotId = -1L;
    private boolean closed;

    private Subtask(
            String name,
            int index,
            int parallelism,
            int maxParallelism,
            KeyedOneInputStreamOperatorTestHarness<Integer, Command, String> harness) {
        this.name = name;
        this.index = index;
        this.keyGroupRange =
                StateAssignmentOperation.createKeyGroupPartitions(maxParallelism, parallelism)
                        .get(index);
        this.harness = harness;
    }

    /** Creates, restores (if {@code restoreFrom} is not null) and opens a subtask. */
    public static Subtask start(
            String name,
            int index,
            int parallelism,
            int maxParallelism,
            PriorityQueueStateType timerService,
            Map<String, String> settings,
            Path localDirectory,
            @Nullable OperatorSubtaskState restoreFrom)
            throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Command, String> harness =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new CommandFunction()),
                        Command::getKey,
                        BasicTypeInfo.INT_TYPE_INFO,
                        maxParallelism,
                        parallelism,
                        index);
        try {
            IncrementalRocksDBStateBackend backend =
                    new IncrementalRocksDBStateBackend(true)
                            .withTimerService(timerService)
                            .withTransferThreads(2)
                            .withLocalDirectories(localDirectory.toString());
            for (Map.Entry<String, String> setting : settings.entrySet()) {
                backend = backend.withSetting(setting.getKey(), setting.getValue());
            }
            harness.setStateBackend(backend);
            harness.setup();
            if (restoreFrom == null) {
                harness.initializeEmptyState();
            } else {
                harness.initializeState(restoreFrom);
            }
            harness.open();
        } catch (Throwable t) {
            try {
                harness.close();
            } catch (Throwable closeFailure) {
                t.addSuppressed(closeFailure);
            }
            throw t;
        }
        return new Subtask(name, index, parallelism, maxParallelism, harness);
    }

    public String getName() {
        return name;
    }

    public int getIndex() {
        return index;
    }

    public KeyGroupRange getKeyGroupRange() {
        return keyGroupRange;
    }

    public void process(Command command, long timestamp) throws Exception {
        harness.processElement(command, timestamp);
    }

    /** Advances the event time and returns what the fired timers emitted, sorted. */
    public List<String> advanceWatermark(long watermark) throws Exception {
        harness.processWatermark(watermark);
        List<String> outputs = new ArrayList<>();
        for (Object element : harness.getOutput()) {
            if (element instanceof StreamRecord) {
                outputs.add((String) ((StreamRecord<?>) element).getValue());
            }
        }
        harness.getOutput().clear();
        Collections.sort(outputs);
        return outputs;
    }

    /** The synchronous part of a snapshot, as the task takes it when the barrier arrives. */
    public void snapshotSynchronousPart(
            long checkpointId,
            long timestamp,
            CheckpointOptions options,
            CheckpointStreamFactory streamFactory)
            throws Exception {
        OperatorSnapshotFutures futures =
                harness.getOperator()
                        .snapshotState(checkpointId, timestamp, options, streamFactory);
        asyncParts.put(checkpointId, futures);
        latestSnapshotId = Math.max(latestSnapshotId, checkpointId);
    }

    /** The highest id of a snapshot whose synchronous part this subtask took. */
    public long getLatestSnapshotId() {
        return latestSnapshotId;
    }

    public boolean hasAsynchronousPart(long checkpointId) {
        return asyncParts.containsKey(checkpointId);
    }

    public Set<Long> asynchronousParts() {
        return new HashSet<>(asyncParts.keySet());
    }

    /** Runs the asynchronous part and returns what the task reports to the JobManager. */
    public OperatorSubtaskState runAsynchronousPart(long checkpointId) throws Exception {
        OperatorSnapshotFutures futures = asyncParts.remove(checkpointId);
        if (futures == null) {
            throw new IllegalStateException(name + " has no snapshot " + checkpointId + " running");
        }
        return new OperatorSnapshotFinalizer(futures).getJobManagerOwnedState();
    }

    /** Cancels the asynchronous part, as a task does when the checkpoint is aborted or fails. */
    public void cancelAsynchronousPart(long checkpointId) throws Exception {
        OperatorSnapshotFutures futures = asyncParts.remove(checkpointId);
        if (futures != null) {
            futures.cancel();
        }
    }

    public void notifyCheckpointComplete(long checkpointId) throws Exception {
        harness.getOperator().notifyCheckpointComplete(checkpointId);
    }

    public void notifyCheckpointAborted(long checkpointId) throws Exception {
        cancelAsynchronousPart(checkpointId);
        harness.getOperator().notifyCheckpointAborted(checkpointId);
    }

    /** As Flink's {@code StreamOperatorWrapper} does: straight to the keyed backend. */
    public void notifyCheckpointSubsumed(long checkpointId) throws Exception {
        KeyedStateBackend<?> backend = harness.getOperator().getKeyedStateBackend();
        if (backend instanceof InternalCheckpointListener) {
            ((InternalCheckpointListener) backend).notifyCheckpointSubsumed(checkpointId);
        }
    }

    /** Reads value, list and map of every key the backend holds (timers are fired instead). */
    public TreeMap<Integer, ExpectedState.KeyState> readState() throws Exception {
        KeyedStateBackend<Integer> backend = harness.getOperator().getKeyedStateBackend();
        TreeSet<Integer> keys = new TreeSet<>();
        for (String state :
                new String[] {
                    CommandFunction.VALUE_STATE,
                    CommandFunction.LIST_STATE,
                    CommandFunction.MAP_STATE
                }) {
            try (Stream<Integer> stateKeys = backend.getKeys(state, VoidNamespace.INSTANCE)) {
                stateKeys.forEach(keys::add);
            }
        }
        TreeMap<Integer, ExpectedState.KeyState> result = new TreeMap<>();
        for (int key : keys) {
            backend.setCurrentKey(key);
            ValueState<String> value =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            CommandFunction.valueDescriptor());
            ListState<String> list =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            CommandFunction.listDescriptor());
            MapState<Integer, String> map =
                    backend.getPartitionedState(
                            VoidNamespace.INSTANCE,
                            VoidNamespaceSerializer.INSTANCE,
                            CommandFunction.mapDescriptor());
            List<String> elements = new ArrayList<>();
            Iterable<String> listed = list.get();
            if (listed != null) {
                listed.forEach(elements::add);
            }
            TreeMap<Integer, String> entries = new TreeMap<>();
            for (Map.Entry<Integer, String> entry : map.entries()) {
                entries.put(entry.getKey(), entry.getValue());
            }
            ExpectedState.KeyState state =
                    new ExpectedState.KeyState(value.value(), elements, entries, new TreeSet<>());
            if (state.getValue() != null || !elements.isEmpty() || !entries.isEmpty()) {
                result.put(key, state);
            }
        }
        return result;
    }

    /** Cancels what still runs and disposes the operator and its backend, as a failing task. */
    @Override
    public void close() throws Exception {
        if (closed) {
            return;
        }
        closed = true;
        Exception failure = null;
        for (OperatorSnapshotFutures futures : asyncParts.values()) {
            try {
                futures.cancel();
            } catch (Exception e) {
                failure = e;
            }
        }
        asyncParts.clear();
        try {
            harness.close();
        } catch (Exception e) {
            if (failure != null) {
                e.addSuppressed(failure);
            }
            throw e;
        }
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
