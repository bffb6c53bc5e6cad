package io.statebackend.incremental.bench;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBStateBackendFactory;
import io.statebackend.incremental.demo.DemoJob;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.common.typeutils.base.array.BytePrimitiveArraySerializer;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.RestartStrategyOptions;
import org.apache.flink.configuration.StateBackendOptions;
import org.apache.flink.configuration.StateChangelogOptions;
import org.apache.flink.configuration.TaskManagerOptions;
import org.apache.flink.configuration.WebOptions;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.runtime.checkpoint.AbstractCheckpointStats;
import org.apache.flink.runtime.checkpoint.CheckpointStatsStatus;
import org.apache.flink.runtime.execution.ExecutionState;
import org.apache.flink.runtime.executiongraph.AccessExecution;
import org.apache.flink.runtime.executiongraph.AccessExecutionGraph;
import org.apache.flink.runtime.executiongraph.AccessExecutionJobVertex;
import org.apache.flink.runtime.executiongraph.AccessExecutionVertex;
import org.apache.flink.runtime.jobgraph.JobGraph;
import org.apache.flink.runtime.jobgraph.JobVertexID;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;
import org.apache.flink.util.FileUtils;
import org.apache.flink.util.TimeUtils;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.DoubleStream;
import java.util.stream.Stream;

/**
 * A job-level driver for what a restore costs with this backend alone and with Flink's changelog
 * backend ({@code state.backend.changelog.enabled}, FLIP-158, file system changelog storage)
 * wrapping it. Each run starts a MiniCluster, runs a keyed job that writes every key once and then
 * updates random keys at a fixed rate, checkpointing every second, cancels it with its checkpoints
 * retained, and starts it again from the last one.
 *
 * <p>A restore's time is what Flink reports for the keyed tasks: from INITIALIZING, when a task
 * starts restoring its state, to RUNNING, when every operator of it has restored and opened. The
 * slowest subtask is reported, since the job processes nothing until it is running. After the
 * restore every update must find the value its key was written with (the job counts those that do
 * not, and the run fails on any). The checkpoints taken after the load are reported with their
 * checkpointed sizes as Flink counts them, which with the changelog backend are the log's bytes
 * only; with the changelog backend, what this backend's snapshots for its materializations uploaded
 * meanwhile is added ({@link CheckpointUploadsReporter}). Not a test: nothing is asserted about
 * time.
 */
public final class RestoreTimeBenchmark {

    private static final int KEY_BYTES = Integer.BYTES;
    private static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
    private static final Duration GIVE_UP_AFTER = Duration.ofMinutes(5);
    private static final long POLL_MILLIS = 20;

    /** Updates the restored job must process, after the restore, before a run ends. */
    private static final int CHECKED_AFTER_RESTORE = 200;

    /** Records the keyed tasks processed; the job runs in this JVM. */
    private static final AtomicLong PROCESSED = new AtomicLong();

    /** Records whose key had no value, or another key's, in state. */
    private static final AtomicLong WRONG = new AtomicLong();

    private RestoreTimeBenchmark() {}

    /** One setup: this backend alone, or wrapped in the changelog backend. */
    static final class Setup {
        final String label;

        /** The changelog backend's materialization interval; null without the changelog. */
        final Duration materializationInterval;

        private Setup(String label, Duration materializationInterval) {
            this.label = label;
            this.materializationInterval = materializationInterval;
        }

        /** {@code incremental}, or {@code changelog:<materialization interval>}. */
        static Setup parse(String spec) {
            if (spec.equals("incremental")) {
                return new Setup(spec, null);
            }
            if (spec.startsWith("changelog:")) {
                return new Setup(
                        spec, TimeUtils.parseDuration(spec.substring("changelog:".length())));
            }
            throw new IllegalArgumentException(
                    "Unknown setup '" + spec + "': incremental or changelog:<interval>");
        }
    }

    /** The command line. */
    static final class Options {
        int keys = 200_000;
        int valueBytes = 100;
        int updatesPerSecond = 2_000;
        int updateSeconds = 30;
        int rounds = 2;
        int parallelism = 2;
        int managedMemoryMb = 256;
        Path dir = Paths.get(System.getProperty("java.io.tmpdir"), "restore-time-benchmark");
        final List<Setup> setups = new ArrayList<>();

