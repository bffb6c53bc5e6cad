package io.statebackend.incremental.restore;

import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.ConfigOptions;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;

import java.io.Serializable;

/**
 * How incremental snapshots are restored and rescaled: Flink's restore keys where they carry a
 * meaning for this backend, and its own check of local copies. Read once when the backend is
 * configured, so that a wrong value fails at start.
 */
public final class RestoreSettings implements Serializable {

    private static final long serialVersionUID = 1L;

    /** Flink's key: copy mode only opens a snapshot as the base if it overlaps this much. */
    public static final ConfigOption<Double> RESTORE_OVERLAP_FRACTION_THRESHOLD =
            ConfigOptions.key("state.backend.rocksdb.restore-overlap-fraction-threshold")
                    .doubleType()
                    .defaultValue(0.0)
                    .withDescription(
                            "When rescaling by copying entries: a snapshot is opened as the base"
                                    + " database only if at least this fraction of its key"
                                    + " groups belongs to the new range; otherwise the restore"
                                    + " starts from an empty database.");

    /** Flink's key: drop whole files outside the new range before clipping. */
    public static final ConfigOption<Boolean> USE_DELETE_FILES_IN_RANGE =
            ConfigOptions.key("state.backend.rocksdb.rescaling.use-delete-files-in-range")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether rescaling first deletes the SST files that lie entirely"
                                    + " outside the new key-group range, before clipping.");

    /** Flink's key; here it switches rescaling by moving files on or off. */
    public static final ConfigOption<Boolean> USE_INGEST_DB_RESTORE_MODE =
            ConfigOptions.key("state.backend.rocksdb.use-ingest-db-restore-mode")
                    .booleanType()
                    .defaultValue(true)
                    .withDescription(
                            "Whether rescaling moves SST files (export from the downloaded"
                                    + " snapshots, import into the new database, clip) instead"
                                    + " of copying entries. On by default for this backend;"
                                    + " Flink 1.20's own backend defaults to false.");

    /** Flink's key: compact the clipped range after a rescaling restore, in the background. */
    public static final ConfigOption<Boolean> ASYNC_COMPACT_AFTER_RESCALE =
            ConfigOptions.key(
                            "state.backend.rocksdb.incremental-restore-async-compact-after-rescale")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether a rescaled backend compacts its key-group range on a"
                                    + " background thread after restore; the task does not wait.");

    /** This backend's key: read every byte of a local copy, not only its sizes. */
    public static final ConfigOption<Boolean> VERIFY_LOCAL_COPY_CHECKSUMS =
            ConfigOptions.key("state.backend.incremental-rocksdb.local-recovery.verify-checksums")
                    .booleanType()
                    .defaultValue(false)
                    .withDescription(
                            "Whether restoring from a local copy (local recovery) computes the"
                                    + " CRC32C of every hard-linked SST file. Sizes are always"
                                    + " checked; downloads are always fully verified.");

    private final double overlapFractionThreshold;
    private final boolean useDeleteFilesInRange;
    private final boolean moveFiles;
    private final boolean asyncCompactAfterRescale;
    private final boolean verifyLocalCopyChecksums;

    private RestoreSettings(ReadableConfig config) {
        this.overlapFractionThreshold = config.get(RESTORE_OVERLAP_FRACTION_THRESHOLD);
        if (!(overlapFractionThreshold >= 0.0 && overlapFractionThreshold <= 1.0)) {
            throw new IllegalConfigurationException(
                    String.format(
                            "Invalid value '%s' for configuration key '%s': it must be a fraction"
                                    + " between 0 and 1.",
                            overlapFractionThreshold, RESTORE_OVERLAP_FRACTION_THRESHOLD.key()));
        }
        this.useDeleteFilesInRange = config.get(USE_DELETE_FILES_IN_RANGE);
        this.moveFiles = config.get(USE_INGEST_DB_RESTORE_MODE);
        this.asyncCompactAfterRescale = config.get(ASYNC_COMPACT_AFTER_RESCALE);
        this.verifyLocalCopyChecksums = config.get(VERIFY_LOCAL_COPY_CHECKSUMS);
    }

    /**
     * @throws IllegalConfigurationException naming the key and the value of a wrong entry
     */
    public static RestoreSettings fromConfig(ReadableConfig config) {
        try {
            return new RestoreSettings(config);
        } catch (IllegalArgumentException e) {
            throw new IllegalConfigurationException(
                    "Invalid restore configuration: " + e.getMessage(), e);
        }
    }

    /** The defaults, for code that restores without a configuration. */
    public static RestoreSettings defaults() {
        return new RestoreSettings(new Configuration());
    }

    public double getOverlapFractionThreshold() {
        return overlapFractionThreshold;
    }

    public boolean isUseDeleteFilesInRange() {
        return useDeleteFilesInRange;
    }

    /** Whether rescaling moves files (export and import) rather than copying entries. */
    public boolean isMoveFiles() {
        return moveFiles;
    }

    public boolean isAsyncCompactAfterRescale() {
        return asyncCompactAfterRescale;
    }

    public boolean isVerifyLocalCopyChecksums() {
        return verifyLocalCopyChecksums;
    }
}
