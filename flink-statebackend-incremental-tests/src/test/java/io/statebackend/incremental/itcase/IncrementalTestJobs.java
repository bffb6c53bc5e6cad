package io.statebackend.incremental.itcase;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
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
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.PipelineOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateChangelogOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.core.execution.CheckpointType;
import org.apache.flink.runtime.checkpoint.AbstractCheckpointStats;
import org.apache.flink.runtime.checkpoint.CompletedCheckpointStats;
import org.apache.flink.runtime.execution.ExecutionState;
import org.apache.flink.runtime.executiongraph.AccessExecutionGraph;
import org.apache.flink.runtime.executiongraph.AccessExecutionVertex;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;
import org.apache.flink.util.Preconditions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Job pieces shared by the incremental checkpoint ITCases: the configuration of this backend, a
 * sequence source that emits only as far as the test allows, keyed functions with value, list and
 * map state, a sink keeping the last result per key, and a few cluster helpers.
 *
 * <p>The job's functions run in the test's JVM (a {@link MiniCluster}) and coordinate with the test
 * through static fields; every test resets them with {@link #reset()} first. The tests of a class
 * run one after another, so one job at a time uses them.
 */
final class IncrementalTestJobs {

    /** Fixed, so that every job and every restored checkpoint agree on the key groups. */
    static final int MAX_PARALLELISM = 128;

    /** How long a test waits for a condition before it fails; far above what the jobs need. */
    static final Duration WAIT_TIMEOUT = Duration.ofSeconds(60);

    /** Size of the value each {@link LatestPayload} keeps per key. */
    static final int PAYLOAD_BYTES = 100;

    private IncrementalTestJobs() {}

    /** Clears all state the job's functions share with the test. */
    static void reset() {
        SequenceGate.reset();
        LAST_RESULTS.clear();
        NOTIFIED_CHECKPOINT.clear();
    }

    // ------------------------------------------------------------------------
    //  configuration and cluster helpers
    // ------------------------------------------------------------------------

    /**
     * This backend with incremental checkpoints into {@code checkpointDir}, taken every {@code
     * interval}; no restarts unless a test asks for them, so that an unexpected failure fails the
     * test at once with its cause.
     */
    static Configuration incrementalCheckpoints(Path checkpointDir, Duration interval) {
        final Configuration config = new Configuration();
        config.set(
                StateBackendOptions.STATE_BACKEND,
                IncrementalRocksDBStateBackendFactory.class.getName());
        config.set(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointDir.toUri().toString());
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, interval);
        config.set(PipelineOptions.MAX_PARALLELISM, MAX_PARALLELISM);
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        // the test environment may otherwise wrap the backend in the changelog backend, or merge
        // the files of several checkpoints into one
        config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, false);
        config.set(CheckpointingOptions.FILE_MERGING_ENABLED, false);
        return config;
    }

    /**
     * Sets a file system changelog storage in {@code dir} on a cluster configuration: the changelog
     * backend (FLIP-158) takes its storage from the TaskManager's configuration, not the job's. A
     * job uses it only if it enables the changelog backend.
     */
    static Configuration withChangelogStorage(Configuration cluster, Path dir) {
        cluster.setString("state.changelog.storage", "filesystem");
        cluster.setString("dstl.dfs.base-path", dir.toUri().toString());
        return cluster;
    }

    /** A new temporary directory, for what must exist before a test class's MiniCluster. */
    static Path temporaryDirectory(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The number of regular files under {@code dir}, 0 if it does not exist. */
    static long countFiles(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            return files.filter(Files::isRegularFile).count();
        }
    }

    /**
     * Like {@link #incrementalCheckpoints} but checkpoints are taken only when the test triggers
     * them ({@link #checkpoint}): the periodic scheduler's first checkpoint would come a day after
     * the start (its initial delay is at least the minimum pause).
     */
    static Configuration triggeredCheckpoints(Path checkpointDir) {
        final Configuration config = incrementalCheckpoints(checkpointDir, Duration.ofDays(1));
        config.set(CheckpointingOptions.MIN_PAUSE_BETWEEN_CHECKPOINTS, Duration.ofDays(1));
        return config;
    }

    static JobID submit(MiniCluster miniCluster, StreamExecutionEnvironment env) throws Exception {
        return submit(miniCluster, env, SavepointRestoreSettings.none());
    }

    static JobID submit(
            MiniCluster miniCluster,
            StreamExecutionEnvironment env,
            SavepointRestoreSettings restoreSettings)
            throws Exception {
        final JobGraph jobGraph = env.getStreamGraph().getJobGraph();
        jobGraph.setSavepointRestoreSettings(restoreSettings);
        return miniCluster.submitJob(jobGraph).get().getJobID();
    }

    /**
     * Takes a checkpoint (incremental, as configured) and returns its id once it completed and the
     * {@code keyedParallelism} subtasks of the keyed operator ({@link LatestPayload}) were told so:
     * this backend reuses only files of checkpoints it knows to be complete.
     */
    static long checkpoint(MiniCluster miniCluster, JobID jobId, int keyedParallelism)
            throws Exception {
        // a checkpoint is declined while a task is still being deployed or initialized
        waitUntil(
                () -> allTasksRunning(miniCluster, jobId),
                () -> "all tasks of job " + jobId + " to run");
        final long checkpointId =
                miniCluster.triggerCheckpoint(jobId, CheckpointType.CONFIGURED).get();
        waitUntil(
                () -> allNotifiedOf(checkpointId, keyedParallelism),
                () ->
                        "the keyed subtasks to be notified of checkpoint "
                                + checkpointId
                                + ", notified so far: "
                                + NOTIFIED_CHECKPOINT);
        return checkpointId;
    }

    static boolean allTasksRunning(MiniCluster miniCluster, JobID jobId) {
        final AccessExecutionGraph graph;
        try {
            graph = miniCluster.getExecutionGraph(jobId).get();
        } catch (Exception e) {
            throw new IllegalStateException("Could not get the execution graph of " + jobId, e);
        }
        for (AccessExecutionVertex vertex : graph.getAllExecutionVertices()) {
            if (vertex.getExecutionState() != ExecutionState.RUNNING) {
                return false;
            }
        }
        return true;
    }

    /** The statistics of the job's completed checkpoints, by checkpoint id. */
    static Map<Long, CompletedCheckpointStats> completedCheckpointStats(
            MiniCluster miniCluster, JobID jobId) {
        final Map<Long, CompletedCheckpointStats> completed = new TreeMap<>();
        try {
            for (AbstractCheckpointStats checkpoint :
                    miniCluster
                            .getExecutionGraph(jobId)
                            .get()
                            .getCheckpointStatsSnapshot()
                            .getHistory()
                            .getCheckpoints()) {
                if (checkpoint instanceof CompletedCheckpointStats) {
                    completed.put(
                            checkpoint.getCheckpointId(), (CompletedCheckpointStats) checkpoint);
                }
            }
        } catch (Exception e) {
            throw new RuntimeException("Could not read the checkpoint statistics", e);
        }
        return completed;
    }

    static void cancelAndWait(MiniCluster miniCluster, JobID jobId) throws Exception {
        miniCluster.cancelJob(jobId).get();
        final JobResult result = miniCluster.requestJobResult(jobId).get();
        Preconditions.checkState(
                result.getApplicationStatus().deriveJobStatus() == JobStatus.CANCELED,
                "Job %s ended as %s instead of being cancelled.",
                jobId,
                result.getApplicationStatus());
    }

    /** Waits for the job to end and fails with its root cause if it did not finish. */
    static void awaitSuccess(MiniCluster miniCluster, JobID jobId) throws Exception {
        final JobResult result = miniCluster.requestJobResult(jobId).get();
        if (result.isSuccess()) {
            return;
        }
        final Throwable failure =
                result.getSerializedThrowable()
                        .map(Throwable.class::cast)
                        .orElseGet(() -> new Exception("no failure cause"));
        Throwable rootCause = failure;
        while (rootCause.getCause() != null && rootCause.getCause() != rootCause) {
            rootCause = rootCause.getCause();
        }
        throw new AssertionError(
                "Job " + jobId + " ended as " + result.getApplicationStatus() + ": " + rootCause,
                failure);
    }

    /**
     * Polls {@code condition} until it holds and fails after {@link #WAIT_TIMEOUT}. The pause
     * between polls is only the polling interval: what is waited for is the condition.
     */
    static void waitUntil(BooleanSupplier condition, Supplier<String> waitingFor)
            throws InterruptedException, TimeoutException {
        final long deadline = System.nanoTime() + WAIT_TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new TimeoutException(
                        "Waited " + WAIT_TIMEOUT + " in vain for " + waitingFor.get());
            }
            Thread.sleep(10L);
        }
    }

    // ------------------------------------------------------------------------
    //  the gated sequence source
    // ------------------------------------------------------------------------

    /**
     * The records {@code 0, 1, ..., count - 1} from one source subtask, emitted only as far as
     * {@link SequenceGate#allowUpTo} allows, through the {@link TrackSequence} map chained to it.
     */
    static DataStream<Long> gatedSequence(StreamExecutionEnvironment env, long count) {
        return env.fromSource(
                        new DataGeneratorSource<>(
                                index -> index, count, new GateRateLimiter(), Types.LONG),
                        WatermarkStrategy.noWatermarks(),
                        "sequence")
                .uid("sequence")
                .setParallelism(1)
                .map(new TrackSequence())
                .uid("track-sequence")
                .setParallelism(1);
    }

    /** Hooks a test into the sequence; called on the source's task thread. */
    interface SequenceListener {

        /** Called with each record before it is forwarded; may throw to fail the job. */
        default void onRecord(long index) {}

        /** A checkpoint taken after the first {@code position} records completed. */
        default void onCheckpointComplete(long checkpointId, long position) {}
    }

    /**
     * What the source may emit and how far it got. The position is the number of records the
     * tracking map has forwarded in the current attempt (it is restored with the map's state), so
     * with the map chained to the source the gate is exact: the source asks for each record after
     * the previous one has passed the map.
     */
    static final class SequenceGate {

        private static final Object LOCK = new Object();
        private static final CompletableFuture<Void> OPEN = CompletableFuture.completedFuture(null);

        private static long limit;
        private static long position;
        private static CompletableFuture<Void> limitRaised = new CompletableFuture<>();
        private static volatile SequenceListener listener = new SequenceListener() {};

        /** Checkpoints the tracking map was restored from, in the order of the restores. */
        private static final List<Long> RESTORED_FROM = new CopyOnWriteArrayList<>();

        private SequenceGate() {}

        static void reset() {
            synchronized (LOCK) {
                limit = 0L;
                position = 0L;
                limitRaised = new CompletableFuture<>();
            }
            listener = new SequenceListener() {};
            RESTORED_FROM.clear();
        }

        static void setListener(SequenceListener newListener) {
            listener = Preconditions.checkNotNull(newListener);
        }

        /** Lets the source emit the records below {@code newLimit}. */
        static void allowUpTo(long newLimit) {
            final CompletableFuture<Void> waiting;
            synchronized (LOCK) {
                limit = newLimit;
                waiting = limitRaised;
                limitRaised = new CompletableFuture<>();
            }
            waiting.complete(null);
        }

        /**
         * Lets the source emit everything and end: a bounded source asks for one more record after
         * its last one before it finds out that it has ended.
         */
        static void allowAll() {
            allowUpTo(Long.MAX_VALUE);
        }

        static long position() {
            synchronized (LOCK) {
                return position;
            }
        }

        static List<Long> restoredFrom() {
            return Collections.unmodifiableList(RESTORED_FROM);
        }

        /** Waits until the source emitted exactly the records below {@code expected}. */
        static void awaitPosition(long expected) throws Exception {
            waitUntil(
                    () -> position() == expected,
                    () -> "the source to reach record " + expected + ", at " + position());
        }

        private static CompletionStage<Void> acquire() {
            synchronized (LOCK) {
                return position < limit ? OPEN : limitRaised;
            }
        }

        private static void setPosition(long newPosition) {
            synchronized (LOCK) {
                position = newPosition;
            }
        }
    }

    private static final class GateRateLimiter implements RateLimiterStrategy {

        private static final long serialVersionUID = 1L;

        @Override
        public RateLimiter createRateLimiter(int parallelism) {
            Preconditions.checkState(parallelism == 1, "The gated sequence runs on one subtask.");
            return SequenceGate::acquire;
        }
    }

    /**
     * Chained to the source: checks that the sequence has no gap, keeps the position in operator
     * state, and tells the {@link SequenceListener} about records and completed checkpoints.
     */
    private static final class TrackSequence extends RichMapFunction<Long, Long>
            implements CheckpointedFunction, CheckpointListener {

        private static final long serialVersionUID = 1L;

        private transient ListState<Long> positionState;
        private transient long position;
        private transient TreeMap<Long, Long> positionAtCheckpoint;

        @Override
        public void initializeState(FunctionInitializationContext context) throws Exception {
            positionState =
                    context.getOperatorStateStore()
                            .getListState(new ListStateDescriptor<>("position", Types.LONG));
            positionAtCheckpoint = new TreeMap<>();
            position = 0L;
            for (Long restored : positionState.get()) {
                position = restored;
            }
            if (context.getRestoredCheckpointId().isPresent()) {
                SequenceGate.RESTORED_FROM.add(context.getRestoredCheckpointId().getAsLong());
            }
            SequenceGate.setPosition(position);
        }

        @Override
        public Long map(Long index) {
            Preconditions.checkState(
                    index == position,
                    "The source emitted record %s at position %s.",
                    index,
                    position);
            SequenceGate.listener.onRecord(index);
            position++;
            SequenceGate.setPosition(position);
            return index;
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) throws Exception {
            positionState.update(Collections.singletonList(position));
            positionAtCheckpoint.put(context.getCheckpointId(), position);
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            final Long positionAt = positionAtCheckpoint.get(checkpointId);
            positionAtCheckpoint.headMap(checkpointId, true).clear();
            if (positionAt != null) {
                SequenceGate.listener.onCheckpointComplete(checkpointId, positionAt);
            }
        }
    }

    // ------------------------------------------------------------------------
    //  keyed functions
    // ------------------------------------------------------------------------

    /** Record {@code i} goes to key {@code i % numKeys}. */
    static final class ModuloKey implements KeySelector<Long, Integer> {

        private static final long serialVersionUID = 1L;

        private final int numKeys;

        ModuloKey(int numKeys) {
            this.numKeys = numKeys;
        }

        @Override
        public Integer getKey(Long index) {
            return (int) (index % numKeys);
        }
    }

    /**
     * Keeps per key the sum and count of its values (value state), every value (list state) and
     * every value with its double (map state). On the last value of a key it emits what the state
     * holds, so a value processed twice or lost shows in the key's result.
     */
    static final class SumListMap extends KeyedProcessFunction<Integer, Long, KeyResult> {

        private static final long serialVersionUID = 1L;

        /** The first index of the last value of every key. */
        private final long lastValuesFrom;

        private transient ValueState<Long> sum;
        private transient ValueState<Long> count;
        private transient ListState<Long> values;
        private transient MapState<Long, Long> doubled;

        SumListMap(long lastValuesFrom) {
            this.lastValuesFrom = lastValuesFrom;
        }

        @Override
        public void open(OpenContext openContext) {
            sum = getRuntimeContext().getState(new ValueStateDescriptor<>("sum", Types.LONG));
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            values =
                    getRuntimeContext()
                            .getListState(new ListStateDescriptor<>("values", Types.LONG));
            doubled =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>("doubled", Types.LONG, Types.LONG));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<KeyResult> out)
                throws Exception {
            sum.update(orZero(sum.value()) + value);
            count.update(orZero(count.value()) + 1);
            values.add(value);
            doubled.put(value, 2 * value);
            if (value >= lastValuesFrom) {
                long listSize = 0;
                long listSum = 0;
                for (Long listed : values.get()) {
                    listSize++;
                    listSum += listed;
                }
                long mapSize = 0;
                long mapValueSum = 0;
                for (Map.Entry<Long, Long> entry : doubled.entries()) {
                    mapSize++;
                    mapValueSum += entry.getValue();
                }
                out.collect(
                        new KeyResult(
                                ctx.getCurrentKey(),
                                sum.value(),
                                count.value(),
                                0,
                                listSize,
                                listSum,
                                mapSize,
                                mapValueSum));
            }
        }

        private static long orZero(Long value) {
            return value == null ? 0L : value;
        }
    }

    /**
     * The result {@link SumListMap} emits for a key receiving {@code valuesPerKey} values {@code
     * key, key + numKeys, key + 2 * numKeys, ...}.
     */
    static Map<Integer, KeyResult> expectedSumListMap(int numKeys, int valuesPerKey) {
        final Map<Integer, KeyResult> expected = new TreeMap<>();
        for (int key = 0; key < numKeys; key++) {
            long sum = 0;
            for (long i = 0; i < valuesPerKey; i++) {
                sum += key + i * numKeys;
            }
            expected.put(
                    key,
                    new KeyResult(
                            key, sum, valuesPerKey, 0, valuesPerKey, sum, valuesPerKey, 2 * sum));
        }
        return expected;
    }

    /** The last subtask-reported checkpoint completion, by subtask of {@link LatestPayload}. */
    private static final Map<Integer, Long> NOTIFIED_CHECKPOINT = new ConcurrentHashMap<>();

    private static boolean allNotifiedOf(long checkpointId, int parallelism) {
        if (NOTIFIED_CHECKPOINT.size() < parallelism) {
            return false;
        }
        for (long notified : NOTIFIED_CHECKPOINT.values()) {
            if (notified < checkpointId) {
                return false;
            }
        }
        return true;
    }

    /**
     * Keeps the latest {@value #PAYLOAD_BYTES}-byte payload per key in value state, and reports
     * completed checkpoints to the test; the backend is notified before the function.
     */
    static final class LatestPayload extends KeyedProcessFunction<Integer, Long, Void>
            implements CheckpointListener {

        private static final long serialVersionUID = 1L;

        private transient ValueState<byte[]> payload;

        @Override
        public void open(OpenContext openContext) {
            payload =
                    getRuntimeContext()
                            .getState(
                                    new ValueStateDescriptor<>(
                                            "payload",
                                            PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
        }

        @Override
        public void processElement(Long index, Context ctx, Collector<Void> out) throws Exception {
            payload.update(payloadOf(ctx.getCurrentKey(), index));
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            NOTIFIED_CHECKPOINT.merge(
                    getRuntimeContext().getTaskInfo().getIndexOfThisSubtask(),
                    checkpointId,
                    Math::max);
        }

        /** Bytes that differ from key to key and from update to update, so they hardly compress. */
        private static byte[] payloadOf(int key, long index) {
            final byte[] bytes = new byte[PAYLOAD_BYTES];
            long seed = key * 0x9E3779B97F4A7C15L + index;
            for (int i = 0; i < bytes.length; i++) {
                seed = seed * 6364136223846793005L + 1442695040888963407L;
                bytes[i] = (byte) (seed >>> 56);
            }
            return bytes;
        }
    }

    // ------------------------------------------------------------------------
    //  results
    // ------------------------------------------------------------------------

    /** The last result the job emitted for each key. */
    private static final Map<Integer, KeyResult> LAST_RESULTS = new ConcurrentHashMap<>();

    static Map<Integer, KeyResult> lastResults() {
        return new TreeMap<>(LAST_RESULTS);
    }

    /** Records the last result per key; replays after a restore overwrite earlier ones. */
    static final class LastResultPerKeySink implements Sink<KeyResult> {

        private static final long serialVersionUID = 1L;

        @Override
        public SinkWriter<KeyResult> createWriter(WriterInitContext context) {
            return new LastResultWriter();
        }

        @Override
        @SuppressWarnings("deprecation")
        public SinkWriter<KeyResult> createWriter(InitContext context) {
            return new LastResultWriter();
        }
    }

    private static final class LastResultWriter implements SinkWriter<KeyResult> {

        @Override
        public void write(KeyResult element, Context context) {
            LAST_RESULTS.put(element.key, element);
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public void close() {}
    }
}
