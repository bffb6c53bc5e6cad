package io.statebackend.incremental.model;

import io.statebackend.incremental.IncrementalRocksDBOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions.PriorityQueueStateType;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * The parameters of one run, all drawn from its seed, so that different seeds explore different
 * corners (one retained checkpoint or three, no lost notifications or many, ...).
 */
final class ModelConfig {

    static final int MAX_PARALLELISM = 128;

    final long seed;
    final int steps;
    final int maxRetainedCheckpoints;
    final int maxConcurrentCheckpoints;
    final int maxKeptSavepoints;
    final int keySpace;
    final double lossRate;
    final double duplicationRate;
    final int fileSizeThreshold;
    final PriorityQueueStateType initialTimerService;
    final boolean timerServicePerRestore;
    final int checkAllEvery;
    final Map<StepKind, Double> weights;
    final Set<StepKind> excluded;
    final boolean uploadAhead;
    final boolean blobFiles;

    /**
     * @param excluded steps the run never takes, to narrow down a failure (the seed then draws
     *     other steps)
     */
    ModelConfig(long seed, int steps, Set<StepKind> excluded) {
        Random random = new Random(seed ^ 0x5DEECE66DL);
        this.seed = seed;
        this.steps = steps;
        this.maxRetainedCheckpoints = 1 + random.nextInt(3);
        this.maxConcurrentCheckpoints = 1 + random.nextInt(3);
        this.maxKeptSavepoints = 1 + random.nextInt(3);
        this.keySpace = new int[] {20, 60, 150, 300}[random.nextInt(4)];
        this.lossRate = new double[] {0.0, 0.05, 0.2, 0.4}[random.nextInt(4)];
        this.duplicationRate = new double[] {0.0, 0.05, 0.2}[random.nextInt(3)];
        this.fileSizeThreshold = new int[] {0, 1024, 4096}[random.nextInt(3)];
        this.initialTimerService =
                random.nextBoolean() ? PriorityQueueStateType.HEAP : PriorityQueueStateType.ROCKSDB;
        this.timerServicePerRestore = random.nextBoolean();
        this.checkAllEvery = 25 + random.nextInt(76);
        this.excluded = excluded;
        this.weights = new EnumMap<>(StepKind.class);
        for (StepKind kind : StepKind.values()) {
            double factor =
                    kind.isDisruptive()
                            ? 0.3 + 0.9 * random.nextDouble()
                            : 0.4 + 1.6 * random.nextDouble();
            double weight = kind.defaultWeight() * factor;
            weights.put(kind, excluded.contains(kind) ? 0.0 : weight);
        }
        // drawn last, so that the other parameters of a seed stay what they were before; a
        // property may force each, to tell whether a failure depends on it
        this.uploadAhead = drawnUnlessForced(random, "protocol.model.upload-ahead");
        this.blobFiles = drawnUnlessForced(random, "protocol.model.blob-files");
    }

    /** A drawn switch, or the value of the system property if it is set. */
    private static boolean drawnUnlessForced(Random random, String property) {
        boolean drawn = random.nextBoolean();
        String forced = System.getProperty(property, "");
        return forced.isEmpty() ? drawn : Boolean.parseBoolean(forced);
    }

    /** The backend's configuration for this run's subtasks. */
    Map<String, String> backendSettings() {
        Map<String, String> settings = new HashMap<>();
        settings.put(
                IncrementalRocksDBOptions.CHECKPOINT_UPLOAD_AHEAD.key(),
                String.valueOf(uploadAhead));
        settings.put(IncrementalRocksDBOptions.BLOB_FILES_ENABLED.key(), String.valueOf(blobFiles));
        // the model's values are short strings: every one into a blob file
        settings.put(IncrementalRocksDBOptions.BLOB_FILES_MIN_VALUE_SIZE.key(), "0b");
        return settings;
    }

    String describe() {
        return "retained="
                + maxRetainedCheckpoints
                + " concurrent="
                + maxConcurrentCheckpoints
                + " savepointsKept="
                + maxKeptSavepoints
                + " keys="
                + keySpace
                + " loss="
                + lossRate
                + " duplication="
                + duplicationRate
                + " fileSizeThreshold="
                + fileSizeThreshold
                + " timers="
                + initialTimerService
                + (timerServicePerRestore ? " (random per restore)" : "")
                + " checkAllEvery="
                + checkAllEvery
                + " uploadAhead="
                + uploadAhead
                + " blobFiles="
                + blobFiles
                + (excluded.isEmpty() ? "" : " excluded=" + excluded);
    }
}
