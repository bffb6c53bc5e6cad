package io.statebackend.incremental.snapshot;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackend;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.BasicTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.SavepointFormatType;
import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.checkpoint.SavepointType;
import org.apache.flink.runtime.checkpoint.SnapshotType;
import org.apache.flink.runtime.state.IncrementalRemoteKeyedStateHandle;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;
import org.apache.flink.runtime.state.KeyGroupsSavepointStateHandle;
import org.apache.flink.runtime.state.storage.FileSystemCheckpointStorage;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.operators.KeyedProcessOperator;
import org.apache.flink.streaming.util.AbstractStreamOperatorTestHarness;
import org.apache.flink.streaming.util.KeyedOneInputStreamOperatorTestHarness;
import org.apache.flink.util.Collector;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Event-time timers of a keyed operator survive native savepoints whichever timer service wrote
 * them and whichever one restores them. RocksDB's files do not hold heap timers, so a native
 * savepoint that only carried the files would silently lose every timer of a HEAP-configured job.
 * Canonical savepoints and checkpoints guard the other ways heap timers travel.
 */
class NativeSavepointTimersTest {

    private static final int MAX_PARALLELISM = 128;
    private static final int TIMERS = 100;

    /** Each key {@code k} registers one event-time timer at {@code TIMER_BASE + k}. */
    private static final long TIMER_BASE = 1_000L;

    private static final SnapshotType NATIVE = SavepointType.savepoint(SavepointFormatType.NATIVE);
    private static final SnapshotType CANONICAL =
            SavepointType.savepoint(SavepointFormatType.CANONICAL);
    private static final SnapshotType CHECKPOINT =
            org.apache.flink.runtime.checkpoint.CheckpointType.CHECKPOINT;

    @TempDir Path tempDir;

