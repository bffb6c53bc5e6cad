package io.statebackend.incremental.plugin;

import io.statebackend.incremental.inspect.InspectorCommand;
import io.statebackend.incremental.inspect.InspectorMain;
import io.statebackend.incremental.itcase.RetainedCheckpoints;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.Collector;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The checkpoint inspector reads checkpoint directories made by Flink's own backends (its RocksDB
 * backend with incremental checkpoints, and {@code HashMapStateBackend}) as well as by this backend
 * loaded from its plugin folder, with only Flink's classes and the inspector's jar from the
 * distribution's {@code opt/} on the class path, as {@code bin/statebackend-inspect} runs it. It
 * finds exactly the files in {@code shared/} that the retained checkpoints do not refer to (a
 * planted orphan among them) and deletes only those. The command itself runs from an installation
 * laid out like Flink's.
 */
// a safety net so that a hang fails this class instead of the whole build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class CheckpointInspectorFlinkBackendsITCase {

    private static final int RETAINED = 2;
    private static final int NUM_KEYS = 200;
    private static final int PARALLELISM = 2;
    private static final Duration WAIT = Duration.ofMinutes(1);

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(PARALLELISM)
                            .setConfiguration(clusterConfiguration())
                            .build());

    /** Deleted after the MiniCluster, which discards finished jobs' checkpoints asynchronously. */
    @TempDir static Path root;

    private static Configuration clusterConfiguration() {
        final Configuration config = new Configuration();
        config.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, RETAINED);
        // every state handle a file, none kept inside _metadata: the test counts files
        config.set(CheckpointingOptions.FS_SMALL_FILE_THRESHOLD, MemorySize.ZERO);
        return config;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = Backend.class,
            names = {"FLINK_ROCKSDB", "HASHMAP", "INCREMENTAL"})
    void readsTheCheckpointsAndFindsExactlyTheUnreferencedFiles(
            Backend backend, @InjectMiniCluster MiniCluster cluster) throws Exception {
        final Path jobDirectory = checkpointedAndCancelled(cluster, backend);
        final Path orphan = jobDirectory.resolve("shared").resolve(UUID.randomUUID().toString());
        Files.createDirectories(orphan.getParent());
        Files.write(orphan, new byte[2048]);
        final Set<Path> unreferenced = RetainedCheckpoints.unreferencedSharedFiles(jobDirectory);
        assertThat(unreferenced).contains(orphan.toAbsolutePath().normalize());

        final LongSupplier later =
                () -> System.currentTimeMillis() + Duration.ofHours(2).toMillis();
        final String directory = jobDirectory.toUri().toString();
        final InspectorCommand report = InspectorCommand.run(later, "--json", directory);
        assertThat(report.status).as("%s", report).isEqualTo(InspectorMain.OK);
        assertThat(report.unreferencedSharedFiles()).isEqualTo(unreferenced);

        System.out.println(InspectorCommand.run(later, directory).out);
        final JsonNode checkpoints = report.json().get("jobs").get(0).get("checkpoints");
        assertThat(checkpoints).hasSize(RETAINED);
        for (JsonNode checkpoint : checkpoints) {
            assertThat(checkpoint.get("readable").asBoolean()).isTrue();
            assertThat(checkpoint.get("unknownHandleTypes")).isEmpty();
            final JsonNode keyed = keyedOperator(checkpoint);
            assertThat(keyed.get("subtasksWithState").asInt()).isEqualTo(PARALLELISM);
            assertThat(keyed.get("stateSize").asLong()).isPositive();
            assertThat(keyed.get("privateFiles").asInt()).isPositive();
            if (backend == Backend.HASHMAP) {
                assertThat(keyed.get("sharedFiles").asInt()).isZero();
            } else {
                assertThat(keyed.get("sharedFiles").asInt()).isPositive();
                assertThat(keyed.get("checkpointedSize").asLong())
                        .isLessThanOrEqualTo(keyed.get("stateSize").asLong());
            }
        }

        final Set<Path> sharedBefore =
                RetainedCheckpoints.listFiles(jobDirectory.resolve("shared"));
        final InspectorCommand deletion =
                InspectorCommand.run(
                        later, "--delete-unreferenced", "--older-than", "1 h", "--yes", directory);
        assertThat(deletion.status).as("%s", deletion).isEqualTo(InspectorMain.OK);
        final Set<Path> expected = new TreeSet<>(sharedBefore);
        expected.removeAll(unreferenced);
        assertThat(RetainedCheckpoints.listFiles(jobDirectory.resolve("shared")))
                .isEqualTo(expected);
    }

    @Test
    void commandRunsFromAnInstallationWithFlinksLibOnly(@InjectMiniCluster MiniCluster cluster)
            throws Exception {
        final Path jobDirectory = checkpointedAndCancelled(cluster, Backend.FLINK_ROCKSDB);
        final Path flinkHome = installation();

        final Process help = command(flinkHome, "--help").start();
        assertThat(output(help)).contains("Usage: statebackend-inspect");
        assertThat(help.waitFor()).isZero();

        final Process inspect = command(flinkHome, "--json", jobDirectory.toString()).start();
        final String json = output(inspect);
        assertThat(inspect.waitFor()).as(json).isZero();
        assertThat(json).contains("\"checkpoints\"").contains("\"unreferencedSharedFiles\"");

        final Process missing =
                command(flinkHome, jobDirectory.resolve("no-such-dir").toString()).start();
        assertThat(output(missing)).contains("No such directory");
        assertThat(missing.waitFor()).isEqualTo(InspectorMain.FAILED);
    }

    // ------------------------------------------------------------------------

    /** A job that took at least three checkpoints and was cancelled; its job directory. */
    private static Path checkpointedAndCancelled(MiniCluster cluster, Backend backend)
            throws Exception {
        final Path checkpointsBase = Files.createTempDirectory(root, "checkpoints-");
        final Configuration config = backend.configuration(checkpointsBase);
        config.set(CheckpointingOptions.INCREMENTAL_CHECKPOINTS, true);
        config.set(CheckpointingOptions.CHECKPOINTING_INTERVAL, Duration.ofMillis(100));
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        env.fromSource(
                        new DataGeneratorSource<>(
                                index -> index,
                                Long.MAX_VALUE,
                                RateLimiterStrategy.perSecond(5_000),
                                Types.LONG),
                        WatermarkStrategy.noWatermarks(),
                        "records")
                .setParallelism(1)
                .keyBy(index -> (int) (index % NUM_KEYS), Types.INT)
                .process(new LastValue())
                .uid("last-value")
                .setParallelism(PARALLELISM)
                .sinkTo(new DiscardingSink<>())
                .setParallelism(PARALLELISM);
        final JobID jobId = cluster.submitJob(env.getStreamGraph().getJobGraph()).get().getJobID();

        final long deadline = System.nanoTime() + WAIT.toNanos();
        while (completedCheckpoints(cluster, jobId) < 3) {
            assertThat(System.nanoTime() - deadline).as("waiting for checkpoints").isNegative();
            Thread.sleep(10);
        }
        cluster.cancelJob(jobId).get();
        cluster.requestJobResult(jobId).get();
        final Path jobDirectory = checkpointsBase.resolve(jobId.toHexString());
        // a checkpoint cut off by the cancellation may keep its directory; the inspector lists it
        RetainedCheckpoints.awaitOnlyRetainedCheckpoints(jobDirectory, Duration.ofSeconds(5));
        assertThat(RetainedCheckpoints.retainedCheckpoints(jobDirectory)).hasSize(RETAINED);
        return jobDirectory;
    }

    private static long completedCheckpoints(MiniCluster cluster, JobID jobId) throws Exception {
        return cluster.getExecutionGraph(jobId)
                .get()
                .getCheckpointStatsSnapshot()
                .getCounts()
                .getNumberOfCompletedCheckpoints();
    }

    private static JsonNode keyedOperator(JsonNode checkpoint) {
        for (JsonNode operator : checkpoint.get("operators")) {
            if (operator.get("parallelism").asInt() == PARALLELISM
                    && operator.get("stateSize").asLong() > 0) {
                return operator;
            }
        }
        throw new AssertionError("No keyed operator in " + checkpoint);
    }

    /**
     * A Flink installation as the distribution is unpacked into: {@code lib/} holds the jars of
     * this test's class path, which has Flink but neither this backend nor upstream RocksDB on it
     * (see the plugin-isolation execution), and {@code opt/} and {@code bin/} come from the
     * unpacked distribution.
     */
    private static Path installation() throws Exception {
        final Path home = Files.createTempDirectory(root, "flink-home-");
        final Path lib = Files.createDirectories(home.resolve("lib"));
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            final Path jar = Paths.get(entry);
            if (entry.endsWith(".jar") && Files.isRegularFile(jar)) {
                assertThat(jar.getFileName().toString())
                        .doesNotStartWith("rocksdbjni")
                        .doesNotStartWith("flink-statebackend-incremental-0");
                Files.createSymbolicLink(
                        lib.resolve(lib.getFileSystem().getPath(jar.getFileName().toString())),
                        jar.toAbsolutePath());
            }
        }
        Files.createDirectories(home.resolve("opt"));
        Files.createDirectories(home.resolve("bin"));
        try (var jars = Files.list(FlinkHome.root().resolve("opt"))) {
            for (Path jar : (Iterable<Path>) jars::iterator) {
                Files.copy(jar, home.resolve("opt").resolve(jar.getFileName()));
            }
        }
        final Path script = home.resolve("bin").resolve("statebackend-inspect");
        Files.copy(FlinkHome.root().resolve("bin").resolve("statebackend-inspect"), script);
        return home;
    }

    /** The installation's command, found through its own path, with this JVM's Java. */
    private static ProcessBuilder command(Path flinkHome, String... args) {
        final List<String> command = new ArrayList<>();
        command.add("sh");
        command.add(flinkHome.resolve("bin").resolve("statebackend-inspect").toString());
        command.addAll(List.of(args));
        final ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().remove("FLINK_HOME");
        builder.environment().remove("FLINK_CONF_DIR");
        builder.environment().remove("FLINK_PLUGINS_DIR");
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        return builder;
    }

    private static String output(Process process) throws Exception {
        return new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    /** Keeps the last value of each key in value state. */
    private static final class LastValue extends KeyedProcessFunction<Integer, Long, Long> {
        private static final long serialVersionUID = 1L;

        private transient ValueState<Long> last;

        @Override
        public void open(OpenContext openContext) {
            last = getRuntimeContext().getState(new ValueStateDescriptor<>("last", Types.LONG));
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            last.update(value);
        }
    }
}
