package io.statebackend.incremental.ttl;

import org.apache.flink.util.Preconditions;

import java.util.function.LongSupplier;

/**
 * When the next background cleanup slice may run: slices take at most a fixed share of the task
 * thread's time, measured on a monotonic clock.
 *
 * <p>After a slice that took {@code d} nanoseconds the next one is due {@code d * (1 - s) / s}
 * nanoseconds later, for a share {@code s}. So the cost of the cleanup follows the task's time, not
 * its record count: a job with expensive records gets as many slices per second as one with cheap
 * records, and never more than the share of its time. The share is {@link #ACTIVE_SHARE} while the
 * scan finds expired entries and {@link #IDLE_SHARE} after a whole pass over a state found none.
 * The clock is read once per {@link #RECORDS_PER_CLOCK_READ} records.
 */
final class CleanupPace {

    /** Share of the task thread's time for slices while they find expired entries. */
    static final double ACTIVE_SHARE = 0.04;

    /** Share of the task thread's time for slices after a pass that found nothing. */
    static final double IDLE_SHARE = 0.002;

    /** Records between two reads of the clock. */
    static final int RECORDS_PER_CLOCK_READ = 16;

    private final LongSupplier nanoClock;
    private int recordsSinceClockRead;
    private long nextSliceNanos;
    private boolean idle;

    CleanupPace(LongSupplier nanoClock) {
        this.nanoClock = Preconditions.checkNotNull(nanoClock);
        this.nextSliceNanos = nanoClock.getAsLong();
    }

    /** Called once per record: whether a slice is due now. */
    boolean sliceDue() {
        if (++recordsSinceClockRead < RECORDS_PER_CLOCK_READ) {
            return false;
        }
        recordsSinceClockRead = 0;
        return sliceDueNow();
    }

    /** Whether a slice is due now, reading the clock. */
    boolean sliceDueNow() {
        return nanoClock.getAsLong() - nextSliceNanos >= 0;
    }

    /**
     * Notes the end of a slice that began at {@code startNanos}: a slice that found expired entries
     * sets the active pace, one that ended a pass without finding any sets the idle pace, any other
     * keeps the pace as it was.
     */
    void sliceEnded(long startNanos, boolean foundExpired, boolean endedEmptyPass) {
        if (foundExpired) {
            idle = false;
        } else if (endedEmptyPass) {
            idle = true;
        }
        long end = nanoClock.getAsLong();
        double share = idle ? IDLE_SHARE : ACTIVE_SHARE;
        long spent = Math.max(0, end - startNanos);
        nextSliceNanos = end + (long) (spent * (1 - share) / share);
    }

    /** Reads the clock, for the start of a slice. */
    long now() {
        return nanoClock.getAsLong();
    }

    /** Whether the pace is the idle one, after a pass that found nothing to clean. */
    boolean isIdle() {
        return idle;
    }
}
