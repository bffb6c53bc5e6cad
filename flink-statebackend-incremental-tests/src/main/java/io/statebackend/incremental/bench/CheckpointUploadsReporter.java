package io.statebackend.incremental.bench;

import io.statebackend.incremental.metrics.IncrementalRocksDBMetrics;

import org.apache.flink.metrics.Gauge;
import org.apache.flink.metrics.Metric;
import org.apache.flink.metrics.MetricConfig;
import org.apache.flink.metrics.MetricGroup;
import org.apache.flink.metrics.reporter.MetricReporter;
import org.apache.flink.metrics.reporter.MetricReporterFactory;

import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A metric reporter that sums what this backend's snapshots uploaded, for a driver that runs its
 * jobs on a MiniCluster in the same JVM. It keeps every subtask's {@code lastCheckpointId} and
 * {@code lastCheckpointUploadedBytes} gauges; {@link #countNewUploads()}, called often enough to
 * see every snapshot, adds the bytes of each snapshot id it has not seen before. The snapshots are
 * checkpoints, or the materializations of Flink's changelog backend wrapping this backend, which
 * Flink does not count in any checkpoint's checkpointed size.
 */
public final class CheckpointUploadsReporter implements MetricReporter {

    /** The two gauges of one subtask's backend. */
    private static final class Subtask {
        volatile Gauge<?> checkpointId;
        volatile Gauge<?> uploadedBytes;
        long lastCounted = -1;
    }

    private static final Map<String, Subtask> SUBTASKS = new ConcurrentHashMap<>();

    private static long counted;

    /** Creates the reporter; listed in {@code META-INF/services} for Flink's reporter setup. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new CheckpointUploadsReporter();
        }
    }

    /** Forgets every gauge and count, before a new run. */
    public static synchronized void reset() {
        SUBTASKS.clear();
        counted = 0;
    }

    /**
     * Adds the uploaded bytes of every snapshot id not counted yet to the total, and returns the
     * total. A snapshot replaced between the reads of a subtask's two gauges is counted at the next
     * call.
     */
    public static synchronized long countNewUploads() {
        for (Subtask subtask : SUBTASKS.values()) {
            if (subtask.checkpointId == null || subtask.uploadedBytes == null) {
                continue;
            }
            final long id = asLong(subtask.checkpointId);
            final long bytes = asLong(subtask.uploadedBytes);
            // ids only grow: the same id after the bytes means the bytes are that snapshot's
            if (id > subtask.lastCounted && id == asLong(subtask.checkpointId)) {
                counted += bytes;
                subtask.lastCounted = id;
            }
        }
        return counted;
    }

    private static long asLong(Gauge<?> gauge) {
        return ((Number) gauge.getValue()).longValue();
    }

    @Override
    public void open(MetricConfig config) {}

    @Override
    public void close() {}

    @Override
    public void notifyOfAddedMetric(Metric metric, String name, MetricGroup group) {
        final boolean id = name.equals(IncrementalRocksDBMetrics.LAST_CHECKPOINT_ID);
        if (!(metric instanceof Gauge)
                || !(id || name.equals(IncrementalRocksDBMetrics.LAST_CHECKPOINT_UPLOADED_BYTES))) {
            return;
        }
        final String scope = group.getMetricIdentifier("");
        final Subtask subtask = SUBTASKS.computeIfAbsent(scope, unused -> new Subtask());
        if (id) {
            subtask.checkpointId = (Gauge<?>) metric;
        } else {
            subtask.uploadedBytes = (Gauge<?>) metric;
        }
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {}
}
