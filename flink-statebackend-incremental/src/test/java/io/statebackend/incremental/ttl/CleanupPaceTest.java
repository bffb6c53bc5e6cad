package io.statebackend.incremental.ttl;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The background cleanup's pace: slices take a bounded share of the task thread's time. */
class CleanupPaceTest {

    private long nanos;

    /** Records until the next slice is due, the clock advancing by {@code nanosPerRecord}. */
    private int recordsUntilDue(CleanupPace pace, long nanosPerRecord) {
        int records = 0;
        do {
            records++;
            nanos += nanosPerRecord;
        } while (!pace.sliceDue() && records < 100_000_000);
        return records;
    }

    @Test
    void slicesTakeTheActiveShareOfTheTimeWhileTheyFindExpiredEntries() {
        CleanupPace pace = new CleanupPace(() -> nanos);
        recordsUntilDue(pace, 1_000);
        long start = pace.now();
        nanos += 100_000;
        pace.sliceEnded(start, true, false);

        // 100 µs of slice at a 4% share: the next slice comes 2.4 ms of task time later
        long before = nanos;
        recordsUntilDue(pace, 1_000);
        long waited = nanos - before;
        assertThat(waited).isBetween(2_400_000L, 2_400_000L + 16_000L);
        assertThat(100_000.0 / (waited + 100_000)).isBetween(0.0399, 0.0401);
        assertThat(pace.isIdle()).isFalse();
    }

    @Test
    void anEmptyPassSetsTheIdleShareAndAFindSetsTheActiveOneAgain() {
        CleanupPace pace = new CleanupPace(() -> nanos);
        recordsUntilDue(pace, 1_000);

        // a slice that finds nothing in the middle of a pass keeps the active pace
        long start = pace.now();
        nanos += 10_000;
        pace.sliceEnded(start, false, false);
        assertThat(pace.isIdle()).isFalse();
        long before = nanos;
        recordsUntilDue(pace, 1_000);
        assertThat(nanos - before).isLessThan(1_000_000L);

        start = pace.now();
        nanos += 10_000;
        pace.sliceEnded(start, false, true);
        assertThat(pace.isIdle()).isTrue();
        before = nanos;
        recordsUntilDue(pace, 1_000);
        // 10 µs at a 0.2% share: about 5 ms
        assertThat(nanos - before).isGreaterThanOrEqualTo(4_990_000L);

        start = pace.now();
        pace.sliceEnded(start, true, false);
        assertThat(pace.isIdle()).isFalse();
    }

    @Test
    void theClockIsReadOncePerGroupOfRecords() {
        int[] reads = new int[1];
        CleanupPace pace =
                new CleanupPace(
                        () -> {
                            reads[0]++;
                            return 0L;
                        });
        reads[0] = 0;
        int due = 0;
        for (int i = 0; i < 160; i++) {
            if (pace.sliceDue()) {
                due++;
            }
        }
        assertThat(reads[0]).isEqualTo(160 / CleanupPace.RECORDS_PER_CLOCK_READ);
        assertThat(due).isEqualTo(160 / CleanupPace.RECORDS_PER_CLOCK_READ);
    }
}