        static Options parse(String[] args) {
            final Options options = new Options();
            for (String arg : args) {
                final String value = arg.substring(arg.indexOf('=') + 1);
                if (arg.startsWith("--keys=")) {
                    options.keys = positive(arg, value);
                } else if (arg.startsWith("--value-bytes=")) {
                    options.valueBytes = Math.max(KEY_BYTES, positive(arg, value));
                } else if (arg.startsWith("--updates-per-second=")) {
                    options.updatesPerSecond = positive(arg, value);
                } else if (arg.startsWith("--update-seconds=")) {
                    options.updateSeconds = positive(arg, value);
                } else if (arg.startsWith("--rounds=")) {
                    options.rounds = positive(arg, value);
                } else if (arg.startsWith("--parallelism=")) {
                    options.parallelism = positive(arg, value);
                } else if (arg.startsWith("--managed-memory-mb=")) {
                    options.managedMemoryMb = positive(arg, value);
                } else if (arg.startsWith("--dir=")) {
                    options.dir = Paths.get(value);
                } else if (arg.startsWith("--setup=")) {
                    options.setups.add(Setup.parse(value));
                } else {
                    throw new IllegalArgumentException("Unknown option: " + arg);
                }
            }
            if (options.setups.isEmpty()) {
                options.setups.add(Setup.parse("incremental"));
                options.setups.add(Setup.parse("changelog:10s"));
                // Flink's default interval: a restore replays up to ten minutes of changes
                options.setups.add(Setup.parse("changelog:10min"));
            }
            return options;
        }

        private static int positive(String arg, String value) {
            final int parsed = Integer.parseInt(value);
            if (parsed <= 0) {
                throw new IllegalArgumentException("Must be positive: " + arg);
            }
            return parsed;
        }
    }

    /** What one run of one setup measured. */
    static final class Result {
        final Setup setup;
        final int round;
        final long checkpoints;
        final double meanCheckpointedBytes;
        final long maxCheckpointedBytes;
        final double materializedBytesPerCheckpoint;
        final double changedBytesPerCheckpoint;
        final long stateBytes;
        final long restoreMillis;

        Result(
                Setup setup,
                int round,
                long checkpoints,
                double meanCheckpointedBytes,
                long maxCheckpointedBytes,
                double materializedBytesPerCheckpoint,
                double changedBytesPerCheckpoint,
                long stateBytes,
                long restoreMillis) {
            this.setup = setup;
            this.round = round;
            this.checkpoints = checkpoints;
            this.meanCheckpointedBytes = meanCheckpointedBytes;
            this.maxCheckpointedBytes = maxCheckpointedBytes;
            this.materializedBytesPerCheckpoint = materializedBytesPerCheckpoint;
            this.changedBytesPerCheckpoint = changedBytesPerCheckpoint;
            this.stateBytes = stateBytes;
            this.restoreMillis = restoreMillis;
        }
    }

    public static void main(String[] args) throws Exception {
        run(args, System.out);
    }

    /** Runs every setup for every round and prints the report to {@code out}. */
    static void run(String[] args, PrintStream out) throws Exception {
        final Options options = Options.parse(args);
        out.printf(
                "Restore time: %,d int keys with %d-byte values written once, then %,d updates/s"
                        + " to random keys for %d s, checkpoints every %d s; parallelism %d,"
                        + " %d MiB managed memory; %d round(s)%n",
                options.keys,
                options.valueBytes,
                options.updatesPerSecond,
                options.updateSeconds,
                CHECKPOINT_INTERVAL.getSeconds(),
                options.parallelism,
                options.managedMemoryMb,
                options.rounds);
        final List<Result> results = new ArrayList<>();
        final int setups = options.setups.size();
        for (int round = 1; round <= options.rounds; round++) {
            for (int i = 0; i < setups; i++) {
                // taking turns which setup goes first
                final Setup setup = options.setups.get((i + round - 1) % setups);
                out.printf("Round %d, %s: %s%n", round, setup.label, loadAverage());
                final Result result = runOnce(options, setup, round);
                out.printf(
                        "  %d checkpoints after the load, %.2f MB checkpointed and %.2f MB"
                                + " materialized per checkpoint, restore %d ms%n",
                        result.checkpoints,
                        result.meanCheckpointedBytes / 1e6,
                        result.materializedBytesPerCheckpoint / 1e6,
                        result.restoreMillis);
                results.add(result);
            }
        }
        out.printf("Load after: %s%n%n", loadAverage());
        report(options, results, out);
    }

