package io.statebackend.incremental.itcase;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateChangelogOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.runtime.checkpoint.RestoredCheckpointStats;
import org.apache.flink.runtime.executiongraph.ArchivedExecutionGraph;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;
import org.apache.flink.util.FileUtils;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A keyed job on this backend fails exactly once, after a checkpoint that holds the state of the
 * first half of its input has completed, restarts from that checkpoint and must end with exactly
 * the state it would have had without the failure: per key the sum and count (value state), every
 * value once (list state and map state) and every event-time timer fired once.
 *
 * <p>The failure is coordinated, not timed: the source stops after the first half of its input and
 * waits until a checkpoint taken at that point has been confirmed complete; the map chained to the
 * source then throws on the next record. The restore therefore starts from a checkpoint at exactly
 * the middle of the input, with the first half in the keyed state and the second half still to
 * come.
 */
// a safety net so that a hang in the backend fails this class instead of the whole build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class FailureRecoveryITCase {

    private static final int NUM_KEYS = 100;
    private static final int RECORDS_PER_KEY = 100;
    private static final long NUM_RECORDS = (long) NUM_KEYS * RECORDS_PER_KEY;

    /** Records emitted before the source waits for a checkpoint and the failure. */
    private static final long RECORDS_BEFORE_FAILURE = NUM_RECORDS / 2;

    private static final int KEYED_PARALLELISM = 2;

    /** The changelog storage of the cases with the changelog backend; a cluster setting. */
    private static final Path CHANGELOG_STORAGE =
            IncrementalTestJobs.temporaryDirectory("failure-recovery-changelog-");

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(KEYED_PARALLELISM)
                            .setConfiguration(
                                    IncrementalTestJobs.withChangelogStorage(
                                            new Configuration(), CHANGELOG_STORAGE))
                            .build());

    // The job's functions run in this JVM; they coordinate with the test through these fields.

    /** Set when the injected failure has been thrown; it is thrown only once. */
    private static final AtomicBoolean FAILURE_THROWN = new AtomicBoolean();

    /** Completed once a checkpoint taken at {@link #RECORDS_BEFORE_FAILURE} is confirmed. */
    private static volatile CompletableFuture<Void> checkpointAtGateCompleted =
            new CompletableFuture<>();

    /** The id of the checkpoint that completed {@link #checkpointAtGateCompleted}. */
    private static final AtomicLong GATE_CHECKPOINT_ID = new AtomicLong(-1L);

    /**
     * Shared by all tests of the class and deleted after the MiniCluster has shut down: the cluster
     * discards a finished job's checkpoints asynchronously, after the job's result is available.
     */
    @TempDir static Path checkpointsRoot;

    @AfterAll
    static void deleteChangelogStorage() throws IOException {
        FileUtils.deleteDirectory(CHANGELOG_STORAGE.toFile());
    }

    @BeforeEach
    void resetCoordination() {
        FAILURE_THROWN.set(false);
        checkpointAtGateCompleted = new CompletableFuture<>();
        GATE_CHECKPOINT_ID.set(-1L);
        IncrementalTestJobs.reset();
    }

    static Stream<Arguments> configurations() {
        return Stream.of(
                Arguments.of(true, PriorityQueueStateType.ROCKSDB, false, false),
                Arguments.of(true, PriorityQueueStateType.HEAP, false, false),
                Arguments.of(false, PriorityQueueStateType.ROCKSDB, false, false),
                Arguments.of(false, PriorityQueueStateType.HEAP, false, false),
                // wrapped in Flink's changelog backend (FLIP-158)
                Arguments.of(true, PriorityQueueStateType.ROCKSDB, true, false),
                Arguments.of(false, PriorityQueueStateType.HEAP, true, false),
                // every value in blob files
                Arguments.of(true, PriorityQueueStateType.ROCKSDB, false, true));
    }

    @ParameterizedTest(name = "incremental={0}, timers={1}, changelog={2}, blob files={3}")
    @MethodSource("configurations")
    void restoresExactStateAfterOneFailure(
            boolean incremental,
            PriorityQueueStateType timerService,
            boolean changelog,
            boolean blobFiles,
            @InjectMiniCluster MiniCluster miniCluster)
            throws Exception {
        final Path checkpointDir = Files.createTempDirectory(checkpointsRoot, "checkpoints-");
        final Configuration config = jobConfiguration(incremental, timerService, checkpointDir);
        if (blobFiles) {
            config.setString(IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key(), "true");
            config.setString(IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key(), "0b");
        }
        if (changelog) {
            config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, true);
            // materializes the wrapped backend while the job runs, so that the restore reads a
            // materialized checkpoint of this backend and the changelog after it
            config.set(
                    StateChangelogOptions.PERIODIC_MATERIALIZATION_INTERVAL,
                    Duration.ofMillis(300));
        }
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);

        env.fromSource(
                        new DataGeneratorSource<>(
                                index -> index,
                                NUM_RECORDS,
                                new GateAfter(RECORDS_BEFORE_FAILURE),
                                Types.LONG),
                        WatermarkStrategy.<Long>forMonotonousTimestamps()
                                .withTimestampAssigner((index, previous) -> index),
                        "sequence")
                .setParallelism(1)
                .map(new FailOnceAfterGate(RECORDS_BEFORE_FAILURE))
                .setParallelism(1)
                .keyBy(index -> (int) (index % NUM_KEYS), Types.INT)
                .process(new SumCountListMapTimers())
                .setParallelism(KEYED_PARALLELISM)
                .sinkTo(new IncrementalTestJobs.LastResultPerKeySink())
                .setParallelism(KEYED_PARALLELISM);

        final JobExecutionResult result = env.execute("failure-recovery");

        assertThat(FAILURE_THROWN).as("the injected failure was thrown").isTrue();

        final ArchivedExecutionGraph graph =
                miniCluster.getArchivedExecutionGraph(result.getJobID()).get();
        final RestoredCheckpointStats restored =
                graph.getCheckpointStatsSnapshot().getLatestRestoredCheckpoint();
        assertThat(restored).as("the job was restored from a checkpoint").isNotNull();
        assertThat(restored.getCheckpointId())
                .as("restored from the checkpoint taken at the gate (or a later one)")
                .isGreaterThanOrEqualTo(GATE_CHECKPOINT_ID.get());

        assertThat(IncrementalTestJobs.lastResults())
                .containsExactlyInAnyOrderEntriesOf(expectedResults());
        // that the changelog backend takes part is shown by IncrementalCheckpointSizeITCase: its
        // files here may be discarded again once a materialization covers them
    }

    private static Configuration jobConfiguration(
            boolean incremental, PriorityQueueStateType timerService, Path checkpointDir) {
        final Configuration config = new Configuration();
        config.set(
                StateBackendOptions.STATE_BACKEND,
                IncrementalRocksDBStateBackendFactory.class.getName());
        config.set(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, incremental);
        config.set(IncrementalRocksDBOptions.TIMER_SERVICE_FACTORY, timerService);
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointDir.toUri().toString());
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(200));
        // exactly one failure is injected; a second one (from anywhere) fails the test
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 1);
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ZERO);
        // the test environment may otherwise wrap the backend in the changelog backend
        config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, false);
        config.set(CheckpointingOptions.FILE_MERGING_ENABLED, false);
        return config;
    }

    /** Key {@code k} receives the values {@code k, k + NUM_KEYS, k + 2 * NUM_KEYS, ...}. */
    private static Map<Integer, KeyResult> expectedResults() {
        final Map<Integer, KeyResult> expected = new HashMap<>();
        for (int key = 0; key < NUM_KEYS; key++) {
            long sum = 0;
            for (long i = 0; i < RECORDS_PER_KEY; i++) {
                sum += key + i * NUM_KEYS;
            }
            expected.put(
                    key,
                    new KeyResult(
                            key,
                            sum,
                            RECORDS_PER_KEY,
                            RECORDS_PER_KEY,
                            RECORDS_PER_KEY,
                            sum,
                            RECORDS_PER_KEY,
                            0));
        }
        return expected;
    }

    // ------------------------------------------------------------------------
    //  the job's functions
    // ------------------------------------------------------------------------

    /**
     * Lets the source emit its first {@code permits} records, then holds it until a checkpoint
     * taken at that point has completed. The source keeps processing checkpoints meanwhile because
     * the wait is a future, not a blocked thread.
     */
    private static final class GateAfter implements RateLimiterStrategy {

        private static final long serialVersionUID = 1L;

        private final long permits;

        GateAfter(long permits) {
            this.permits = permits;
        }

        @Override
        public RateLimiter createRateLimiter(int parallelism) {
            return new RateLimiter() {
                private long granted;

                @Override
                public CompletionStage<Void> acquire() {
                    if (FAILURE_THROWN.get() || granted < permits) {
                        granted++;
                        return CompletableFuture.completedFuture(null);
                    }
                    return checkpointAtGateCompleted;
                }
            };
        }
    }

    /**
     * Chained to the source, so it sees the records in the source's order and is snapshotted at the
     * same point. It opens the gate when a checkpoint taken after the first half of the input is
     * confirmed, and throws on the first record after that.
     */
    private static final class FailOnceAfterGate extends RichMapFunction<Long, Long>
            implements CheckpointedFunction, CheckpointListener {

        private static final long serialVersionUID = 1L;

        private final long recordsBeforeFailure;

        private long seen;
        private long firstCheckpointAtGate = Long.MAX_VALUE;

        FailOnceAfterGate(long recordsBeforeFailure) {
            this.recordsBeforeFailure = recordsBeforeFailure;
        }

        @Override
        public Long map(Long index) {
            if (checkpointAtGateCompleted.isDone() && FAILURE_THROWN.compareAndSet(false, true)) {
                throw new RuntimeException(
                        "Injected failure at record "
                                + index
                                + " after checkpoint "
                                + GATE_CHECKPOINT_ID.get()
                                + " completed");
            }
            seen++;
            return index;
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) {
            if (seen == recordsBeforeFailure && firstCheckpointAtGate == Long.MAX_VALUE) {
                firstCheckpointAtGate = context.getCheckpointId();
            }
        }

        @Override
        public void initializeState(FunctionInitializationContext context) {}

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            if (!FAILURE_THROWN.get()
                    && checkpointId >= firstCheckpointAtGate
                    && GATE_CHECKPOINT_ID.compareAndSet(-1L, checkpointId)) {
                checkpointAtGateCompleted.complete(null);
            }
        }
    }

    /**
     * Keeps per key a sum and a count (value state), every value (list state), every value with its
     * timestamp (map state), and registers one event-time timer per value. Each timer emits the
     * key's current state; the last timer of a key fires after all its values arrived.
     */
    private static final class SumCountListMapTimers
            extends KeyedProcessFunction<Integer, Long, KeyResult> {

        private static final long serialVersionUID = 1L;

        private transient ValueState<Long> sum;
        private transient ValueState<Long> count;
        private transient ValueState<Long> timersFired;
        private transient ListState<Long> values;
        private transient MapState<Long, Long> timestampByValue;

        @Override
        public void open(OpenContext openContext) {
            sum = getRuntimeContext().getState(new ValueStateDescriptor<>("sum", Types.LONG));
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            timersFired =
                    getRuntimeContext()
                            .getState(new ValueStateDescriptor<>("timers-fired", Types.LONG));
            values =
                    getRuntimeContext()
                            .getListState(new ListStateDescriptor<>("values", Types.LONG));
            timestampByValue =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>(
                                            "timestamp-by-value", Types.LONG, Types.LONG));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<KeyResult> out)
                throws Exception {
            sum.update(orZero(sum.value()) + value);
            count.update(orZero(count.value()) + 1);
            values.add(value);
            timestampByValue.put(value, ctx.timestamp());
            ctx.timerService().registerEventTimeTimer(ctx.timestamp());
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<KeyResult> out)
                throws Exception {
            final long fired = orZero(timersFired.value()) + 1;
            timersFired.update(fired);

            long listSize = 0;
            long listSum = 0;
            for (Long value : values.get()) {
                listSize++;
                listSum += value;
            }
            long mapSize = 0;
            for (Map.Entry<Long, Long> entry : timestampByValue.entries()) {
                if (entry.getKey().equals(entry.getValue())) {
                    mapSize++;
                }
            }
            out.collect(
                    new KeyResult(
                            ctx.getCurrentKey(),
                            orZero(sum.value()),
                            orZero(count.value()),
                            fired,
                            listSize,
                            listSum,
                            mapSize,
                            0));
        }

        private static long orZero(Long value) {
            return value == null ? 0L : value;
        }
    }
}
