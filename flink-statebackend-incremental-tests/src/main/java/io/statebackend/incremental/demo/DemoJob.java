package io.statebackend.incremental.demo;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;
import io.statebackend.incremental.inspect.InspectorMain;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.MapState;
import org.apache.flink.api.common.state.MapStateDescriptor;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.PrimitiveArrayTypeInfo;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.JobManagerOptions;
import org.apache.flink.configuration.MetricOptions;
import org.apache.flink.configuration.RestOptions;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.TaskManagerOptions;
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
import org.apache.flink.streaming.api.graph.StreamGraph;
import org.apache.flink.util.Collector;
import org.apache.flink.util.FileUtils;

import java.io.IOException;
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
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

/**
 * A stateful job on an embedded {@link MiniCluster} that uses the incremental RocksDB backend the
 * way a user installs it: through {@code state.backend.type}. Its state is large enough for
 * incremental checkpoints to matter: every key holds a profile of {@value #PROFILE_BYTES} bytes
 * besides a few counters, so that {@value #DEFAULT_KEYS} keys make tens of MB. The source first
 * writes every key once, as fast as it can, then updates random keys at a fixed rate, so that a
 * checkpoint interval changes a few percent of the state.
 *
 * <p>It checkpoints every second and prints one table row per completed checkpoint: the size of the
 * state it refers to, the bytes it uploaded, their ratio and its duration. After the given number
 * of checkpoints it prints a summary, cancels the job (the last checkpoint is retained, as a job's
 * would be), shows the checkpoint directory, shuts the cluster down and deletes the directory.
 *
 * <p>With {@code --web-ui[=PORT]} the MiniCluster serves Flink's web UI (default port 8081) and the
 * demo keeps running, printing rows, until Ctrl-C.
 *
 * <p>Run it with {@code bash tools/demo.sh [options]}; {@code --help} lists the options.
 */
public final class DemoJob {

    static final int DEFAULT_KEYS = 100_000;
    private static final int DEFAULT_UPDATES_PER_SECOND = 2_000;
    private static final int DEFAULT_CHECKPOINTS = 20;
    private static final int DEFAULT_WEB_UI_PORT = 8081;

    /** Size of the profile every key keeps, written on each of its events. */
    static final int PROFILE_BYTES = 256;

    private static final int NUM_CATEGORIES = 8;
    private static final int PARALLELISM = 2;

    /** Event-time length of the per-key windows whose sums the job keeps, in milliseconds. */
    private static final long WINDOW_MILLIS = 1000L;

    /** How many closed windows each key keeps in its history before dropping the oldest. */
    private static final int WINDOWS_KEPT = 60;

    /** The source of a run without the web UI ends on its own after this much updating. */
    private static final long MAX_UPDATE_SECONDS = 600L;

    private static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
    private static final Duration POLL_INTERVAL = Duration.ofMillis(100);
    private static final Duration GIVE_UP_AFTER = Duration.ofMinutes(3);

    /** The summary counts the checkpoints that uploaded less than this share of their state. */
    private static final int SMALL_UPLOAD_PERCENT = 10;

    private static final String ROW_FORMAT = "| %10s | %12s | %17s | %8s | %10s |%n";

    /** The source's gauge: how many keys of its share of the initial load it has yet to emit. */
    static final String LOAD_REMAINING_METRIC = "demoKeysToLoad";

    /** Set when Ctrl-C stops a demo with the web UI: the table ends without an error. */
    private static final AtomicBoolean STOPPING = new AtomicBoolean();

    private DemoJob() {}

    /** The command line of the demo. */
    static final class Options {
        int keys = DEFAULT_KEYS;
        int updatesPerSecond = DEFAULT_UPDATES_PER_SECOND;
        int checkpoints = DEFAULT_CHECKPOINTS;

        /** The web UI's port, or -1 without the web UI. */
        int webUiPort = -1;

        static Options parse(String[] args) {
            final Options options = new Options();
            for (String arg : args) {
                if (arg.equals("--web-ui")) {
                    options.webUiPort = DEFAULT_WEB_UI_PORT;
                } else if (arg.startsWith("--web-ui=")) {
                    options.webUiPort = positive(arg);
                } else if (arg.startsWith("--keys=")) {
                    options.keys = positive(arg);
                } else if (arg.startsWith("--updates-per-second=")) {
                    options.updatesPerSecond = positive(arg);
                } else if (arg.startsWith("--checkpoints=")) {
                    options.checkpoints = positive(arg);
                } else {
                    throw new IllegalArgumentException("Unknown option: " + arg);
                }
            }
            return options;
        }