    // ------------------------------------------------------------------------

    private static Result runOnce(Options options, Setup setup, int round) throws Exception {
        final Path runDir = options.dir.resolve(setup.label.replace(':', '-') + "-" + round);
        FileUtils.deleteDirectoryQuietly(runDir.toFile());
        Files.createDirectories(runDir);
        final Configuration config = configuration(options, setup, runDir);
        try (MiniCluster cluster =
                new MiniCluster(
                        new MiniClusterConfiguration.Builder()
                                .setConfiguration(config)
                                .setNumTaskManagers(1)
                                .setNumSlotsPerTaskManager(options.parallelism)
                                .withRandomPorts()
                                .build())) {
            cluster.start();
            CheckpointUploadsReporter.reset();
            PROCESSED.set(0);
            WRONG.set(0);

            final JobGraph first = jobGraph(config, options, false);
            final JobID jobId = cluster.submitJob(first).get().getJobID();
            waitFor(() -> PROCESSED.get() >= options.keys, "the load of every key");
            final long loadDone = System.currentTimeMillis();
            final long uploadedBefore = CheckpointUploadsReporter.countNewUploads();
            final long updatesDone = loadDone + options.updateSeconds * 1000L;
            waitFor(
                    () -> {
                        CheckpointUploadsReporter.countNewUploads();
                        return System.currentTimeMillis() >= updatesDone;
                    },
                    "the end of the updates");
            final List<AbstractCheckpointStats> completed = new ArrayList<>();
            waitFor(
                    () -> {
                        CheckpointUploadsReporter.countNewUploads();
                        completed.clear();
                        completed.addAll(completedSince(cluster, jobId, loadDone));
                        return completed.stream()
                                .anyMatch(c -> c.getTriggerTimestamp() >= updatesDone);
                    },
                    "a checkpoint after the updates");
            // with the changelog backend, this backend's snapshots are its materializations
            final long materialized =
                    setup.materializationInterval == null
                            ? 0
                            : CheckpointUploadsReporter.countNewUploads() - uploadedBefore;
            cluster.cancelJob(jobId).get();
            cluster.requestJobResult(jobId).get();
            checkNoneWrong("the first job");

            final Path retained = lastRetainedCheckpoint(runDir.resolve("checkpoints"), jobId);
            final JobGraph restored = jobGraph(config, options, true);
            restored.setSavepointRestoreSettings(
                    SavepointRestoreSettings.forPath(retained.toUri().toString()));
            final JobVertexID keyedVertex =
                    restored.getVerticesSortedTopologicallyFromSources().get(1).getID();
            PROCESSED.set(0);
            final JobID restoredId = cluster.submitJob(restored).get().getJobID();
            waitFor(
                    () -> allRunning(cluster, restoredId, keyedVertex),
                    "the restored job's keyed tasks to run");
            final long restoreMillis = slowestInitialization(cluster, restoredId, keyedVertex);
            waitFor(
                    () -> PROCESSED.get() >= CHECKED_AFTER_RESTORE,
                    "updates processed after the restore");
            cluster.cancelJob(restoredId).get();
            cluster.requestJobResult(restoredId).get();
            checkNoneWrong("the restored job");

            return summarize(options, setup, round, completed, materialized, restoreMillis);
        } finally {
            FileUtils.deleteDirectoryQuietly(runDir.toFile());
        }
    }

