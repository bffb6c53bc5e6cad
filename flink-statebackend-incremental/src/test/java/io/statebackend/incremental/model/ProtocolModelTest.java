package io.statebackend.incremental.model;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A randomized, model-based test of the snapshot protocol: real operators with timers on backends
 * of this project, driven through thousands of random steps (records, watermarks, overlapping
 * checkpoints, savepoints, lost, late, duplicated and reordered notifications, aborts, failovers,
 * NO_CLAIM restores, rescaling) against a model JobManager that really deletes files, so that lost
 * state shows up as a failed restore or a rejected checkpoint.
 *
 * <p>{@code -Dprotocol.model.steps=N} sets the steps per seed (default {@value #DEFAULT_STEPS});
 * {@code -Dprotocol.model.seeds=1,2,3} the seeds, or {@code random:K} for K new ones; {@code
 * -Dprotocol.model.exclude=RESTORE_NO_CLAIM,...} leaves out kinds of steps ({@link StepKind}) to
 * narrow down a failure; {@code -Dprotocol.model.upload-ahead=true|false} forces uploads ahead of
 * checkpoints on or off (otherwise each seed draws it). A failure names its seed, its step and the
 * last steps that led to it; rerun that seed to replay them.
 */
class ProtocolModelTest {

    static final int DEFAULT_STEPS = 300;
    static final String DEFAULT_SEEDS = "4,5,1";

    @TempDir Path tempDir;

    @TestFactory
    List<DynamicTest> protocolModel() {
        int steps = Integer.getInteger("protocol.model.steps", DEFAULT_STEPS);
        Set<StepKind> excluded = EnumSet.noneOf(StepKind.class);
        for (String kind : System.getProperty("protocol.model.exclude", "").split(",")) {
            if (!kind.trim().isEmpty()) {
                excluded.add(StepKind.valueOf(kind.trim()));
            }
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (long seed : seeds(System.getProperty("protocol.model.seeds", DEFAULT_SEEDS))) {
            tests.add(
                    DynamicTest.dynamicTest("seed " + seed, () -> runSeed(seed, steps, excluded)));
        }
        return tests;
    }

    private void runSeed(long seed, int steps, Set<StepKind> excluded) throws Exception {
        ModelConfig config = new ModelConfig(seed, steps, excluded);
        Path workDirectory = Files.createDirectories(tempDir.resolve("seed-" + seed));
        long start = System.nanoTime();
        ProtocolModelRun run = new ProtocolModelRun(config, workDirectory);
        Throwable failure = null;
        try {
            run.run();
        } catch (Throwable t) {
            failure = t;
        } finally {
            try {
                run.close();
            } catch (Throwable t) {
                if (failure == null) {
                    failure = t;
                } else {
                    failure.addSuppressed(t);
                }
            }
        }
        if (failure == null) {
            try {
                run.checkNoLocalFilesLeft();
            } catch (Throwable t) {
                failure = t;
            }
        }
        long seconds = (System.nanoTime() - start) / 1_000_000_000L;
        RunStatistics statistics = run.statistics();
        String summary =
                String.format(
                        "protocol model seed %d (%s): %s, %ds%n  %s",
                        seed,
                        config.describe(),
                        failure == null ? "passed" : "FAILED",
                        seconds,
                        summarize(statistics));
        System.out.println(summary);
        if (failure != null) {
            String report =
                    "Protocol model failed: seed "
                            + seed
                            + " at step "
                            + run.log().currentStep()
                            + " of "
                            + steps
                            + " (rerun with -Dprotocol.model.seeds="
                            + seed
                            + " -Dprotocol.model.steps="
                            + steps
                            + ")\n"
                            + failure
                            + "\nModel: "
                            + run.describeState()
                            + "\nLast steps:\n"
                            + run.log().lastSteps();
            System.out.println(report);
            throw new AssertionError(report, failure);
        }
    }

    private static String summarize(RunStatistics s) {
        return String.format(
                "steps %d; checkpoints completed %d (FULL %d), aborted %d (declined %d, subsumed"
                        + " while pending %d); savepoints native %d canonical %d (deleted %d);"
                        + " notifications sent %d, lost %d, reordered %d, late (after a newer"
                        + " snapshot) %d, duplicated %d; late acks %d (rejected %d); restores"
                        + " CLAIM (failover) %d, NO_CLAIM %d (sources deleted %d); rescales %d;"
                        + " restore checks %d;"
                        + " timers fired %d; files in storage %d, left %d%n  all counters: %s",
                s.get("steps"),
                s.get("completed.CHECKPOINT") + s.get("completed.FULL_CHECKPOINT"),
                s.get("completed.FULL_CHECKPOINT"),
                s.get("aborted.CHECKPOINT") + s.get("aborted.FULL_CHECKPOINT"),
                s.get("declined"),
                s.get("aborted.subsumedWhilePending"),
                s.get("completed.NATIVE_SAVEPOINT"),
                s.get("completed.CANONICAL_SAVEPOINT"),
                s.get("savepoints.deleted"),
                s.get("notifications.sent"),
                s.get("notifications.lost"),
                s.get("notifications.reordered"),
                s.get("notifications.deliveredAfterNewerSnapshot"),
                s.get("notifications.duplicated"),
                s.get("acks.late"),
                s.get("acks.lateRejectedByRegistry"),
                s.get("restores.failover"),
                s.get("restores.NO_CLAIM"),
                s.get("noClaim.sourcesDeleted"),
                s.get("rescales"),
                s.get("checks.restore"),
                s.get("timersFired"),
                s.get("files.inStorage"),
                s.get("files.left"),
                s.summary());
    }

    private static List<Long> seeds(String spec) {
        List<Long> seeds = new ArrayList<>();
        if (spec.startsWith("random:")) {
            Random random = new Random();
            int count = Integer.parseInt(spec.substring("random:".length()));
            for (int i = 0; i < count; i++) {
                seeds.add(random.nextLong() & Long.MAX_VALUE);
            }
            return seeds;
        }
        for (String seed : spec.split(",")) {
            if (!seed.trim().isEmpty()) {
                seeds.add(Long.parseLong(seed.trim()));
            }
        }
        return seeds;
    }
}