    static Stream<Arguments> timerServicesBeforeAndAfter() {
        List<Arguments> combinations = new ArrayList<>();
        for (PriorityQueueStateType before : PriorityQueueStateType.values()) {
            for (PriorityQueueStateType after : PriorityQueueStateType.values()) {
                combinations.add(Arguments.of(before, after));
            }
        }
        return combinations.stream();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("timerServicesBeforeAndAfter")
    void nativeSavepointRestoresEveryTimer(
            PriorityQueueStateType before, PriorityQueueStateType after) throws Exception {
        OperatorSubtaskState savepoint = snapshotWithTimers(before, true, NATIVE, 1, 0, allKeys());
        assertThat(savepoint.getManagedKeyedState())
                .singleElement()
                .isInstanceOf(IncrementalRemoteKeyedStateHandle.class);

        assertThat(restoreAndFire(savepoint, after, true, 1, 0, TIMERS))
                .isEqualTo(expectedOutput(allKeys()));
    }

    /** Without keyed state, RocksDB holds nothing of the operator: the timers are all there is. */
    @ParameterizedTest(name = "HEAP -> {0}")
    @EnumSource(PriorityQueueStateType.class)
    void nativeSavepointOfHeapTimersOnlyRestoresEveryTimer(PriorityQueueStateType after)
            throws Exception {
        OperatorSubtaskState savepoint =
                snapshotWithTimers(PriorityQueueStateType.HEAP, false, NATIVE, 1, 0, allKeys());

        assertThat(restoreAndFire(savepoint, after, false, 1, 0, TIMERS))
                .isEqualTo(expectedOutput(allKeys()));
    }

    @ParameterizedTest(name = "HEAP -> {0}")
    @EnumSource(PriorityQueueStateType.class)
    void canonicalSavepointRestoresHeapTimers(PriorityQueueStateType after) throws Exception {
        OperatorSubtaskState savepoint =
                snapshotWithTimers(PriorityQueueStateType.HEAP, true, CANONICAL, 1, 0, allKeys());
        assertThat(savepoint.getManagedKeyedState())
                .singleElement()
                .isInstanceOf(KeyGroupsSavepointStateHandle.class);

        assertThat(restoreAndFire(savepoint, after, true, 1, 0, TIMERS))
                .isEqualTo(expectedOutput(allKeys()));
    }

    @ParameterizedTest(name = "HEAP -> {0}")
    @EnumSource(PriorityQueueStateType.class)
    void checkpointRestoresHeapTimers(PriorityQueueStateType after) throws Exception {
        OperatorSubtaskState checkpoint =
                snapshotWithTimers(PriorityQueueStateType.HEAP, true, CHECKPOINT, 1, 0, allKeys());
        assertThat(checkpoint.getManagedKeyedState())
                .singleElement()
                .isInstanceOf(IncrementalRemoteKeyedStateHandle.class);

        assertThat(restoreAndFire(checkpoint, after, true, 1, 0, TIMERS))
                .isEqualTo(expectedOutput(allKeys()));
    }

    /** Timers in raw keyed state are split by key group, so two subtasks merge into one. */
    @ParameterizedTest(name = "HEAP -> {0}")
    @EnumSource(PriorityQueueStateType.class)
    void nativeSavepointWithHeapTimersRestoresIntoFewerSubtasks(PriorityQueueStateType after)
            throws Exception {
        List<OperatorSubtaskState> subtasks = new ArrayList<>();
        for (int subtask = 0; subtask < 2; subtask++) {
            List<Integer> keys = keysOf(subtask, 2);
            assertThat(keys).isNotEmpty().hasSizeLessThan(TIMERS);
            subtasks.add(
                    snapshotWithTimers(
                            PriorityQueueStateType.HEAP, true, NATIVE, 2, subtask, keys));
        }
        OperatorSubtaskState merged =
                AbstractStreamOperatorTestHarness.repartitionOperatorState(
                        AbstractStreamOperatorTestHarness.repackageState(
                                subtasks.toArray(new OperatorSubtaskState[0])),
                        MAX_PARALLELISM,
                        2,
                        1,
                        0);
        assertThat(merged.getManagedKeyedState()).hasSize(2);

        assertThat(restoreAndFire(merged, after, true, 1, 0, TIMERS))
                .isEqualTo(expectedOutput(allKeys()));
    }

    /** Registers one timer per key, lets none fire, and takes the snapshot. */
    private OperatorSubtaskState snapshotWithTimers(
            PriorityQueueStateType timerService,
            boolean withKeyedState,
            SnapshotType snapshotType,
            int parallelism,
            int subtask,
            List<Integer> keys)
            throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Integer, Integer, String> harness =
                harness(timerService, withKeyedState, parallelism, subtask)) {
            harness.open();
            for (int key : keys) {
                harness.processElement(key, 0L);
            }
            assertThat(harness.numEventTimeTimers()).isEqualTo(keys.size());
            assertThat(harness.extractOutputValues()).isEmpty();
            return harness.snapshotWithLocalState(1L, 1L, snapshotType).getJobManagerOwnedState();
        }
    }

    /** Restores, advances the watermark past every timer and returns what the timers emitted. */
    private List<String> restoreAndFire(
            OperatorSubtaskState state,
            PriorityQueueStateType timerService,
            boolean withKeyedState,
            int parallelism,
            int subtask,
            int expected)
            throws Exception {
        try (KeyedOneInputStreamOperatorTestHarness<Integer, Integer, String> harness =
                harness(timerService, withKeyedState, parallelism, subtask)) {
            harness.setup();
            harness.initializeState(state);
            harness.open();
            assertThat(harness.numEventTimeTimers()).as("restored timers").isEqualTo(expected);
            harness.processWatermark(TIMER_BASE + TIMERS);
            List<String> fired = new ArrayList<>(harness.extractOutputValues());
            assertThat(fired).as("fired timers").hasSize(expected);
            fired.sort(null);
            return fired;
        }
    }

    private KeyedOneInputStreamOperatorTestHarness<Integer, Integer, String> harness(
            PriorityQueueStateType timerService,
            boolean withKeyedState,
            int parallelism,
            int subtask)
            throws Exception {
        KeyedOneInputStreamOperatorTestHarness<Integer, Integer, String> harness =
                new KeyedOneInputStreamOperatorTestHarness<>(
                        new KeyedProcessOperator<>(new TimerPerElement(withKeyedState)),
                        key -> key,
                        BasicTypeInfo.INT_TYPE_INFO,
                        MAX_PARALLELISM,
                        parallelism,
                        subtask);
        // the timer service is chosen as a job's configuration would choose it
        Configuration config = new Configuration();
        config.set(IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY, timerService);
        harness.setStateBackend(
                new IncrementalRocksDBStateBackend(true)
                        .withLocalDirectories(tempDir.resolve("local").toString())
                        .configure(config, getClass().getClassLoader()));
        harness.setCheckpointStorage(
                new FileSystemCheckpointStorage(tempDir.resolve("checkpoints").toUri()));
        return harness;
    }

    private static List<Integer> allKeys() {
        List<Integer> keys = new ArrayList<>();
        for (int key = 0; key < TIMERS; key++) {
            keys.add(key);
        }
        return keys;
    }

    private static List<Integer> keysOf(int subtask, int parallelism) {
        List<Integer> keys = new ArrayList<>();
        for (int key : allKeys()) {
            if (KeyGroupRangeAssignment.assignKeyToParallelOperator(
                            key, MAX_PARALLELISM, parallelism)
                    == subtask) {
                keys.add(key);
            }
        }
        return keys;
    }

    private static List<String> expectedOutput(List<Integer> keys) {
        List<String> expected = new ArrayList<>();
        for (int key : keys) {
            expected.add(fired(key, TIMER_BASE + key));
        }
        expected.sort(null);
        return expected;
    }

    private static String fired(int key, long timestamp) {
        return key + "@" + timestamp;
    }

    /**
     * Registers an event-time timer per element and emits the key and time when it fires. With
     * keyed state it also remembers the timer in a value state, so that the RocksDB part of a
     * snapshot is not empty and the timer is checked against it.
     */
    private static final class TimerPerElement
            extends KeyedProcessFunction<Integer, Integer, String> {

        private final boolean withKeyedState;
        private transient ValueState<Long> registered;

        TimerPerElement(boolean withKeyedState) {
            this.withKeyedState = withKeyedState;
        }

        @Override
        public void open(OpenContext openContext) {
            if (withKeyedState) {
                registered =
                        getRuntimeContext()
                                .getState(new ValueStateDescriptor<>("registered", Types.LONG));
            }
        }

        @Override
        public void processElement(Integer value, Context ctx, Collector<String> out)
                throws Exception {
            ctx.timerService().registerEventTimeTimer(TIMER_BASE + value);
            if (withKeyedState) {
                registered.update(TIMER_BASE + value);
            }
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<String> out)
                throws Exception {
            if (withKeyedState && !Long.valueOf(timestamp).equals(registered.value())) {
                out.collect(ctx.getCurrentKey() + " has no state for its timer " + timestamp);
                return;
            }
            out.collect(fired(ctx.getCurrentKey(), timestamp));
        }
    }
}