        private static int positive(String arg) {
            final String value = arg.substring(arg.indexOf('=') + 1);
            final int parsed;
            try {
                parsed = Integer.parseInt(value);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("Not a number in " + arg, e);
            }
            if (parsed <= 0) {
                throw new IllegalArgumentException("Must be positive: " + arg);
            }
            return parsed;
        }
    }

    private static final String USAGE =
            String.join(
                    System.lineSeparator(),
                    "Usage: bash tools/demo.sh [--keys=N] [--updates-per-second=N]"
                            + " [--checkpoints=N] [--web-ui[=PORT]]",
                    "  --keys=N                 keys of the state, each holding "
                            + PROFILE_BYTES
                            + " bytes and a few counters (default "
                            + DEFAULT_KEYS
                            + ")",
                    "  --updates-per-second=N   events per second after every key was written"
                            + " once (default "
                            + DEFAULT_UPDATES_PER_SECOND
                            + ")",
                    "  --checkpoints=N          completed checkpoints before the job is cancelled"
                            + " (default "
                            + DEFAULT_CHECKPOINTS
                            + ")",
                    "  --web-ui[=PORT]          serve Flink's web UI (default port "
                            + DEFAULT_WEB_UI_PORT
                            + ") and run until Ctrl-C");

    public static void main(String[] args) throws Exception {
        final Options options;
        try {
            if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
                System.out.println(USAGE);
                return;
            }
            options = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println(e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
            return;
        }

        final PrintStream out = System.out;
        final Path checkpointDir = Files.createTempDirectory("incremental-rocksdb-demo-");
        boolean success = false;
        try {
            success = run(options, checkpointDir, out);
        } finally {
            FileUtils.deleteDirectoryQuietly(checkpointDir.toFile());
        }
        if (!success) {
            System.exit(1);
        }
    }

    private static boolean run(Options options, Path checkpointDir, PrintStream out)
            throws Exception {
        final Configuration config = new Configuration();
        config.set(
                StateBackendOptions.STATE_BACKEND,
                IncrementalRocksDBStateBackendFactory.class.getName());
        config.set(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(CheckpointingOptions.CHECKPOINTS_DIRECTORY, checkpointDir.toUri().toString());
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, CHECKPOINT_INTERVAL);
        // what a job's operator finds in the checkpoint directory after a cancel
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        config.set(WebOptions.CHECKPOINTS_HISTORY_SIZE, 4 * options.checkpoints);
        // the end of the initial load is read from the source's metric through the REST API
        config.set(MetricOptions.METRIC_FETCHER_UPDATE_INTERVAL, Duration.ofSeconds(1));
        // a failure of the backend ends the demo with its cause instead of restarting forever
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        final boolean webUi = options.webUiPort > 0;
        if (webUi) {
            config.set(RestOptions.BIND_ADDRESS, "localhost");
            config.set(RestOptions.ADDRESS, "localhost");
            config.set(RestOptions.PORT, options.webUiPort);
            // any free port for the rest, as withRandomPorts() does for all of them
            config.set(JobManagerOptions.PORT, 0);
            config.set(TaskManagerOptions.RPC_PORT, "0");
        }

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
                "  %-27s %,d keys with a %d-byte profile each, written once, then %,d updates/s"
                        + " to random keys; parallelism %d%n",
                "job", options.keys, PROFILE_BYTES, options.updatesPerSecond, PARALLELISM);

        final MiniClusterConfiguration.Builder clusterBuilder =
                new MiniClusterConfiguration.Builder()
                        .setConfiguration(config)
                        .setNumTaskManagers(1)
                        .setNumSlotsPerTaskManager(PARALLELISM);
        if (!webUi) {
            clusterBuilder.withRandomPorts();
        }
        final MiniClusterConfiguration clusterConfig = clusterBuilder.build();

