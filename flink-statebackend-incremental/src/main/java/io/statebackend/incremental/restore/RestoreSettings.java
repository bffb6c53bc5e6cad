package io.statebackend.incremental.restore;

import io.statebackend.incremental.IncrementalRocksDBConfigurableOptions;
import io.statebackend.incremental.IncrementalRocksDBOptions;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.IllegalConfigurationException;
import org.apache.flink.configuration.ReadableConfig;

import java.io.Serializable;

/**
 * How incremental snapshots are restored and rescaled: Flink's restore keys, which all carry a
 * meaning here, and the backend's own check of local copies. Read once when the backend is
 * configured, so that a wrong value fails at start.
 */
public final class RestoreSettings implements Serializable {

    private static final long serialVersionUID = 1L;

    private final double overlapFractionThreshold;
    private final boolean useDeleteFilesInRange;
    private final boolean moveFiles;
    private final boolean asyncCompactAfterRescale;
    private final boolean verifyLocalCopyChecksums;

    private RestoreSettings(ReadableConfig config) {
        // validated with the other RocksDB keys (ConfiguredRocksDBOptions) before this is read
        this.overlapFractionThreshold =
                config.get(
                        IncrementalRocksDBConfigurableOptions.RESTORE_OVERLAP_FRACTION_THRESHOLD);
        this.useDeleteFilesInRange =
                config.get(
                        IncrementalRocksDBConfigurableOptions
                                .USE_DELETE_FILES_IN_RANGE_DURING_RESCALING);
        this.moveFiles =
                config.get(IncrementalRocksDBConfigurableOptions.USE_INGEST_DB_RESTORE_MODE);
        this.asyncCompactAfterRescale =
                config.get(
                        IncrementalRocksDBConfigurableOptions
                                .INCREMENTAL_RESTORE_ASYNC_COMPACT_AFTER_RESCALE);
        this.verifyLocalCopyChecksums =
                config.get(IncrementalRocksDBOptions.LOCAL_RECOVERY_VERIFY_CHECKSUMS);
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