    private static Configuration configuration(Options options, Setup setup, Path runDir) {
        final Configuration config = new Configuration();
        config.set(
                StateBackendOptions.STATE_BACKEND,
                IncrementalRocksDBStateBackendFactory.class.getName());
        config.set(IncrementalRocksDBOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(
                CheckpointingOptions.CHECKPOINTS_DIRECTORY,
                runDir.resolve("checkpoints").toUri().toString());
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, CHECKPOINT_INTERVAL);
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        config.set(WebOptions.CHECKPOINTS_HISTORY_SIZE, 10_000);
        config.set(RestartStrategyOptions.RESTART_STRATEGY, "none");
        config.setString(
                "metrics.reporter.uploads.factory.class",
                CheckpointUploadsReporter.Factory.class.getName());
        config.set(
                TaskManagerOptions.MANAGED_MEMORY_SIZE,
                MemorySize.ofMebiBytes(options.managedMemoryMb));
        // the changelog storage is the cluster's; only the setups with the changelog write to it
        config.set(StateChangelogOptions.STATE_CHANGE_LOG_STORAGE, "filesystem");
        config.setString("dstl.dfs.base-path", runDir.resolve("changelog").toUri().toString());
        if (setup.materializationInterval != null) {
            config.set(StateChangelogOptions.ENABLE_STATE_CHANGE_LOG, true);
            config.set(
                    StateChangelogOptions.PERIODIC_MATERIALIZATION_INTERVAL,
                    setup.materializationInterval);
        }
        return config;
    }

    private static JobGraph jobGraph(Configuration config, Options options, boolean restored) {
        final StreamExecutionEnvironment env = new StreamExecutionEnvironment(config);
        env.setParallelism(options.parallelism);
        // enough updates to outlast any run; the job is cancelled long before
        final long maxEvents = options.keys + (long) options.updatesPerSecond * 86_400L;
        final DataGeneratorSource<Integer> source =
                new DataGeneratorSource<>(
                        new KeyGenerator(options.keys),
                        maxEvents,
                        DemoJob.loadThenPerSecond(options.keys, options.updatesPerSecond),
                        Types.INT);
        env.fromSource(source, WatermarkStrategy.noWatermarks(), "keys")
                .uid("keys")
                .keyBy(key -> key)
                .process(new ValuePerKey(options.valueBytes, restored))
                .uid("value-per-key")
                .name("value per key")
                .sinkTo(new DiscardingSink<>())
                .name("discard");
        return env.getStreamGraph().getJobGraph();
    }

    /** The load's keys, each reader's share once, then random keys. */
    private static final class KeyGenerator implements GeneratorFunction<Long, Integer> {
        private static final long serialVersionUID = 1L;

        private final int keys;
        private transient int subtask;
        private transient int parallelism;
        private transient long emitted;

        KeyGenerator(int keys) {
            this.keys = keys;
        }

        @Override
        public void open(SourceReaderContext context) {
            subtask = context.getIndexOfSubtask();
            parallelism = context.currentParallelism();
        }

        @Override
        public Integer map(Long index) {
            final long loadKey = emitted * parallelism + subtask;
            emitted++;
            if (loadKey < keys) {
                return (int) loadKey;
            }
            return (int) Long.remainderUnsigned(new SplittableRandom(index).nextLong(), keys);
        }
    }

    /**
     * Keeps one value per key: the key, then random bytes. A value of another key, and in the
     * restored job a key without a value, is counted as wrong.
     */
    private static final class ValuePerKey extends KeyedProcessFunction<Integer, Integer, Integer> {
        private static final long serialVersionUID = 1L;

        private final int valueBytes;
        private final boolean restored;
        private transient ValueState<byte[]> value;
        private transient SplittableRandom random;

        ValuePerKey(int valueBytes, boolean restored) {
            this.valueBytes = valueBytes;
            this.restored = restored;
        }

        @Override
        public void open(OpenContext openContext) {
            value =
                    getRuntimeContext()
                            .getState(
                                    new ValueStateDescriptor<>(
                                            "value", BytePrimitiveArraySerializer.INSTANCE));
            random =
                    new SplittableRandom(getRuntimeContext().getTaskInfo().getIndexOfThisSubtask());
        }

        @Override
        public void processElement(Integer key, Context context, Collector<Integer> out)
                throws IOException {
            final byte[] previous = value.value();
            final boolean loaded = previous != null;
            if (loaded && ByteBuffer.wrap(previous).getInt() != key) {
                WRONG.incrementAndGet();
            }
            final byte[] next = new byte[valueBytes];
            random.nextBytes(next);
            ByteBuffer.wrap(next).putInt(key);
            value.update(next);
            if (!loaded && restored) {
                // the restored job emits no load: every key it sees was written before
                WRONG.incrementAndGet();
            }
            PROCESSED.incrementAndGet();
        }
    }

