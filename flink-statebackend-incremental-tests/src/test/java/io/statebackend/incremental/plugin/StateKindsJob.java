package io.statebackend.incremental.plugin;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.AggregatingState;
import org.apache.flink.api.common.state.AggregatingStateDescriptor;
import org.apache.flink.api.common.state.CheckpointListener;
import org.apache.flink.api.common.state.ListState;
import org.apache.flink.api.common.state.ListStateDescriptor;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ReducingState;
import org.apache.flink.api.common.state.ReducingStateDescriptor;
import org.apache.flink.api.common.state.StateTtlConfig;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiter;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.api.java.tuple.Tuple2;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExecutionOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateChangelogOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A keyed job with state of every kind, event-time timers and TTL, whose final per-key state is
 * known exactly in advance.
 *
 * <p>Record {@code i} (for {@code i} in {@code [0, NUM_RECORDS)}) has key {@code i % NUM_KEYS},
 * sequence number {@code i / NUM_KEYS} within its key, and {@code i} as value and event time. For
 * each record the keyed function updates a value state (sum), a list state (every value), a map
 * state (value by sequence number), a reducing state (sum of squares), an aggregating state (count
 * and sum), three TTL states with a TTL of a day (value, list, map) and, for the first {@link
 * #EXPIRING_UNTIL_SEQ} records of a key when enabled, a value state with a TTL of {@link
 * #EXPIRING_TTL}. It registers an event-time timer at {@code i} (fires while the job runs), one at
 * {@code i + LONG_TIMER_DELAY} (fires only at the end of the input) and one at {@link
 * #FINAL_TIMER}, which fires after all others of its key and emits the key's complete state.
 *
 * <p>The job's functions run in the test's JVM and report to a {@link Run} registered under a name,
 * so that several jobs can run at once.
 */
final class StateKindsJob {

    /** The factory of the backend under test, as configured on a cluster. */
    static final String INCREMENTAL =
            "io.statebackend.incremental.IncrementalRocksDBStateBackendFactory";

    /** Flink's own RocksDB backend, {@code EmbeddedRocksDBStateBackend} on FRocksDB. */
    static final String FLINK_ROCKSDB = "rocksdb";

    static final String HASHMAP = "hashmap";

    static final int NUM_KEYS = 40;
    static final int RECORDS_PER_KEY = 20;
    static final long NUM_RECORDS = (long) NUM_KEYS * RECORDS_PER_KEY;

    static final int MAX_PARALLELISM = 128;

    static final long LONG_TIMER_DELAY = 1_000_000L;
    static final long FINAL_TIMER = 1_000_000_000L;

    /**
     * Long compared with the time a resumed job here takes to restore and reach its end, so that a
     * restore that reset the TTL timestamps to the time of the restore would most likely leave the
     * expiring state readable at the end; a correct restore leaves it expired in any case.
     */
    static final Duration EXPIRING_TTL = Duration.ofSeconds(2);

    /** Records of a key, by sequence number, that write the expiring state when it is enabled. */
    static final int EXPIRING_UNTIL_SEQ = RECORDS_PER_KEY / 2;

    /** The keyed operator's uid: its state moves between jobs under this id. */
    static final String KEYED_UID = "state-kinds";

    private static final Map<String, Run> RUNS = new ConcurrentHashMap<>();

    private StateKindsJob() {}

    // ------------------------------------------------------------------------
    //  runs: what the job's functions report to the test
    // ------------------------------------------------------------------------

    /** The coordination and results of one job (or of the jobs of one savepoint round trip). */
    static final class Run {
        final String name;

        /** The state each key emitted when its final timer fired. */
        final Map<Integer, KeyState> results = new ConcurrentHashMap<>();

        /** How often each key emitted: exactly once in a correct run. */
        final Map<Integer, AtomicInteger> emissions = new ConcurrentHashMap<>();

        /** The class of a plain value state, once per subtask: it tells the backend. */
        final Set<Class<?>> valueStateClasses = ConcurrentHashMap.newKeySet();

        /** Records the keyed function has processed, over all attempts. */
        final AtomicLong processed = new AtomicLong();

        final AtomicBoolean failureThrown = new AtomicBoolean();
        final CompletableFuture<Void> gateCheckpointCompleted = new CompletableFuture<>();
        final AtomicLong gateCheckpointId = new AtomicLong(-1L);

        private Run(String name) {
            this.name = name;
        }

        Map<Integer, Integer> emissionCounts() {
            final Map<Integer, Integer> counts = new TreeMap<>();
            emissions.forEach((key, count) -> counts.put(key, count.get()));
            return counts;
        }
    }

    static Run newRun(String name) {
        final Run run = new Run(name);
        RUNS.put(name, run);
        return run;
    }

    static void forget(Run run) {
        RUNS.remove(run.name);
    }

    private static Run run(String name) {
        return Objects.requireNonNull(RUNS.get(name), name);
    }

    // ------------------------------------------------------------------------
    //  configuration and pipelines
    // ------------------------------------------------------------------------

    /** A job configuration that selects the state backend by {@code state.backend.type}. */
    static Configuration configuration(String backend, Path checkpointDir) {
        final Configuration config = new Configuration();
        config.set(StateBackendOptions.STATE_BACKEND, backend);
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointDir.toUri().toString());
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(200));
        // at most the one injected failure; any other fails the job and the test
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "fixed-delay");
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_ATTEMPTS, 1);
        config.set(RestartStrategyOptions.RESTART_STRATEGY_FIXED_DELAY_DELAY, Duration.ZERO);
        // the keyed state must come from the backend itself, not from the changelog
        config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, false);
        config.set(CheckpointingOptions.FILE_MERGING_ENABLED, false);
        config.set(ExecutionOptions.SNAPSHOT_COMPRESSION, false);
        return config;
    }

    /**
     * All records; fails once, after a checkpoint taken after the first {@code failAfter} records
     * has completed, and is restored from that checkpoint.
     */
    static DataStream<Long> failingOnceSource(
            StreamExecutionEnvironment env, Run run, long failAfter) {
        return env.fromSource(
                        new DataGeneratorSource<>(
                                index -> index,
                                NUM_RECORDS,
                                new GateAfter(run.name, failAfter),
                                Types.LONG),
                        watermarks(),
                        "records")
                .uid("records")
                .setParallelism(1)
                .map(new FailOnceAfterGate(run.name, failAfter))
                .uid("fail-once")
                .setParallelism(1);
    }

    /**
     * The records {@code [from, to)}. Unless {@code to} is the end of the input, the source then
     * waits forever without finishing, so that a savepoint can be taken with all of them in state
     * and without the end-of-input watermark that would fire every timer.
     */
    static DataStream<Long> phaseSource(StreamExecutionEnvironment env, long from, long to) {
        final RateLimiterStrategy rateLimit =
                to == NUM_RECORDS ? RateLimiterStrategy.noOp() : new BlockAfter(to - from);
        final String uid = "records-" + from + "-" + to;
        return env.fromSource(
                        new DataGeneratorSource<>(
                                index -> from + index, to - from, rateLimit, Types.LONG),
                        watermarks(),
                        uid)
                .uid(uid)
                .setParallelism(1);
    }

    /** Keys the records and runs the keyed function and the sink at the given parallelism. */
    static void keyedStateAndSink(
            DataStream<Long> records, Run run, int parallelism, boolean expiringState) {
        records.keyBy(index -> (int) (index % NUM_KEYS), Types.INT)
                .process(new AllStateKinds(run.name, expiringState))
                .uid(KEYED_UID)
                .setParallelism(parallelism)
                .setMaxParallelism(MAX_PARALLELISM)
                .sinkTo(new ResultSink(run.name))
                .uid("results")
                .setParallelism(parallelism);
    }

    /** Waits for the job to end and rethrows its failure, if any. */
    static void awaitSuccess(MiniCluster cluster, JobID job) throws Throwable {
        final JobResult result = cluster.requestJobResult(job).get();
        if (!result.isSuccess()) {
            throw result.getSerializedThrowable()
                    .map(failure -> failure.deserializeError(StateKindsJob.class.getClassLoader()))
                    .orElseGet(
                            () ->
                                    new AssertionError(
                                            "job " + job + " " + result.getApplicationStatus()));
        }
    }

    private static WatermarkStrategy<Long> watermarks() {
        return WatermarkStrategy.<Long>forMonotonousTimestamps()
                .withTimestampAssigner((index, previous) -> index);
    }

    // ------------------------------------------------------------------------
    //  the expected outcome
    // ------------------------------------------------------------------------

    /**
     * The state every key emits at the end of the input. The expiring state is always empty: either
     * it was never written or its TTL has passed.
     */
    static Map<Integer, KeyState> expectedResults() {
        final Map<Integer, KeyState> expected = new HashMap<>();
        for (int key = 0; key < NUM_KEYS; key++) {
            final List<Long> values = new ArrayList<>();
            final Map<Integer, Long> valueBySeq = new TreeMap<>();
            long sum = 0;
            long sumOfSquares = 0;
            long timerTimestampSum = 0;
            for (int seq = 0; seq < RECORDS_PER_KEY; seq++) {
                final long value = key + (long) seq * NUM_KEYS;
                values.add(value);
                valueBySeq.put(seq, value);
                sum += value;
                sumOfSquares += value * value;
                timerTimestampSum += value + (value + LONG_TIMER_DELAY);
            }
            final KeyState state = new KeyState();
            state.key = key;
            state.sum = sum;
            state.values = values.toString();
            state.valueBySeq = valueBySeq.toString();
            state.sumOfSquares = sumOfSquares;
            state.countAndSum = RECORDS_PER_KEY + ":" + sum;
            state.ttlLast = values.get(values.size() - 1);
            state.ttlValues = values.toString();
            state.ttlValueBySeq = valueBySeq.toString();
            state.expiring = null;
            state.timersFired = 2L * RECORDS_PER_KEY;
            state.timerTimestampSum = timerTimestampSum;
            expected.put(key, state);
        }
        return expected;
    }

    // ------------------------------------------------------------------------
    //  the job's functions
    // ------------------------------------------------------------------------

    /** Lets the source emit {@code permits} records, then holds it until the gate opens. */
    private static final class GateAfter implements RateLimiterStrategy {

        private static final long serialVersionUID = 1L;

        private final String runName;
        private final long permits;

        GateAfter(String runName, long permits) {
            this.runName = runName;
            this.permits = permits;
        }

        @Override
        public RateLimiter createRateLimiter(int parallelism) {
            final Run run = run(runName);
            return new RateLimiter() {
                private long granted;

                @Override
                public CompletionStage<Void> acquire() {
                    if (run.failureThrown.get() || granted < permits) {
                        granted++;
                        return CompletableFuture.completedFuture(null);
                    }
                    return run.gateCheckpointCompleted;
                }
            };
        }
    }

    /** Lets the source emit {@code permits} records, then never another one. */
    private static final class BlockAfter implements RateLimiterStrategy {

        private static final long serialVersionUID = 1L;

        private final long permits;

        BlockAfter(long permits) {
            this.permits = permits;
        }

        @Override
        public RateLimiter createRateLimiter(int parallelism) {
            return new RateLimiter() {
                private long granted;

                @Override
                public CompletionStage<Void> acquire() {
                    if (granted < permits) {
                        granted++;
                        return CompletableFuture.completedFuture(null);
                    }
                    return new CompletableFuture<>();
                }
            };
        }
    }

    /**
     * Chained to the source, so it is snapshotted at the same point: opens the gate once a
     * checkpoint taken after the first {@code recordsBeforeFailure} records has completed, and
     * throws on the first record after that, once.
     */
    private static final class FailOnceAfterGate extends RichMapFunction<Long, Long>
            implements CheckpointedFunction, CheckpointListener {

        private static final long serialVersionUID = 1L;

        private final String runName;
        private final long recordsBeforeFailure;

        private transient Run run;
        private long seen;
        private long firstCheckpointAtGate = Long.MAX_VALUE;

        FailOnceAfterGate(String runName, long recordsBeforeFailure) {
            this.runName = runName;
            this.recordsBeforeFailure = recordsBeforeFailure;
        }

        @Override
        public void open(OpenContext openContext) {
            run = run(runName);
        }

        @Override
        public Long map(Long index) {
            if (run.gateCheckpointCompleted.isDone()
                    && run.failureThrown.compareAndSet(false, true)) {
                throw new RuntimeException(
                        "Injected failure at record "
                                + index
                                + " after checkpoint "
                                + run.gateCheckpointId.get()
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
            final Run run = run(runName);
            if (!run.failureThrown.get()
                    && checkpointId >= firstCheckpointAtGate
                    && run.gateCheckpointId.compareAndSet(-1L, checkpointId)) {
                run.gateCheckpointCompleted.complete(null);
            }
        }
    }

    /** Keyed state of every kind, event-time timers and TTL; see the class comment. */
    private static final class AllStateKinds extends KeyedProcessFunction<Integer, Long, KeyState> {

        private static final long serialVersionUID = 1L;

        private final String runName;
        private final boolean expiringState;

        private transient Run run;
        private transient ValueState<Long> sum;
        private transient ListState<Long> values;
        private transient MapState<Integer, Long> valueBySeq;
        private transient ReducingState<Long> sumOfSquares;
        private transient AggregatingState<Long, String> countAndSum;
        private transient ValueState<Long> ttlLast;
        private transient ListState<Long> ttlValues;
        private transient MapState<Integer, Long> ttlValueBySeq;
        private transient ValueState<Long> expiring;
        private transient ValueState<Long> timersFired;
        private transient ValueState<Long> timerTimestampSum;

        AllStateKinds(String runName, boolean expiringState) {
            this.runName = runName;
            this.expiringState = expiringState;
        }

        @Override
        public void open(OpenContext openContext) {
            run = run(runName);
            sum = getRuntimeContext().getState(new ValueStateDescriptor<>("sum", Types.LONG));
            run.valueStateClasses.add(sum.getClass());
            values =
                    getRuntimeContext()
                            .getListState(new ListStateDescriptor<>("values", Types.LONG));
            valueBySeq =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>(
                                            "value-by-seq", Types.INT, Types.LONG));
            sumOfSquares =
                    getRuntimeContext()
                            .getReducingState(
                                    new ReducingStateDescriptor<>(
                                            "sum-of-squares", Long::sum, Types.LONG));
            countAndSum =
                    getRuntimeContext()
                            .getAggregatingState(
                                    new AggregatingStateDescriptor<>(
                                            "count-and-sum",
                                            new CountAndSum(),
                                            Types.TUPLE(Types.LONG, Types.LONG)));

            final StateTtlConfig aDay =
                    StateTtlConfig.newBuilder(Duration.ofDays(1)).cleanupFullSnapshot().build();
            final ValueStateDescriptor<Long> ttlLastDescriptor =
                    new ValueStateDescriptor<>("ttl-last", Types.LONG);
            ttlLastDescriptor.enableTimeToLive(aDay);
            ttlLast = getRuntimeContext().getState(ttlLastDescriptor);
            final ListStateDescriptor<Long> ttlValuesDescriptor =
                    new ListStateDescriptor<>("ttl-values", Types.LONG);
            ttlValuesDescriptor.enableTimeToLive(aDay);
            ttlValues = getRuntimeContext().getListState(ttlValuesDescriptor);
            final MapStateDescriptor<Integer, Long> ttlValueBySeqDescriptor =
                    new MapStateDescriptor<>("ttl-value-by-seq", Types.INT, Types.LONG);
            ttlValueBySeqDescriptor.enableTimeToLive(aDay);
            ttlValueBySeq = getRuntimeContext().getMapState(ttlValueBySeqDescriptor);

            final ValueStateDescriptor<Long> expiringDescriptor =
                    new ValueStateDescriptor<>("expiring", Types.LONG);
            expiringDescriptor.enableTimeToLive(
                    StateTtlConfig.newBuilder(EXPIRING_TTL).cleanupFullSnapshot().build());
            expiring = getRuntimeContext().getState(expiringDescriptor);

            timersFired =
                    getRuntimeContext()
                            .getState(new ValueStateDescriptor<>("timers-fired", Types.LONG));
            timerTimestampSum =
                    getRuntimeContext()
                            .getState(
                                    new ValueStateDescriptor<>("timer-timestamp-sum", Types.LONG));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<KeyState> out)
                throws Exception {
            final int seq = (int) (value / NUM_KEYS);
            sum.update(orZero(sum.value()) + value);
            values.add(value);
            valueBySeq.put(seq, value);
            sumOfSquares.add(value * value);
            countAndSum.add(value);
            ttlLast.update(value);
            ttlValues.add(value);
            ttlValueBySeq.put(seq, value);
            if (expiringState && seq < EXPIRING_UNTIL_SEQ) {
                expiring.update(value);
            }
            ctx.timerService().registerEventTimeTimer(value);
            ctx.timerService().registerEventTimeTimer(value + LONG_TIMER_DELAY);
            ctx.timerService().registerEventTimeTimer(FINAL_TIMER);
            run.processed.incrementAndGet();
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<KeyState> out)
                throws Exception {
            if (timestamp != FINAL_TIMER) {
                timersFired.update(orZero(timersFired.value()) + 1);
                timerTimestampSum.update(orZero(timerTimestampSum.value()) + timestamp);
                return;
            }
            final List<Long> valueList = new ArrayList<>();
            values.get().forEach(valueList::add);
            final Map<Integer, Long> map = new TreeMap<>();
            valueBySeq.entries().forEach(entry -> map.put(entry.getKey(), entry.getValue()));
            final List<Long> ttlValueList = new ArrayList<>();
            ttlValues.get().forEach(ttlValueList::add);
            final Map<Integer, Long> ttlMap = new TreeMap<>();
            ttlValueBySeq.entries().forEach(entry -> ttlMap.put(entry.getKey(), entry.getValue()));

            final KeyState state = new KeyState();
            state.key = ctx.getCurrentKey();
            state.sum = orZero(sum.value());
            state.values = valueList.toString();
            state.valueBySeq = map.toString();
            state.sumOfSquares = orZero(sumOfSquares.get());
            state.countAndSum = countAndSum.get();
            state.ttlLast = ttlLast.value();
            state.ttlValues = ttlValueList.toString();
            state.ttlValueBySeq = ttlMap.toString();
            state.expiring = expiring.value();
            state.timersFired = orZero(timersFired.value());
            state.timerTimestampSum = orZero(timerTimestampSum.value());
            out.collect(state);
        }

        private static long orZero(Long value) {
            return value == null ? 0L : value;
        }
    }

    /** Counts and sums the values; the result reads {@code count:sum}. */
    private static final class CountAndSum
            implements AggregateFunction<Long, Tuple2<Long, Long>, String> {

        private static final long serialVersionUID = 1L;

        @Override
        public Tuple2<Long, Long> createAccumulator() {
            return Tuple2.of(0L, 0L);
        }

        @Override
        public Tuple2<Long, Long> add(Long value, Tuple2<Long, Long> accumulator) {
            return Tuple2.of(accumulator.f0 + 1, accumulator.f1 + value);
        }

        @Override
        public String getResult(Tuple2<Long, Long> accumulator) {
            return accumulator.f0 + ":" + accumulator.f1;
        }

        @Override
        public Tuple2<Long, Long> merge(Tuple2<Long, Long> a, Tuple2<Long, Long> b) {
            return Tuple2.of(a.f0 + b.f0, a.f1 + b.f1);
        }
    }

    /** Hands every emitted key state to the run. */
    private static final class ResultSink implements Sink<KeyState> {

        private static final long serialVersionUID = 1L;

        private final String runName;

        ResultSink(String runName) {
            this.runName = runName;
        }

        @Override
        public SinkWriter<KeyState> createWriter(WriterInitContext context) {
            return new ResultWriter(run(runName));
        }

        @Override
        @SuppressWarnings("deprecation")
        public SinkWriter<KeyState> createWriter(InitContext context) {
            return new ResultWriter(run(runName));
        }
    }

    private static final class ResultWriter implements SinkWriter<KeyState> {

        private final Run run;

        ResultWriter(Run run) {
            this.run = run;
        }

        @Override
        public void write(KeyState element, Context context) {
            run.results.put(element.key, element);
            run.emissions
                    .computeIfAbsent(element.key, key -> new AtomicInteger())
                    .incrementAndGet();
        }

        @Override
        public void flush(boolean endOfInput) {}

        @Override
        public void close() {}
    }

    /**
     * A key's complete state; a POJO of primitives and strings so that Flink serializes it without
     * Kryo.
     */
    public static final class KeyState {
        public int key;
        public long sum;
        public String values;
        public String valueBySeq;
        public long sumOfSquares;
        public String countAndSum;
        public Long ttlLast;
        public String ttlValues;
        public String ttlValueBySeq;
        public Long expiring;
        public long timersFired;
        public long timerTimestampSum;

        public KeyState() {}

        @Override
        public boolean equals(Object o) {
            if (this == o) {
                return true;
            }
            if (!(o instanceof KeyState)) {
                return false;
            }
            final KeyState that = (KeyState) o;
            return key == that.key
                    && sum == that.sum
                    && Objects.equals(values, that.values)
                    && Objects.equals(valueBySeq, that.valueBySeq)
                    && sumOfSquares == that.sumOfSquares
                    && Objects.equals(countAndSum, that.countAndSum)
                    && Objects.equals(ttlLast, that.ttlLast)
                    && Objects.equals(ttlValues, that.ttlValues)
                    && Objects.equals(ttlValueBySeq, that.ttlValueBySeq)
                    && Objects.equals(expiring, that.expiring)
                    && timersFired == that.timersFired
                    && timerTimestampSum == that.timerTimestampSum;
        }

        @Override
        public int hashCode() {
            return Objects.hash(key, sum, values, valueBySeq, timersFired, timerTimestampSum);
        }

        @Override
        public String toString() {
            return "KeyState{key="
                    + key
                    + ", sum="
                    + sum
                    + ", values="
                    + values
                    + ", valueBySeq="
                    + valueBySeq
                    + ", sumOfSquares="
                    + sumOfSquares
                    + ", countAndSum="
                    + countAndSum
                    + ", ttlLast="
                    + ttlLast
                    + ", ttlValues="
                    + ttlValues
                    + ", ttlValueBySeq="
                    + ttlValueBySeq
                    + ", expiring="
                    + expiring
                    + ", timersFired="
                    + timersFired
                    + ", timerTimestampSum="
                    + timerTimestampSum
                    + '}';
        }
    }
}
