package io.statebackend.incremental.model;

import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;

import org.apache.flink.runtime.checkpoint.OperatorSubtaskState;
import org.apache.flink.runtime.state.KeyGroupRangeAssignment;

import javax.annotation.Nullable;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One seeded run: random steps against real subtasks and the model JobManager, each checked against
 * the expected state. Every random choice comes from the seed and the model's own state, so a seed
 * replays the same steps (what RocksDB compacts in the background may differ).
 */
final class ProtocolModelRun implements AutoCloseable {

    private static final int MAX_PARALLELISM = ModelConfig.MAX_PARALLELISM;
    private static final String TEXT_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

    private final ModelConfig config;
    private final Random random;
    private final Path localDirectory;
    private final Path storageRoot;
    private final RunStatistics statistics = new RunStatistics();
    private final StepLog log = new StepLog(50);
    private final NotificationChannel channel;
    private final ModelJobManager jobManager;

    private List<Subtask> subtasks = new ArrayList<>();
    private ExpectedState live = new ExpectedState(MAX_PARALLELISM);
    private PriorityQueueStateType timerService;
    private long watermark;
    private int generation;
    private boolean settling;

    ProtocolModelRun(ModelConfig config, Path workDirectory) throws Exception {
        this.config = config;
        this.random = new Random(config.seed);
        this.localDirectory = Files.createDirectories(workDirectory.resolve("local"));
        this.storageRoot = Files.createDirectories(workDirectory.resolve("storage"));
        this.channel =
                new NotificationChannel(
                        random, config.lossRate, config.duplicationRate, statistics, log);
        this.jobManager =
                new ModelJobManager(
                        storageRoot.resolve("checkpoints"),
                        storageRoot.resolve("savepoints"),
                        config.maxRetainedCheckpoints,
                        config.maxKeptSavepoints,
                        config.fileSizeThreshold,
                        MAX_PARALLELISM,
                        new Gateway(),
                        statistics,
                        log);
        this.timerService = config.initialTimerService;
    }

    RunStatistics statistics() {
        return statistics;
    }

    StepLog log() {
        return log;
    }

    String describeState() {
        return jobManager.describe()
                + " subtasks="
                + subtasks
                + " queued notifications="
                + channel.size()
                + " watermark="
                + watermark;
    }

    /** Runs all steps, then settles and checks what is left in storage. */
    void run() throws Exception {
        log.beginStep(0, "START " + config.describe());
        startSubtasks(1 + random.nextInt(3), null);
        for (int step = 1; step <= config.steps; step++) {
            StepKind kind = nextStep();
            log.beginStep(step, kind.name());
            long start = System.nanoTime();
            execute(kind);
            statistics.add("millis." + kind, (System.nanoTime() - start) / 1_000_000L);
            statistics.increment("steps");
            if (step % config.checkAllEvery == 0) {
                log.detail("check every restorable snapshot");
                for (ModelSnapshot snapshot : jobManager.restorableSnapshots()) {
                    verifyRestore(snapshot);
                }
            }
        }
        settle();
    }

    private StepKind nextStep() {
        double total = 0;
        Map<StepKind, Double> available = new TreeMap<>();
        for (StepKind kind : StepKind.values()) {
            if (config.weights.get(kind) > 0 && isAvailable(kind)) {
                double weight = config.weights.get(kind);
                available.put(kind, weight);
                total += weight;
            }
        }
        double choice = random.nextDouble() * total;
        for (Map.Entry<StepKind, Double> entry : available.entrySet()) {
            choice -= entry.getValue();
            if (choice < 0) {
                return entry.getKey();
            }
        }
        return StepKind.PROCESS;
    }

