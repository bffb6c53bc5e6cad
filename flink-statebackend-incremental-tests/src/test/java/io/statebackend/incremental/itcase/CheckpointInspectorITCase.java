package io.statebackend.incremental.itcase;

import io.statebackend.incremental.inspect.InspectorCommand;
import io.statebackend.incremental.inspect.InspectorMain;
import io.statebackend.incremental.itcase.IncrementalTestJobs.LastResultPerKeySink;
import io.statebackend.incremental.itcase.IncrementalTestJobs.ModuloKey;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SequenceGate;
import io.statebackend.incremental.itcase.IncrementalTestJobs.SumListMap;

import org.apache.flink.api.common.JobID;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.configuration.CheckpointingOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.ExternalizedCheckpointRetention;
import org.apache.flink.configuration.MemorySize;
import org.apache.flink.configuration.StateRecoveryOptions;
import org.apache.flink.core.execution.CheckpointType;
import org.apache.flink.core.execution.RestoreMode;
import org.apache.flink.runtime.checkpoint.CheckpointException;
import org.apache.flink.runtime.checkpoint.CheckpointFailureReason;
import org.apache.flink.runtime.client.JobStatusMessage;
import org.apache.flink.runtime.jobgraph.SavepointRestoreSettings;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.apache.flink.runtime.state.FunctionInitializationContext;
import org.apache.flink.runtime.state.FunctionSnapshotContext;
import org.apache.flink.runtime.testutils.MiniClusterResourceConfiguration;
import org.apache.flink.streaming.api.checkpoint.CheckpointedFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.test.junit5.InjectMiniCluster;
import org.apache.flink.test.junit5.MiniClusterExtension;
import org.apache.flink.util.ExceptionUtils;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The checkpoint inspector on the checkpoint directories of real jobs on this backend: after a job
 * was cancelled (with orphan files planted as a failed upload's process leaves them when it dies),
 * and after the process running a job was killed in the middle of a checkpoint that its keyed tasks
 * had begun to upload, it reports exactly the files in {@code shared/} that no retained checkpoint
 * refers to, as the test finds them by its own traversal of the retained checkpoints' handles;
 * refuses to delete them while the checkpoints are young; deletes exactly them when asked; and
 * every retained checkpoint then still restores to exactly the expected results.
 */
// a safety net so that a hang fails this class instead of the whole build
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class CheckpointInspectorITCase {

    private static final int NUM_KEYS = 500;
    private static final int VALUES_PER_KEY = 40;
    private static final long NUM_RECORDS = (long) NUM_KEYS * VALUES_PER_KEY;
    private static final long STEP = NUM_RECORDS / 10;
    private static final int CHECKPOINTS = 5;
    private static final int KEYED_PARALLELISM = 2;
    private static final int RETAINED = 2;

    @RegisterExtension
    static final MiniClusterExtension MINI_CLUSTER =
            new MiniClusterExtension(
                    new MiniClusterResourceConfiguration.Builder()
                            .setNumberTaskManagers(1)
                            .setNumberSlotsPerTaskManager(KEYED_PARALLELISM + 1)
                            .setConfiguration(clusterConfiguration())
                            .build());

    /** Deleted after the MiniCluster, which discards finished jobs' checkpoints asynchronously. */
    @TempDir static Path root;

    private static Configuration clusterConfiguration() {
        final Configuration config = new Configuration();
        config.set(CheckpointingOptions.MAX_RETAINED_CHECKPOINTS, RETAINED);
        return config;
    }

    /** Cancels what a failed test left running, so that its slots do not fail the next test. */
    @AfterEach
    void cancelLeftoverJobs(@InjectMiniCluster MiniCluster cluster) throws Exception {
        for (JobStatusMessage job : cluster.listJobs().get()) {
            if (!job.getJobState().isGloballyTerminalState()) {
                IncrementalTestJobs.cancelAndWait(cluster, job.getJobId());
            }
        }
    }

    @BeforeEach
    void reset() {
        IncrementalTestJobs.reset();
        CheckpointBlocker.reset();
    }

    @Test
    void findsExactlyThePlantedOrphansAfterACancelledJob(@InjectMiniCluster MiniCluster cluster)
            throws Exception {
        final Path checkpointsBase = Files.createTempDirectory(root, "cancelled-");
        final JobID jobId = runAndCheckpoint(cluster, checkpointsBase);
        IncrementalTestJobs.cancelAndWait(cluster, jobId);
        final Path jobDirectory = RetainedCheckpoints.jobDirectory(checkpointsBase, jobId);
        // Flink removes subsumed checkpoints asynchronously; the comparisons below tell what
        // matters
        RetainedCheckpoints.awaitOnlyRetainedCheckpoints(
                jobDirectory, IncrementalTestJobs.WAIT_TIMEOUT);

        // what a failed checkpoint's upload leaves behind when the process dies before cleaning up
        final Set<Path> planted = new TreeSet<>();
        for (int i = 0; i < 3; i++) {
            final Path orphan =
                    jobDirectory.resolve("shared").resolve(UUID.randomUUID().toString());
            Files.write(orphan, new byte[1000 * (i + 1)]);
            planted.add(orphan.toAbsolutePath().normalize());
        }

        final Set<Path> unreferenced = RetainedCheckpoints.unreferencedSharedFiles(jobDirectory);
        assertThat(unreferenced).isEqualTo(planted);
        inspectDeleteAndRestore(cluster, checkpointsBase, jobDirectory, unreferenced);
    }

    @Test
    void findsExactlyTheUploadsOfACheckpointCutOffByKillingItsProcess(
            @InjectMiniCluster MiniCluster cluster) throws Exception {
        final Path checkpointsBase = Files.createTempDirectory(root, "killed-");
        final Process process = KilledMidCheckpoint.start(checkpointsBase);
        final Path jobDirectory;
        try {
            final String[] blocked = KilledMidCheckpoint.awaitBlockedCheckpoint(process);
            jobDirectory =
                    RetainedCheckpoints.jobDirectory(
                            checkpointsBase, JobID.fromHexString(blocked[0]));
            // the keyed tasks upload the new files of the blocked checkpoint into shared/; kill
            // the process as soon as the first of them is there, possibly half written
            IncrementalTestJobs.waitUntil(
                    () -> !unreferencedSharedFilesUnchecked(jobDirectory).isEmpty(),
                    () -> "the keyed tasks to upload files of checkpoint " + blocked[1]);
        } finally {
            process.destroyForcibly();
            process.waitFor();
        }

        final Set<Path> unreferenced = RetainedCheckpoints.unreferencedSharedFiles(jobDirectory);
        System.out.printf(
                "%s: the process was killed in checkpoint %d; shared/ holds %d files that no"
                        + " retained checkpoint refers to%n",
                getClass().getSimpleName(),
                RetainedCheckpoints.checkpointDirectories(jobDirectory).stream()
                        .mapToLong(RetainedCheckpoints::checkpointId)
                        .max()
                        .orElse(-1),
                unreferenced.size());
        assertThat(unreferenced).isNotEmpty();
        inspectDeleteAndRestore(cluster, checkpointsBase, jobDirectory, unreferenced);
    }

    // ------------------------------------------------------------------------

    private void inspectDeleteAndRestore(
            MiniCluster cluster, Path checkpointsBase, Path jobDirectory, Set<Path> unreferenced)
            throws Exception {
        final String directory = jobDirectory.toUri().toString();
        final List<Path> retained = RetainedCheckpoints.retainedCheckpoints(jobDirectory);
        assertThat(retained).hasSize(RETAINED);
        final Set<Path> sharedBefore =
                RetainedCheckpoints.listFiles(jobDirectory.resolve("shared"));

        // the files are seconds old: as far as the age tells, the job may still be running
        final InspectorCommand young =
                InspectorCommand.run(
                        System::currentTimeMillis,
                        "--delete-unreferenced",
                        "--older-than",
                        "1 h",
                        "--yes",
                        directory);
        assertThat(young.status).as("%s", young).isEqualTo(InspectorMain.REFUSED);
        assertThat(young.err).contains("the job may be running");
        assertThat(RetainedCheckpoints.listFiles(jobDirectory.resolve("shared")))
                .isEqualTo(sharedBefore);

        // two hours later
        final LongSupplier later =
                () -> System.currentTimeMillis() + Duration.ofHours(2).toMillis();
        final InspectorCommand report = InspectorCommand.run(later, "--json", directory);
        assertThat(report.status).as("%s", report).isEqualTo(InspectorMain.OK);
        assertThat(report.unreferencedSharedFiles()).isEqualTo(unreferenced);
        assertThat(report.json().get("jobs").get(0).get("checkpoints")).hasSize(RETAINED);
        System.out.println(InspectorCommand.run(later, directory).out);

        final InspectorCommand deletion =
                InspectorCommand.run(
                        later, "--delete-unreferenced", "--older-than", "1 h", "--yes", directory);
        assertThat(deletion.status).as("%s", deletion).isEqualTo(InspectorMain.OK);
        final Set<Path> expectedAfter = new TreeSet<>(sharedBefore);
        expectedAfter.removeAll(unreferenced);
        assertThat(RetainedCheckpoints.listFiles(jobDirectory.resolve("shared")))
                .isEqualTo(expectedAfter);
        for (Path checkpoint : retained) {
            assertThat(
                            RetainedCheckpoints.referencedFiles(
                                            RetainedCheckpoints.loadMetadata(checkpoint))
                                    .allFiles())
                    .allSatisfy(file -> assertThat(file).isRegularFile());
        }

        for (Path checkpoint : retained) {
            assertRestoresExactly(cluster, checkpointsBase, checkpoint);
        }
    }

    /**
     * Emits the first rounds of records, each followed by a checkpoint, so that the retained
     * checkpoints refer to SST files uploaded by several checkpoints.
     */
    private static JobID runAndCheckpoint(MiniCluster cluster, Path checkpointsBase)
            throws Exception {
        return runAndCheckpoint(cluster, checkpointsBase, new Configuration());
    }

    private static JobID runAndCheckpoint(
            MiniCluster cluster, Path checkpointsBase, Configuration extra) throws Exception {
        final JobID jobId = IncrementalTestJobs.submit(cluster, job(checkpointsBase, extra));
        for (int round = 1; round <= CHECKPOINTS; round++) {
            final long emitted = round * STEP;
            SequenceGate.allowUpTo(emitted);
            SequenceGate.awaitPosition(emitted);
            triggerCheckpoint(cluster, jobId);
        }
        return jobId;
    }

    /** Takes a checkpoint once every task runs (the keyed tasks open RocksDB first). */
    private static void triggerCheckpoint(MiniCluster cluster, JobID jobId) throws Exception {
        final AtomicReference<Throwable> lastFailure = new AtomicReference<>();
        IncrementalTestJobs.waitUntil(
                () -> {
                    try {
                        cluster.triggerCheckpoint(jobId, CheckpointType.CONFIGURED).get();
                        return true;
                    } catch (Exception e) {
                        final Optional<CheckpointException> declined =
                                ExceptionUtils.findThrowable(e, CheckpointException.class);
                        if (declined.isPresent()
                                && declined.get().getCheckpointFailureReason()
                                        == CheckpointFailureReason.NOT_ALL_REQUIRED_TASKS_RUNNING) {
                            lastFailure.set(e);
                            return false;
                        }
                        throw new IllegalStateException("Checkpoint failed", e);
                    }
                },
                () -> "a checkpoint of job " + jobId + ", last failure: " + lastFailure.get());
    }

    /** Resumes from {@code checkpoint} and runs the rest of the input to its end. */
    private static void assertRestoresExactly(
            MiniCluster cluster, Path checkpointsBase, Path checkpoint) throws Exception {
        IncrementalTestJobs.reset();
        CheckpointBlocker.reset();
        SequenceGate.allowAll();
        final Configuration restore = new Configuration();
        restore.set(StateRecoveryOptions.SAVEPOINT_PATH, checkpoint.toUri().toString());
        restore.set(StateRecoveryOptions.RESTORE_MODE, RestoreMode.NO_CLAIM);
        final JobID jobId =
                IncrementalTestJobs.submit(
                        cluster,
                        job(checkpointsBase, restore),
                        SavepointRestoreSettings.fromConfiguration(restore));
        IncrementalTestJobs.awaitSuccess(cluster, jobId);
        assertThat(SequenceGate.restoredFrom())
                .containsExactly(RetainedCheckpoints.checkpointId(checkpoint));
        assertThat(IncrementalTestJobs.lastResults())
                .as("results after restoring %s", checkpoint)
                .containsExactlyInAnyOrderEntriesOf(
                        IncrementalTestJobs.expectedSumListMap(NUM_KEYS, VALUES_PER_KEY));
    }

    private static StreamExecutionEnvironment job(Path checkpointsBase, Configuration extra) {
        final Configuration config = IncrementalTestJobs.triggeredCheckpoints(checkpointsBase);
        config.set(
                CheckpointingOptions.EXTERNALIZED_CHECKPOINT_RETENTION,
                ExternalizedCheckpointRetention.RETAIN_ON_CANCELLATION);
        config.addAll(extra);
        final StreamExecutionEnvironment env =
                StreamExecutionEnvironment.getExecutionEnvironment(config);
        final DataStream<Long> sequence = IncrementalTestJobs.gatedSequence(env, NUM_RECORDS);
        sequence.keyBy(new ModuloKey(NUM_KEYS), Types.INT)
                .process(new SumListMap(NUM_RECORDS - NUM_KEYS))
                .uid("sum-list-map")
                .setParallelism(KEYED_PARALLELISM)
                .sinkTo(new LastResultPerKeySink())
                .uid("last-result-per-key")
                .setParallelism(KEYED_PARALLELISM);
        // a task of its own, so that blocking in a checkpoint holds up no other task
        sequence.map(new CheckpointBlocker())
                .uid("checkpoint-blocker")
                .setParallelism(1)
                .disableChaining()
                .sinkTo(new DiscardingSink<>())
                .uid("discard")
                .setParallelism(1);
        return env;
    }

    private static Set<Path> unreferencedSharedFilesUnchecked(Path jobDirectory) {
        try {
            return RetainedCheckpoints.unreferencedSharedFiles(jobDirectory);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Runs the job in a JVM of its own, on a MiniCluster, through the same checkpoints as {@link
     * #runAndCheckpoint}, then blocks the next checkpoint in {@link CheckpointBlocker} after the
     * keyed tasks took their part of it, and prints {@value #BLOCKED} with the job and checkpoint
     * id. The test then kills the JVM: nothing is left to abort the checkpoint or discard its
     * uploads, as after a {@code kill -9} of a whole cluster.
     */
    static final class KilledMidCheckpoint {

        static final String BLOCKED = "BLOCKED";

        public static void main(String[] args) throws Exception {
            final Path checkpointsBase = Path.of(args[0]);
            // every file a real file in shared/, none inlined into the checkpoint's meta data
            final Configuration config = clusterConfiguration();
            config.set(CheckpointingOptions.FS_SMALL_FILE_THRESHOLD, MemorySize.ZERO);
            final MiniCluster cluster =
                    new MiniCluster(
                            new MiniClusterConfiguration.Builder()
                                    .setNumTaskManagers(1)
                                    .setNumSlotsPerTaskManager(KEYED_PARALLELISM + 1)
                                    .setConfiguration(config)
                                    .build());
            cluster.start();
            final JobID jobId = runAndCheckpoint(cluster, checkpointsBase, config);
            // the retained checkpoints only, so that what the kill leaves is the blocked one's
            if (!RetainedCheckpoints.awaitOnlyRetainedCheckpoints(
                    RetainedCheckpoints.jobDirectory(checkpointsBase, jobId),
                    IncrementalTestJobs.WAIT_TIMEOUT)) {
                throw new IllegalStateException("subsumed checkpoints were not removed");
            }

            final long emitted = (CHECKPOINTS + 1) * STEP;
            SequenceGate.allowUpTo(emitted);
            SequenceGate.awaitPosition(emitted);
            CheckpointBlocker.blockNext = true;
            cluster.triggerCheckpoint(jobId, CheckpointType.CONFIGURED);
            CheckpointBlocker.blocked.await();
            System.out.println(BLOCKED + " " + jobId + " " + CheckpointBlocker.blockedCheckpoint);
            System.out.flush();
            // until killed
            new CountDownLatch(1).await();
        }

        static Process start(Path checkpointsBase) throws IOException {
            final List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-Xmx768m");
            for (String argument : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (argument.startsWith("--add-opens") || argument.startsWith("-Dlog4j")) {
                    command.add(argument);
                }
            }
            command.add("-cp");
            command.add(
                    System.getProperty(
                            "surefire.test.class.path", System.getProperty("java.class.path")));
            command.add(KilledMidCheckpoint.class.getName());
            command.add(checkpointsBase.toString());
            return new ProcessBuilder(command)
                    .redirectError(
                            checkpointsBase
                                    .resolveSibling(checkpointsBase.getFileName() + "-process.err")
                                    .toFile())
                    .start();
        }

        /**
         * The job id and checkpoint id the process printed; fails if it ended before. Reads the
         * process's output to its end, so that the process never waits on a full pipe.
         */
        static String[] awaitBlockedCheckpoint(Process process) throws Exception {
            final CompletableFuture<String[]> blocked = new CompletableFuture<>();
            final Thread reader =
                    new Thread(
                            () -> {
                                try (BufferedReader lines =
                                        new BufferedReader(
                                                new InputStreamReader(
                                                        process.getInputStream(),
                                                        StandardCharsets.UTF_8))) {
                                    String line;
                                    while ((line = lines.readLine()) != null) {
                                        if (line.startsWith(BLOCKED + " ")) {
                                            blocked.complete(
                                                    line.substring(BLOCKED.length() + 1)
                                                            .split(" "));
                                        }
                                    }
                                    blocked.completeExceptionally(
                                            new IllegalStateException(
                                                    "the job's process ended before a checkpoint"
                                                            + " blocked; see its -process.err"
                                                            + " file"));
                                } catch (IOException e) {
                                    blocked.completeExceptionally(e);
                                }
                            },
                            "killed-mid-checkpoint-output");
            reader.setDaemon(true);
            reader.start();
            return blocked.get(
                    2 * IncrementalTestJobs.WAIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    /** Blocks in the first checkpoint after {@link #blockNext} was set, until cancelled. */
    static final class CheckpointBlocker extends RichMapFunction<Long, Long>
            implements CheckpointedFunction {

        private static final long serialVersionUID = 1L;

        static volatile boolean blockNext;
        static volatile long blockedCheckpoint;
        static volatile CountDownLatch blocked = new CountDownLatch(1);

        static void reset() {
            blockNext = false;
            blockedCheckpoint = -1;
            blocked = new CountDownLatch(1);
        }

        @Override
        public Long map(Long value) {
            return value;
        }

        @Override
        public void snapshotState(FunctionSnapshotContext context) throws Exception {
            if (blockNext) {
                blockNext = false;
                blockedCheckpoint = context.getCheckpointId();
                blocked.countDown();
                // until the cancellation interrupts the task
                new CountDownLatch(1).await();
            }
        }

        @Override
        public void initializeState(FunctionInitializationContext context) {}
    }
}
