package io.statebackend.incremental.bench;

import io.statebackend.incremental.bench.RestoreTimeReport.Result;
import io.statebackend.incremental.demo.LoadThenPerSecond;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.JobStatus;
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
import org.apache.flink.runtime.jobmaster.JobResult;
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
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * A job-level driver for what a restore costs, with this backend and with Flink's {@code
 * EmbeddedRocksDBStateBackend}, each alone and wrapped in Flink's changelog backend ({@code
 * state.backend.changelog.enabled}, FLIP-158, file system changelog storage). Each run starts a
 * MiniCluster, runs a keyed job that writes every key once and then updates random keys at a fixed
 * rate, checkpointing every second, cancels it with its checkpoints retained, and starts it again
 * from the last one.
 *
 * <p>A restore's time is what Flink reports for the keyed tasks: from INITIALIZING, when a task
 * starts restoring its state, to RUNNING, when every operator of it has restored and opened. The
 * slowest subtask is reported, since the job processes nothing until it is running. After the
 * restore every update must find the value its key was written with (the job counts those that do
 * not, and the run fails on any). The checkpoints taken after the load are reported with their
 * checkpointed sizes as Flink counts them, which with the changelog backend are the log's bytes
 * only; what its materializations uploaded is added ({@link MaterializationReporter}).
 *
 * <p>This backend (upstream RocksDB) and Flink's (FRocksDB) cannot share a class path, since both
 * RocksDB libraries live in the package {@code org.rocksdb}: {@code
 * tools/bench/restore-time-bench.sh} runs one JVM per class path and round, each appending its
 * results to a file ({@code --out}), and then prints the table over all of them ({@code --report}).
 * Backends are chosen by name, so that this class loads on either class path. Not a test: nothing
 * is asserted about time.
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

    /** One setup: a backend, alone or wrapped in the changelog backend. */
    static final class Setup {
        private static final String THIS_BACKEND =
                "io.statebackend.incremental.IncrementalRocksDBStateBackendFactory";
        private static final String FLINK_ROCKSDB = "rocksdb";

        final String label;

        /** A value of {@code state.backend.type}. */
        final String backend;

        /** The changelog backend's materialization interval; null without the changelog. */
        final Duration materializationInterval;

        private Setup(String label, String backend, Duration materializationInterval) {
            this.label = label;
            this.backend = backend;
            this.materializationInterval = materializationInterval;
        }

        /**
         * {@code incremental} (this backend), {@code flink-rocksdb} (Flink's), each optionally
         * followed by {@code +changelog:<materialization interval>}.
         */
        static Setup parse(String spec) {
            final int plus = spec.indexOf('+');
            final String backendName = plus < 0 ? spec : spec.substring(0, plus);
            final String backend;
            switch (backendName) {
                case RestoreTimeReport.BASELINE:
                    backend = THIS_BACKEND;
                    break;
                case "flink-rocksdb":
                    backend = FLINK_ROCKSDB;
                    break;
                default:
                    throw new IllegalArgumentException(
                            "Unknown backend in setup '"
                                    + spec
                                    + "': incremental or flink-rocksdb");
            }
            if (plus < 0) {
                return new Setup(spec, backend, null);
            }
            final String wrapper = spec.substring(plus + 1);
            if (!wrapper.startsWith("changelog:")) {
                throw new IllegalArgumentException(
                        "Unknown wrapper in setup '" + spec + "': changelog:<interval>");
            }
            return new Setup(
                    spec,
                    backend,
                    TimeUtils.parseDuration(wrapper.substring("changelog:".length())));
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
        int firstRound = 1;

        /** Where each run's result is appended; without it the table is printed at the end. */
        Path out;

        /** Result files to print the table of, instead of running anything. */
        List<Path> report = Collections.emptyList();

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
                } else if (arg.startsWith("--round=")) {
                    // one round of a run that a script repeats, once per class path
                    options.firstRound = positive(arg, value);
                    options.rounds = 1;
                } else if (arg.startsWith("--out=")) {
                    options.out = Paths.get(value);
                } else if (arg.startsWith("--report=")) {
                    final List<Path> files = new ArrayList<>();
                    for (String file : value.split(",")) {
                        files.add(Paths.get(file));
                    }
                    options.report = files;
                } else {
                    throw new IllegalArgumentException("Unknown option: " + arg);
                }
            }
            if (options.setups.isEmpty()) {
                options.setups.add(Setup.parse("incremental"));
                options.setups.add(Setup.parse("incremental+changelog:10s"));
                // Flink's default interval: a restore replays up to ten minutes of changes
                options.setups.add(Setup.parse("incremental+changelog:10min"));
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

    public static void main(String[] args) throws Exception {
        run(args, System.out);
    }

    /** Runs every setup for every round and prints the report to {@code out}. */
    static void run(String[] args, PrintStream out) throws Exception {
        final Options options = Options.parse(args);
        if (!options.report.isEmpty()) {
            RestoreTimeReport.print(RestoreTimeReport.read(options.report), out);
            return;
        }
        out.printf(
                "Restore time: %,d int keys with %d-byte values written once, then %,d updates/s"
                        + " to random keys for %d s, checkpoints every %d s; parallelism %d,"
                        + " %d MiB managed memory%n",
                options.keys,
                options.valueBytes,
                options.updatesPerSecond,
                options.updateSeconds,
                CHECKPOINT_INTERVAL.getSeconds(),
                options.parallelism,
                options.managedMemoryMb);
        final List<Result> results = new ArrayList<>();
        final int setups = options.setups.size();
        final int lastRound = options.firstRound + options.rounds - 1;
        for (int round = options.firstRound; round <= lastRound; round++) {
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
                        Math.max(0, result.materializedBytes) / 1e6,
                        result.restoreMillis);
                results.add(result);
                if (options.out != null) {
                    RestoreTimeReport.append(options.out, result);
                }
            }
        }
        out.printf("Load after: %s%n%n", loadAverage());
        if (options.out == null) {
            RestoreTimeReport.print(results, out);
        }
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
            MaterializationReporter.reset();
            PROCESSED.set(0);
            WRONG.set(0);

            final JobGraph first = jobGraph(config, options, false);
            final JobID jobId = cluster.submitJob(first).get().getJobID();
            waitFor(
                    () -> isRunning(cluster, jobId) && PROCESSED.get() >= options.keys,
                    "the load of every key");
            final long loadDone = System.currentTimeMillis();
            final long materializedBefore = MaterializationReporter.countNewMaterializations();
            final long updatesDone = loadDone + options.updateSeconds * 1000L;
            waitFor(
                    () -> {
                        MaterializationReporter.countNewMaterializations();
                        return isRunning(cluster, jobId)
                                && System.currentTimeMillis() >= updatesDone;
                    },
                    "the end of the updates");
            final List<AbstractCheckpointStats> completed = new ArrayList<>();
            waitFor(
                    () -> {
                        MaterializationReporter.countNewMaterializations();
                        completed.clear();
                        completed.addAll(completedSince(cluster, jobId, loadDone));
                        return isRunning(cluster, jobId)
                                && completed.stream()
                                        .anyMatch(c -> c.getTriggerTimestamp() >= updatesDone);
                    },
                    "a checkpoint after the updates");
            final long materialized =
                    MaterializationReporter.countNewMaterializations() - materializedBefore;
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
                    () ->
                            isRunning(cluster, restoredId)
                                    && allRunning(cluster, restoredId, keyedVertex),
                    "the restored job's keyed tasks to run");
            final long restoreMillis = slowestInitialization(cluster, restoredId, keyedVertex);
            waitFor(
                    () ->
                            isRunning(cluster, restoredId)
                                    && PROCESSED.get() >= CHECKED_AFTER_RESTORE,
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
        config.set(StateBackendOptions.STATE_BACKEND, setup.backend);
        // the key of both backends (Flink 1.20 reads it as a deprecated key of its own option)
        config.setString("state.backend.incremental", "true");
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
                "metrics.reporter.materializations.factory.class",
                MaterializationReporter.Factory.class.getName());
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
                        new LoadThenPerSecond(options.keys, options.updatesPerSecond),
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
                // the first job wrote every key before its last checkpoint (the restored job's
                // source starts its load over, but those keys too were written before)
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

    /** True while the job runs; throws with the job's failure once it has ended. */
    private static boolean isRunning(MiniCluster cluster, JobID jobId) throws Exception {
        final JobStatus status = cluster.getJobStatus(jobId).get();
        if (!status.isGloballyTerminalState()) {
            return true;
        }
        final JobResult result = cluster.requestJobResult(jobId).get();
        throw new IllegalStateException(
                "The job ended " + status,
                result.getSerializedThrowable()
                        .map(failure -> failure.deserializeError(getClassLoader()))
                        .orElse(null));
    }

    private static ClassLoader getClassLoader() {
        return RestoreTimeBenchmark.class.getClassLoader();
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
                setup.label,
                round,
                completed.size(),
                Arrays.stream(sizes).average().orElse(0),
                Arrays.stream(sizes).max().orElse(0),
                setup.materializationInterval == null
                        ? -1
                        : (double) materialized / completed.size(),
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

    private static String loadAverage() {
        try {
            final String[] fields = Files.readString(Paths.get("/proc/loadavg")).trim().split(" ");
            return "load average " + fields[0] + ", " + fields[1] + ", " + fields[2];
        } catch (IOException e) {
            return "load average unknown";
        }
    }
}