    private boolean isAvailable(StepKind kind) {
        switch (kind) {
            case TRIGGER_CHECKPOINT:
            case TRIGGER_FULL_CHECKPOINT:
                return pendingCheckpoints() < config.maxConcurrentCheckpoints;
            case TRIGGER_SAVEPOINT:
                return pendingCheckpoints() == jobManager.pendingSnapshots().size();
            case RUN_ASYNC_PART:
            case FINISH_SNAPSHOT:
                return !asyncParts(false).isEmpty();
            case DECLINE:
                return !asyncParts(true).isEmpty();
            case ABORT:
                return !jobManager.pendingSnapshots().isEmpty();
            case DELIVER:
            case DELIVER_ALL:
                return !channel.isEmpty();
            case RESTORE_NO_CLAIM:
            case CHECK_RESTORE:
                return !jobManager.restorableSnapshots().isEmpty();
            default:
                return true;
        }
    }

    private int pendingCheckpoints() {
        int count = 0;
        for (PendingSnapshot snapshot : jobManager.pendingSnapshots()) {
            if (!snapshot.isSavepoint()) {
                count++;
            }
        }
        return count;
    }

    private void execute(StepKind kind) throws Exception {
        switch (kind) {
            case PROCESS:
                process(1 + random.nextInt(40));
                break;
            case WATERMARK:
                advanceWatermark(watermark + 1 + random.nextInt(400));
                break;
            case TRIGGER_CHECKPOINT:
                trigger(ModelSnapshot.Kind.CHECKPOINT);
                break;
            case TRIGGER_FULL_CHECKPOINT:
                trigger(ModelSnapshot.Kind.FULL_CHECKPOINT);
                break;
            case TRIGGER_SAVEPOINT:
                trigger(
                        random.nextBoolean()
                                ? ModelSnapshot.Kind.NATIVE_SAVEPOINT
                                : ModelSnapshot.Kind.CANONICAL_SAVEPOINT);
                break;
            case RUN_ASYNC_PART:
                {
                    List<AsyncPart> parts = asyncParts(false);
                    runAsyncPart(parts.get(random.nextInt(parts.size())));
                    break;
                }
            case FINISH_SNAPSHOT:
                {
                    List<AsyncPart> parts = asyncParts(false);
                    long checkpointId = parts.get(random.nextInt(parts.size())).checkpointId;
                    List<AsyncPart> ofSnapshot = new ArrayList<>();
                    for (AsyncPart part : parts) {
                        if (part.checkpointId == checkpointId) {
                            ofSnapshot.add(part);
                        }
                    }
                    Collections.shuffle(ofSnapshot, random);
                    for (AsyncPart part : ofSnapshot) {
                        runAsyncPart(part);
                    }
                    break;
                }
            case DECLINE:
                {
                    List<AsyncPart> parts = asyncParts(true);
                    AsyncPart part = parts.get(random.nextInt(parts.size()));
                    part.subtask.cancelAsynchronousPart(part.checkpointId);
                    statistics.increment("declined");
                    jobManager.abort(part.checkpointId, "declined by " + part.subtask, true);
                    break;
                }
            case ABORT:
                {
                    List<PendingSnapshot> pending = jobManager.pendingSnapshots();
                    PendingSnapshot snapshot = pending.get(random.nextInt(pending.size()));
                    jobManager.abort(snapshot.checkpointId(), "expired", true);
                    break;
                }
            case DELIVER:
                deliver(channel.takeAny(true));
                break;
            case DELIVER_ALL:
                deliverAll();
                break;
            case FAILOVER:
                failover();
                break;
            case RESTORE_NO_CLAIM:
                restoreNoClaim();
                break;
            case CHECK_RESTORE:
                {
                    List<ModelSnapshot> snapshots = jobManager.restorableSnapshots();
                    verifyRestore(snapshots.get(random.nextInt(snapshots.size())));
                    break;
                }
            case CHECK_LIVE:
                checkLive();
                break;
            default:
                throw new IllegalStateException("Unknown step " + kind);
        }
    }

    // ------------------------------------------------------------------------
    //  records and timers
    // ------------------------------------------------------------------------

