package io.statebackend.incremental.bench;

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
 * A metric reporter that sums what the materializations of Flink's changelog backend uploaded, for
 * a driver that runs its jobs on a MiniCluster in the same JVM. Flink counts only the log in a
 * changelog checkpoint's checkpointed size; the wrapped backend's snapshots for the
 * materializations upload in the background. Each checkpoint sets the changelog backend's gauges
 * {@code lastFullSizeOfMaterialization} and {@code lastIncSizeOfMaterialization} to the
 * materialization it refers to; {@link #countNewMaterializations()}, called at least once per
 * checkpoint, adds the incremental size of each materialization it has not seen before. It works
 * the same whichever backend the changelog backend wraps.
 */
public final class MaterializationReporter implements MetricReporter {

    static final String FULL_SIZE = "ChangelogStateBackend.lastFullSizeOfMaterialization";
    static final String INC_SIZE = "ChangelogStateBackend.lastIncSizeOfMaterialization";

    /** The two gauges of one subtask's changelog backend. */
    private static final class Subtask {
        volatile Gauge<?> fullSize;
        volatile Gauge<?> incSize;
        long lastFull;
        long lastInc;
    }

    private static final Map<String, Subtask> SUBTASKS = new ConcurrentHashMap<>();

    private static long counted;

    /** Creates the reporter; listed in {@code META-INF/services} for Flink's reporter setup. */
    public static final class Factory implements MetricReporterFactory {
        @Override
        public MetricReporter createMetricReporter(Properties properties) {
            return new MaterializationReporter();
        }
    }

    /** Forgets every gauge and count, before a new run. */
    public static synchronized void reset() {
        SUBTASKS.clear();
        counted = 0;
    }

    /**
     * Adds the incremental size of every materialization that a subtask's checkpoints refer to
     * since the last call to the total, and returns the total. A change between the reads of a
     * subtask's two gauges is counted at the next call.
     */
    public static synchronized long countNewMaterializations() {
        for (Subtask subtask : SUBTASKS.values()) {
            if (subtask.fullSize == null || subtask.incSize == null) {
                continue;
            }
            final long full = asLong(subtask.fullSize);
            final long inc = asLong(subtask.incSize);
            final boolean unchangedMeanwhile = full == asLong(subtask.fullSize);
            final boolean another = full != subtask.lastFull || inc != subtask.lastInc;
            if (unchangedMeanwhile && another) {
                counted += inc;
                subtask.lastFull = full;
                subtask.lastInc = inc;
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
        final boolean full = name.equals(FULL_SIZE);
        if (!(metric instanceof Gauge) || !(full || name.equals(INC_SIZE))) {
            return;
        }
        final Subtask subtask =
                SUBTASKS.computeIfAbsent(group.getMetricIdentifier(""), unused -> new Subtask());
        if (full) {
            subtask.fullSize = (Gauge<?>) metric;
        } else {
            subtask.incSize = (Gauge<?>) metric;
        }
    }

    @Override
    public void notifyOfRemovedMetric(Metric metric, String name, MetricGroup group) {}
}
