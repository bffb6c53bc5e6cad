package io.statebackend.incremental.demo;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.runtime.checkpoint.AbstractCheckpointStats;
import org.apache.flink.runtime.checkpoint.CheckpointStatsSnapshot;
import org.apache.flink.runtime.checkpoint.FailedCheckpointStats;
import org.apache.flink.runtime.executiongraph.AccessExecutionGraph;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobmaster.JobResult;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;
import org.apache.flink.util.FileUtils;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A small stateful job on an embedded {@link MiniCluster} that uses the incremental RocksDB backend
 * the way a user installs it: through {@code state.backend.type}. It checkpoints every second,
 * prints one table row per completed checkpoint (its id, the size of the state it refers to and the
 * bytes it wrote), and after {@value #CHECKPOINTS_TO_SHOW} checkpoints cancels the job, shuts the
 * cluster down and deletes its checkpoint directory.
 *
 * <p>Run it with {@code bash tools/demo.sh}.
 */
public final class DemoJob {

    private static final int NUM_KEYS = 1000;
    private static final int NUM_CATEGORIES = 8;
    private static final int EVENTS_PER_SECOND = 10_000;
    private static final int PARALLELISM = 2;

    /** The source is bounded so that the job ends on its own even if nobody cancels it. */
    private static final long MAX_EVENTS = EVENTS_PER_SECOND * 600L;

    /** Event-time length of the per-key windows whose sums the job keeps, in milliseconds. */
    private static final long WINDOW_MILLIS = 1000L;

    /** How many closed windows each key keeps in its history before dropping the oldest. */
    private static final int WINDOWS_KEPT = 60;

    private static final int CHECKPOINTS_TO_SHOW = 8;
    private static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(100);
    private static final Duration GIVE_UP_AFTER = Duration.ofMinutes(3);

    private static final String ROW_FORMAT = "| %10s | %14s | %17s | %12s |%n";

    private DemoJob() {}

    public static void main(String[] args) throws Exception {
        final PrintStream out = System.out;
        final Path checkpointDir = Files.createTempDirectory("incremental-rocksdb-demo-");
        boolean success = false;
        try {
            success = run(checkpointDir, out);
        } finally {
            FileUtils.deleteDirectoryQuietly(checkpointDir.toFile());
        }
        if (!success) {
            System.exit(1);
        }
    }

    private static boolean run(Path checkpointDir, PrintStream out) throws Exception {
        final Configuration config = new Configuration();
        config.set(
                StateBackendOptions.STATE_BACKEND,
                IncrementalRocksDBStateBackendFactory.class.getName());
        config.set(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointDir.toUri().toString());
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, CHECKPOINT_INTERVAL);
        config.set(WebOptions.CHECKPOINTS_HISTORY_SIZE, 4 * CHECKPOINTS_TO_SHOW);
        // a failure of the backend ends the demo with its cause instead of restarting forever
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");

        out.println("Incremental RocksDB state backend demo");
        out.printf(
                "  %-27s %s%n",
                StateBackendOptions.STATE_BACKEND.key(),
                config.get(StateBackendOptions.STATE_BACKEND));
        out.printf(
                "  %-27s %s%n",
                IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS.key(),
                config.get(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS));
        out.printf(
                "  %-27s every %d s to %s%n",
                "checkpoints",
                CHECKPOINT_INTERVAL.getSeconds(),
                config.get(CheckpointingOptions.CHECKPOINTS_DIRECTORY));
        out.printf(
                "  %-27s %d keys, %d events/s, parallelism %d%n",
                "job", NUM_KEYS, EVENTS_PER_SECOND, PARALLELISM);
        out.println();

        final MiniClusterConfiguration clusterConfig =
                new MiniClusterConfiguration.Builder()
                        .setConfiguration(config)
                        .setNumTaskManagers(1)
                        .setNumSlotsPerTaskManager(PARALLELISM)
                        .withRandomPorts()
                        .build();

        try (MiniCluster cluster = new MiniCluster(clusterConfig)) {
            cluster.start();
            final JobGraph jobGraph = buildJob(config).getStreamGraph().getJobGraph();
            final JobID jobId = cluster.submitJob(jobGraph).get().getJobID();

            final boolean sawAll = printCheckpoints(cluster, jobId, out);
            if (!sawAll) {
                return false;
            }

            cluster.cancelJob(jobId).get();
            final JobResult result = cluster.requestJobResult(jobId).get();
            out.println();
            out.printf(
                    "%d checkpoints completed; job %s.%n",
                    CHECKPOINTS_TO_SHOW,
                    result.getApplicationStatus().name().toLowerCase(Locale.ROOT));
            return true;
        }
    }

    // ------------------------------------------------------------------------
    //  the job
    // ------------------------------------------------------------------------

    private static StreamExecutionEnvironment buildJob(Configuration config) {
        final StreamExecutionEnvironment env = new StreamExecutionEnvironment(config);
        env.setParallelism(PARALLELISM);

        final DataGeneratorSource<Event> source =
                new DataGeneratorSource<>(
                        new EventGenerator(),
                        MAX_EVENTS,
                        RateLimiterStrategy.perSecond(EVENTS_PER_SECOND),
                        TypeInformation.of(Event.class));

        env.fromSource(
                        source,
                        WatermarkStrategy.<Event>forMonotonousTimestamps()
                                .withTimestampAssigner((event, previous) -> event.timestamp),
                        "events")
                .keyBy(event -> event.key)
                .process(new WindowedTotals())
                .name("totals per key")
                .sinkTo(new DiscardingSink<>())
                .name("discard");
        return env;
    }

    /** An event of the demo: an amount booked for a key in a category at an event time. */
    public static final class Event {
        public int key;
        public int category;
        public long amount;
        public long timestamp;

        public Event() {}

        Event(int key, int category, long amount, long timestamp) {
            this.key = key;
            this.category = category;
            this.amount = amount;
            this.timestamp = timestamp;
        }
    }

    /** The closed window of a key, emitted when event time passes its end. */
    public static final class WindowSummary {
        public int key;
        public long windowStart;
        public long windowSum;
        public long total;

        public WindowSummary() {}

        WindowSummary(int key, long windowStart, long windowSum, long total) {
            this.key = key;
            this.windowStart = windowStart;
            this.windowSum = windowSum;
            this.total = total;
        }
    }

    /** Derives a pseudo-random but repeatable event from its sequence number. */
    private static final class EventGenerator implements GeneratorFunction<Long, Event> {

        private static final long serialVersionUID = 1L;

        @Override
        public Event map(Long index) {
            final long mixed = mix(index);
            final int key = (int) Long.remainderUnsigned(mixed, NUM_KEYS);
            final int category = (int) ((mixed >>> 20) & (NUM_CATEGORIES - 1));
            final long amount = 1 + ((mixed >>> 32) & 0xFF);
            final long timestamp = index * 1000L / EVENTS_PER_SECOND;
            return new Event(key, category, amount, timestamp);
        }

        /** The finalizer of SplitMix64: spreads consecutive indices over all keys. */
        private static long mix(long value) {
            long z = value + 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }
    }

    /**
     * Keeps, per key, a running total (value state), the count per category and the sums of the
     * last {@value #WINDOWS_KEPT} event-time windows (map state); an event-time timer closes each
     * window.
     */
    private static final class WindowedTotals
            extends KeyedProcessFunction<Integer, Event, WindowSummary> {

        private static final long serialVersionUID = 1L;

        private transient ValueState<Long> total;
        private transient MapState<Integer, Long> countPerCategory;
        private transient MapState<Long, Long> windowSums;

        @Override
        public void open(OpenContext openContext) {
            total = getRuntimeContext().getState(new ValueStateDescriptor<>("total", Types.LONG));
            countPerCategory =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>(
                                            "count-per-category", Types.INT, Types.LONG));
            windowSums =
                    getRuntimeContext()
                            .getMapState(
                                    new MapStateDescriptor<>(
                                            "window-sums", Types.LONG, Types.LONG));
        }

        @Override
        public void processElement(Event event, Context ctx, Collector<WindowSummary> out)
                throws Exception {
            final Long previousTotal = total.value();
            total.update(previousTotal == null ? event.amount : previousTotal + event.amount);

            final Long previousCount = countPerCategory.get(event.category);
            countPerCategory.put(event.category, previousCount == null ? 1L : previousCount + 1);

            final long windowStart = event.timestamp - event.timestamp % WINDOW_MILLIS;
            final Long previousSum = windowSums.get(windowStart);
            windowSums.put(
                    windowStart, previousSum == null ? event.amount : previousSum + event.amount);
            ctx.timerService().registerEventTimeTimer(windowStart + WINDOW_MILLIS - 1);
        }

        @Override
        public void onTimer(long timestamp, OnTimerContext ctx, Collector<WindowSummary> out)
                throws Exception {
            final long windowStart = timestamp + 1 - WINDOW_MILLIS;
            final Long windowSum = windowSums.get(windowStart);
            final Long currentTotal = total.value();
            out.collect(
                    new WindowSummary(
                            ctx.getCurrentKey(),
                            windowStart,
                            windowSum == null ? 0L : windowSum,
                            currentTotal == null ? 0L : currentTotal));
            windowSums.remove(windowStart - WINDOWS_KEPT * WINDOW_MILLIS);
        }
    }

    // ------------------------------------------------------------------------
    //  watching the checkpoints
    // ------------------------------------------------------------------------

    /**
     * Prints a row for every checkpoint that completes or fails until {@value #CHECKPOINTS_TO_SHOW}
     * have completed. Returns false if the job ended first or the checkpoints did not come.
     */
    private static boolean printCheckpoints(MiniCluster cluster, JobID jobId, PrintStream out)
            throws Exception {
        out.printf(ROW_FORMAT, "checkpoint", "state size", "checkpointed size", "duration");
        out.printf(ROW_FORMAT, "----------", "----------", "-----------------", "--------");

        final long deadline = System.nanoTime() + GIVE_UP_AFTER.toNanos();
        final Set<Long> reported = new HashSet<>();
        int completed = 0;
        while (completed < CHECKPOINTS_TO_SHOW) {
            final JobStatus status = cluster.getJobStatus(jobId).get();
            if (status.isGloballyTerminalState()) {
                final JobResult result = cluster.requestJobResult(jobId).get();
                out.printf(
                        "The job ended before %d checkpoints: %s%n", CHECKPOINTS_TO_SHOW, status);
                result.getSerializedThrowable()
                        .ifPresent(
                                failure ->
                                        failure.deserializeError(DemoJob.class.getClassLoader())
                                                .printStackTrace(out));
                return false;
            }
            if (System.nanoTime() > deadline) {
                out.printf(
                        "Only %d of %d checkpoints completed within %d s; giving up.%n",
                        completed, CHECKPOINTS_TO_SHOW, GIVE_UP_AFTER.getSeconds());
                cluster.cancelJob(jobId).get();
                return false;
            }

            final AccessExecutionGraph graph = cluster.getExecutionGraph(jobId).get();
            final CheckpointStatsSnapshot snapshot = graph.getCheckpointStatsSnapshot();
            final List<AbstractCheckpointStats> history = new ArrayList<>();
            if (snapshot != null) {
                history.addAll(snapshot.getHistory().getCheckpoints());
            }
            history.sort(Comparator.comparingLong(AbstractCheckpointStats::getCheckpointId));
            for (AbstractCheckpointStats stats : history) {
                if (completed == CHECKPOINTS_TO_SHOW
                        || reported.contains(stats.getCheckpointId())) {
                    continue;
                }
                if (stats.getStatus().isCompleted()) {
                    reported.add(stats.getCheckpointId());
                    completed++;
                    out.printf(
                            ROW_FORMAT,
                            stats.getCheckpointId(),
                            formatBytes(stats.getStateSize()),
                            formatBytes(stats.getCheckpointedSize()),
                            stats.getEndToEndDuration() + " ms");
                } else if (stats.getStatus().isFailed()) {
                    reported.add(stats.getCheckpointId());
                    out.printf(
                            "| %10s | failed: %s%n",
                            stats.getCheckpointId(),
                            ((FailedCheckpointStats) stats).getFailureMessage());
                }
            }
            Thread.sleep(POLL_INTERVAL.toMillis());
        }
        return true;
    }

    private static String formatBytes(long bytes) {
        if (bytes < 1024) {
            return bytes + " B";
        }
        final String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double value = bytes;
        int unit = -1;
        do {
            value /= 1024;
            unit++;
        } while (value >= 1024 && unit < units.length - 1);
        return String.format(Locale.ROOT, "%.1f %s", value, units[unit]);
    }
}
