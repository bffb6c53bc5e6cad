package io.statebackend.incremental.metrics;

import org.apache.flink.runtime.metrics.MetricNames;
import org.apache.flink.runtime.state.StateBackend.CustomInitializationMetrics;

import java.util.concurrent.TimeUnit;

/**
 * Reports how long a restore took to the task's initialization metrics, under the names Flink's
 * RocksDB backend uses, so that they appear with the job's initialization figures as they do for
 * that backend.
 *
 * <p>{@value #DOWNLOAD_STATE_DURATION} is the time spent making the snapshot's files local
 * (downloads, or placing the files of a local copy), {@value #RESTORE_STATE_DURATION} the rest of
 * the restore. A restore from the canonical format reads its streams while it writes, so it reports
 * only {@value #RESTORE_STATE_DURATION}. This backend compacts nothing after a restore and so has
 * no {@code RestoreAsyncCompactionDurationMs}; nothing is reported when there was nothing to
 * restore.
 */
public final class RestoreInitializationMetrics {

    /** Flink's name for the time spent downloading the state to restore. */
    public static final String DOWNLOAD_STATE_DURATION = MetricNames.DOWNLOAD_STATE_DURATION;

    /** Flink's name for the time spent restoring the downloaded state. */
    public static final String RESTORE_STATE_DURATION = MetricNames.RESTORE_STATE_DURATION;

    private RestoreInitializationMetrics() {}

    /** Reports a restore from files: the time making them local and the rest of the restore. */
    public static void reportFileRestore(
            CustomInitializationMetrics metrics, long downloadNanos, long totalNanos) {
        metrics.addMetric(DOWNLOAD_STATE_DURATION, TimeUnit.NANOSECONDS.toMillis(downloadNanos));
        metrics.addMetric(
                RESTORE_STATE_DURATION,
                TimeUnit.NANOSECONDS.toMillis(Math.max(0L, totalNanos - downloadNanos)));
    }

    /** Reports a restore from the canonical format, whose reading and writing interleave. */
    public static void reportStreamRestore(CustomInitializationMetrics metrics, long totalNanos) {
        metrics.addMetric(RESTORE_STATE_DURATION, TimeUnit.NANOSECONDS.toMillis(totalNanos));
    }
}