    // ------------------------------------------------------------------------

    private static List<AbstractCheckpointStats> completedSince(
            MiniCluster cluster, JobID jobId, long since) throws Exception {
        final AccessExecutionGraph graph = cluster.getExecutionGraph(jobId).get();
        final List<AbstractCheckpointStats> completed = new ArrayList<>();
        for (AbstractCheckpointStats checkpoint :
                graph.getCheckpointStatsSnapshot().getHistory().getCheckpoints()) {
            if (checkpoint.getStatus() == CheckpointStatsStatus.COMPLETED
                    && checkpoint.getTriggerTimestamp() >= since) {
                completed.add(checkpoint);
            }
        }
        return completed;
    }

    private static Path lastRetainedCheckpoint(Path checkpoints, JobID jobId) throws IOException {
        try (Stream<Path> dirs = Files.list(checkpoints.resolve(jobId.toHexString()))) {
            return dirs.filter(dir -> dir.getFileName().toString().startsWith("chk-"))
                    .filter(dir -> Files.exists(dir.resolve("_metadata")))
                    .max(
                            Comparator.comparingLong(
                                    dir ->
                                            Long.parseLong(
                                                    dir.getFileName().toString().substring(4))))
                    .orElseThrow(
                            () -> new IOException("No retained checkpoint under " + checkpoints));
        }
    }

    private static boolean allRunning(MiniCluster cluster, JobID jobId, JobVertexID vertex)
            throws Exception {
        final AccessExecutionJobVertex tasks =
                cluster.getExecutionGraph(jobId).get().getJobVertex(vertex);
        if (tasks == null) {
            return false;
        }
        for (AccessExecutionVertex task : tasks.getTaskVertices()) {
            final ExecutionState state = task.getExecutionState();
            if (state == ExecutionState.FAILED || state == ExecutionState.CANCELED) {
                throw new IllegalStateException(
                        "The restored task " + task.getTaskNameWithSubtaskIndex() + " is " + state);
            }
            if (state != ExecutionState.RUNNING) {
                return false;
            }
        }
        return true;
    }

    /** The longest time from INITIALIZING to RUNNING of the vertex's subtasks. */
    private static long slowestInitialization(MiniCluster cluster, JobID jobId, JobVertexID vertex)
            throws Exception {
        long slowest = 0;
        for (AccessExecutionVertex task :
                cluster.getExecutionGraph(jobId).get().getJobVertex(vertex).getTaskVertices()) {
            final AccessExecution attempt = task.getCurrentExecutionAttempt();
            slowest =
                    Math.max(
                            slowest,
                            attempt.getStateTimestamp(ExecutionState.RUNNING)
                                    - attempt.getStateTimestamp(ExecutionState.INITIALIZING));
        }
        return slowest;
    }

    private static void checkNoneWrong(String job) {
        if (WRONG.get() != 0) {
            throw new IllegalStateException(
                    job + " found " + WRONG.get() + " keys without their value or with another's");
        }
    }

    private static Result summarize(
            Options options,
            Setup setup,
            int round,
            List<AbstractCheckpointStats> completed,
            long materialized,
            long restoreMillis) {
        completed.sort((a, b) -> Long.compare(a.getCheckpointId(), b.getCheckpointId()));
        final long[] sizes = completed.stream().mapToLong(c -> c.getCheckpointedSize()).toArray();
        final AbstractCheckpointStats first = completed.get(0);
        final AbstractCheckpointStats last = completed.get(completed.size() - 1);
        // the source limits the updates to a rate: what changed between two checkpoints follows
        // from the time between their triggers
        final double secondsBetween =
                completed.size() < 2
                        ? CHECKPOINT_INTERVAL.getSeconds()
                        : (last.getTriggerTimestamp() - first.getTriggerTimestamp())
                                / 1000.0
                                / (completed.size() - 1);
        final double changed =
                secondsBetween * options.updatesPerSecond * (KEY_BYTES + options.valueBytes);
        return new Result(
                setup,
                round,
                completed.size(),
                Arrays.stream(sizes).average().orElse(0),
                Arrays.stream(sizes).max().orElse(0),
                (double) materialized / completed.size(),
                changed,
                last.getStateSize(),
                restoreMillis);
    }