        final MiniCluster cluster = new MiniCluster(clusterConfig);
        try {
            cluster.start();
            if (webUi) {
                out.printf(
                        "  %-27s %s (until Ctrl-C)%n",
                        "Flink web UI", cluster.getRestAddress().get());
                Runtime.getRuntime()
                        .addShutdownHook(
                                new Thread(
                                        () -> stopOnInterrupt(cluster, checkpointDir, out),
                                        "demo-shutdown"));
            }
            out.println();

            final StreamGraph streamGraph = buildJob(config, options, webUi).getStreamGraph();
            streamGraph.setJobName("Incremental RocksDB state backend demo");
            final JobGraph jobGraph = streamGraph.getJobGraph();
            final JobID jobId = cluster.submitJob(jobGraph).get().getJobID();
            final InitialLoadWatch load =
                    new InitialLoadWatch(
                            cluster.getRestAddress().get(),
                            jobId,
                            jobGraph.getVerticesSortedTopologicallyFromSources().get(0).getID(),
                            PARALLELISM);

            final List<AbstractCheckpointStats> completed = new ArrayList<>();
            if (!printCheckpoints(
                    cluster, jobId, load, options, options.checkpoints, completed, out)) {
                return false;
            }
            printSummary(completed, load.doneAtMillis(), out);

            if (webUi) {
                out.println();
                out.println("The job keeps running; press Ctrl-C to stop the demo.");
                // rows keep coming until the shutdown hook stops the cluster
                printCheckpoints(cluster, jobId, load, options, Integer.MAX_VALUE, completed, out);
                return true;
            }

            cluster.cancelJob(jobId).get();
            final JobResult result = cluster.requestJobResult(jobId).get();
            out.println();
            out.printf(
                    "%d checkpoints completed; job %s.%n",
                    completed.size(),
                    result.getApplicationStatus().name().toLowerCase(Locale.ROOT));
            printCheckpointDirectory(checkpointDir, jobId, out);
            return true;
        } finally {
            if (!webUi) {
                cluster.close();
            }
        }
    }

    private static void stopOnInterrupt(MiniCluster cluster, Path checkpointDir, PrintStream out) {
        STOPPING.set(true);
        out.println();
        out.println("Stopping the demo ...");
        try {
            cluster.closeAsync().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            out.println("The cluster did not shut down cleanly: " + e);
        }
        FileUtils.deleteDirectoryQuietly(checkpointDir.toFile());
        out.println("Stopped; the checkpoint directory is deleted.");
    }

    // ------------------------------------------------------------------------
    //  the job
    // ------------------------------------------------------------------------

    private static StreamExecutionEnvironment buildJob(
            Configuration config, Options options, boolean unbounded) {
        final StreamExecutionEnvironment env = new StreamExecutionEnvironment(config);
        env.setParallelism(PARALLELISM);

        final long maxEvents =
                unbounded
                        ? Long.MAX_VALUE
                        : options.keys + options.updatesPerSecond * MAX_UPDATE_SECONDS;
        final DataGeneratorSource<Event> source =
                new DataGeneratorSource<>(
                        new EventGenerator(options.keys, options.updatesPerSecond),
                        maxEvents,
                        new LoadThenPerSecond(options.keys, options.updatesPerSecond),
                        TypeInformation.of(Event.class));

        env.fromSource(
                        source,
                        WatermarkStrategy.<Event>forMonotonousTimestamps()
                                .withTimestampAssigner((event, previous) -> event.timestamp),
                        "events")
                .keyBy(event -> event.key)
                .process(new ProfilesAndTotals())
                .name("profiles and totals per key")
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

        /** Seeds the key's new profile. */
        public long seed;

        public Event() {}

        Event(int key, int category, long amount, long timestamp, long seed) {
            this.key = key;
            this.category = category;
            this.amount = amount;
            this.timestamp = timestamp;
            this.seed = seed;
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

    /**
     * Derives a repeatable event from its sequence number. Each reader first emits the keys that
     * are its share of the initial load (subtask i of p: keys i, i + p, i + 2p, ...), at event time
     * 0, then events for pseudo-random keys whose event time advances by the reader's share of the
     * update rate.
     */
    static final class EventGenerator implements GeneratorFunction<Long, Event> {

        private static final long serialVersionUID = 1L;

        private final int keys;
        private final int updatesPerSecond;
        private transient int subtask;
        private transient int parallelism;
        private transient long emitted;
        private transient long updates;
        private transient volatile long loadRemaining;

        EventGenerator(int keys, int updatesPerSecond) {
            this.keys = keys;
            this.updatesPerSecond = updatesPerSecond;
        }

        @Override
        public void open(SourceReaderContext readerContext) {
            subtask = readerContext.getIndexOfSubtask();
            parallelism = readerContext.currentParallelism();
            // the keys i, i + p, i + 2p, ... below keys
            loadRemaining = subtask < keys ? (keys - subtask + parallelism - 1) / parallelism : 0;
            readerContext.metricGroup().gauge(LOAD_REMAINING_METRIC, () -> loadRemaining);
        }

        long loadRemaining() {
            return loadRemaining;
        }

        @Override
        public Event map(Long index) {
            final long mixed = mix(index);
            final int category = (int) ((mixed >>> 20) & (NUM_CATEGORIES - 1));
            final long amount = 1 + ((mixed >>> 32) & 0xFF);
            final long loadKey = emitted * parallelism + subtask;
            emitted++;
            if (loadKey < keys) {
                loadRemaining--;
                return new Event((int) loadKey, category, amount, 0L, mixed);
            }
            final int key = (int) Long.remainderUnsigned(mixed, keys);
            final long timestamp = updates * 1000L * parallelism / updatesPerSecond;
            updates++;
            return new Event(key, category, amount, timestamp, mixed);
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
     * Keeps, per key, a profile of {@value #PROFILE_BYTES} bytes rewritten on every event (value
     * state), a running total (value state), the count per category and the sums of the last
     * {@value #WINDOWS_KEPT} event-time windows (map state); an event-time timer closes each
     * window.
     */
    private static final class ProfilesAndTotals
            extends KeyedProcessFunction<Integer, Event, WindowSummary> {

        private static final long serialVersionUID = 1L;

        private transient ValueState<byte[]> profile;
        private transient ValueState<Long> total;
        private transient MapState<Integer, Long> countPerCategory;
        private transient MapState<Long, Long> windowSums;

        @Override
        public void open(OpenContext openContext) {
            profile =
                    getRuntimeContext()
                            .getState(
                                    new ValueStateDescriptor<>(
                                            "profile",
                                            PrimitiveArrayTypeInfo.BYTE_PRIMITIVE_ARRAY_TYPE_INFO));
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
            // random bytes: RocksDB's compression cannot shrink the state below its real size
            final byte[] bytes = new byte[PROFILE_BYTES];
            new SplittableRandom(event.seed).nextBytes(bytes);
            profile.update(bytes);

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
    //  what an operator sees
    // ------------------------------------------------------------------------

    /**
     * Prints a row for every checkpoint that completes or fails until {@code toShow} have completed
     * (those are added to {@code completed}). Returns false if the job ended first or the
     * checkpoints did not come.
     */
    private static boolean printCheckpoints(
            MiniCluster cluster,
            JobID jobId,
            InitialLoadWatch load,
            Options options,
            int toShow,
            List<AbstractCheckpointStats> completed,
            PrintStream out)
            throws Exception {
        if (completed.isEmpty()) {
            out.printf(
                    ROW_FORMAT,
                    "checkpoint",
                    "state size",
                    "checkpointed size",
                    "uploaded",
                    "duration");
            out.printf(
                    ROW_FORMAT,
                    "----------",
                    "----------",
                    "-----------------",
                    "--------",
                    "--------");
        }

        final long deadline = System.nanoTime() + GIVE_UP_AFTER.toNanos();
        final Set<Long> reported = new HashSet<>();
        for (AbstractCheckpointStats stats : completed) {
            reported.add(stats.getCheckpointId());
        }
        int shown = 0;
        while (shown < toShow) {
            if (STOPPING.get()) {
                return true;
            }
            final JobStatus status;
            try {
                status = cluster.getJobStatus(jobId).get();
            } catch (Exception e) {
                if (STOPPING.get()) {
                    // the cluster shut down under the poll
                    return true;
                }
                throw e;
            }
            if (status.isGloballyTerminalState()) {
                final JobResult result = cluster.requestJobResult(jobId).get();
                out.printf("The job ended after %d checkpoints: %s%n", completed.size(), status);
                result.getSerializedThrowable()
                        .ifPresent(
                                failure ->
                                        failure.deserializeError(DemoJob.class.getClassLoader())
                                                .printStackTrace(out));
                return false;
            }
            if (toShow != Integer.MAX_VALUE && System.nanoTime() > deadline) {
                out.printf(
                        "Only %d of %d checkpoints completed within %d s; giving up.%n",
                        shown, toShow, GIVE_UP_AFTER.getSeconds());
                cluster.cancelJob(jobId).get();
                return false;
            }

            if (load.poll()) {
                out.printf(
                        "| %10s | all %,d keys written once; %,d updates/s to random keys from here"
                                + " on%n",
                        "", options.keys, options.updatesPerSecond);
            }

            final AccessExecutionGraph graph = cluster.getExecutionGraph(jobId).get();
            final CheckpointStatsSnapshot snapshot = graph.getCheckpointStatsSnapshot();
            final List<AbstractCheckpointStats> history = new ArrayList<>();
            if (snapshot != null) {
                history.addAll(snapshot.getHistory().getCheckpoints());
            }
            history.sort(Comparator.comparingLong(AbstractCheckpointStats::getCheckpointId));
            for (AbstractCheckpointStats stats : history) {
                if (shown == toShow || reported.contains(stats.getCheckpointId())) {
                    continue;
                }
                if (stats.getStatus().isCompleted()) {
                    reported.add(stats.getCheckpointId());
                    completed.add(stats);
                    shown++;
                    out.printf(
                            ROW_FORMAT,
                            stats.getCheckpointId(),
                            formatBytes(stats.getStateSize()),
                            formatBytes(stats.getCheckpointedSize()),
                            percent(stats.getCheckpointedSize(), stats.getStateSize()),
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

    /**
     * Summarises the checkpoints triggered after the initial load was seen done (or, if it was not
     * seen, all after the first, which uploads all the state it has): the median share of its state
     * that a checkpoint uploaded, how many stayed below {@value #SMALL_UPLOAD_PERCENT}%, and the
     * bytes uploaded in all against what full checkpoints of the same state would have uploaded.
     */
    private static void printSummary(
            List<AbstractCheckpointStats> completed, long loadDoneAtMillis, PrintStream out) {
        final List<AbstractCheckpointStats> summarised = new ArrayList<>();
        for (AbstractCheckpointStats stats :
                completed.subList(Math.min(1, completed.size()), completed.size())) {
            if (loadDoneAtMillis < 0 || stats.getTriggerTimestamp() > loadDoneAtMillis) {
                summarised.add(stats);
            }
        }
        out.println();
        if (summarised.isEmpty()) {
            out.println(
                    "No checkpoint was triggered after the initial load was seen done;"
                            + " run with more --checkpoints.");
            return;
        }
        long uploaded = 0;
        long referred = 0;
        int small = 0;
        final List<Double> percents = new ArrayList<>();
        for (AbstractCheckpointStats stats : summarised) {
            uploaded += stats.getCheckpointedSize();
            referred += stats.getStateSize();
            final double percent =
                    stats.getStateSize() == 0
                            ? 0.0
                            : 100.0 * stats.getCheckpointedSize() / stats.getStateSize();
            percents.add(percent);
            if (percent < SMALL_UPLOAD_PERCENT) {
                small++;
            }
        }
        percents.sort(Double::compare);
        final int middle = percents.size() / 2;
        final double median =
                percents.size() % 2 == 1
                        ? percents.get(middle)
                        : (percents.get(middle - 1) + percents.get(middle)) / 2;
        out.printf(
                Locale.ROOT,
                "%s, checkpoints %d to %d: median upload %.1f%% of the state they refer to;"
                        + " %d of %d uploaded less than %d%%.%n",
                loadDoneAtMillis < 0 ? "After the first" : "After the initial load",
                summarised.get(0).getCheckpointId(),
                summarised.get(summarised.size() - 1).getCheckpointId(),
                median,
                small,
                summarised.size(),
                SMALL_UPLOAD_PERCENT);
        out.printf(
                "In all they uploaded %s where full checkpoints would have uploaded %s (%s).%n",
                formatBytes(uploaded), formatBytes(referred), percent(uploaded, referred));
        out.println(
                "The large uploads follow RocksDB compactions: a compaction rewrites files, and the"
                        + " next checkpoint uploads the new ones.");
    }

    /**
     * What the checkpoint directory holds after the job: the retained checkpoint and the files in
     * shared/ it refers to.
     */
    private static void printCheckpointDirectory(Path checkpointDir, JobID jobId, PrintStream out)
            throws IOException {
        final Path jobDir = checkpointDir.resolve(jobId.toHexString());
        out.println();
        out.printf("Checkpoint directory %s:%n", jobDir.toUri());
        try (Stream<Path> entries = Files.list(jobDir)) {
            for (Path entry : (Iterable<Path>) entries.sorted()::iterator) {
                final long[] filesAndBytes = filesAndBytes(entry);
                out.printf(
                        "  %-12s %6d files %12s%n",
                        entry.getFileName() + "/", filesAndBytes[0], formatBytes(filesAndBytes[1]));
            }
        }
        out.println();
        out.println(
                "The checkpoint inspector's view of it (bin/statebackend-inspect " + jobDir + "):");
        out.println();
        InspectorMain.run(new String[] {jobDir.toString()}, out, out, System::currentTimeMillis);
    }

    private static long[] filesAndBytes(Path dir) throws IOException {
        final long[] result = new long[2];
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                result[0]++;
                result[1] += Files.size(file);
            }
        }
        return result;
    }

    private static String percent(long part, long whole) {
        return whole == 0 ? "-" : String.format(Locale.ROOT, "%.1f%%", 100.0 * part / whole);
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