    private void process(int count) throws Exception {
        int timers = 0;
        for (int i = 0; i < count; i++) {
            Command command = randomCommand();
            if (command.getKind() == Command.Kind.REGISTER_TIMER) {
                timers++;
            }
            subtaskFor(command.getKey()).process(command, watermark);
            live.apply(command);
        }
        statistics.add("records", count);
        log.detail(count + " records, " + timers + " timers registered");
    }

    private Command randomCommand() {
        int key = random.nextInt(config.keySpace);
        int choice = random.nextInt(100);
        if (choice < 20) {
            return new Command(key, Command.Kind.SET_VALUE, randomText(), 0, 0);
        } else if (choice < 23) {
            return new Command(key, Command.Kind.CLEAR_VALUE, "", 0, 0);
        } else if (choice < 40) {
            return new Command(key, Command.Kind.ADD_TO_LIST, randomText(), 0, 0);
        } else if (choice < 42) {
            return new Command(key, Command.Kind.CLEAR_LIST, "", 0, 0);
        } else if (choice < 65) {
            return new Command(key, Command.Kind.PUT_IN_MAP, randomText(), random.nextInt(24), 0);
        } else if (choice < 72) {
            return new Command(key, Command.Kind.REMOVE_FROM_MAP, "", random.nextInt(24), 0);
        } else if (choice < 87) {
            return new Command(
                    key, Command.Kind.REGISTER_TIMER, "", 0, watermark + 1 + random.nextInt(2000));
        } else if (choice < 98) {
            ExpectedState.KeyState state = live.get(key);
            long timestamp =
                    state != null && !state.getTimers().isEmpty() && random.nextInt(4) > 0
                            ? randomElement(state.getTimers())
                            : watermark + 1 + random.nextInt(2000);
            return new Command(key, Command.Kind.DELETE_TIMER, "", 0, timestamp);
        } else {
            return new Command(key, Command.Kind.CLEAR_KEY, "", 0, 0);
        }
    }

    private long randomElement(TreeSet<Long> values) {
        int index = random.nextInt(values.size());
        for (long value : values) {
            if (index-- == 0) {
                return value;
            }
        }
        throw new IllegalStateException();
    }