    private static void waitFor(BooleanSupplierWithException condition, String what)
            throws Exception {
        final long deadline = System.nanoTime() + GIVE_UP_AFTER.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new TimeoutException("Gave up waiting for " + what);
            }
            Thread.sleep(POLL_MILLIS);
        }
    }

    /** A condition that may fail. */
    @FunctionalInterface
    private interface BooleanSupplierWithException {
        boolean getAsBoolean() throws Exception;
    }

    // ------------------------------------------------------------------------

    static void report(Options options, List<Result> results, PrintStream out) {
        out.println(
                "| setup | rounds | checkpoints after the load | checkpointed (MB) | max"
                        + " checkpointed (MB) | materialized (MB) | uploaded in all (MB) | changed"
                        + " (MB) | uploaded in all / changed | state (MB) | restore (ms) |"
                        + " per-round restore (ms) | restore / incremental |");
        out.println("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        Double baseline = null;
        for (Setup setup : options.setups) {
            final List<Result> runs = new ArrayList<>();
            for (Result result : results) {
                if (result.setup == setup) {
                    runs.add(result);
                }
            }
            if (runs.isEmpty()) {
                continue;
            }
            final boolean changelog = setup.materializationInterval != null;
            final double restore = median(runs.stream().mapToDouble(r -> r.restoreMillis));
            if (!changelog && baseline == null) {
                baseline = restore;
            }
            final double inAll =
                    median(
                            runs.stream()
                                    .mapToDouble(
                                            r ->
                                                    r.meanCheckpointedBytes
                                                            + r.materializedBytesPerCheckpoint));
            final double changed =
                    median(runs.stream().mapToDouble(r -> r.changedBytesPerCheckpoint));
            out.printf(
                    Locale.ROOT,
                    "| %s | %d | %.0f | %.2f | %.2f | %s | %.2f | %.2f | %.1f | %.1f | %.0f | %s"
                            + " | %s |%n",
                    setup.label,
                    runs.size(),
                    median(runs.stream().mapToDouble(r -> r.checkpoints)),
                    median(runs.stream().mapToDouble(r -> r.meanCheckpointedBytes)) / 1e6,
                    runs.stream().mapToLong(r -> r.maxCheckpointedBytes).max().orElse(0) / 1e6,
                    changelog
                            ? String.format(
                                    Locale.ROOT,
                                    "%.2f",
                                    median(
                                                    runs.stream()
                                                            .mapToDouble(
                                                                    r ->
                                                                            r.materializedBytesPerCheckpoint))
                                            / 1e6)
                            : "-",
                    inAll / 1e6,
                    changed / 1e6,
                    inAll / changed,
                    median(runs.stream().mapToDouble(r -> r.stateBytes)) / 1e6,
                    restore,
                    String.join(
                            ", ",
                            runs.stream()
                                    .map(r -> Long.toString(r.restoreMillis))
                                    .toArray(String[]::new)),
                    baseline == null
                            ? "-"
                            : String.format(Locale.ROOT, "%.2f", restore / baseline));
        }
        out.println();
        out.println(
                "Medians over the rounds, per checkpoint after the load; the largest checkpoint"
                        + " over all rounds. Checkpointed: Flink's checkpointed size, which with the"
                        + " changelog backend counts its log only. Materialized: what this backend's"
                        + " snapshots for the changelog backend's materializations uploaded in the"
                        + " same time (its gauges), per checkpoint. Changed: updates per second"
                        + " times the time between checkpoints times (key + value) bytes. Restore:"
                        + " the slowest keyed subtask's time from INITIALIZING to RUNNING.");
    }

    private static String loadAverage() {
        try {
            final String[] fields = Files.readString(Paths.get("/proc/loadavg")).trim().split(" ");
            return "load average " + fields[0] + ", " + fields[1] + ", " + fields[2];
        } catch (IOException e) {
            return "load average unknown";
        }
    }

    private static double median(DoubleStream values) {
        final double[] sorted = values.sorted().toArray();
        if (sorted.length == 0) {
            return Double.NaN;
        }
        final int middle = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
