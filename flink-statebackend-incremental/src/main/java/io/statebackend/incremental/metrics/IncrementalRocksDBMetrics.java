package io.statebackend.incremental.metrics;

import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.MetricGroup;

import java.util.function.LongSupplier;

/**
 * What one keyed backend reports about its checkpoints and its restore, as gauges in the group
 * {@value #GROUP} of the operator's metric group.
 *
 * <p>The figures of the last checkpoint are replaced as a whole, so that the gauges read together
 * always describe one checkpoint; a checkpoint that finishes after a later one does not replace it.
 * Savepoints are not checkpoints and are not reported.
 */
public final class IncrementalRocksDBMetrics {

    /** The metric group of this backend, below the operator's group. */
    public static final String GROUP = "incrementalRocksDB";

    /** Id of the checkpoint the {@code lastCheckpoint*} gauges describe; -1 before the first. */
    public static final String LAST_CHECKPOINT_ID = "lastCheckpointId";

    /** Files the last checkpoint uploaded, its meta data included. */
    public static final String LAST_CHECKPOINT_UPLOADED_FILES = "lastCheckpointUploadedFiles";

    /** Bytes the last checkpoint uploaded, its meta data included (its checkpointed size). */
    public static final String LAST_CHECKPOINT_UPLOADED_BYTES = "lastCheckpointUploadedBytes";

    /** SST files the last checkpoint referred to instead of uploading them. */
    public static final String LAST_CHECKPOINT_REUSED_FILES = "lastCheckpointReusedFiles";

    /** Bytes of the SST files the last checkpoint referred to instead of uploading them. */
    public static final String LAST_CHECKPOINT_REUSED_BYTES = "lastCheckpointReusedBytes";

    /** Milliseconds the asynchronous part of the last checkpoint took: uploads and meta data. */
    public static final String LAST_CHECKPOINT_UPLOAD_DURATION = "lastCheckpointUploadDurationMs";

    /** Bytes the restore of this backend downloaded from checkpoint storage. */
    public static final String RESTORE_DOWNLOADED_BYTES = "restoreDownloadedBytes";

    /** Milliseconds the restore of this backend took, from the first read to the open database. */
    public static final String RESTORE_DURATION = "restoreDurationMs";

    /** Bytes uploaded ahead of checkpoints since the backend started (if uploads ahead are on). */
    public static final String UPLOAD_AHEAD_BYTES = "uploadAheadBytes";

    /**
     * Bytes of those uploads that were deleted again because their file was compacted away before a
     * checkpoint took them over (if uploads ahead are on).
     */
    public static final String UPLOAD_AHEAD_DISCARDED_BYTES = "uploadAheadDiscardedBytes";

    /** The figures of one checkpoint. */
    private static final class CheckpointFigures {
        static final CheckpointFigures NONE = new CheckpointFigures(-1L, 0, 0L, 0, 0L, 0L);

        final long checkpointId;
        final int uploadedFiles;
        final long uploadedBytes;
        final int reusedFiles;
        final long reusedBytes;
        final long durationMillis;

        CheckpointFigures(
                long checkpointId,
                int uploadedFiles,
                long uploadedBytes,
                int reusedFiles,
                long reusedBytes,
                long durationMillis) {
            this.checkpointId = checkpointId;
            this.uploadedFiles = uploadedFiles;
            this.uploadedBytes = uploadedBytes;
            this.reusedFiles = reusedFiles;
            this.reusedBytes = reusedBytes;
            this.durationMillis = durationMillis;
        }
    }

    private final Object lock = new Object();

    private volatile CheckpointFigures lastCheckpoint = CheckpointFigures.NONE;

    private volatile long restoreDownloadedBytes;

    private volatile long restoreDurationMillis;

    /** Registers the gauges in the group {@value #GROUP} below {@code operatorGroup}. */
    public void register(MetricGroup operatorGroup) {
        final MetricGroup group = operatorGroup.addGroup(GROUP);
        group.gauge(LAST_CHECKPOINT_ID, (Gauge<Long>) () -> lastCheckpoint.checkpointId);
        group.gauge(
                LAST_CHECKPOINT_UPLOADED_FILES,
                (Gauge<Integer>) () -> lastCheckpoint.uploadedFiles);
        group.gauge(
                LAST_CHECKPOINT_UPLOADED_BYTES, (Gauge<Long>) () -> lastCheckpoint.uploadedBytes);
        group.gauge(
                LAST_CHECKPOINT_REUSED_FILES, (Gauge<Integer>) () -> lastCheckpoint.reusedFiles);
        group.gauge(LAST_CHECKPOINT_REUSED_BYTES, (Gauge<Long>) () -> lastCheckpoint.reusedBytes);
        group.gauge(
                LAST_CHECKPOINT_UPLOAD_DURATION, (Gauge<Long>) () -> lastCheckpoint.durationMillis);
        group.gauge(RESTORE_DOWNLOADED_BYTES, (Gauge<Long>) () -> restoreDownloadedBytes);
        group.gauge(RESTORE_DURATION, (Gauge<Long>) () -> restoreDurationMillis);
    }

    /** Registers the gauges of uploads ahead of checkpoints in the group {@value #GROUP}. */
    public static void registerUploadAhead(
            MetricGroup operatorGroup, LongSupplier uploaded, LongSupplier discarded) {
        final MetricGroup group = operatorGroup.addGroup(GROUP);
        group.gauge(UPLOAD_AHEAD_BYTES, (Gauge<Long>) uploaded::getAsLong);
        group.gauge(UPLOAD_AHEAD_DISCARDED_BYTES, (Gauge<Long>) discarded::getAsLong);
    }

    /** Reports a completed checkpoint upload, unless a later checkpoint was reported already. */
    public void reportCheckpoint(
            long checkpointId,
            int uploadedFiles,
            long uploadedBytes,
            int reusedFiles,
            long reusedBytes,
            long durationMillis) {
        synchronized (lock) {
            if (checkpointId < lastCheckpoint.checkpointId) {
                return;
            }
            lastCheckpoint =
                    new CheckpointFigures(
                            checkpointId,
                            uploadedFiles,
                            uploadedBytes,
                            reusedFiles,
                            reusedBytes,
                            durationMillis);
        }
    }

    /** Reports the restore that built this backend. */
    public void reportRestore(long downloadedBytes, long durationMillis) {
        this.restoreDownloadedBytes = downloadedBytes;
        this.restoreDurationMillis = durationMillis;
    }

    public long getLastCheckpointId() {
        return lastCheckpoint.checkpointId;
    }

    public long getRestoreDownloadedBytes() {
        return restoreDownloadedBytes;
    }
}