    private String randomText() {
        int choice = random.nextInt(100);
        int length =
                choice < 70
                        ? 1 + random.nextInt(64)
                        : choice < 95 ? 64 + random.nextInt(448) : 512 + random.nextInt(3584);
        StringBuilder text = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            text.append(TEXT_ALPHABET.charAt(random.nextInt(TEXT_ALPHABET.length())));
        }
        return text.toString();
    }

    private Subtask subtaskFor(int key) {
        return subtasks.get(
                KeyGroupRangeAssignment.assignKeyToParallelOperator(
                        key, MAX_PARALLELISM, subtasks.size()));
    }

    private void advanceWatermark(long newWatermark) throws Exception {
        watermark = newWatermark;
        int fired = 0;
        for (Subtask subtask : subtasks) {
            List<String> actual = subtask.advanceWatermark(newWatermark);
            List<String> expected = live.advanceWatermark(newWatermark, subtask.getKeyGroupRange());
            assertThat(actual)
                    .as("timers fired by %s at watermark %d", subtask, newWatermark)
                    .isEqualTo(expected);
            fired += actual.size();
        }
        statistics.add("timersFired", fired);
        log.detail("watermark " + newWatermark + ", " + fired + " timers fired");
    }

    // ------------------------------------------------------------------------
    //  snapshots
    // ------------------------------------------------------------------------

    private void trigger(ModelSnapshot.Kind kind) throws Exception {
        PendingSnapshot snapshot = jobManager.trigger(kind, live.copy(), subtasks.size());
        log.detail(
                "trigger "
                        + snapshot
                        + " (asked for "
                        + kind
                        + "), state of "
                        + live.numberOfKeys()
                        + " keys with "
                        + live.numberOfTimers()
                        + " timers");
        for (Subtask subtask : subtasks) {
            subtask.snapshotSynchronousPart(
                    snapshot.checkpointId(),
                    snapshot.timestamp(),
                    snapshot.options(),
                    jobManager.taskStreamFactory(snapshot));
        }
    }

    /** The asynchronous part of one snapshot on one subtask. */
    private static final class AsyncPart {
        final Subtask subtask;
        final long checkpointId;

        AsyncPart(Subtask subtask, long checkpointId) {
            this.subtask = subtask;
            this.checkpointId = checkpointId;
        }
    }

    private List<AsyncPart> asyncParts(boolean onlyOfPendingSnapshots) {
        List<AsyncPart> parts = new ArrayList<>();
        for (Subtask subtask : subtasks) {
            for (long checkpointId : new TreeSet<>(subtask.asynchronousParts())) {
                if (!onlyOfPendingSnapshots || jobManager.pending(checkpointId) != null) {
                    parts.add(new AsyncPart(subtask, checkpointId));
                }
            }
        }
        return parts;
    }

    private void runAsyncPart(AsyncPart part) throws Exception {
        log.detail(part.subtask + " runs the asynchronous part of " + part.checkpointId);
        OperatorSubtaskState state = part.subtask.runAsynchronousPart(part.checkpointId);
        ModelSnapshot completed =
                jobManager.acknowledge(part.checkpointId, part.subtask.getIndex(), state);
        if (completed != null) {
            verifyRestore(completed);
        }
    }

    // ------------------------------------------------------------------------
    //  notifications
    // ------------------------------------------------------------------------

    /** Puts what the JobManager sends on the channel, to every current subtask. */
    private final class Gateway implements ModelJobManager.TaskGateway {
        @Override
        public void checkpointComplete(long checkpointId) {
            channel.send(NotificationChannel.Kind.COMPLETE, checkpointId, subtasks, !settling);
        }

        @Override
        public void checkpointAborted(long checkpointId) {
            channel.send(NotificationChannel.Kind.ABORTED, checkpointId, subtasks, !settling);
        }

        @Override
        public void checkpointSubsumed(long checkpointId) {
            channel.send(NotificationChannel.Kind.SUBSUMED, checkpointId, subtasks, !settling);
        }
    }

    private void deliver(NotificationChannel.Notification notification) throws Exception {
        Subtask target = notification.target();
        boolean afterNewerSnapshot = notification.checkpointId() < target.getLatestSnapshotId();
        if (afterNewerSnapshot) {
            statistics.increment("notifications.deliveredAfterNewerSnapshot");
        }
        log.detail(
                "deliver "
                        + notification
                        + (afterNewerSnapshot
                                ? " (after snapshot " + target.getLatestSnapshotId() + ")"
                                : ""));
        switch (notification.kind()) {
            case COMPLETE:
                target.notifyCheckpointComplete(notification.checkpointId());
                break;
            case ABORTED:
                target.notifyCheckpointAborted(notification.checkpointId());
                break;
            case SUBSUMED:
                target.notifyCheckpointSubsumed(notification.checkpointId());
                break;
            default:
                throw new IllegalStateException("Unknown notification " + notification);
        }
    }

    private void deliverAll() throws Exception {
        while (!channel.isEmpty()) {
            deliver(channel.takeAny(false));
        }
    }

    // ------------------------------------------------------------------------
    //  restores
    // ------------------------------------------------------------------------

    private void failover() throws Exception {
        int previousParallelism = subtasks.size();
        closeSubtasks();
        ModelSnapshot latest = jobManager.failover();
        int parallelism = 1 + random.nextInt(3);
        chooseTimerService();
        live = latest == null ? new ExpectedState(MAX_PARALLELISM) : latest.expected().copy();
        statistics.increment("restores.failover");
        if (parallelism != previousParallelism) {
            statistics.increment("rescales");
        }
        log.detail(
                "failover to "
                        + (latest == null ? "empty state" : latest.label())
                        + ", parallelism "
                        + previousParallelism
                        + " -> "
                        + parallelism
                        + ", timers "
                        + timerService);
        startSubtasks(parallelism, latest);
        checkLive();
    }

    private void restoreNoClaim() throws Exception {
        List<ModelSnapshot> candidates = jobManager.noClaimCandidates();
        ModelSnapshot source =
                random.nextBoolean()
                        ? candidates.get(candidates.size() - 1)
                        : candidates.get(random.nextInt(candidates.size()));
        int previousParallelism = subtasks.size();
        closeSubtasks();
        ModelSnapshot entry = jobManager.restartFromNoClaim(source);
        int parallelism = random.nextBoolean() ? previousParallelism : 1 + random.nextInt(3);
        int sourceParallelism = jobManager.parallelismOf(entry);
        if (parallelism != sourceParallelism) {
            statistics.increment("rescales");
        }
        chooseTimerService();
        live = source.expected().copy();
        log.detail(
                "new job"
                        + jobManager.jobNumber()
                        + " from "
                        + source.label()
                        + " in NO_CLAIM mode, parallelism "
                        + sourceParallelism
                        + " -> "
                        + parallelism
                        + ", timers "
                        + timerService);
        startSubtasks(parallelism, entry);
        checkLive();
    }

    private void chooseTimerService() {
        if (config.timerServicePerRestore) {
            timerService =
                    random.nextBoolean()
                            ? PriorityQueueStateType.HEAP
                            : PriorityQueueStateType.ROCKSDB;
        }
    }

    private void startSubtasks(int parallelism, @Nullable ModelSnapshot restoreFrom)
            throws Exception {
        generation++;
        List<OperatorSubtaskState> states =
                restoreFrom == null ? null : jobManager.assignState(restoreFrom, parallelism);
        List<Subtask> started = new ArrayList<>(parallelism);
        try {
            for (int i = 0; i < parallelism; i++) {
                started.add(
                        Subtask.start(
                                "j"
                                        + jobManager.jobNumber()
                                        + ".g"
                                        + generation
                                        + ".s"
                                        + i
                                        + "of"
                                        + parallelism,
                                i,
                                parallelism,
                                MAX_PARALLELISM,
                                timerService,
                                config.backendSettings(),
                                localDirectory,
                                states == null ? null : states.get(i)));
            }
        } catch (Throwable t) {
            for (Subtask subtask : started) {
                subtask.close();
            }
            throw new AssertionError(
                    "Could not restore "
                            + (restoreFrom == null ? "empty subtasks" : restoreFrom.label())
                            + " with parallelism "
                            + parallelism
                            + ": "
                            + t,
                    t);
        }
        subtasks = started;
    }

    private void closeSubtasks() throws Exception {
        List<Subtask> closing = subtasks;
        subtasks = new ArrayList<>();
        channel.dropFor(closing);
        for (Subtask subtask : closing) {
            subtask.close();
        }
    }

    // ------------------------------------------------------------------------
    //  checks
    // ------------------------------------------------------------------------

    private void checkLive() throws Exception {
        for (Subtask subtask : subtasks) {
            compareStates(
                    "live state of " + subtask,
                    live.statesIn(subtask.getKeyGroupRange()),
                    subtask.readState());
        }
        statistics.increment("checks.live");
    }

    /**
     * Restores a snapshot into fresh subtasks of random parallelism and timer service, compares
     * value, list and map of every key, then fires every timer and compares what fired.
     */
    private void verifyRestore(ModelSnapshot snapshot) throws Exception {
        long start = System.nanoTime();
        verifyRestoreOf(snapshot);
        statistics.add("millis.verifyRestore", (System.nanoTime() - start) / 1_000_000L);
    }

    private void verifyRestoreOf(ModelSnapshot snapshot) throws Exception {
        int parallelism = 1 + random.nextInt(3);
        PriorityQueueStateType timers =
                random.nextBoolean() ? PriorityQueueStateType.HEAP : PriorityQueueStateType.ROCKSDB;
        log.detail(
                "verify "
                        + snapshot.label()
                        + " restored with parallelism "
                        + parallelism
                        + ", timers "
                        + timers);
        List<OperatorSubtaskState> states = jobManager.assignState(snapshot, parallelism);
        for (int i = 0; i < parallelism; i++) {
            Subtask subtask;
            try {
                subtask =
                        Subtask.start(
                                "verify-" + snapshot.label() + "-s" + i + "of" + parallelism,
                                i,
                                parallelism,
                                MAX_PARALLELISM,
                                timers,
                                config.backendSettings(),
                                localDirectory,
                                states.get(i));
            } catch (Throwable t) {
                throw new AssertionError(
                        "Could not restore " + snapshot.label() + ": " + t.getMessage(), t);
            }
            try {
                compareStates(
                        "state restored from " + snapshot.label() + " by " + subtask,
                        snapshot.expected().statesIn(subtask.getKeyGroupRange()),
                        subtask.readState());
                List<String> fired = subtask.advanceWatermark(Long.MAX_VALUE);
                List<String> expected =
                        snapshot.expected().allTimerOutputs(subtask.getKeyGroupRange());
                assertThat(fired)
                        .as("timers restored from %s by %s", snapshot.label(), subtask)
                        .isEqualTo(expected);
            } finally {
                subtask.close();
            }
        }
        statistics.increment("checks.restore");
    }

    private static void compareStates(
            String what,
            TreeMap<Integer, ExpectedState.KeyState> expected,
            TreeMap<Integer, ExpectedState.KeyState> actual) {
        List<String> differences = new ArrayList<>();
        TreeSet<Integer> keys = new TreeSet<>(expected.keySet());
        keys.addAll(actual.keySet());
        for (int key : keys) {
            ExpectedState.KeyState wanted = expected.get(key);
            ExpectedState.KeyState found = actual.get(key);
            boolean same =
                    wanted != null && found != null
                            ? wanted.sameStateAs(found)
                            : Objects.equals(wanted, found);
            if (!same) {
                differences.add(
                        "key "
                                + key
                                + ": expected "
                                + (wanted == null ? "nothing" : wanted.describe())
                                + ", found "
                                + (found == null ? "nothing" : found.describe()));
            }
        }
        assertThat(differences.subList(0, Math.min(8, differences.size())))
                .as("%s: keys that differ (of %d, at most 8 shown)", what, keys.size())
                .isEmpty();
    }

    // ------------------------------------------------------------------------
    //  the end
    // ------------------------------------------------------------------------

    /**
     * Lets everything in flight arrive and finish, completes more checkpoints than are retained
     * with every notification delivered (so that the registry drops what is no longer used), then
     * checks every restorable snapshot and that storage holds exactly what they refer to.
     */
    private void settle() throws Exception {
        settling = true;
        log.beginStep(config.steps + 1, "SETTLE");
        deliverAll();
        for (AsyncPart part : asyncParts(false)) {
            runAsyncPart(part);
        }
        deliverAll();
        for (int i = 0; i <= config.maxRetainedCheckpoints; i++) {
            trigger(ModelSnapshot.Kind.CHECKPOINT);
            for (AsyncPart part : asyncParts(false)) {
                runAsyncPart(part);
            }
            deliverAll();
        }
        checkLive();
        for (ModelSnapshot snapshot : jobManager.restorableSnapshots()) {
            verifyRestore(snapshot);
        }
        FileReport report = jobManager.checkFiles();
        statistics.add("files.inStorage", report.filesPresent());
        statistics.add("files.left", report.unreferenced().size());
        statistics.add("files.missing", report.missing().size());
        log.detail(report.describe(storageRoot));
        assertThat(report.isClean())
                .as("storage after settling: %s", report.describe(storageRoot))
                .isTrue();
    }

    @Override
    public void close() throws Exception {
        closeSubtasks();
    }

    /** Once every subtask is closed, the backends have deleted all their local files. */
    void checkNoLocalFilesLeft() throws Exception {
        assertThat(SnapshotFiles.filesBelow(localDirectory))
                .as("local files left after every backend was disposed")
                .isEmpty();
    }
}
